package main

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestUsedUpShareResumesOnlyItsLastFile: once a folder link with
// max_downloads=1 served a.txt whole, a Range header opens nothing but a
// resume of that same a.txt, unchanged: not the listing, not b.txt, not
// the zip, not a.txt once it changed. The bridge used to serve them all
// for an hour to any request with "Range: bytes=1-".
func TestUsedUpShareResumesOnlyItsLastFile(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	dir := filepath.Join(srv.Root, "pub")
	a, bb := []byte(strings.Repeat("a", 5000)), []byte(strings.Repeat("b", 5000))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"a.txt": a, "b.txt": bb} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := makeShare(t, aliceClient(), siteURL(b, "ftp", testftp.User, srv, "/pub/", true), url.Values{"max_downloads": {"1"}}).URL
	if resp, body := get(t, nil, link+"a.txt"); resp.StatusCode != http.StatusOK || !bytes.Equal(body, a) {
		t.Fatalf("the one download: %d, %d bytes", resp.StatusCode, len(body))
	}
	usedUp := func(t *testing.T, what, u string, header ...string) {
		t.Helper()
		resp, body := get(t, nil, u, header...)
		if resp.StatusCode != http.StatusGone || !bytes.Contains(body, []byte("used as many times")) {
			t.Errorf("%s: %d %.200s, want 410 used up", what, resp.StatusCode, body)
		}
	}
	usedUp(t, "the listing with Range", link, "Range", "bytes=1-")
	usedUp(t, "the listing as JSON with Range", link, "Range", "bytes=1-", "Accept", "application/json")
	usedUp(t, "another file with Range", link+"b.txt", "Range", "bytes=1-")
	usedUp(t, "the zip with Range", link+"?format=zip", "Range", "bytes=1-")

	if resp, body := get(t, nil, link+"a.txt", "Range", "bytes=1000-"); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, a[1000:]) {
		t.Errorf("the resume of a.txt: %d, %d bytes; want 206 with the rest", resp.StatusCode, len(body))
	}
	// A new a.txt is another file for the limit: its ETag changed.
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), append(a, 'x'), 0o644); err != nil {
		t.Fatal(err)
	}
	usedUp(t, "a.txt changed, with Range", link+"a.txt", "Range", "bytes=1-")
}

// TestShareMakingLimits: a share's path is at most 4 KiB (413); one owner
// holds at most -max-shares-per-owner live links and one client address
// -max-shares-per-client, and a client makes at most -shares-per-minute
// a minute (429 with Retry-After, saying which).
func TestShareMakingLimits(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-max-shares-per-owner", "3", "-max-shares-per-client", "4")
	file := siteURL(b, "ftp", "", srv, "/with space.txt", false)
	share := func(c *http.Client, u string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPost, u+"?op=share", nil)
		return doReq(t, c, req)
	}
	refused := func(t *testing.T, what string, resp *http.Response, body []byte, status int, words string) {
		t.Helper()
		if resp.StatusCode != status || !bytes.Contains(body, []byte(words)) ||
			status == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d Retry-After %q %s; want %d saying %q", what, resp.StatusCode, resp.Header.Get("Retry-After"), body, status, words)
		}
	}
	// Two browser sessions: two owners at one address.
	owner1 := sessionClient(t, b, siteURL(b, "ftp", "", srv, "/", true))
	owner2 := sessionClient(t, b, siteURL(b, "ftp", "", srv, "/", true))

	long := siteURL(b, "ftp", "", srv, "/"+strings.Repeat("d", 200)+strings.Repeat("/"+strings.Repeat("d", 200), 20)+"/f.txt", false)
	resp, body := share(owner1, long)
	refused(t, "a share of a 4 KiB path", resp, body, http.StatusRequestEntityTooLarge, "at most 4096 bytes")

	for i := range 3 {
		makeShare(t, owner1, file, url.Values{"expires": {strconv.Itoa(i+1) + "h"}})
	}
	resp, body = share(owner1, file)
	refused(t, "the owner's fourth share", resp, body, http.StatusTooManyRequests, "You have 3 share links")
	makeShare(t, owner2, file, nil)
	resp, body = share(owner2, file)
	refused(t, "the client's fifth share, by another owner", resp, body, http.StatusTooManyRequests, "This address has 4 share links")

	rated := startBridge(t, "-allow-hosts", "127.0.0.1", "-shares-per-minute", "5")
	file = siteURL(rated, "ftp", "", srv, "/with space.txt", false)
	owner1 = sessionClient(t, rated, siteURL(rated, "ftp", "", srv, "/", true))
	owner2 = sessionClient(t, rated, siteURL(rated, "ftp", "", srv, "/", true))
	for range 5 {
		makeShare(t, owner1, file, nil)
	}
	resp, body = share(owner2, file)
	refused(t, "the client's sixth share in a minute", resp, body, http.StatusTooManyRequests, "in the last minute")
}
