package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// shareAnswer is the answer to ?op=share, as the README gives it.
type shareAnswer struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// makeShare shares u (a file or folder address) with the form's settings
// and returns the link.
func makeShare(t *testing.T, c *http.Client, u string, form url.Values) shareAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u+"?op=share", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := doReq(t, c, req)
	var a shareAnswer
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &a) != nil || a.ID == "" || a.URL == "" {
		t.Fatalf("share %s: %d %s", u, resp.StatusCode, body)
	}
	return a
}

// aliceClient logs in as the test server's user with Basic auth.
func aliceClient() *http.Client {
	return &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
}

// TestShareFile: a link made with a login is downloaded byte-identical by
// a client with no cookie and no login; Range, HEAD and the download
// headers work as for any file.
func TestShareFile(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	a := makeShare(t, aliceClient(), siteURL(b, "ftp", testftp.User, srv, "/big.bin", false), url.Values{"expires": {"1h"}})
	if !strings.HasPrefix(a.URL, b.URL+"/s/") || time.Until(a.Expires) > time.Hour || time.Until(a.Expires) < 59*time.Minute {
		t.Errorf("answer %+v: want a link on %s expiring in an hour", a, b.URL)
	}
	want := srv.Files["/big.bin"]
	resp, body := get(t, nil, a.URL)
	if resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Fatalf("GET the link: %d, identical %v", resp.StatusCode, bytes.Equal(body, want))
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment; filename=big.bin" || resp.Header.Get("ETag") == "" {
		t.Errorf("headers: Content-Disposition %q, ETag %q", cd, resp.Header.Get("ETag"))
	}
	resp, body = get(t, nil, a.URL, "Range", "bytes=1000-1999")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[1000:2000]) {
		t.Errorf("Range: %d, identical %v", resp.StatusCode, bytes.Equal(body, want[1000:2000]))
	}
	req, _ := http.NewRequest(http.MethodHead, a.URL, nil)
	if resp, _ := doReq(t, http.DefaultClient, req); resp.StatusCode != 200 || resp.ContentLength != int64(len(want)) {
		t.Errorf("HEAD: %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}
	if resp, _ := get(t, nil, a.URL+"x"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a link with a changed token: %d, want 404", resp.StatusCode)
	}
	if resp, _ := get(t, nil, a.URL+"/below"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a path below a file's link: %d, want 404", resp.StatusCode)
	}
}

// TestShareRefusals: a share needs a thing that exists, a sane expiry
// within the operator's cap, and a whole number of downloads.
func TestShareRefusals(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-share-max-expiry", "48h")
	c := aliceClient()
	for _, tc := range []struct {
		path   string
		form   url.Values
		status int
	}{
		{"/nope.txt", nil, http.StatusNotFound},
		{"/with space.txt", url.Values{"expires": {"72h"}}, http.StatusBadRequest},
		{"/with space.txt", url.Values{"expires": {"soon"}}, http.StatusBadRequest},
		{"/with space.txt", url.Values{"expires": {"-1h"}}, http.StatusBadRequest},
		{"/with space.txt", url.Values{"max_downloads": {"-1"}}, http.StatusBadRequest},
		{"/with space.txt", url.Values{"password": {strings.Repeat("p", 73)}}, http.StatusBadRequest},
		{"/sub", nil, http.StatusBadRequest}, // a folder by a file's address
	} {
		req, _ := http.NewRequest(http.MethodPost, siteURL(b, "ftp", testftp.User, srv, tc.path, false)+"?op=share", strings.NewReader(tc.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, body := doReq(t, c, req); resp.StatusCode != tc.status {
			t.Errorf("%s %v: %d %s, want %d", tc.path, tc.form, resp.StatusCode, body, tc.status)
		}
	}
}

// TestSharePassword: a password share asks (a page for browsers, a Basic
// challenge for scripts), opens with the password by Basic auth or by the
// page's form, and slows down guessing with 429.
func TestSharePassword(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	a := makeShare(t, aliceClient(), siteURL(b, "ftp", testftp.User, srv, "/with space.txt", false), url.Values{"password": {"open sesame"}})
	want := srv.Files["/with space.txt"]

	resp, _ := get(t, nil, a.URL)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("script without the password: %d %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	resp, body := get(t, nil, a.URL, "Accept", "text/html")
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(body, []byte(`id="share-pass-form"`)) {
		t.Errorf("browser without the password: %d, want 401 with the password page", resp.StatusCode)
	}
	withPassword := func(p string) *http.Client {
		return &http.Client{Transport: basicAuth{"anyone", p}}
	}
	if resp, body := get(t, withPassword("open sesame"), a.URL); resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Errorf("Basic auth with the password: %d", resp.StatusCode)
	}

	// The page's form sets a cookie that opens the link: the browser
	// lands on the file's page, whose Download button gets the file.
	jar := newJarClient(t)
	form := url.Values{"password": {"open sesame"}, "next": {strings.TrimPrefix(a.URL, b.URL)}}
	resp = postForm(t, jar, b.URL+"/s/"+a.ID, form)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`id="shared-download"`)) || bytes.Contains(body, []byte("not the password")) {
		t.Errorf("the password form, then the file's page: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, jar, a.URL+"?download=1", "Accept", "text/html"); resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Errorf("the file's Download button: %d", resp.StatusCode)
	}
	for _, ck := range jar.Jar.Cookies(mustURL(a.URL)) {
		if strings.Contains(ck.Value, "sesame") {
			t.Errorf("cookie %s holds the password", ck.Name)
		}
	}

	// Wrong guesses: five are answered 401, then even the right password
	// waits.
	for i := range 5 {
		if resp, _ := get(t, withPassword("wrong"), a.URL); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong guess %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, _ = get(t, withPassword("open sesame"), a.URL)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("after five wrong guesses: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, body := get(t, nil, a.URL, "Cookie", "ftpbridge_share_"+a.ID+"=forged"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged cookie: %d %s, want 401", resp.StatusCode, body)
	}
}

// TestShareEnds: an expired, revoked or used-up link answers 410 and says
// which; a resume (Range further in) does not use up a limited link; only
// the maker may revoke.
func TestShareEnds(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	alice := aliceClient()
	file := siteURL(b, "ftp", testftp.User, srv, "/big.bin", false)
	want := srv.Files["/big.bin"]
	gone := func(t *testing.T, u, words string) {
		t.Helper()
		resp, body := get(t, nil, u, "Accept", "application/json")
		if resp.StatusCode != http.StatusGone || !bytes.Contains(body, []byte(words)) {
			t.Errorf("%d %s, want 410 saying %q", resp.StatusCode, body, words)
		}
	}

	t.Run("expired", func(t *testing.T) {
		a := makeShare(t, alice, file, url.Values{"expires": {"1ns"}})
		gone(t, a.URL, "expired")
	})
	t.Run("revoked", func(t *testing.T) {
		a := makeShare(t, alice, file, nil)
		for _, c := range []*http.Client{
			{Transport: basicAuth{"bob", "other"}}, // not the maker: the share is not his to see
			http.DefaultClient,                     // nobody
		} {
			req, _ := http.NewRequest(http.MethodPost, b.URL+"/shares/"+a.ID+"/revoke", nil)
			if resp, _ := doReq(t, c, req); resp.StatusCode != http.StatusNotFound {
				t.Errorf("revoke by another: %d, want 404", resp.StatusCode)
			}
		}
		if resp, _ := get(t, nil, a.URL); resp.StatusCode != 200 {
			t.Fatalf("after others tried to revoke: %d", resp.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodDelete, b.URL+"/shares/"+a.ID, nil)
		if resp, body := doReq(t, alice, req); resp.StatusCode != 200 {
			t.Fatalf("revoke by the maker: %d %s", resp.StatusCode, body)
		}
		gone(t, a.URL, "revoked")
	})
	t.Run("used up", func(t *testing.T) {
		a := makeShare(t, alice, file, url.Values{"max_downloads": {"1"}})
		resp, err := http.Get(a.URL)
		if err != nil {
			t.Fatal(err)
		}
		// The download breaks off; the resume must not count.
		head := make([]byte, 1000)
		if _, err := io.ReadFull(resp.Body, head); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, rest := get(t, nil, a.URL, "Range", "bytes=1000-")
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(append(head, rest...), want) {
			t.Fatalf("resume: %d, whole file %v", resp.StatusCode, bytes.Equal(append(head, rest...), want))
		}
		gone(t, a.URL, "used as many times")
		// Resumes go on working a while, so a broken download can end.
		if resp, body := get(t, nil, a.URL, "Range", "bytes=2000-"); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[2000:]) {
			t.Errorf("a resume of the used-up link: %d", resp.StatusCode)
		}
		var list struct {
			Shares []struct {
				ID, State string
				Downloads int
			}
		}
		resp, body := get(t, alice, b.URL+"/shares", "Accept", "application/json")
		if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil {
			t.Fatalf("GET /shares: %d %s", resp.StatusCode, body)
		}
		for _, s := range list.Shares {
			if s.ID == a.ID && (s.Downloads != 1 || s.State != "used up") {
				t.Errorf("/shares says %+v, want 1 download and used up", s)
			}
		}
	})
}

// TestShareSurvivesRestart: a share works after the bridge restarts with
// the same -data-dir, and the store file holds no password in clear.
func TestShareSurvivesRestart(t *testing.T) {
	srv := testftp.Start(t, embedftp.Options{})
	data := t.TempDir()
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-data-dir", data)
	a := makeShare(t, aliceClient(), siteURL(b, "ftp", testftp.User, srv, "/sub/", true), url.Values{"password": {"share pw"}})
	b.stop(t)

	b = startBridge(t, "-allow-hosts", "127.0.0.1", "-data-dir", data)
	u := b.URL + "/s/" + a.ID + "/deeper/leaf.txt"
	if resp, body := get(t, &http.Client{Transport: basicAuth{"", "share pw"}}, u); resp.StatusCode != 200 || string(body) != "leaf\n" {
		t.Errorf("after a restart: %d %s", resp.StatusCode, body)
	}
	store, err := os.ReadFile(filepath.Join(data, "shares.db"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(store, []byte(a.ID)) {
		t.Fatal("the store file does not hold the share: wrong file?")
	}
	for _, secret := range []string{testftp.Password, "share pw"} {
		if bytes.Contains(store, []byte(secret)) {
			t.Errorf("the store file holds %q in clear", secret)
		}
	}
	if fi, err := os.Stat(filepath.Join(data, "share.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("share.key: %v %v, want mode 0600", fi, err)
	}
}

// TestShareFolderScope: a folder share lists its folder with links that
// stay in the share, serves what is below, and no spelling of a path
// reaches a sibling or the parent.
func TestShareFolderScope(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	a := makeShare(t, aliceClient(), siteURL(b, "ftp", testftp.User, srv, "/sub/", true), nil)
	l := listJSON(t, nil, a.URL)
	// Paths are the share's own: what is above it is the maker's business.
	if l.Path != "/" || len(l.Entries) == 0 {
		t.Fatalf("listing: %+v", l)
	}
	if l := listJSON(t, nil, a.URL+"deeper/"); l.Path != "/deeper/" {
		t.Errorf("listing of a folder below: path %q, want /deeper/", l.Path)
	}
	for _, e := range l.Entries {
		if !strings.HasPrefix(e.Href, "/s/"+a.ID+"/") {
			t.Errorf("entry %q links to %q, outside the share", e.Name, e.Href)
		}
	}
	if resp, body := get(t, nil, a.URL+"deeper/leaf.txt"); resp.StatusCode != 200 || string(body) != "leaf\n" {
		t.Errorf("a file below the share: %d %s", resp.StatusCode, body)
	}
	sibling := string(srv.Files["/with space.txt"])
	for _, p := range []string{
		"../with%20space.txt", "%2e%2e/with%20space.txt", "%2E%2E/with%20space.txt", ".%2e/with%20space.txt",
		"..%2fwith%20space.txt", "deeper/../../with%20space.txt", "deeper%2f..%2f..%2fwith%20space.txt",
		"..%5cwith%20space.txt", "deeper%5c..%5c..%5cwith%20space.txt", "%5c..%5cwith%20space.txt",
		"..", "%2e%2e/", "deeper/%2e%2e/%2e%2e/",
	} {
		req, _ := http.NewRequest(http.MethodGet, b.URL+"/s/"+a.ID+"/"+p, nil)
		req.URL.RawPath, req.URL.Path = "/s/"+a.ID+"/"+p, "" // exactly as written, no cleaning
		req.URL.Opaque = "//" + req.URL.Host + "/s/" + a.ID + "/" + p
		resp, body := doReq(t, http.DefaultClient, req)
		if resp.StatusCode == 200 || strings.Contains(string(body), sibling) {
			t.Errorf("%s: %d %.100s: reached outside the share", p, resp.StatusCode, body)
		}
	}
}

// TestShareDownloadIsMakersTransfer: a download through a share is a
// transfer the maker's session sees on its socket, as op "share".
func TestShareDownloadIsMakersTransfer(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	maker := sessionClient(t, b, siteURL(b, "ftp", "", srv, "/", true))
	ws, _, err := dialEvents(t, b, maker, b.URL)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	a := makeShare(t, maker, siteURL(b, "ftp", "", srv, "/big.bin", false), nil)
	resp, body := get(t, nil, a.URL)
	if resp.StatusCode != 200 || len(body) != len(srv.Files["/big.bin"]) {
		t.Fatalf("GET the link: %d, %d bytes", resp.StatusCode, len(body))
	}
	for {
		ev := readEvent(t, ws)
		if ev.Op != "share" || ev.Path != "/big.bin" {
			t.Fatalf("event %+v, want the share's download", ev)
		}
		if ev.State == "done" {
			if ev.Bytes != int64(len(body)) {
				t.Errorf("done with %d bytes, want %d", ev.Bytes, len(body))
			}
			break
		}
	}
}

// TestShareCountsEveryWholeDownload: every way of asking for the whole file
// or zip counts against max_downloads, so a one-time link serves it once:
// suffix ranges, ranges from a zero written oddly, several ranges, an
// If-Range that does not match (the answer is then the whole file), and
// zips with a Range (a zip has none). A request that fails before a byte
// goes out does not count.
func TestShareCountsEveryWholeDownload(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	alice := aliceClient()
	file := siteURL(b, "ftp", testftp.User, srv, "/big.bin", false)
	folder := siteURL(b, "ftp", testftp.User, srv, "/sub/", true)
	for _, tc := range []struct {
		name, target, query string
		header              []string
	}{
		{"suffix range", file, "", []string{"Range", "bytes=-999999999"}},
		{"a zero written 00", file, "", []string{"Range", "bytes=00-"}},
		{"several ranges", file, "", []string{"Range", "bytes=1-,0-0"}},
		{"If-Range that does not match", file, "", []string{"Range", "bytes=1-", "If-Range", `"nope"`}},
		{"a zip with a Range", folder, "?format=zip", []string{"Range", "bytes=5-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := makeShare(t, alice, tc.target, url.Values{"max_downloads": {"1"}})
			if tc.target == folder {
				// Not there: refused before a byte goes out, not counted.
				if resp, _ := get(t, nil, a.URL+"nope.txt"); resp.StatusCode != http.StatusNotFound {
					t.Fatalf("a missing file below the share: %d, want 404", resp.StatusCode)
				}
			}
			resp, _ := get(t, nil, a.URL+tc.query, tc.header...)
			if resp.StatusCode != 200 && resp.StatusCode != http.StatusPartialContent {
				t.Fatalf("first: %d", resp.StatusCode)
			}
			if resp, body := get(t, nil, a.URL+tc.query, tc.header...); resp.StatusCode != http.StatusGone {
				t.Errorf("second: %d (%d bytes), want 410: the first was not counted", resp.StatusCode, len(body))
			}
		})
	}
}

// TestSharePasswordGuessesAtOnce: guesses sent all at once are limited as
// well as guesses one after the other.
func TestSharePasswordGuessesAtOnce(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	a := makeShare(t, aliceClient(), siteURL(b, "ftp", testftp.User, srv, "/with space.txt", false), url.Values{"password": {"right"}})
	const guesses = 20
	statuses := make(chan int, guesses)
	for range guesses {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, a.URL, nil)
			req.SetBasicAuth("", "wrong")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	count := map[int]int{}
	for range guesses {
		count[<-statuses]++
	}
	if count[http.StatusUnauthorized] > 5 || count[http.StatusTooManyRequests] != guesses-count[http.StatusUnauthorized] {
		t.Errorf("answers to %d guesses at once: %v, want at most 5 checked (401), the rest 429", guesses, count)
	}
}

// TestShareOwnership: a share needs an owner to be made; one made with
// Basic auth belongs to that login, also on a site address without a user
// (and works), and stays that login's after a restart; a password in the
// query is refused.
func TestShareOwnership(t *testing.T) {
	srv := testftp.Start(t, embedftp.Options{})
	data := t.TempDir()
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-data-dir", data)
	anonymousFile := siteURL(b, "ftp", "", srv, "/big.bin", false)

	req, _ := http.NewRequest(http.MethodPost, anonymousFile+"?op=share", nil)
	if resp, body := doReq(t, http.DefaultClient, req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a share by nobody: %d %s, want 401", resp.StatusCode, body)
	}
	req, _ = http.NewRequest(http.MethodPost, anonymousFile+"?op=share&password=leaky", nil)
	if resp, body := doReq(t, aliceClient(), req); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a password in the query: %d %s, want 400", resp.StatusCode, body)
	}

	// alice's Basic login on an address without a user: the link logs in
	// as alice, with her password, sealed.
	a := makeShare(t, aliceClient(), anonymousFile, nil)
	if resp, body := get(t, nil, a.URL); resp.StatusCode != 200 || !bytes.Equal(body, srv.Files["/big.bin"]) {
		t.Errorf("the link: %d", resp.StatusCode)
	}
	b.stop(t)

	b = startBridge(t, "-allow-hosts", "127.0.0.1", "-data-dir", data)
	var list struct{ Shares []struct{ ID string } }
	resp, body := get(t, aliceClient(), b.URL+"/shares", "Accept", "application/json")
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || len(list.Shares) != 1 || list.Shares[0].ID != a.ID {
		t.Fatalf("alice's shares after a restart: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest(http.MethodDelete, b.URL+"/shares/"+a.ID, nil)
	if resp, body := doReq(t, aliceClient(), req); resp.StatusCode != 200 {
		t.Errorf("alice revokes after a restart: %d %s", resp.StatusCode, body)
	}
}

// TestShareDoesNotFollowLinks: on vsftpd and proftpd, which list links as
// links, a link inside a shared folder is refused, wherever it points, so
// that "up -> .." cannot lead out; the zip leaves it out.
func TestShareDoesNotFollowLinks(t *testing.T) {
	for _, start := range []struct {
		name string
		fn   func(testing.TB, realftp.Options) *realftp.Server
	}{
		{"vsftpd", realftp.StartVsftpd},
		{"proftpd", realftp.StartProFTPD},
	} {
		t.Run(start.name, func(t *testing.T) {
			root := t.TempDir()
			files := testftp.Tree(t, root)
			for link, target := range map[string]string{"sub/up": "..", "sub/sib.txt": "../with space.txt"} {
				if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
					t.Fatal(err)
				}
			}
			srv := start.fn(t, realftp.Options{Root: root, Writable: true})
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			c := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
			a := makeShare(t, c, addrURL(b, "ftp", srv.User, srv.Addr, "/sub/", true), nil)
			sibling := files["/with space.txt"]
			for _, p := range []string{"up/", "up/with%20space.txt", "sib.txt"} {
				resp, body := get(t, nil, a.URL+p)
				if resp.StatusCode != http.StatusForbidden || bytes.Contains(body, sibling) || bytes.Contains(body, []byte("big.bin")) {
					t.Errorf("%s: %d %.200s, want 403", p, resp.StatusCode, body)
				}
			}
			if resp, body := get(t, nil, a.URL+"deeper/leaf.txt"); resp.StatusCode != 200 || string(body) != "leaf\n" {
				t.Errorf("a plain file below the share: %d %s", resp.StatusCode, body)
			}
			zr, _ := getZip(t, a.URL+"?format=zip")
			got, _ := zipFiles(t, zr)
			for name, data := range got {
				if bytes.Equal(data, sibling) || strings.HasPrefix(name, "sub/up/") {
					t.Errorf("the zip holds %q from outside the share", name)
				}
			}
		})
	}
}

// TestShareBaseURL: behind a proxy, links use -base-url, not the address
// the request came to.
func TestShareBaseURL(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-base-url", "https://files.example.com/")
	a := makeShare(t, aliceClient(), siteURL(b, "ftp", testftp.User, srv, "/big.bin", false), nil)
	if want := "https://files.example.com/s/" + a.ID; a.URL != want {
		t.Errorf("link %q, want %q", a.URL, want)
	}
}

// TestSharesBelongToTheLogin: a share made with a user's login is that
// user's from any browser session logged in as them, across restarts,
// and no one else's; one made anonymously stays the making session's.
func TestSharesBelongToTheLogin(t *testing.T) {
	srv := testftp.Start(t, embedftp.Options{Users: map[string]string{testftp.User: testftp.Password, "bob": "bobs pass"}, Anonymous: true})
	data := t.TempDir()
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-data-dir", data)
	host, port, _ := net.SplitHostPort(srv.Addr())
	// session logs in on a new browser (cookie jar); user "" is anonymous.
	session := func(t *testing.T, b *bridge, user, password string) *http.Client {
		t.Helper()
		c := newJarClient(t)
		form := url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {user}, "password": {password}}
		if user == "" {
			form.Set("anonymous", "1")
		}
		resp := postForm(t, c, b.URL+"/connect", form)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || cookie(c, b.URL) == "" {
			t.Fatalf("log in as %q: %d, cookie %q", user, resp.StatusCode, cookie(c, b.URL))
		}
		return c
	}
	listed := func(t *testing.T, c *http.Client, b *bridge) []string {
		t.Helper()
		var list struct{ Shares []struct{ ID string } }
		resp, body := get(t, c, b.URL+"/shares", "Accept", "application/json")
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil {
			t.Fatalf("GET /shares: %d %s", resp.StatusCode, body)
		}
		var ids []string
		for _, s := range list.Shares {
			ids = append(ids, s.ID)
		}
		return ids
	}
	revoke := func(t *testing.T, c *http.Client, b *bridge, id string) int {
		t.Helper()
		resp, _ := doReq(t, c, mustRequest(http.MethodDelete, b.URL+"/shares/"+id))
		return resp.StatusCode
	}

	alicesFile := siteURL(b, "ftp", testftp.User, srv, "/big.bin", false)
	made := makeShare(t, session(t, b, testftp.User, testftp.Password), alicesFile, nil)
	anonFile := siteURL(b, "ftp", "", srv, "/big.bin", false)
	anonMaker := session(t, b, "", "")
	anonShare := makeShare(t, anonMaker, anonFile, nil)

	otherAlice := session(t, b, testftp.User, testftp.Password)
	if got := listed(t, otherAlice, b); !slices.Equal(got, []string{made.ID}) {
		t.Errorf("alice in another browser lists %q, want her share %q only", got, made.ID)
	}
	bob, otherAnon := session(t, b, "bob", "bobs pass"), session(t, b, "", "")
	for name, c := range map[string]*http.Client{"bob": bob, "another anonymous session": otherAnon} {
		if got := listed(t, c, b); len(got) != 0 {
			t.Errorf("%s lists %q, want nothing", name, got)
		}
		if status := revoke(t, c, b, made.ID); status != http.StatusNotFound {
			t.Errorf("%s revokes alice's share: %d, want 404", name, status)
		}
		if status := revoke(t, c, b, anonShare.ID); status != http.StatusNotFound {
			t.Errorf("%s revokes the anonymous session's share: %d, want 404", name, status)
		}
	}
	if got := listed(t, anonMaker, b); !slices.Equal(got, []string{anonShare.ID}) {
		t.Errorf("the anonymous session that made a share lists %q, want %q", got, anonShare.ID)
	}

	b.stop(t)
	b = startBridge(t, "-allow-hosts", "127.0.0.1", "-data-dir", data)
	aliceAfter := session(t, b, testftp.User, testftp.Password)
	if got := listed(t, aliceAfter, b); !slices.Equal(got, []string{made.ID}) {
		t.Fatalf("alice after a restart lists %q, want %q", got, made.ID)
	}
	if status := revoke(t, aliceAfter, b, made.ID); status != http.StatusOK {
		t.Fatalf("alice revokes from a new session after a restart: %d", status)
	}
	if resp, _ := get(t, nil, b.URL+"/s/"+made.ID); resp.StatusCode != http.StatusGone {
		t.Errorf("the revoked link: %d, want 410", resp.StatusCode)
	}
}

// TestShareFilePage: a browser that opens a file link sees what is shared,
// by whom, until when and how many downloads are left, with a Download
// button, and no link into the maker's pages even with the maker's own
// session; a script gets the file; the page counts no download.
func TestShareFilePage(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	host, port, _ := net.SplitHostPort(srv.Addr())
	maker := newJarClient(t)
	resp := postForm(t, maker, b.URL+"/connect", url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {testftp.User}, "password": {testftp.Password}})
	resp.Body.Close()
	a := makeShare(t, maker, siteURL(b, "ftp", testftp.User, srv, "/big.bin", false), url.Values{"max_downloads": {"3"}})
	want := srv.Files["/big.bin"]

	for name, c := range map[string]*http.Client{"a stranger": http.DefaultClient, "the maker's session": maker} {
		resp, body := get(t, c, a.URL, "Accept", "text/html")
		page := string(body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s opens the link: %d %s", name, resp.StatusCode, body)
		}
		for _, part := range []string{
			`id="shared-name">big.bin<`,
			`id="shared-size">3.0 MiB<`, // big.bin is 3 MiB
			`id="shared-by">` + testftp.User + ` at ftp://` + srv.Addr() + `<`,
			`<time datetime="` + a.Expires.UTC().Format(time.RFC3339) + `">` + a.Expires.UTC().Format("2006-01-02 15:04") + ` UTC</time>`,
			`id="shared-left">3 of 3<`,
			`href="/s/` + a.ID + `?download=1"`,
		} {
			if !strings.Contains(page, part) {
				t.Errorf("%s: the page lacks %s:\n%s", name, part, page)
			}
		}
		for _, owners := range []string{`href="/shares"`, `class="sites"`} {
			if strings.Contains(page, owners) {
				t.Errorf("%s: the recipient's page has %s", name, owners)
			}
		}
	}
	if resp, body := get(t, nil, a.URL+"?download=1", "Accept", "text/html"); resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Errorf("the Download button: %d", resp.StatusCode)
	}
	if resp, body := get(t, nil, a.URL); resp.StatusCode != 200 || !bytes.Equal(body, want) {
		t.Errorf("a script: %d", resp.StatusCode)
	}
	// Two downloads, not four: the pages counted none.
	if resp, body := get(t, nil, a.URL, "Accept", "text/html"); !strings.Contains(string(body), `id="shared-left">1 of 3<`) {
		t.Errorf("after two downloads: %d, the page says %s", resp.StatusCode, body)
	}
}
