package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestLegacyNameEncoding: a server whose names are windows-1251 bytes.
// Named by ?encoding= or on the connect form, the names show as Cyrillic,
// their links keep the raw bytes and download, names typed in go to the
// server in windows-1251, and the bridge does not ask the server for UTF-8.
func TestLegacyNameEncoding(t *testing.T) {
	const report = "\xce\xf2\xf7\xe5\xf2.txt" // "Отчет.txt" in windows-1251
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, report), []byte("quarterly figures\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, b := startFTP(t, embedftp.Options{Root: root})
	client := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	site := siteURL(b, "ftp", testftp.User, srv, "/", true)

	l := listJSON(t, client, site+"?encoding=windows-1251")
	i := slices.IndexFunc(l.Entries, func(e jsonEntry) bool { return e.Name == "Отчет.txt" })
	if i < 0 {
		t.Fatalf("no Cyrillic name in %+v", l.Entries)
	}
	if href := l.Entries[i].Href; !strings.HasSuffix(href, "/%CE%F2%F7%E5%F2.txt") {
		t.Errorf("href %q does not carry the server's bytes", href)
	}
	resp, body := get(t, client, b.URL+l.Entries[i].Href+"?encoding=windows-1251")
	if resp.StatusCode != http.StatusOK || string(body) != "quarterly figures\n" {
		t.Fatalf("download: %d %q", resp.StatusCode, body)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, url.PathEscape("Отчет.txt")) {
		t.Errorf("Content-Disposition %q does not name the file in Cyrillic", cd)
	}

	// A name typed in goes to the server in its encoding.
	req, _ := http.NewRequest(http.MethodPost, site+"?op=mkdir&encoding=windows-1251", strings.NewReader(url.Values{"name": {"Папка"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, body := doReq(t, client, req); resp.StatusCode != http.StatusCreated || !bytes.Contains(body, []byte("Папка")) {
		t.Fatalf("mkdir: %d %s", resp.StatusCode, body)
	}
	if st, err := os.Stat(filepath.Join(root, "\xcf\xe0\xef\xea\xe0")); err != nil || !st.IsDir() {
		t.Errorf("the new folder is not named in windows-1251 on the server: %v", err)
	}
	req, _ = http.NewRequest(http.MethodPost, site+"?op=mkdir&encoding=windows-1251", strings.NewReader(url.Values{"name": {"日本"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, body := doReq(t, client, req); resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("windows-1251")) {
		t.Errorf("a name windows-1251 cannot hold: %d %s, want 400", resp.StatusCode, body)
	}
	for _, line := range srv.Commands() {
		if strings.EqualFold(line, "OPTS UTF8 ON") {
			t.Errorf("the bridge asked a windows-1251 server for UTF-8 names")
		}
	}
	if resp, body := get(t, client, site+"?encoding=klingon"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown encoding: %d %s, want 400", resp.StatusCode, body)
	}
	// Without it, the bytes are no UTF-8 and show as a replacement character.
	l = listJSON(t, client, site)
	if !slices.ContainsFunc(l.Entries, func(e jsonEntry) bool { return e.Name == "\ufffd.txt" }) {
		t.Errorf("without an encoding: %+v", l.Entries)
	}
	// ... and the bridge asks for UTF-8, which the server offers in FEAT.
	if !slices.ContainsFunc(srv.Commands(), func(line string) bool { return strings.EqualFold(line, "OPTS UTF8 ON") }) {
		t.Errorf("the bridge did not send OPTS UTF8 ON to a server whose FEAT offers UTF8: %q", srv.Commands())
	}

	// Chosen on the connect form, it holds for the session's pages.
	c := newJarClient(t)
	host, port, _ := net.SplitHostPort(srv.Addr())
	resp = postForm(t, c, b.URL+"/connect", url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port},
		"user": {testftp.User}, "password": {testftp.Password}, "encoding": {"windows-1251"}})
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("Отчет.txt")) || !bytes.Contains(page, []byte("Папка")) {
		t.Errorf("after connecting with windows-1251: %d, the page does not show the Cyrillic names:\n%s", resp.StatusCode, page)
	}
}
