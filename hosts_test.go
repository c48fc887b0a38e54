package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// withHost is req sent as if the browser had reached the bridge by the
// name host: what a page does after DNS rebinding, its own name resolving
// to the bridge's address.
func withHost(req *http.Request, host string) *http.Request {
	req.Host = host
	return req
}

// bridgePort is the port the bridge listens on.
func bridgePort(t *testing.T, b *bridge) string {
	u, err := url.Parse(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// TestForeignHostIsMisdirected: a bridge on loopback answers to its
// loopback names only. A request naming any other host, as a rebinding
// page's requests do, is 421 whatever it asks, and nothing happens: no FTP
// connection, no cookie, no share, no socket.
func TestForeignHostIsMisdirected(t *testing.T) {
	ftp := fakeftp.Start(t)
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	port := bridgePort(t, b)
	evil := "rebind.attacker.example:" + port
	listing := b.URL + "/ftp/" + ftp.Addr() + "/"
	jar := newJarClient(t)

	form := url.Values{"scheme": {"ftp"}, "host": {"127.0.0.1"}, "port": {ftp.Port()}, "user": {"alice"}, "password": {"secret"}}
	post := func(u string, body url.Values) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	share := post(listing+"?op=share", nil)
	share.SetBasicAuth("alice", "secret")
	for _, req := range []*http.Request{
		mustRequest(http.MethodGet, b.URL+"/"),
		mustRequest(http.MethodGet, listing),
		mustRequest(http.MethodGet, listing+"?format=zip"),
		mustRequest(http.MethodGet, b.URL+"/healthz"),
		post(b.URL+"/connect", form),
		share,
	} {
		// Same-origin in the rebinding page's eyes.
		req.Header.Set("Origin", "http://"+evil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, body := doReq(t, jar, withHost(req, evil))
		if resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("%s %s as %s: %d %s, want 421", req.Method, req.URL.Path, evil, resp.StatusCode, body)
		}
		if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("%s %s as %s set a cookie: %q", req.Method, req.URL.Path, evil, c)
		}
	}
	if cmds := ftp.Commands(); len(cmds) > 0 {
		t.Errorf("the FTP server got %q from requests for another host", cmds)
	}

	// The transfer socket, which the rebinding page's Origin would pass.
	req := withHost(mustRequest(http.MethodGet, b.URL+"/ws"), evil)
	for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": "http://" + evil} {
		req.Header.Set(k, v)
	}
	if resp, body := doReq(t, jar, req); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("WebSocket as %s: %d %s, want 421", evil, resp.StatusCode, body)
	}

	// The loopback names, with or without the port, are the bridge's own.
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST", "[::1]:" + port, "127.0.0.1"} {
		if resp, body := doReq(t, http.DefaultClient, withHost(mustRequest(http.MethodGet, b.URL+"/healthz"), host)); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %s: %d %s, want 200", host, resp.StatusCode, body)
		}
	}
}

// TestShareLinkHost: a share link names the host the maker reached the
// bridge by only when it is one of the bridge's names; with -hosts, the
// loopback names are no longer among them.
func TestShareLinkHost(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-hosts", "files.example.com,bridge.internal:8443")
	port := bridgePort(t, b)
	file := siteURL(b, "ftp", testftp.User, srv, "/big.bin", false)
	makeAs := func(host string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, file+"?op=share", nil)
		return doReq(t, aliceClient(), withHost(req, host))
	}

	resp, body := makeAs("files.example.com:" + port)
	var a shareAnswer
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &a) != nil {
		t.Fatalf("share as files.example.com: %d %s", resp.StatusCode, body)
	}
	if want := "http://files.example.com:" + port + "/s/" + a.ID; a.URL != want {
		t.Errorf("link %q, want %q", a.URL, want)
	}
	for _, host := range []string{"127.0.0.1:" + port, "evil.example", "files.example.com.evil.example"} {
		if resp, body := makeAs(host); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("share as %s: %d %s, want 421", host, resp.StatusCode, body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/shares", nil)
	req.Header.Set("Accept", "application/json")
	_, body = doReq(t, aliceClient(), withHost(req, "bridge.internal"))
	var list struct{ Shares []struct{ ID, URL string } }
	if err := json.Unmarshal(body, &list); err != nil || len(list.Shares) != 1 || list.Shares[0].ID != a.ID {
		t.Fatalf("alice's shares: %v %s, want only the one made as files.example.com", err, body)
	}
	if want := "http://bridge.internal/s/" + a.ID; list.Shares[0].URL != want {
		t.Errorf("listed link %q, want %q", list.Shares[0].URL, want)
	}
}

// TestPublicListenNeedsHosts: a bridge other machines can reach answers to
// no name unless told which, so it does not start without -hosts or
// -base-url, and says what to set.
func TestPublicListenNeedsHosts(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"ftpbridge", "-listen", "0.0.0.0:0", "-data-dir", t.TempDir()},
			func(string) string { return "" }, pw, io.Discard)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	// Either run returns at once with its reason, or it says it listens.
	if line, _ := bufio.NewReader(pr).ReadString('\n'); line != "" {
		cancel()
		t.Errorf("listening on all interfaces with no -hosts: the bridge started (%q)", line)
		go io.Copy(io.Discard, pr)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "-hosts") {
		t.Errorf("listening on all interfaces with no -hosts: %v, want a refusal naming -hosts", err)
	}
	for _, args := range [][]string{{"-hosts", "files.example.com"}, {"-base-url", "https://files.example.com"}} {
		b := startBridge(t, append([]string{"-listen", "0.0.0.0:0"}, args...)...)
		port := bridgePort(t, b)
		ok := withHost(mustRequest(http.MethodGet, "http://127.0.0.1:"+port+"/healthz"), "files.example.com")
		if resp, body := doReq(t, http.DefaultClient, ok); resp.StatusCode != http.StatusOK {
			t.Errorf("%v, Host files.example.com: %d %s", args, resp.StatusCode, body)
		}
		if resp, body := doReq(t, http.DefaultClient, mustRequest(http.MethodGet, "http://127.0.0.1:"+port+"/healthz")); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("%v, Host 127.0.0.1: %d %s, want 421", args, resp.StatusCode, body)
		}
	}
}
