package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// rawServer listens on loopback and hands each connection to serve; the
// test's end closes the listener and every connection.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestConnectErrorsTellNoPortApart: through the bridge, a closed port, a
// silent one, one that hangs up, an SSH server and a MySQL server all
// give one status and one message, by URL and by the connect form, plain
// and implicit TLS: the bridge is no port scanner, and it never shows
// another service's banner.
func TestConnectErrorsTellNoPortApart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	readAll := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	targets := map[string]string{
		"closed port": closed,
		"silent":      rawServer(t, readAll),
		"hangs up":    rawServer(t, func(c net.Conn) { c.Close() }),
		"ssh": rawServer(t, func(c net.Conn) {
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"))
			readAll(c)
		}),
		"mysql": rawServer(t, func(c net.Conn) {
			_, _ = c.Write([]byte("J\x00\x00\x00\x0a8.0.36-0ubuntu0.24.04.1\x00\x08\x00\x00\x00secret-salt\x00"))
			readAll(c)
		}),
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-io-timeout", "1s")
	type answer struct {
		status int
		msg    string
	}
	ask := func(req *http.Request) answer {
		req.Header.Set("Accept", "application/json")
		resp, body := doReq(t, http.DefaultClient, req)
		var e struct{ Error string }
		if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
			t.Fatalf("%s %s: %d %s, want a JSON error", req.Method, req.URL, resp.StatusCode, body)
		}
		return answer{resp.StatusCode, e.Error}
	}
	var first *answer
	var firstName string
	for _, scheme := range []string{"ftp", "ftps"} {
		for name, addr := range targets {
			host, port, _ := net.SplitHostPort(addr)
			form := url.Values{"scheme": {scheme}, "host": {host}, "port": {port}, "user": {"alice"}, "password": {"pw"}}
			connect, _ := http.NewRequest(http.MethodPost, b.URL+"/connect", strings.NewReader(form.Encode()))
			connect.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for way, req := range map[string]*http.Request{
				"URL":          mustRequest(http.MethodGet, b.URL+"/"+scheme+"/"+addr+"/"),
				"connect form": connect,
			} {
				got := ask(req)
				what := scheme + " " + name + " by " + way
				t.Logf("%s: %d %s", what, got.status, got.msg)
				for _, leak := range []string{"SSH", "8.0.36", "refused", "reset", "EOF", "time", "tls"} {
					if strings.Contains(got.msg, leak) {
						t.Errorf("%s: the message says %q: %s", what, leak, got.msg)
					}
				}
				if first == nil {
					first, firstName = &got, what
				} else if got != *first {
					t.Errorf("%s: %d %q; %s: %d %q; want the same", what, got.status, got.msg, firstName, first.status, first.msg)
				}
			}
		}
	}
	if first != nil && first.status != http.StatusBadGateway {
		t.Errorf("status %d, want 502", first.status)
	}
}
