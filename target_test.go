package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

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
