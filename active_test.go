package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// activeOnlyVsftpd is a writable vsftpd that refuses passive mode, with
// one file of random bytes.
func activeOnlyVsftpd(t *testing.T, o realftp.Options) (*realftp.Server, []byte) {
	t.Helper()
	root := t.TempDir()
	content := make([]byte, 2<<20+5)
	if _, err := rand.Read(content); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "data.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	o.Root, o.ActiveOnly, o.Writable = root, true, true
	return realftp.StartVsftpd(t, o), content
}

func activePortsArg(t *testing.T) string {
	lo, hi := realftp.ReservePorts(t)
	return fmt.Sprintf("%d-%d", lo, hi)
}

// checkActiveSite lists, downloads a range and the whole file, uploads
// and reads the upload back, all through the bridge; query is added to
// every address (such as "?mode=active"). An empty upName uploads nothing.
func checkActiveSite(t *testing.T, client *http.Client, b *bridge, scheme string, srv *realftp.Server, content []byte, query, upName string) {
	t.Helper()
	l := listJSON(t, client, addrURL(b, scheme, srv.User, srv.Addr, "/", true)+query)
	found := false
	for _, e := range l.Entries {
		found = found || e.Name == "data.bin"
	}
	if !found {
		t.Fatalf("listing lacks data.bin: %+v", l.Entries)
	}
	file := addrURL(b, scheme, srv.User, srv.Addr, "/data.bin", false) + query
	resp, body := get(t, client, file)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("download: %d, %d bytes, identical=%v", resp.StatusCode, len(body), bytes.Equal(body, content))
	}
	const from, to = 1<<20 + 1, 1<<20 + 70000
	resp, body = get(t, client, file, "Range", fmt.Sprintf("bytes=%d-%d", from, to))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[from:to+1]) {
		t.Fatalf("range download: %d, %d bytes, identical=%v", resp.StatusCode, len(body), bytes.Equal(body, content[from:to+1]))
	}
	if upName == "" {
		return
	}
	up := content[:300001]
	upURL := addrURL(b, scheme, srv.User, srv.Addr, "/"+upName, false) + query
	req, err := http.NewRequest(http.MethodPut, upURL, bytes.NewReader(up))
	if err != nil {
		t.Fatal(err)
	}
	presp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode/100 != 2 {
		t.Fatalf("upload: %d", presp.StatusCode)
	}
	if got, err := os.ReadFile(filepath.Join(srv.Root, upName)); err != nil || !bytes.Equal(got, up) {
		t.Fatalf("the uploaded file on the server: %d bytes, %v; want the %d sent", len(got), err, len(up))
	}
}

func TestActiveOnlyServerThroughTheBridge(t *testing.T) {
	srv, content := activeOnlyVsftpd(t, realftp.Options{})
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-active-ports", activePortsArg(t))
	client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}

	t.Run("passive is refused", func(t *testing.T) {
		resp, body := get(t, client, addrURL(b, "ftp", srv.User, srv.Addr, "/", true)+"?mode=passive", "Accept", "application/json")
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("a passive listing of the active-only server succeeded: %s", body)
		}
	})
	t.Run("?mode=active", func(t *testing.T) {
		checkActiveSite(t, client, b, "ftp", srv, content, "?mode=active", "up-active.bin")
	})
	t.Run("automatic", func(t *testing.T) { checkActiveSite(t, client, b, "ftp", srv, content, "", "up-auto.bin") })
	t.Run("unknown mode", func(t *testing.T) {
		resp, body := get(t, client, addrURL(b, "ftp", srv.User, srv.Addr, "/", true)+"?mode=sideways")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "auto, passive or active") {
			t.Fatalf("?mode=sideways: %d %s, want 400 naming the modes", resp.StatusCode, body)
		}
	})
}

// The connect form's mode is kept for the site in the session.
func TestConnectFormActiveMode(t *testing.T) {
	srv, _ := activeOnlyVsftpd(t, realftp.Options{})
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-active-ports", activePortsArg(t))
	host, port, _ := net.SplitHostPort(srv.Addr)
	form := url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {srv.User}, "password": {srv.Password}}
	for _, mode := range []string{"passive", "active"} {
		t.Run(mode, func(t *testing.T) {
			c := newJarClient(t)
			form.Set("mode", mode)
			resp := postForm(t, c, b.URL+"/connect", form)
			resp.Body.Close()
			if mode == "passive" {
				// The login works; the listing after it needs a data
				// connection, which passive mode cannot get here.
				if resp.StatusCode == http.StatusOK {
					t.Fatalf("passive mode: the listing of the active-only server succeeded")
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("connect in active mode: %d", resp.StatusCode)
			}
			if l := listJSON(t, c, addrURL(b, "ftp", srv.User, srv.Addr, "/", true)); len(l.Entries) == 0 {
				t.Fatal("empty listing in active mode")
			}
		})
	}
}

func TestActiveOnlyServerWithoutActivePorts(t *testing.T) {
	srv, _ := activeOnlyVsftpd(t, realftp.Options{})
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
	for _, q := range []string{"", "?mode=active"} {
		resp, body := get(t, client, addrURL(b, "ftp", srv.User, srv.Addr, "/", true)+q, "Accept", "application/json")
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "-active-ports") {
			t.Errorf("listing%s without -active-ports: %d %s, want 502 naming -active-ports", q, resp.StatusCode, body)
		}
	}
}

// FTPS in active mode, explicit and implicit: the accepted data
// connection is a TLS client that resumes the control connection's
// session, as vsftpd's require_ssl_reuse asks. For explicit FTPS the pool
// sends AUTH TLS itself; automatic mode must find active mode there too.
func TestActiveModeFTPS(t *testing.T) {
	caFile, certFile, keyFile, _ := testCAFiles(t)
	for _, implicit := range []bool{false, true} {
		scheme := "ftpes"
		if implicit {
			scheme = "ftps"
		}
		t.Run(scheme, func(t *testing.T) {
			srv, content := activeOnlyVsftpd(t, realftp.Options{TLSCertFile: certFile, TLSKeyFile: keyFile, ImplicitTLS: implicit, RequireSessionReuse: true})
			b := startBridge(t, "-allow-hosts", "127.0.0.1", "-ftp-ca-file", caFile, "-active-ports", activePortsArg(t))
			client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
			checkActiveSite(t, client, b, scheme, srv, content, "?mode=active", "up.bin")
			checkActiveSite(t, client, b, scheme, srv, content, "", "up-auto.bin")
		})
	}
}

// With active mode on, the pool's own AUTH TLS still refuses a server
// without TLS as jlaffaye's did: never in clear.
func TestActiveModeExplicitTLSRefused(t *testing.T) {
	caFile, _ := testCA(t)
	srv, b := startFTP(t, embedftp.Options{}, "-ftp-ca-file", caFile, "-active-ports", activePortsArg(t))
	resp, body := get(t, nil, siteURL(b, "ftpes", "", srv, "/", true))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "AUTH TLS") {
		t.Errorf("explicit TLS to a server without it, active mode on: %d %s, want 502 saying AUTH TLS was refused", resp.StatusCode, body)
	}
}

// pure-ftpd and proftpd in active mode: with ?mode=active the bridge
// never sends PASV or EPSV, so every transfer here came through EPRT or
// PORT.
func TestActiveModeOnOtherServers(t *testing.T) {
	for _, s := range []struct {
		name  string
		start func(testing.TB, realftp.Options) *realftp.Server
	}{{"pure-ftpd", realftp.StartPureFTPd}, {"proftpd", realftp.StartProFTPD}} {
		t.Run(s.name, func(t *testing.T) {
			root := t.TempDir()
			content := make([]byte, 1<<20+70001)
			if _, err := rand.Read(content); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "data.bin"), content, 0o644); err != nil {
				t.Fatal(err)
			}
			srv := s.start(t, realftp.Options{Root: root, Writable: true})
			b := startBridge(t, "-allow-hosts", "127.0.0.1", "-active-ports", activePortsArg(t))
			client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
			checkActiveSite(t, client, b, "ftp", srv, content, "?mode=active", "up.bin")
		})
	}
}

func TestActiveFlags(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [2]int
	}{{"", [2]int{}}, {"50000-50100", [2]int{50000, 50100}}, {"2121", [2]int{2121, 2121}}} {
		if got, err := parsePortRange(tc.in); err != nil || got != tc.want {
			t.Errorf("parsePortRange(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range [][]string{
		{"-active-ports", "50100-50000"}, {"-active-ports", "0-10"}, {"-active-ports", "1-65536"}, {"-active-ports", "a-b"},
		{"-active-address", "example.com"}, {"-active-address", "fe80::1%eth0"},
	} {
		args := append([]string{"ftpbridge", "-listen", "127.0.0.1:0", "-data-dir", t.TempDir()}, bad...)
		err := run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: run returned %v, want an error naming %s", bad, err, bad[0])
		}
	}
}

// Downloads cut short in active mode leave the next one working: each
// abort closes that transfer's listener and connection, and the control
// connection stays usable or is replaced.
func TestActiveModeAbortedDownloads(t *testing.T) {
	srv, content := activeOnlyVsftpd(t, realftp.Options{})
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-active-ports", activePortsArg(t))
	client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
	u := addrURL(b, "ftp", srv.User, srv.Addr, "/data.bin", false) + "?mode=active"
	for range 20 {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, 1000); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, body := get(t, client, u)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("download after aborts: %d, identical=%v", resp.StatusCode, bytes.Equal(body, content))
	}
}

// With active mode on, automatic mode on servers that do passive reads
// the whole tree as before, in plain FTP and explicit FTPS (where the pool
// then sends AUTH TLS itself). This vsftpd refuses PORT and EPRT, so
// there it also shows that automatic mode stayed passive.
func TestAutomaticModeOnPassiveServers(t *testing.T) {
	caFile, certFile, keyFile, _ := testCAFiles(t)
	for _, s := range []struct {
		name  string
		start func(testing.TB, realftp.Options) *realftp.Server
	}{{"vsftpd", realftp.StartVsftpd}, {"pure-ftpd", realftp.StartPureFTPd}, {"proftpd", realftp.StartProFTPD}} {
		t.Run(s.name, func(t *testing.T) {
			root := t.TempDir()
			files := testftp.Tree(t, root)
			srv := s.start(t, realftp.Options{Root: root, TLSCertFile: certFile, TLSKeyFile: keyFile, RequireSessionReuse: true})
			b := startBridge(t, "-allow-hosts", "127.0.0.1", "-ftp-ca-file", caFile, "-active-ports", activePortsArg(t))
			client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
			for _, scheme := range []string{"ftp", "ftpes"} {
				checkTree(t, client, b, scheme, srv.User, srv.Addr, files)
			}
		})
	}
}

// The embedded server in active mode: a listing and a download, with
// ?mode=active, so they came through EPRT or PORT.
func TestActiveModeOnTheEmbeddedServer(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{ActiveMode: true}, "-active-ports", activePortsArg(t))
	client := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	l := listJSON(t, client, siteURL(b, "ftp", testftp.User, srv, "/", true)+"?mode=active")
	if len(l.Entries) == 0 {
		t.Fatal("empty listing in active mode")
	}
	resp, body := get(t, client, siteURL(b, "ftp", testftp.User, srv, "/big.bin", false)+"?mode=active")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, srv.Files["/big.bin"]) {
		t.Errorf("download in active mode: %d, %d bytes", resp.StatusCode, len(body))
	}
	for _, cmd := range srv.Commands() {
		if v, _, _ := strings.Cut(cmd, " "); strings.EqualFold(v, "PASV") || strings.EqualFold(v, "EPSV") {
			t.Errorf("the bridge asked for passive mode: %q", cmd)
		}
	}
}
