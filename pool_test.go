package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

// TestReconnectAfterServerRestart: the pooled connections die with the
// server; the next request redials transparently, however many dead idle
// connections the pool holds.
func TestReconnectAfterServerRestart(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	// Bigger than the socket buffers, so that concurrent downloads each
	// hold a connection until their bodies are read.
	if err := os.Truncate(filepath.Join(srv.Root, "big.bin"), 16<<20); err != nil {
		t.Fatal(err)
	}
	big := siteURL(b, "ftp", "", srv, "/big.bin", false)
	u := siteURL(b, "ftp", "", srv, "/sub/deeper/leaf.txt", false)
	for i, fault := range []func(){
		func() { srv.Restart(t) },
		func() { srv.DropAll() },
	} {
		const idle = 3
		var held []*http.Response
		for range idle {
			resp, err := http.Get(big)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, resp)
		}
		if n := srv.Clients(); n < idle {
			t.Fatalf("case %d: %d FTP connections during %d downloads", i, n, idle)
		}
		for _, resp := range held {
			if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != 16<<20 {
				t.Fatalf("case %d: download: %d bytes, %v", i, n, err)
			}
			resp.Body.Close()
		}
		fault()
		if resp, body := get(t, nil, u); resp.StatusCode != 200 || string(body) != "leaf\n" {
			t.Fatalf("case %d: request after the fault: %d %s", i, resp.StatusCode, body)
		}
	}
}

// TestReconnectAfterIdle421: the server says 421 and hangs up on an idle
// connection; the bridge notices and redials.
func TestReconnectAfterIdle421(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{IdleTimeout: 1})
	u := siteURL(b, "ftp", "", srv, "/", true)
	listJSON(t, nil, u)
	for srv.Clients() > 0 {
		<-srv.Changed() // the server closes the idle connection
	}
	listJSON(t, nil, u)
}

func TestStalledServerTimesOut(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-io-timeout", "300ms")
	u := siteURL(b, "ftp", "", srv, "/", true)
	listJSON(t, nil, u)
	srv.Stall()
	defer srv.Resume()
	resp, body := get(t, nil, u)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("stalled server: %d %s, want 504", resp.StatusCode, body)
	}
}
