package main

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
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
