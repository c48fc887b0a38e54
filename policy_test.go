package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestPublicAddressesOnFTPPortsOnly: the bridge reaches public addresses
// as FTP only, so nobody can use it to probe or talk to other services:
// port 22 or 3306 of a public address is 403 by every way in, refused by
// the policy before any dial (internal/netpolicy's tests watch the dialer).
// -allow-ports opens more; an -allow-hosts entry without a port still
// allows every port of its host.
func TestPublicAddressesOnFTPPortsOnly(t *testing.T) {
	ftp := fakeftp.Start(t)
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-io-timeout", "1s")
	ways := map[string]func(hostport string) *http.Request{
		"anonymous URL": func(hp string) *http.Request { return mustRequest(http.MethodGet, b.URL+"/ftp/"+hp+"/") },
		"Basic auth": func(hp string) *http.Request {
			req := mustRequest(http.MethodGet, b.URL+"/ftp/alice@"+hp+"/")
			req.SetBasicAuth("alice", "pw")
			return req
		},
		"connect form": func(hp string) *http.Request {
			host, port, _ := net.SplitHostPort(hp)
			form := url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {"alice"}, "password": {"pw"}}
			req, _ := http.NewRequest(http.MethodPost, b.URL+"/connect", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		},
	}
	for _, hp := range []string{"1.1.1.1:22", "16843009:22", "1.1.1.1:3306", "[2606:4700:4700::1111]:22", "1.1.1.1:8080"} {
		for way, req := range ways {
			resp, body := doReq(t, http.DefaultClient, req(hp))
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "port") {
				t.Errorf("%s, %s: %d %.300s, want 403 about the port", hp, way, resp.StatusCode, body)
			}
		}
	}
	// Loopback is listed without a port: the FTP server's random port is fine.
	listJSON(t, nil, b.URL+"/ftp/"+ftp.Addr()+"/")

	opened := startBridge(t, "-allow-ports", "3306,8000-8100", "-io-timeout", "1s")
	if resp, body := get(t, nil, opened.URL+"/ftp/1.1.1.1:8080/", "Accept", "application/json"); resp.StatusCode == http.StatusForbidden {
		t.Errorf("-allow-ports 8000-8100, port 8080: %d %s, want a dial (and whatever comes of it), not 403", resp.StatusCode, body)
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
