package main

import (
	"net/http"
	"strings"
	"testing"

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
