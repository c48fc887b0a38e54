package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSharedFlagsRefusedClearly: a bridge whose shared parts cannot open
// does not start, and says why without the URL's password: a named key
// file that is missing (each bridge making its own would silently break
// a cluster), and URLs that are not what their flag takes.
func TestSharedFlagsRefusedClearly(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no.key")
	key := filepath.Join(t.TempDir(), "cluster.key")
	if err := os.WriteFile(key, make([]byte, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing -key-file", []string{"-key-file", missing}, "-key-file " + missing + " does not exist"},
		{"-redis not a redis URL", []string{"-redis", "http://u:s3cret@x"}, "-redis: not a redis://"},
		{"-database without a key file", []string{"-database", "postgres://db/x"}, "share.key does not exist"},
		{"-database not a postgres URL", []string{"-key-file", key, "-database", "host=h password=s3 cret port=x"}, "-database: not a postgres:// URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv := append([]string{"ftpbridge", "-listen", "127.0.0.1:0", "-data-dir", t.TempDir()}, tc.args...)
			err := run(context.Background(), argv, func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run: %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
