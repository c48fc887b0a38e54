package seal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSealer(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "share.key")
	s, err := LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != keySize {
		t.Fatalf("key file: %v %v", fi, err)
	}
	sealed := s.Seal("id-1", "s3cret pass")
	if bytes.Contains(sealed, []byte("s3cret")) {
		t.Fatal("the sealed secret holds the plaintext")
	}
	// The same key file opens it again (a restart).
	again, err := LoadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open("id-1", sealed); err != nil || got != "s3cret pass" {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := again.Open("id-2", sealed); err == nil {
		t.Error("a secret sealed for one context opened for another")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := again.Open("id-1", sealed); err == nil {
		t.Error("a tampered secret opened")
	}
}
