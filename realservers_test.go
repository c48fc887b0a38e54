package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestRealServers runs the bridge against Debian's vsftpd, pure-ftpd and
// proftpd: the odd-name tree lists completely and downloads byte-identical,
// as anonymous and as a local user, in plain FTP and explicit FTPS; Range
// works; aborted downloads leave the next request working.
func TestRealServers(t *testing.T) {
	caFile, certFile, keyFile, _ := testCAFiles(t)
	for _, start := range realftp.Daemons {
		t.Run(start.Name, func(t *testing.T) {
			root := t.TempDir()
			files := testftp.Tree(t, root)
			// vsftpd and proftpd keep their stock TLS session reuse
			// requirement: the bridge must resume the control connection's
			// TLS session on data connections.
			srv := start.Start(t, realftp.Options{Root: root, TLSCertFile: certFile, TLSKeyFile: keyFile, RequireSessionReuse: true})
			b := startBridge(t, "-allow-hosts", "127.0.0.1", "-ftp-ca-file", caFile)
			for _, tc := range []struct {
				name, scheme string
				user         bool
			}{
				{"anonymous", "ftp", false},
				{"user", "ftp", true},
				{"user over ftpes", "ftpes", true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					client, user := &http.Client{}, ""
					if tc.user {
						user = srv.User
						client.Transport = basicAuth{srv.User, srv.Password}
					}
					checkTree(t, client, b, tc.scheme, user, srv.Addr, files)
					u := addrURL(b, tc.scheme, user, srv.Addr, "/big.bin", false)
					resp, body := get(t, client, u, "Range", "bytes=1000-1999")
					if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, files["/big.bin"][1000:2000]) {
						t.Errorf("range: %d, identical=%v", resp.StatusCode, bytes.Equal(body, files["/big.bin"][1000:2000]))
					}
					for i := 0; i < 20; i++ {
						resp, err := client.Get(u)
						if err != nil {
							t.Fatal(err)
						}
						if _, err := io.CopyN(io.Discard, resp.Body, 1000); err != nil {
							t.Fatal(err)
						}
						resp.Body.Close()
					}
					resp, body = get(t, client, u)
					if resp.StatusCode != 200 || !bytes.Equal(body, files["/big.bin"]) {
						t.Errorf("download after aborts: %d, identical=%v\n%s", resp.StatusCode, bytes.Equal(body, files["/big.bin"]), logsOf(srv))
					}
				})
			}
		})
	}
}

func logsOf(s *realftp.Server) string { return fmt.Sprintf("--- %s logs ---\n%s", s.Name, s.Logs()) }
