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

// TestConnectFormKeepsWhatWasTyped: after a failed connect, the form comes
// back as it was filled in (host, port, user, security, name encoding,
// transfer mode, the Anonymous tick; never the password), with the field
// to fix focused, and with words a person can act on: no resolver
// address, no flag names.
func TestConnectFormKeepsWhatWasTyped(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	host, port, _ := net.SplitHostPort(srv.Addr())
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		focus  string
		says   []string
		kept   []string
	}{
		{
			name:   "wrong password",
			form:   url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {testftp.User}, "password": {"wrong pass 7x"}, "encoding": {"windows-1251"}, "mode": {"passive"}},
			status: http.StatusUnauthorized, focus: "password",
			says: []string{"refused the login"},
			kept: []string{`id="host" ` + attrs(host), `value="` + port + `"`, `id="user" autocomplete="username" spellcheck="false" value="` + testftp.User + `"`,
				`<option value="ftp" selected>`, `<option value="windows-1251" selected>`, `<option value="passive" selected>`},
		},
		{
			name:   "a name that is not found",
			form:   url.Values{"scheme": {"ftpes"}, "host": {"nope.example.invalid"}, "user": {testftp.User}, "password": {"x"}},
			status: http.StatusBadGateway, focus: "host",
			// Where DNS answers, "was not found"; where it does not,
			// "could not be looked up": both name the host, neither
			// the resolver.
			says: []string{"The server name “nope.example.invalid”"},
			kept: []string{`<option value="ftpes" selected>`},
		},
		{
			name:   "a server the bridge may not reach, anonymously",
			form:   url.Values{"scheme": {"ftp"}, "host": {"1.1.1.1"}, "port": {"22"}, "anonymous": {"1"}},
			status: http.StatusForbidden, focus: "host",
			says: []string{"This bridge does not allow that server"},
			kept: []string{`id="anonymous" value="1" checked`, `value="22"`},
		},
		{
			name:   "a port out of range",
			form:   url.Values{"scheme": {"ftp"}, "host": {host}, "port": {"70000"}},
			status: http.StatusBadRequest, focus: "port",
			says: []string{"The port must be a number from 1 to 65535."},
			kept: []string{`value="` + host + `"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := postForm(t, http.DefaultClient, b.URL+"/connect", tc.form)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page := string(body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.status, page)
			}
			for _, want := range append(tc.says, tc.kept...) {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			if n, focused := strings.Count(page, " autofocus"), focusedField(page); n != 1 || focused != tc.focus {
				t.Errorf("%d fields autofocus, the first #%s; want #%s alone", n, focused, tc.focus)
			}
			for _, never := range []string{"-allow", "lookup ", ":53", "wrong pass 7x"} {
				if strings.Contains(page, never) {
					t.Errorf("the page says %q", never)
				}
			}
		})
	}
}

// attrs is how the host input's value reads after its fixed attributes.
func attrs(host string) string {
	return `required autocomplete="off" spellcheck="false" value="` + host + `"`
}

// focusedField is the id of the one element the page marks autofocus.
func focusedField(page string) string {
	i := strings.Index(page, " autofocus")
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(page[:i], `id="`)
	if start < 0 {
		return ""
	}
	id := page[start+len(`id="`):]
	return id[:strings.IndexByte(id, '"')]
}

// TestPasteBoxTakesHostAndPort: the paste box takes what FTP clients show,
// a bare host, host:port or host/path, as plain ftp:// addresses.
func TestPasteBoxTakesHostAndPort(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{Anonymous: true})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ pasted, want string }{
		{srv.Addr(), "/ftp/" + srv.Addr() + "/"},
		{srv.Addr() + "/sub/", "/ftp/" + srv.Addr() + "/sub/"},
		{"ftp.example.org", "/ftp/ftp.example.org/"},
		{"ftpes://" + srv.Addr() + "/sub/", "/ftpes/" + srv.Addr() + "/sub/"},
	} {
		resp := postForm(t, noRedirect, b.URL+"/open", url.Values{"url": {tc.pasted}})
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != tc.want {
			t.Errorf("%q: %d to %q, want 303 to %q", tc.pasted, resp.StatusCode, loc, tc.want)
		}
	}
}
