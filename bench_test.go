package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/jlaffaye/ftp"

	"github.com/ftpbridge/ftpbridge/internal/embedftp"
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
