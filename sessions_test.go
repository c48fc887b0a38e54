package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// heapAfterGC is the live heap of this process, which runs the bridge.
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// startListingServer runs an FTP server of one folder of five files, as
// cheap per listing as can be: the embedded server costs several times the
// bridge's own work per listing, and fakeftp keeps every command, which
// would grow this process's heap itself. Its address is returned.
func startListingServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for nc := range open {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	var lines strings.Builder
	for i := range 5 {
		fmt.Fprintf(&lines, "-rw-r--r-- 1 ftp ftp 1 Jan 01 2026 f%d.txt\r\n", i)
	}
	listing := lines.String()
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[nc] = true
			mu.Unlock()
			wg.Go(func() {
				serveListing(nc, listing)
				mu.Lock()
				delete(open, nc)
				mu.Unlock()
			})
		}
	})
	return ln.Addr().String()
}

// serveListing is one control connection of startListingServer: one data
// port for all its listings, so that a listing costs one connection only.
func serveListing(nc net.Conn, listing string) {
	defer nc.Close()
	var data net.Listener
	defer func() {
		if data != nil {
			data.Close()
		}
	}()
	r := bufio.NewReader(nc)
	reply := func(s string) { _, _ = io.WriteString(nc, s+"\r\n") }
	reply("220 ready")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(verb) {
		case "USER":
			reply("331 password please")
		case "PASS":
			reply("230 logged in")
		case "FEAT":
			reply("211 no features")
		case "PWD":
			reply(`257 "/" is the current folder`)
		case "EPSV":
			if data == nil {
				if data, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
					reply("425 no data port")
					continue
				}
			}
			reply(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", data.Addr().(*net.TCPAddr).Port))
		case "LIST":
			if data == nil {
				reply("425 use EPSV first")
				continue
			}
			reply("150 here it comes")
			_ = data.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
			dc, err := data.Accept()
			if err != nil {
				reply("425 no data connection")
				continue
			}
			_, _ = io.WriteString(dc, listing)
			dc.Close()
			reply("226 done")
		case "QUIT":
			reply("221 bye")
			return
		default: // TYPE, OPTS, NOOP, CWD
			reply("200 OK")
		}
	}
}

// TestStrangersLeaveNoSessions: cookieless GETs of an HTML listing get no
// cookie, and 50,000 of them leave the bridge's sessions and heap where
// they were. The bridge used to start a 12-hour session for each.
func TestStrangersLeaveNoSessions(t *testing.T) {
	addr := startListingServer(t)
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	listing := addrURL(b, "ftp", "", addr, "/", true)

	const clients, total = 16, 50000
	var sent, bad atomic.Int64
	var firstBad atomic.Value
	run := func(n int64) {
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				tr := &http.Transport{MaxIdleConnsPerHost: 1}
				defer tr.CloseIdleConnections()
				c := &http.Client{Transport: tr}
				for sent.Add(1) <= n {
					req, _ := http.NewRequest(http.MethodGet, listing, nil)
					req.Header.Set("Accept", "text/html")
					resp, err := c.Do(req)
					if err != nil {
						bad.Add(1)
						firstBad.CompareAndSwap(nil, err.Error())
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || len(resp.Cookies()) > 0 {
						bad.Add(1)
						firstBad.CompareAndSwap(nil, fmt.Sprintf("%d with cookies %v", resp.StatusCode, resp.Cookies()))
					}
				}
			})
		}
		wg.Wait()
	}
	// A first round warms what any traffic warms (pools, buffers,
	// templates), so the measure is of what the strangers leave.
	run(2000)
	sessions, heap := b.Sessions.Len(), heapAfterGC()
	start := time.Now()
	sent.Store(0)
	run(total)
	took := time.Since(start)
	sessionsAfter, heapAfter := b.Sessions.Len(), heapAfterGC()
	t.Logf("%d cookieless listing GETs in %v: sessions %d -> %d, heap %.1f MiB -> %.1f MiB",
		total, took.Round(time.Millisecond), sessions, sessionsAfter, float64(heap)/(1<<20), float64(heapAfter)/(1<<20))
	if n := bad.Load(); n > 0 {
		t.Errorf("%d of the GETs were not a 200 without a cookie; first: %v", n, firstBad.Load())
	}
	if sessionsAfter != sessions {
		t.Errorf("sessions went from %d to %d, want no new one for a stranger's GET", sessions, sessionsAfter)
	}
	// A session per GET, as the bridge used to keep, grew the heap by
	// 17.7 MiB over these GETs.
	if heapAfter > heap+8<<20 {
		t.Errorf("heap grew from %.1f MiB to %.1f MiB over the GETs, want it where it was", float64(heap)/(1<<20), float64(heapAfter)/(1<<20))
	}
}

// TestSocketsPerSessionCapped: one session opens 300 transfer sockets; past
// the cap (8 by default) they are refused with 429, while the bridge keeps
// answering, the session's own requests included; a closed socket frees
// its place.
func TestSocketsPerSessionCapped(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	listing := siteURL(b, "ftp", "", srv, "/", true)
	c := sessionClient(t, b, listing)
	var open []*websocket.Conn
	refused := 0
	for i := range 300 {
		ws, resp, err := dialEvents(t, b, c, b.URL)
		switch {
		case err == nil:
			open = append(open, ws)
		case resp != nil && resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "":
			refused++
		default:
			t.Fatalf("socket %d: %v (response %v), want it open or 429 with Retry-After", i+1, err, resp)
		}
	}
	if len(open) != 8 || refused != 292 {
		t.Errorf("300 sockets of one session: %d open, %d refused; want 8 open, the rest 429", len(open), refused)
	}
	if resp, _ := get(t, c, listing, "Accept", "text/html"); resp.StatusCode != http.StatusOK {
		t.Errorf("the session's listing while its sockets are full: %d", resp.StatusCode)
	}
	if resp, _ := get(t, nil, b.URL+"/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz while a session's sockets are full: %d", resp.StatusCode)
	}
	// Another session is not held back by this one's sockets.
	if _, _, err := dialEvents(t, b, sessionClient(t, b, listing), b.URL); err != nil {
		t.Errorf("another session's socket: %v", err)
	}
	// The bridge reads the close frame and lets go of the place.
	open[0].WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	for {
		if _, _, err := open[0].ReadMessage(); err != nil {
			break
		}
	}
	open[0].Close()
	// The bridge frees the place once its handler sees the end, a moment
	// after: each try is a real handshake, refused until then.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws, resp, err := dialEvents(t, b, c, b.URL)
		if err == nil {
			ws.Close()
			break
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("socket after one was closed: %v %v, want it open", err, resp)
		}
		runtime.Gosched()
	}
}

// TestSessionCapEvictsStrangersFirst: with -max-sessions 5, strangers'
// sockets start sessions without end; the bridge keeps at most five, and
// the session that logged in stays while the strangers' go (their sockets
// closed with a policy-violation close).
func TestSessionCapEvictsStrangersFirst(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-max-sessions", "5")
	host, port, _ := net.SplitHostPort(srv.Addr())
	site := siteURL(b, "ftp", testftp.User, srv, "/", true)
	alice := newJarClient(t)
	resp := postForm(t, alice, b.URL+"/connect", url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {testftp.User}, "password": {testftp.Password}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("connect: %d", resp.StatusCode)
	}
	first, _, err := dialEvents(t, b, newJarClient(t), b.URL)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, _, err := dialEvents(t, b, newJarClient(t), b.URL); err != nil {
			t.Fatalf("stranger %d's socket: %v", i, err)
		}
		if n := b.Sessions.Len(); n > 5 {
			t.Fatalf("after %d strangers: %d sessions, want at most 5", i+1, n)
		}
	}
	if l := listJSON(t, alice, site); len(l.Entries) == 0 {
		t.Error("the logged-in session lost its login to strangers")
	}
	_ = first.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err = first.ReadMessage(); err != nil {
			break
		}
	}
	if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Errorf("the first stranger's socket after its session was pushed out: %v, want close 1008", err)
	}
}

// TestBrowserUploadStartsSession: an upload from a browser with no session
// yet (its page's socket not open) starts one, in which the upload is a
// transfer to watch; a script's upload with Basic auth starts none.
func TestBrowserUploadStartsSession(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{AnonymousWritable: true})
	c := newJarClient(t)
	body, ctype, wait := multipartBody([]uploadFile{{name: "from-browser.txt", data: []byte("hello\n")}})
	req, _ := http.NewRequest(http.MethodPost, siteURL(b, "ftp", "", srv, "/", true), body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	if resp, answer := doReq(t, c, req); resp.StatusCode/100 != 2 {
		t.Fatalf("upload: %d %s", resp.StatusCode, answer)
	}
	if _, err := wait(); err != nil {
		t.Fatal(err)
	}
	if cookie(c, b.URL) == "" {
		t.Fatal("a browser's upload without a session started none")
	}
	resp, list := get(t, c, b.URL+"/transfers")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(list), `"op":"upload"`) || !strings.Contains(string(list), "from-browser.txt") {
		t.Errorf("the new session's /transfers: %d %s, want the upload", resp.StatusCode, list)
	}

	req, _ = http.NewRequest(http.MethodPut, siteURL(b, "ftp", testftp.User, srv, "/from-script.txt", false), strings.NewReader("hi\n"))
	req.SetBasicAuth(testftp.User, testftp.Password)
	if resp, answer := doReq(t, http.DefaultClient, req); resp.StatusCode/100 != 2 || len(resp.Cookies()) != 0 {
		t.Errorf("a script's PUT with Basic auth: %d %s with cookies %v, want success and no cookie", resp.StatusCode, answer, resp.Cookies())
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
