package main

import (
	"crypto/rand"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jlaffaye/ftp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// BenchmarkDownload compares a 64 MiB download through the bridge with a
// direct jlaffaye Retr of the same file from the same embedded server.
func BenchmarkDownload(b *testing.B) {
	const size = 64 << 20
	srv, br := startFTP(b, embedftp.Options{})
	if err := os.WriteFile(filepath.Join(srv.Root, "bench.bin"), make([]byte, size), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("direct", func(b *testing.B) {
		c, err := ftp.Dial(srv.Addr())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Quit()
		if err := c.Login("anonymous", "x"); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for b.Loop() {
			r, err := c.Retr("/bench.bin")
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != size {
				b.Fatalf("%d bytes, %v", n, err)
			}
			r.Close()
		}
	})
	b.Run("bridge", func(b *testing.B) {
		u := siteURL(br, "ftp", "", srv, "/bench.bin", false)
		b.SetBytes(size)
		for b.Loop() {
			resp, err := http.Get(u)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != size {
				b.Fatalf("%d bytes, %v", n, err)
			}
			resp.Body.Close()
		}
	})
}

// BenchmarkUpload compares a 64 MiB upload through the bridge, as a raw
// PUT and as a one-file multipart POST, with a direct jlaffaye Stor of the
// same bytes to the same embedded server.
func BenchmarkUpload(b *testing.B) {
	const size = 64 << 20
	srv, br := startFTP(b, embedftp.Options{})
	b.Run("direct", func(b *testing.B) {
		c, err := ftp.Dial(srv.Addr())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Quit()
		if err := c.Login(testftp.User, testftp.Password); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			if err := c.Stor("/up-direct.bin", newRepeatReader(size)); err != nil {
				b.Fatal(err)
			}
		}
		checkSize(b, filepath.Join(srv.Root, "up-direct.bin"), size)
	})
	b.Run("bridge-put", func(b *testing.B) {
		u := siteURL(br, "ftp", testftp.User, srv, "/up-put.bin", false) + "?overwrite=1"
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			req, err := http.NewRequest(http.MethodPut, u, newRepeatReader(size))
			if err != nil {
				b.Fatal(err)
			}
			req.ContentLength = size
			req.SetBasicAuth(testftp.User, testftp.Password)
			checkUpload(b, req, size)
		}
		checkSize(b, filepath.Join(srv.Root, "up-put.bin"), size)
	})
	b.Run("bridge-multipart", func(b *testing.B) {
		u := siteURL(br, "ftp", testftp.User, srv, "/", true) + "?overwrite=1"
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			go func() {
				part, err := mw.CreateFormFile("file", "up-multipart.bin")
				if err == nil {
					_, err = io.Copy(part, newRepeatReader(size))
				}
				if err == nil {
					err = mw.Close()
				}
				pw.CloseWithError(err)
			}()
			req, err := http.NewRequest(http.MethodPost, u, pr)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.SetBasicAuth(testftp.User, testftp.Password)
			checkUpload(b, req, size)
		}
		checkSize(b, filepath.Join(srv.Root, "up-multipart.bin"), size)
	})
}

// checkUpload sends an upload and fails unless the bridge stored size bytes.
func checkUpload(b *testing.B, req *http.Request, size int64) {
	b.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		b.Fatalf("%s: %d %s", req.Method, resp.StatusCode, body)
	}
	want := `"size":` + strconv.FormatInt(size, 10)
	if !strings.Contains(string(body), want) {
		b.Fatalf("%s: the bridge did not report %s: %s", req.Method, want, body)
	}
}

// checkSize fails unless the file at name holds size bytes.
func checkSize(b *testing.B, name string, size int64) {
	b.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		b.Fatal(err)
	}
	if fi.Size() != size {
		b.Fatalf("%s: %d bytes on disk, want %d", name, fi.Size(), size)
	}
}

// benchBlock is the 1 MiB of random bytes that uploads repeat.
var benchBlock = sync.OnceValue(func() []byte {
	b := make([]byte, 1<<20)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return b
})

// repeatReader produces n bytes by repeating benchBlock, without holding n
// bytes anywhere.
type repeatReader struct {
	block []byte
	off   int   // where the next byte comes from in block
	left  int64 // bytes still to produce
}

func newRepeatReader(n int64) *repeatReader {
	return &repeatReader{block: benchBlock(), left: n}
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.block[r.off:])
		n += c
		r.off = (r.off + c) % len(r.block)
	}
	r.left -= int64(n)
	return n, nil
}
