package webdav

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// testFS is a fileSystem over the embedded server as alice, rooted at "/".
func testFS(t *testing.T) (*fileSystem, *testftp.Server) {
	t.Helper()
	srv := testftp.Start(t, embedftp.Options{})
	var d net.Dialer
	p := ftppool.New(ftppool.Config{
		Dial: d.DialContext,
		DialData: func(ctx context.Context, network, addr, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		WaitTimeout: time.Second, IOTimeout: 5 * time.Second, DialTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		MaxConnsPerSession: 2, MaxConnsPerHost: 4,
	})
	t.Cleanup(p.Close)
	host, ps, _ := net.SplitHostPort(srv.Addr())
	port, _ := strconv.Atoi(ps)
	h := p.Handle("test", ftppool.Endpoint{Host: host, Port: port}, ftppool.Login{User: testftp.User, Password: testftp.Password})
	tr := transfer.New(transfer.Hooks{})
	t.Cleanup(tr.Close)
	return &fileSystem{h: h, root: "/", known: make(map[string]ftppool.Entry), putSize: -1,
		begin: func(ctx context.Context, op, abs string) *transfer.Transfer {
			return tr.Begin(ctx, "", op, "ftp://test", abs)
		},
	}, srv
}

// TestWriteFile: plain Writes (no ReadFrom) stream in order into one
// STOR; a Seek anywhere but the end is errRandomWrite and the file is not
// replaced by a partial one; a file opened and closed unwritten is empty.
func TestWriteFile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		writes func(f io.WriteSeeker) error
		want   []byte // on the server after Close; nil: the file is not there
		err    error  // from the writes or Close
	}{
		{"writes in order", func(f io.WriteSeeker) error {
			for _, s := range []string{"one ", "two ", "three"} {
				if _, err := f.Write([]byte(s)); err != nil {
					return err
				}
			}
			_, err := f.Seek(0, io.SeekCurrent) // asking where it is is fine
			return err
		}, []byte("one two three"), nil},
		{"a seek back", func(f io.WriteSeeker) error {
			if _, err := f.Write([]byte("abc")); err != nil {
				return err
			}
			_, err := f.Seek(1, io.SeekStart)
			return err
		}, nil, errRandomWrite},
		{"a seek ahead before writing", func(f io.WriteSeeker) error {
			_, err := f.Seek(10, io.SeekStart)
			return err
		}, nil, errRandomWrite},
		{"never written", func(io.WriteSeeker) error { return nil }, []byte{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, srv := testFS(t)
			name := "/w-" + strconv.Itoa(len(tc.name)) + ".txt"
			f, err := fsys.OpenFile(ctx, name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.writes(f)
			cerr := f.Close()
			if err == nil {
				err = cerr
			}
			if !errors.Is(err, tc.err) && !(tc.err == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			entries, _ := os.ReadDir(srv.Root)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".ftpbridge-") {
					t.Errorf("a temporary upload was left behind: %s", e.Name())
				}
			}
			got, rerr := os.ReadFile(filepath.Join(srv.Root, name))
			switch {
			case tc.want == nil && rerr == nil:
				t.Errorf("the file is there (%q) after a failed write", got)
			case tc.want != nil && !bytes.Equal(got, tc.want):
				t.Errorf("the server holds %q (%v), want %q", got, rerr, tc.want)
			}
		})
	}
}

// TestOpenFileCreate: a create below a missing folder is os.ErrNotExist
// (x/net/webdav answers 409), and one onto the login folder is refused.
func TestOpenFileCreate(t *testing.T) {
	fsys, _ := testFS(t)
	ctx := context.Background()
	if _, err := fsys.OpenFile(ctx, "/no/such/f.txt", os.O_RDWR|os.O_CREATE, 0o644); !os.IsNotExist(err) {
		t.Errorf("create below a missing folder: %v, want not-exist", err)
	}
	if _, err := fsys.OpenFile(ctx, "/", os.O_RDWR|os.O_CREATE, 0o644); err == nil {
		t.Error("create of the login folder was allowed")
	}
	if _, err := fsys.OpenFile(ctx, "/big.bin", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); !os.IsExist(err) {
		t.Errorf("exclusive create of an existing file: %v, want exists", err)
	}
}
