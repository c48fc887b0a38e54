package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/procstat"
)

// TestDavMemoryFlat moves 1 GiB up by WebDAV PUT and back down by GET
// through a bridge running as a process of its own, as TestMemoryFlat does
// for the pages' routes: the bridge's peak RSS must stay far below the
// file's size, since x/net/webdav's io.Copy hands the body to the STOR
// (writeFile.ReadFrom) and the download splices.
func TestDavMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 2 GiB through a bridge process; skipped with -short")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc to read the bridge's RSS from: %v", err)
	}
	const (
		size  = 1 << 30
		limit = 64 << 20 // generous: buffering would need > size
	)
	srv := testftp.Start(t, embedftp.Options{})
	br, pid := runBridgeProcess(t, buildBridge(t))
	u := davURL(br, testftp.User, srv.Addr(), "/dav-flat.bin")

	peakOf := func(what string, do func()) {
		t.Helper()
		if err := procstat.ResetPeak(pid); err != nil {
			t.Logf("cannot reset the peak (%v): VmHWM counts from the bridge's start", err)
		}
		do()
		peak, err := procstat.StatusBytes(pid, "VmHWM")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: bridge peak RSS (VmHWM) %s", what, mib(peak))
		if peak >= limit {
			t.Errorf("%s: bridge peak RSS %s, want under %s: is it buffered?", what, mib(peak), mib(limit))
		}
	}

	g := newGenReader(7, size)
	peakOf("WebDAV PUT of 1 GiB", func() {
		req, err := http.NewRequest(http.MethodPut, u, g)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		req.SetBasicAuth(testftp.User, testftp.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT: %d %s", resp.StatusCode, body)
		}
	})
	<-g.closed
	n, sum := fileDigest(t, filepath.Join(srv.Root, "dav-flat.bin"))
	if n != size || !bytes.Equal(sum, g.sum()) {
		t.Fatalf("the server holds %d bytes, not the ones sent", n)
	}

	peakOf("WebDAV GET of 1 GiB", func() {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(testftp.User, testftp.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		got, err := io.Copy(h, resp.Body)
		if err != nil || resp.StatusCode != 200 || got != size || !bytes.Equal(h.Sum(nil), sum) {
			t.Fatalf("GET: %d, %d bytes (%v), digest match %v", resp.StatusCode, got, err, bytes.Equal(h.Sum(nil), sum))
		}
	})
}
