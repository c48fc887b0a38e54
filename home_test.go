package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

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
