package main

import (
	"bytes"
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
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestListingAndDownloadRoundTrip lists the fixture through the bridge,
// anonymously and with Basic auth, and downloads every file by the href
// the listing gave: names and bytes must come back exactly.
func TestListingAndDownloadRoundTrip(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	for _, login := range []string{"anonymous", "basic"} {
		t.Run(login, func(t *testing.T) {
			user := ""
			client := &http.Client{}
			if login == "basic" {
				user = testftp.User
				client.Transport = basicAuth{testftp.User, testftp.Password}
			}
			checkTree(t, client, b, "ftp", user, srv.Addr(), srv.Files)
		})
	}
}

// checkTree walks the listing from the root and compares every file.
func checkTree(t *testing.T, client *http.Client, b *bridge, scheme, user, addr string, files map[string][]byte) {
	t.Helper()
	seen := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		l := listJSON(t, client, addrURL(b, scheme, user, addr, dir, true))
		for _, e := range l.Entries {
			full := strings.TrimSuffix(dir, "/") + "/" + e.Name
			if e.Type == "dir" {
				walk(full)
				continue
			}
			want, ok := files[full]
			if !ok {
				// The listing shows names for display; find the exact
				// bytes through the href instead.
				u, _ := url.Parse(b.URL + e.Href)
				full = strings.SplitN(u.EscapedPath(), "/", 4)[3]
				full, _ = url.PathUnescape("/" + full)
				want, ok = files[full]
			}
			if !ok {
				t.Errorf("listing has %q (href %s), which is not in the fixture", e.Name, e.Href)
				continue
			}
			seen[full] = true
			if e.Size != int64(len(want)) {
				t.Errorf("%q: listed size %d, want %d", full, e.Size, len(want))
			}
			resp, body := get(t, client, b.URL+e.Href)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
				t.Errorf("GET %s: status %d, %d bytes, identical=%v", e.Href, resp.StatusCode, len(body), bytes.Equal(body, want))
			}
		}
	}
	walk("/")
	for p := range files {
		if !seen[p] {
			t.Errorf("%q is missing from the listings", p)
		}
	}
}

type basicAuth struct{ user, pass string }

func (a basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(a.user, a.pass)
	return http.DefaultTransport.RoundTrip(r)
}

func TestListingHTMLEscapesNames(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	resp, body := get(t, nil, siteURL(b, "ftp", "", srv, "/", true), "Accept", "text/html")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	page := string(body)
	if strings.Contains(page, `"'<> b.txt`) {
		t.Error("a name with <, > and quotes appears unescaped in the page")
	}
	for _, want := range []string{
		`a #?%&amp;;&#34;&#39;&lt;&gt; b.txt`,        // text, escaped by html/template
		`href="/ftp/127.0.0.1:`,                      // links are absolute bridge URLs
		`a%20%23%3F%25%26%3B%22&#39;%3C%3E%20b.txt"`, // the href carries the bytes (' is legal in a path, escaped for the attribute)
		`latin1-%E9t%E9.txt"`,                        // non-UTF-8 bytes, percent-encoded
		"latin1-\uFFFDt\uFFFD.txt",                   // and shown with replacement characters
		strings.Repeat("n", 196) + ".txt",            // long names are not cut
		`title="3145728 bytes"`,                      // exact size on hover
		`3.0 MiB`,                                    // human size
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, ".hidden") {
		t.Error("dot-file shown without hidden=1")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("page CSP = %q", csp)
	}
	_, body = get(t, nil, siteURL(b, "ftp", "", srv, "/", true)+"?hidden=1", "Accept", "text/html")
	if !strings.Contains(string(body), ".hidden") {
		t.Error("hidden=1 does not show the dot-file")
	}
}

func TestListingSort(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	for _, tc := range []struct{ query, first string }{
		{"sort=size&order=desc", "big.bin"},
		{"sort=size&order=asc", ".hidden"},
		{"sort=name&order=asc", "-dash-start.txt"},
	} {
		l := listJSON(t, nil, siteURL(b, "ftp", "", srv, "/", true)+"?"+tc.query)
		if l.Entries[0].Type != "dir" {
			t.Errorf("%s: folders are not first", tc.query)
		}
		var files []string
		for _, e := range l.Entries {
			if e.Type == "file" {
				files = append(files, e.Name)
			}
		}
		if len(files) == 0 || files[0] != tc.first {
			t.Errorf("%s: first file %q, want %q", tc.query, files, tc.first)
		}
	}
}

func TestDownloadRangeAndConditionals(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	u := siteURL(b, "ftp", "", srv, "/big.bin", false)
	want := srv.Files["/big.bin"]

	resp, body := get(t, nil, u, "Range", "bytes=1000-1999")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[1000:2000]) {
		t.Fatalf("range: status %d, %d bytes, identical=%v", resp.StatusCode, len(body), bytes.Equal(body, want[1000:2000]))
	}
	if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 1000-1999/%d", len(want)) {
		t.Errorf("Content-Range = %q", cr)
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("no ETag or Last-Modified: %v", resp.Header)
	}

	tests := []struct {
		name   string
		header []string
		status int
		body   []byte
	}{
		{"suffix range", []string{"Range", "bytes=-10"}, 206, want[len(want)-10:]},
		{"open range", []string{"Range", fmt.Sprintf("bytes=%d-", len(want)-5)}, 206, want[len(want)-5:]},
		{"unsatisfiable", []string{"Range", fmt.Sprintf("bytes=%d-", len(want)+10)}, 416, nil},
		{"if-range matches", []string{"Range", "bytes=0-9", "If-Range", etag}, 206, want[:10]},
		{"if-range stale", []string{"Range", "bytes=0-9", "If-Range", `"stale"`}, 200, want},
		{"if-none-match", []string{"If-None-Match", etag}, 304, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, nil, u, tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("body: %d bytes, want %d, identical=%v", len(body), len(tc.body), bytes.Equal(body, tc.body))
			}
		})
	}

	head, err := http.Head(u)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != 200 || head.ContentLength != int64(len(want)) {
		t.Errorf("HEAD: %d, length %d", head.StatusCode, head.ContentLength)
	}
	for h, want := range map[string]string{
		"Content-Disposition":     "attachment; filename=big.bin",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox",
		"Accept-Ranges":           "bytes",
	} {
		if got := head.Header.Get(h); !strings.HasPrefix(got, want) {
			t.Errorf("HEAD %s = %q, want %q...", h, got, want)
		}
	}
}

// TestHeadOpensNoDataConnection: HEAD and a 304 answer from SIZE and MDTM
// on the control connection; the FTP server sees no PASV, EPSV or RETR.
func TestHeadOpensNoDataConnection(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	u := siteURL(b, "ftp", "", srv, "/big.bin", false)
	req, _ := http.NewRequest(http.MethodHead, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(srv.Files["/big.bin"])) || etag == "" {
		t.Fatalf("HEAD: %d, Content-Length %d, ETag %q", resp.StatusCode, resp.ContentLength, etag)
	}
	if resp, _ := get(t, nil, u, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	cmds := srv.Commands()
	if len(cmds) == 0 {
		t.Fatal("the server recorded no command")
	}
	for _, cmd := range cmds {
		verb, _, _ := strings.Cut(strings.ToUpper(cmd), " ")
		if verb == "PASV" || verb == "EPSV" || verb == "RETR" || verb == "PORT" || verb == "EPRT" {
			t.Errorf("HEAD or 304 made the server see %q; all commands: %q", cmd, cmds)
		}
	}
}

func TestDownloadHeaders(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	for _, tc := range []struct {
		path, query, ctype, disposition string
	}{
		{"/日本語.txt", "", "text/plain; charset=utf-8", `attachment; filename*=utf-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt`},
		{"/with space.txt", "?inline=1", "text/plain; charset=utf-8", `inline; filename="with space.txt"`},
		{"/big.bin", "?inline=1", "application/octet-stream", `attachment; filename=big.bin`},
		{`/a #?%&;"'<> b.txt`, "", "text/plain; charset=utf-8", `attachment; filename="a #?%&;\"'<> b.txt"`},
	} {
		resp, _ := get(t, nil, siteURL(b, "ftp", "", srv, tc.path, false)+tc.query)
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got := resp.Header.Get("Content-Disposition"); got != tc.disposition {
			t.Errorf("%s: Content-Disposition %q, want %q", tc.path, got, tc.disposition)
		}
	}
}

func TestFolderWithoutSlashRedirects(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := get(t, c, siteURL(b, "ftp", "", srv, "/sub", false))
	if resp.StatusCode != http.StatusMovedPermanently || !strings.HasSuffix(resp.Header.Get("Location"), "/sub/") {
		t.Errorf("GET /sub: %d to %q, want 301 to .../sub/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get(t, nil, siteURL(b, "ftp", "", srv, "/nope.txt", false))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"error"`) {
		t.Errorf("missing file: %d %s", resp.StatusCode, body)
	}
}

// TestDefaultPolicyRefusesLoopback: with no -allow-hosts, every spelling of
// a loopback, private, link-local, CGNAT or unspecified address is 403,
// however it comes in, and no TCP connection is made. (DNS rebinding is
// netpolicy's TestDialChecksResolvedIP: the dial checks the IP it dials.)
func TestDefaultPolicyRefusesLoopback(t *testing.T) {
	canary, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer canary.Close()
	_, port, _ := net.SplitHostPort(canary.Addr().String())
	b := startBridge(t)
	// Every way in: an anonymous address, Basic auth, the connect form and
	// share creation.
	ways := map[string]func(host string) *http.Request{
		"anonymous URL": func(host string) *http.Request {
			return mustRequest(http.MethodGet, b.URL+"/ftp/"+host+":"+port+"/")
		},
		"Basic auth": func(host string) *http.Request {
			req := mustRequest(http.MethodGet, b.URL+"/ftp/alice@"+host+":"+port+"/")
			req.SetBasicAuth("alice", "pw")
			return req
		},
		"connect form": func(host string) *http.Request {
			form := url.Values{"scheme": {"ftp"}, "host": {strings.Trim(host, "[]")}, "port": {port}, "user": {"alice"}, "password": {"pw"}}
			req, _ := http.NewRequest(http.MethodPost, b.URL+"/connect", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		},
		"share": func(host string) *http.Request {
			req := mustRequest(http.MethodPost, b.URL+"/ftp/alice@"+host+":"+port+"/x.txt?op=share")
			req.SetBasicAuth("alice", "pw")
			return req
		},
	}
	for _, host := range []string{
		"127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "[::ffff:127.0.0.1]", "localhost", "[::1]",
		"0.0.0.0", "10.0.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "[fe80::1]", "[::]",
	} {
		for way, req := range ways {
			resp, body := doReq(t, http.DefaultClient, req(host))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s, %s: status %d (%.200s), want 403", host, way, resp.StatusCode, body)
			}
		}
	}
	// Anything that reached the canary is queued for Accept by now.
	canary.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := canary.Accept(); err == nil {
		c.Close()
		t.Error("the bridge connected to a refused address")
	} else if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal(err)
	}
}

// TestAllowHostsByName: a host name in -allow-hosts admits the name's
// control connection and its data connections (which go to an IP), so
// listing and download work; the same server by IP stays refused.
func TestAllowHostsByName(t *testing.T) {
	srv := testftp.Start(t, embedftp.Options{})
	b := startBridge(t, "-allow-hosts", "localhost")
	_, port, _ := net.SplitHostPort(srv.Addr())
	byName := "localhost:" + port
	listJSON(t, nil, addrURL(b, "ftp", "", byName, "/", true))
	resp, body := get(t, nil, addrURL(b, "ftp", "", byName, "/with space.txt", false))
	if resp.StatusCode != 200 || !bytes.Equal(body, srv.Files["/with space.txt"]) {
		t.Errorf("download by an allowed name: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, nil, addrURL(b, "ftp", "", srv.Addr(), "/", true)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the same server by IP: %d %s, want 403", resp.StatusCode, body)
	}
}

// TestAbortedDownloadsLeakNothing aborts 200 downloads mid-stream; the
// bridge must end up with no extra goroutines, files or FTP connections,
// and serve the next request. The FTP server runs in this process too, so
// pooled connections count twice in the fd total; a short idle timeout
// lets the pool close them, and what remains above the baseline is a leak.
func TestAbortedDownloadsLeakNothing(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-idle-timeout", "1s")
	// Large enough that socket buffers cannot swallow it: the bridge must
	// see the client go away mid-transfer.
	if err := os.Truncate(filepath.Join(srv.Root, "big.bin"), 256<<20); err != nil {
		t.Fatal(err)
	}
	u := siteURL(b, "ftp", "", srv, "/big.bin", false)
	get(t, nil, siteURL(b, "ftp", "", srv, "/", true)) // warm up
	http.DefaultClient.CloseIdleConnections()
	baseG, baseFD := runtime.NumGoroutine(), openSockets(t)

	for i := 0; i < 200; i++ {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, 64<<10); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // closes the TCP connection mid-body
	}
	http.DefaultClient.CloseIdleConnections()

	if clients := srv.Clients(); clients > 16 {
		t.Errorf("FTP server sees %d control connections after the aborts; the per-host cap is 16", clients)
	}
	resp, body := get(t, nil, siteURL(b, "ftp", "", srv, "/with space.txt", false))
	if resp.StatusCode != 200 || !bytes.Equal(body, srv.Files["/with space.txt"]) {
		t.Fatalf("request after the aborts: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	// The handlers finish asynchronously after the client hangs up and the
	// reaper closes idle connections: wait for the counts to settle, and
	// fail if they do not.
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, fd := runtime.NumGoroutine(), openSockets(t)
		if g <= baseG+5 && fd <= baseFD+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 200 aborted downloads: %d goroutines (was %d), %d sockets (was %d)", g, baseG, fd, baseFD)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openSockets(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	n := 0
	for _, e := range ents {
		// Only sockets: what a download leaks. Pipes of subprocesses that
		// earlier tests started (browsers, daemons) close on their own
		// time and say nothing about this test.
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

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

// TestPerHostCap: with one connection allowed and held by a download, a
// listing waits, then gets 503 with Retry-After.
func TestPerHostCap(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-max-conns-per-host", "1", "-conn-wait", "200ms")
	if err := os.Truncate(filepath.Join(srv.Root, "big.bin"), 256<<20); err != nil {
		t.Fatal(err)
	}
	held, err := http.Get(siteURL(b, "ftp", "", srv, "/big.bin", false))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Body.Close()
	resp, body := get(t, nil, siteURL(b, "ftp", "", srv, "/", true))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second request: %d Retry-After=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// TestConnectFormSession logs in through the form, then browses with the
// session cookie alone; the cookie holds no credential, its id changes on
// connect, and disconnect ends access.
func TestConnectFormSession(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	c := newJarClient(t)
	host, port, _ := net.SplitHostPort(srv.Addr())
	site := siteURL(b, "ftp", testftp.User, srv, "/", true)

	resp, _ := get(t, c, site, "Accept", "text/html")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("before login: %d, want 401 with the form", resp.StatusCode)
	}
	form := url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {testftp.User}, "password": {"wrong"}}
	resp = postForm(t, c, b.URL+"/connect", form)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "The server said") {
		t.Fatalf("wrong password: %d, page should quote the server: %s", resp.StatusCode, body)
	}
	firstID := cookie(c, b.URL)

	form.Set("password", testftp.Password)
	resp = postForm(t, c, b.URL+"/connect", form)
	resp.Body.Close()
	if resp.Request.URL.String() != site || resp.StatusCode != 200 {
		t.Fatalf("login went to %s (%d), want %s", resp.Request.URL, resp.StatusCode, site)
	}
	ck := cookie(c, b.URL)
	if ck == "" || ck == firstID {
		t.Errorf("session id did not change on connect")
	}
	if strings.Contains(ck, testftp.Password) || strings.Contains(ck, url.QueryEscape(testftp.Password)) {
		t.Error("the cookie holds the password")
	}
	l := listJSON(t, c, site)
	if len(l.Entries) == 0 {
		t.Fatal("empty listing after login")
	}

	resp = postForm(t, c, b.URL+"/disconnect", url.Values{})
	resp.Body.Close()
	old := &http.Client{Jar: c.Jar}
	c.Jar.SetCookies(mustURL(b.URL), []*http.Cookie{{Name: "ftpbridge", Value: ck, Path: "/"}})
	if resp, _ := get(t, old, site); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("old cookie after disconnect: %d, want 401", resp.StatusCode)
	}
}

// TestSessionCookieFlags: the session cookie is HttpOnly and SameSite=Lax,
// and Secure when the browser came over TLS: X-Forwarded-Proto counts only
// from a proxy in -trusted-proxies, never from anyone else.
func TestSessionCookieFlags(t *testing.T) {
	srv := testftp.Start(t, embedftp.Options{})
	host, port, _ := net.SplitHostPort(srv.Addr())
	for _, tc := range []struct {
		name       string
		flags      []string
		forwarded  string
		wantSecure bool
	}{
		{"plain HTTP", nil, "", false},
		{"https from a trusted proxy", []string{"-trusted-proxies", "127.0.0.0/8"}, "https", true},
		{"https claimed by an untrusted client", nil, "https", false},
		{"http from a trusted proxy", []string{"-trusted-proxies", "127.0.0.1"}, "http", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startBridge(t, append([]string{"-allow-hosts", "127.0.0.1"}, tc.flags...)...)
			form := url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {testftp.User}, "password": {testftp.Password}}
			req, _ := http.NewRequest(http.MethodPost, b.URL+"/connect", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.forwarded != "" {
				req.Header.Set("X-Forwarded-Proto", tc.forwarded)
			}
			resp, err := http.DefaultTransport.RoundTrip(req) // no redirects: the 303 sets the cookie
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			cookies := resp.Cookies()
			if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 {
				t.Fatalf("connect: %d with cookies %v, want 303 and one cookie", resp.StatusCode, cookies)
			}
			ck := cookies[0]
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != tc.wantSecure {
				t.Errorf("cookie %q: HttpOnly=%v SameSite=%v Secure=%v; want HttpOnly, Lax, Secure=%v",
					resp.Header.Get("Set-Cookie"), ck.HttpOnly, ck.SameSite, ck.Secure, tc.wantSecure)
			}
		})
	}
}

func postForm(t testing.TB, c *http.Client, u string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func cookie(c *http.Client, base string) string {
	for _, ck := range c.Jar.Cookies(mustURL(base)) {
		if ck.Name == "ftpbridge" {
			return ck.Value
		}
	}
	return ""
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestBasicAuthChallenges(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	u := siteURL(b, "ftp", testftp.User, srv, "/", true)
	resp, _ := get(t, nil, u)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	bad := &http.Client{Transport: basicAuth{testftp.User, "nope"}}
	resp, body := get(t, bad, u)
	if resp.StatusCode != 401 || !strings.Contains(string(body), "refused the login") {
		t.Errorf("wrong password: %d %s", resp.StatusCode, body)
	}
	good := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	if resp, _ := get(t, good, u); resp.StatusCode != 200 {
		t.Errorf("right password: %d", resp.StatusCode)
	}
	// A wrong password must not ride on the connection the right one opened.
	if resp, _ := get(t, bad, u); resp.StatusCode != 401 {
		t.Errorf("wrong password after a good login: %d, want 401", resp.StatusCode)
	}
}

func TestBadPathsAre400(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	base := siteURL(b, "ftp", "", srv, "/", true)
	for _, p := range []string{"a%0d%0aDELE%20x", "a%00b", "..%2f..%2fetc", "%2e%2e/", "x%2Fy", "..%5C..%5Cetc"} {
		resp, body := get(t, nil, base+p)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", p, resp.StatusCode, body)
		}
	}
}

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

// testCA makes a CA and a server certificate for 127.0.0.1, and returns
// the CA's PEM file and the server's TLS config.
func testCA(t testing.TB) (string, *tls.Config) {
	caFile, _, _, conf := testCAFiles(t)
	return caFile, conf
}

// testCAFiles also writes the server's certificate and key as PEM files,
// for the real daemons.
func testCAFiles(t testing.TB) (caFile, certFile, keyFile string, conf *tls.Config) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ftpbridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{
		caFile:   {Type: "CERTIFICATE", Bytes: caDER},
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

// TestDownloadsReuseTheConnection: a finished download gives its FTP
// connection back whole, so the next one logs in no more.
func TestDownloadsReuseTheConnection(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	for _, p := range []string{"/big.bin", "/with space.txt", "/big.bin"} {
		if resp, body := get(t, nil, siteURL(b, "ftp", "", srv, p, false)); resp.StatusCode != 200 || !bytes.Equal(body, srv.Files[p]) {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	logins := 0
	for _, cmd := range srv.Commands() {
		if strings.HasPrefix(cmd, "USER ") {
			logins++
		}
	}
	if logins != 1 {
		t.Errorf("three downloads one after the other logged in %d times, want once: %q", logins, srv.Commands())
	}
}

// TestMultiRangeDownload: several ranges come back as multipart/byteranges,
// each part its bytes. http.ServeContent reads those from a goroutine it
// may leave running when the client goes; the file then takes turns with
// the handler's Close (before, they raced on the FTP connection, which
// could crash the bridge), and the next download is whole.
func TestMultiRangeDownload(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	u := siteURL(b, "ftp", "", srv, "/big.bin", false)
	want := srv.Files["/big.bin"]

	resp, body := get(t, nil, u, "Range", "bytes=0-9,1000-1099")
	mediaType, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusPartialContent || err != nil || mediaType != "multipart/byteranges" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for _, r := range [][2]int{{0, 10}, {1000, 1100}} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(p)
		if !bytes.Equal(got, want[r[0]:r[1]]) {
			t.Errorf("part %v: %d bytes, identical=%v", r, len(got), bytes.Equal(got, want[r[0]:r[1]]))
		}
	}

	var ranges []string
	for i := range 300 {
		ranges = append(ranges, fmt.Sprintf("%d-%d", i*1000, i*1000))
	}
	for range 5 {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Range", "bytes="+strings.Join(ranges, ","))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.CopyN(io.Discard, resp.Body, 300)
		resp.Body.Close() // gone before the last ranges
	}
	if resp, body := get(t, nil, u); resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Errorf("the next download: status %d, %d bytes, identical=%v", resp.StatusCode, len(body), bytes.Equal(body, want))
	}
}
