package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

// TestFTPS lists and downloads over explicit and implicit TLS, trusting
// the server's private CA through -ftp-ca-file; without it the
// certificate is refused, and explicit TLS never falls back to plain.
func TestFTPS(t *testing.T) {
	caFile, serverTLS := testCA(t)
	for _, tc := range []struct {
		scheme   string
		implicit bool
	}{{"ftpes", false}, {"ftps", true}} {
		t.Run(tc.scheme, func(t *testing.T) {
			srv, b := startFTP(t, embedftp.Options{TLS: serverTLS, ImplicitTLS: tc.implicit}, "-ftp-ca-file", caFile)
			l := listJSON(t, nil, siteURL(b, tc.scheme, "", srv, "/", true))
			if len(l.Entries) == 0 {
				t.Fatal("empty listing over TLS")
			}
			resp, body := get(t, nil, siteURL(b, tc.scheme, "", srv, "/big.bin", false))
			if resp.StatusCode != 200 || !bytes.Equal(body, srv.Files["/big.bin"]) {
				t.Fatalf("download over TLS: %d, identical=%v", resp.StatusCode, bytes.Equal(body, srv.Files["/big.bin"]))
			}

			untrusting := startBridge(t, "-allow-hosts", "127.0.0.1")
			resp, body = get(t, nil, siteURL(untrusting, tc.scheme, "", srv, "/", true))
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "certificate") {
				t.Errorf("unknown CA: %d %s, want 502 about the certificate", resp.StatusCode, body)
			}
		})
	}
	t.Run("no TLS on server", func(t *testing.T) {
		srv, b := startFTP(t, embedftp.Options{}, "-ftp-ca-file", caFile)
		resp, body := get(t, nil, siteURL(b, "ftpes", "", srv, "/", true))
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "AUTH TLS") {
			t.Errorf("explicit TLS to a server without it: %d %s, want 502 saying AUTH TLS was refused", resp.StatusCode, body)
		}
	})
}
