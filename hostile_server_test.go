package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// canaryOn listens on addr and reports, when asked, whether anything
// connected.
func canaryOn(t *testing.T, addr string) func() bool {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return func() bool {
		// Anything that connected is queued for Accept by now.
		ln.(*net.TCPListener).SetDeadline(time.Now())
		c, err := ln.Accept()
		if err == nil {
			c.Close()
			return true
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal(err)
		}
		return false
	}
}

// TestDataConnectionIgnoresAnnouncedAddress: a server whose PASV or EPSV
// reply names another address still gets its data connection on the
// control connection's IP; the announced address sees nothing.
func TestDataConnectionIgnoresAnnouncedAddress(t *testing.T) {
	for _, mode := range []string{"PASV", "EPSV"} {
		t.Run(mode, func(t *testing.T) {
			srv := fakeftp.Start(t)
			srv.List = []string{"-rw-r--r-- 1 ftp ftp 5 Jan 01 2026 real.txt"}
			var touched atomic.Pointer[func() bool] // set by the server's goroutine
			announce := func(c *fakeftp.Conn, reply func(port int) (int, string)) {
				port, err := c.ListenData()
				if err != nil {
					c.Reply(425, err.Error())
					return
				}
				// Another loopback address, same port: a bridge that
				// believed the reply would connect here.
				canary := canaryOn(t, fmt.Sprintf("127.0.0.2:%d", port))
				touched.Store(&canary)
				c.Reply(reply(port))
			}
			if mode == "PASV" {
				srv.Script["EPSV"] = func(c *fakeftp.Conn, _ string) { c.Reply(500, "No EPSV here") }
				srv.Script["PASV"] = func(c *fakeftp.Conn, _ string) {
					announce(c, func(port int) (int, string) { return 227, fakeftp.PASVReply("127.0.0.2", port) })
				}
			} else {
				srv.Script["EPSV"] = func(c *fakeftp.Conn, _ string) {
					announce(c, func(port int) (int, string) {
						return 229, fmt.Sprintf("Entering Extended Passive Mode (|1|127.0.0.2|%d|)", port)
					})
				}
			}
			b := startBridge(t, "-allow-hosts", "127.0.0.1,127.0.0.2")
			l := listJSON(t, nil, addrURL(b, "ftp", "", srv.Addr(), "/", true))
			if len(l.Entries) != 1 || l.Entries[0].Name != "real.txt" {
				t.Errorf("listing %+v, want real.txt from the control connection's IP", l.Entries)
			}
			canary := touched.Load()
			if srv.Count(mode) == 0 || canary == nil {
				t.Fatalf("the bridge never sent %s; commands: %q", mode, srv.Commands())
			}
			if (*canary)() {
				t.Error("the bridge connected to the address the server announced")
			}
		})
	}
}

// TestControlBytesNeverReachTheServer: CR, LF, NUL and other control bytes
// in a path, a name, a rename target, a user, a password or an upload's
// file name are refused with 400, and the server receives no command made
// of them.
func TestControlBytesNeverReachTheServer(t *testing.T) {
	srv := fakeftp.Start(t)
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	site := addrURL(b, "ftp", "", srv.Addr(), "/", true)
	form := func(method, u string, v url.Values) *http.Request {
		req, _ := http.NewRequest(method, u, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	upload := func(name string) *http.Request {
		var buf strings.Builder
		mw := multipart.NewWriter(&buf)
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="file"; filename*=UTF-8''` + url.PathEscape(name)}
		part, _ := mw.CreatePart(h)
		part.Write([]byte("x"))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, site, strings.NewReader(buf.String()))
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return req
	}
	withAuth := func(user, pass string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, site, nil)
		req.SetBasicAuth(user, pass)
		return req
	}
	host, port, _ := net.SplitHostPort(srv.Addr())
	const inject = "\r\nDELE victim"
	for name, req := range map[string]*http.Request{
		"CRLF in a path":          mustRequest(http.MethodGet, site+"a%0d%0aDELE%20victim"),
		"LF in a path":            mustRequest(http.MethodGet, site+"a%0aDELE%20victim"),
		"NUL in a path":           mustRequest(http.MethodGet, site+"a%00DELE"),
		"DEL byte in a path":      mustRequest(http.MethodGet, site+"a%7fb"),
		"CRLF in a folder name":   form(http.MethodPost, site+"?op=mkdir", url.Values{"name": {"a" + inject}}),
		"CRLF in a rename target": form(http.MethodPost, site+"x.txt?op=rename", url.Values{"to": {"b" + inject}}),
		"CRLF in an upload name":  upload("up" + inject),
		"CRLF in a user":          withAuth("alice"+inject, "pw"),
		"CRLF in a password":      withAuth("alice", "pw"+inject),
		"CRLF in the connect form": form(http.MethodPost, b.URL+"/connect", url.Values{
			"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {"alice"}, "password": {"pw" + inject}}),
	} {
		resp, body := doReq(t, http.DefaultClient, req)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %.200s, want 400", name, resp.StatusCode, body)
		}
	}
	for _, cmd := range srv.Commands() {
		if strings.Contains(strings.ToUpper(cmd), "DELE") || strings.ContainsAny(cmd, "\x00\x7f") {
			t.Errorf("the server received %q", cmd)
		}
	}
}

// TestExplicitTLSRefusedSendsNoLogin: a server that refuses AUTH TLS gets
// no USER or PASS: the bridge never falls back to plain FTP.
func TestExplicitTLSRefusedSendsNoLogin(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.Script["AUTH"] = func(c *fakeftp.Conn, _ string) { c.Reply(502, "No TLS here") }
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/ftpes/alice@"+srv.Addr()+"/", nil)
	req.SetBasicAuth("alice", "secret")
	resp, body := doReq(t, http.DefaultClient, req)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "TLS") {
		t.Errorf("%d %s, want 502 about TLS", resp.StatusCode, body)
	}
	if srv.Count("AUTH") == 0 {
		t.Fatalf("the bridge never asked for TLS; commands: %q", srv.Commands())
	}
	if n := srv.Count("USER") + srv.Count("PASS"); n != 0 {
		t.Errorf("the server received a login in clear: %q", srv.Commands())
	}
}

// TestHostileServerCannotHoldARequest: a greeting that never ends, one that
// drips a byte at a time, a listing that never ends and a server that
// says nothing all end the request with 502 or 504, soon after the
// configured timeout, and do not fill the bridge's memory (the greeting
// and the listing are bounded in bytes).
func TestHostileServerCannotHoldARequest(t *testing.T) {
	endless := func(c *fakeftp.Conn, line string) {
		for c.Raw(line) == nil {
		}
	}
	for _, tc := range []struct {
		name  string
		setup func(*fakeftp.Server)
	}{
		{"endless greeting", func(s *fakeftp.Server) {
			s.Greeting = func(c *fakeftp.Conn) { endless(c, "220-"+strings.Repeat("x", 1000)+"\r\n") }
		}},
		{"dripping greeting", func(s *fakeftp.Server) {
			s.Greeting = func(c *fakeftp.Conn) {
				for c.Raw("2") == nil {
					time.Sleep(50 * time.Millisecond) // the server's pace, not the test's
				}
			}
		}},
		{"silent server", func(s *fakeftp.Server) {
			s.Greeting = func(c *fakeftp.Conn) { c.Hold() }
		}},
		{"endless listing", func(s *fakeftp.Server) {
			s.Script["LIST"] = func(c *fakeftp.Conn, _ string) {
				c.Transfer(func(w io.Writer) error {
					line := []byte("-rw-r--r-- 1 ftp ftp 5 Jan 01 2026 " + strings.Repeat("n", 200) + "\r\n")
					for {
						if _, err := w.Write(line); err != nil {
							return err
						}
					}
				})
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeftp.Start(t)
			tc.setup(srv)
			b := startBridge(t, "-allow-hosts", "127.0.0.1", "-io-timeout", "1s", "-max-list-bytes", "1048576")
			start := time.Now()
			resp, body := get(t, nil, addrURL(b, "ftp", "", srv.Addr(), "/", true), "Accept", "application/json")
			took := time.Since(start)
			if resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusGatewayTimeout {
				t.Errorf("%d %s, want 502 or 504", resp.StatusCode, body)
			}
			// A hang, not a speed, is what this bounds: far above the
			// 1 s timeout, far below forever.
			if took > 15*time.Second {
				t.Errorf("the request took %v with -io-timeout 1s", took)
			}
		})
	}
}

// TestLoginGuessingIsLimited: wrong passwords through the bridge are
// limited per user of a server (five a minute) and per client (ten),
// also when sent all at once; the server sees no more PASS commands than
// that, the client gets 429 with Retry-After, and an X-Forwarded-For
// from a client that is not a trusted proxy changes nothing.
// refusingServer is a fake FTP server that refuses every password.
func refusingServer(t *testing.T) *fakeftp.Server {
	srv := fakeftp.Start(t)
	srv.Script["PASS"] = func(c *fakeftp.Conn, _ string) { c.Reply(530, "Login incorrect") }
	return srv
}

// wrongLogin tries a wrong password for user through the bridge, with an
// X-Forwarded-For header. Safe to call from any goroutine.
func wrongLogin(b *bridge, srv *fakeftp.Server, user, forwardedFor string) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/ftp/"+user+"@"+srv.Addr()+"/", nil)
	req.SetBasicAuth(user, "guess")
	req.Header.Set("X-Forwarded-For", forwardedFor)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

func TestLoginGuessingIsLimited(t *testing.T) {
	srv := refusingServer(t)
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	// The header is not believed: the bridge trusts no proxy here.
	guess := func(user string, i int) (*http.Response, error) {
		return wrongLogin(b, srv, user, fmt.Sprintf("198.51.100.%d", i))
	}

	// Twenty guesses at once for one user: five reach the server.
	type answer struct {
		resp *http.Response
		err  error
	}
	answers := make(chan answer, 20)
	for i := range 20 {
		go func() {
			resp, err := guess("alice", i)
			answers <- answer{resp, err}
		}()
	}
	count := map[int]int{}
	for range 20 {
		a := <-answers
		if a.err != nil {
			t.Fatal(a.err)
		}
		resp := a.resp
		count[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if count[http.StatusUnauthorized] != 5 || count[http.StatusTooManyRequests] != 15 || srv.Count("PASS") != 5 {
		t.Errorf("20 guesses for alice at once: answers %v, %d PASS at the server; want 5 refused, 15 limited, 5 PASS", count, srv.Count("PASS"))
	}

	// Other users from the same client: five more tries, then the
	// client's own limit of ten holds whatever the user.
	for i := range 8 {
		resp, err := guess(fmt.Sprint("user", i), i)
		if err != nil {
			t.Fatal(err)
		}
		want := http.StatusUnauthorized
		if i >= 5 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Errorf("guess for user%d: %d, want %d", i, resp.StatusCode, want)
		}
	}
	if n := srv.Count("PASS"); n != 10 {
		t.Errorf("the server saw %d PASS commands, want 10", n)
	}
}

// TestHostileNamesCarryNoCommand: a listing whose names hold a CR (which
// some servers take as the end of a command) or a slash is walked without
// ever sending such a name back: a recursive delete and a zip leave those
// entries out.
func TestHostileNamesCarryNoCommand(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.List = []string{
		"-rw-r--r-- 1 ftp ftp 2 Jan 01 2026 ok.txt",
		"-rw-r--r-- 1 ftp ftp 2 Jan 01 2026 x\rDELE victim",
		"-rw-r--r-- 1 ftp ftp 2 Jan 01 2026 ../../escape.txt",
	}
	srv.Files["/d/ok.txt"] = []byte("ok")
	for _, verb := range []string{"DELE", "RMD"} {
		srv.Script[verb] = func(c *fakeftp.Conn, _ string) { c.Reply(250, "Done") }
	}
	srv.Script["SIZE"] = func(c *fakeftp.Conn, arg string) {
		if arg == "/d" {
			c.Reply(550, "Not a plain file") // a folder: the bridge then tries CWD
			return
		}
		c.Reply(213, "2")
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	get(t, nil, addrURL(b, "ftp", "", srv.Addr(), "/d", true)+"?format=zip")
	req, _ := http.NewRequest(http.MethodDelete, addrURL(b, "ftp", "", srv.Addr(), "/d", true)+"?recursive=1", nil)
	resp, body := doReq(t, http.DefaultClient, req)
	if resp.StatusCode != 200 {
		t.Fatalf("recursive delete: %d %s", resp.StatusCode, body)
	}
	if srv.Count("DELE") != 1 || srv.Count("RMD") != 1 {
		t.Errorf("commands %q: want one DELE (ok.txt) and one RMD", srv.Commands())
	}
	for _, cmd := range srv.Commands() {
		if strings.ContainsAny(cmd, "\r") || strings.Contains(cmd, "escape") || strings.Contains(cmd, "victim") {
			t.Errorf("the server received %q", cmd)
		}
	}
}

// TestUploadedPagesNeverRunInTheBridgesOrigin: an uploaded .html or .svg
// asked for with ?inline=1 is never served as a page or an image that can
// run script, but as opaque bytes; every file answer says attachment (or
// inline for safe types only), nosniff and a sandbox CSP; only a preview
// (a PDF in the viewer's frame) may be framed, and by the bridge's own
// pages only.
func TestUploadedPagesNeverRunInTheBridgesOrigin(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{AnonymousWritable: true})
	for name, body := range map[string]string{
		"evil.html": `<script>alert(document.cookie)</script>`,
		"evil.svg":  `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`,
		"evil.txt":  `<script>alert(1)</script>`,
		"doc.pdf":   minimalPDF,
	} {
		u := siteURL(b, "ftp", "", srv, "/"+name, false)
		req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader(body))
		if resp, answer := doReq(t, http.DefaultClient, req); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", name, resp.StatusCode, answer)
		}
		for _, query := range []string{"", "?inline=1"} {
			resp, _ := get(t, nil, u+query)
			ctype, disposition := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition")
			// A download keeps its type (attachment, sandboxed); a preview
			// of what could run script is opaque bytes.
			if query != "" && (strings.HasSuffix(name, ".html") || strings.HasSuffix(name, ".svg")) && ctype != "application/octet-stream" {
				t.Errorf("%s%s served as %q, want application/octet-stream", name, query, ctype)
			}
			inline := strings.HasPrefix(disposition, "inline")
			if inline && !strings.HasPrefix(ctype, "text/plain") && ctype != "application/pdf" {
				t.Errorf("%s%s inline as %q", name, query, ctype)
			}
			if inline != (query != "" && !strings.HasSuffix(name, ".html") && !strings.HasSuffix(name, ".svg")) {
				t.Errorf("%s%s: Content-Disposition %q", name, query, disposition)
			}
			// Framed: a preview by the bridge's pages only; a download never.
			frame, csp := resp.Header.Get("X-Frame-Options"), resp.Header.Get("Content-Security-Policy")
			if inline && (frame != "SAMEORIGIN" || !strings.Contains(csp, "frame-ancestors 'self'")) ||
				!inline && (frame != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'")) {
				t.Errorf("%s%s: X-Frame-Options %q, CSP %q", name, query, frame, csp)
			}
			if !inline && !strings.HasPrefix(disposition, "attachment") {
				t.Errorf("%s%s: Content-Disposition %q", name, query, disposition)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "sandbox") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s%s: CSP %q, X-Content-Type-Options %q", name, query, resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Content-Type-Options"))
			}
		}
	}
}

// TestSlowHeadersAreDropped: 200 clients that never finish their headers
// do not keep a normal request from being answered, and each is dropped
// after -header-timeout.
func TestSlowHeadersAreDropped(t *testing.T) {
	b := startBridge(t, "-header-timeout", "1s")
	addr := strings.TrimPrefix(b.URL, "http://")
	var slow []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: bridge\r\nX-Slow: ")); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
	}
	if resp, _ := get(t, nil, b.URL+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("a normal request among 200 slow ones: %d", resp.StatusCode)
	}
	for i, c := range slow {
		// Far past the 1 s header timeout: a bound on a hang, not a speed.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("slow client %d still connected 10 s after a 1 s header timeout", i)
		}
	}
}

// TestSessionCookieCarriesNoCredential: the session cookie is the same size
// whatever the password (so none of it is in there, encrypted or not) and
// holds no part of it in clear.
func TestSessionCookieCarriesNoCredential(t *testing.T) {
	short, long := "p", strings.Repeat("long password ", 8)
	srv := testftp.Start(t, embedftp.Options{Users: map[string]string{"short": short, "long": long}})
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	host, port, _ := net.SplitHostPort(srv.Addr())
	cookieFor := func(user, password string) string {
		form := url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {user}, "password": {password}}
		req, _ := http.NewRequest(http.MethodPost, b.URL+"/connect", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
			t.Fatalf("connect as %s: %d %v", user, resp.StatusCode, resp.Cookies())
		}
		return resp.Cookies()[0].Value
	}
	a, z := cookieFor("short", short), cookieFor("long", long)
	// Timestamps and random ids may differ by a character of encoding.
	if d := len(z) - len(a); d < -4 || d > 4 {
		t.Errorf("cookie of %d bytes with a 1-byte password, %d with a %d-byte one: the password is in it", len(a), len(z), len(long))
	}
	for _, c := range []string{a, z} {
		if strings.Contains(c, "long password") || strings.Contains(c, url.QueryEscape(long)) {
			t.Error("the cookie holds the password in clear")
		}
	}
}

// TestLoginLimitsBelieveOnlyTrustedProxies: behind a proxy listed in
// -trusted-proxies, the client address for the login limits is the one the
// proxy adds to X-Forwarded-For, so clients behind one proxy do not share
// a limit; the same header from anyone else is ignored (see
// TestLoginGuessingIsLimited).
func TestLoginLimitsBelieveOnlyTrustedProxies(t *testing.T) {
	srv := refusingServer(t)
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-trusted-proxies", "127.0.0.1")
	try := func(user, client string) int {
		resp, err := wrongLogin(b, srv, user, "203.0.113.9, "+client) // the proxy adds the last
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	// Twelve clients, one try each: none is over its own limit of ten.
	for i := range 12 {
		if s := try(fmt.Sprint("user", i), fmt.Sprintf("198.51.100.%d", i)); s != http.StatusUnauthorized {
			t.Errorf("client %d: %d, want 401", i, s)
		}
	}
	// One client, eleven more users: its ten tries run out.
	for i := range 11 {
		want := http.StatusUnauthorized
		if i == 10 {
			want = http.StatusTooManyRequests
		}
		if s := try(fmt.Sprint("other", i), "198.51.100.200"); s != want {
			t.Errorf("one client, try %d: %d, want %d", i+1, s, want)
		}
	}
}

// TestListingEntriesAreCapped: a folder of more entries than
// -max-list-entries is refused (502, saying so) rather than parsed whole.
func TestListingEntriesAreCapped(t *testing.T) {
	srv := fakeftp.Start(t)
	for i := range 1000 {
		srv.List = append(srv.List, fmt.Sprintf("-rw-r--r-- 1 ftp ftp 1 Jan 01 2026 f%d", i))
	}
	for _, tc := range []struct {
		max    string
		status int
	}{{"100", http.StatusBadGateway}, {"1000", http.StatusOK}} {
		b := startBridge(t, "-allow-hosts", "127.0.0.1", "-max-list-entries", tc.max)
		resp, body := get(t, nil, addrURL(b, "ftp", "", srv.Addr(), "/", true), "Accept", "application/json")
		if resp.StatusCode != tc.status || tc.status != 200 && !strings.Contains(string(body), "more entries") {
			t.Errorf("1000 entries with -max-list-entries %s: %d %.200s, want %d", tc.max, resp.StatusCode, body, tc.status)
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1 that is its own issuer, and
// writes it to a PEM file that -ftp-ca-file can name.
func selfSigned(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "self-signed 127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "self-signed.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, file
}

// TestSelfSignedCertificateRefused: explicit FTPS to a server with a
// self-signed certificate fails before any login is sent, unless the
// operator trusts that certificate with -ftp-ca-file.
func TestSelfSignedCertificateRefused(t *testing.T) {
	conf, pemFile := selfSigned(t)
	srv := fakeftp.Start(t)
	srv.TLS = conf
	srv.List = []string{"-rw-r--r-- 1 ftp ftp 5 Jan 01 2026 over-tls.txt"}
	site := func(b *bridge) string { return b.URL + "/ftpes/alice@" + srv.Addr() + "/" }
	alice := &http.Client{Transport: basicAuth{"alice", "secret"}}

	untrusting := startBridge(t, "-allow-hosts", "127.0.0.1")
	resp, body := get(t, alice, site(untrusting))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "certificate") {
		t.Errorf("self-signed, not trusted: %d %s, want 502 about the certificate", resp.StatusCode, body)
	}
	if srv.Count("AUTH") == 0 || srv.Count("USER")+srv.Count("PASS") != 0 {
		t.Fatalf("commands before the refused handshake: %q, want AUTH and no login", srv.Commands())
	}

	trusting := startBridge(t, "-allow-hosts", "127.0.0.1", "-ftp-ca-file", pemFile)
	l := listJSON(t, alice, site(trusting))
	if len(l.Entries) != 1 || l.Entries[0].Name != "over-tls.txt" {
		t.Errorf("trusted with -ftp-ca-file: listing %+v", l.Entries)
	}
}
