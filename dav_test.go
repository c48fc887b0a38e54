package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// davURL is the WebDAV address of path (relative to the login folder) on
// the server at addr, for user ("" for anonymous).
func davURL(b *bridge, user, addr, p string) string {
	host, ps, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(ps)
	s := urlpath.Site{Scheme: "ftp", User: user, Host: host, Port: port}
	return b.URL + "/dav/ftp/" + s.String() + urlpath.EncodePath(p, strings.HasSuffix(p, "/"))
}

// davDo sends one WebDAV request; header is name, value pairs.
func davDo(t testing.TB, c *http.Client, method, u string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, u, err)
	}
	return resp, b
}

// multistatus is the part of a PROPFIND answer the tests read.
type multistatus struct {
	Responses []struct {
		Href  string `xml:"href"`
		Props []struct {
			Length     string    `xml:"prop>getcontentlength"`
			Type       string    `xml:"prop>getcontenttype"`
			ETag       string    `xml:"prop>getetag"`
			Collection *struct{} `xml:"prop>resourcetype>collection"`
		} `xml:"propstat"`
	} `xml:"response"`
}

func parseMultistatus(t testing.TB, body []byte) multistatus {
	t.Helper()
	var ms multistatus
	if err := xml.Unmarshal(body, &ms); err != nil {
		t.Fatalf("PROPFIND answer is not a multistatus: %v\n%s", err, body)
	}
	return ms
}

// davServer is an FTP server a WebDAV test runs against.
type davServer struct {
	root, addr, user, pass string
}

// davServers are the servers of the WebDAV tests: the embedded one and
// Debian's vsftpd (which skips, or fails under FTPBRIDGE_REQUIRE_REAL=1,
// where it is not installed).
var davServers = []struct {
	name  string
	start func(t *testing.T) davServer
}{
	{"embedded", func(t *testing.T) davServer {
		s := testftp.Start(t, embedftp.Options{})
		return davServer{s.Root, s.Addr(), testftp.User, testftp.Password}
	}},
	{"vsftpd", func(t *testing.T) davServer {
		s := realftp.StartVsftpd(t, realftp.Options{Root: t.TempDir(), Writable: true})
		return davServer{s.Root, s.Addr, s.User, s.Password}
	}},
}

// TestDavOperations drives every WebDAV method through the bridge against
// each server and checks the FTP server's disk after each step.
func TestDavOperations(t *testing.T) {
	for _, start := range davServers {
		t.Run(start.name, func(t *testing.T) {
			srv := start.start(t)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			c := &http.Client{Transport: basicAuth{srv.user, srv.pass}}
			u := func(p string) string { return davURL(b, srv.user, srv.addr, p) }
			disk := func(p string) string { return filepath.Join(srv.root, filepath.FromSlash(p)) }
			exists := func(p string) bool { _, err := os.Lstat(disk(p)); return err == nil }

			payload := make([]byte, 3<<20+12345)
			if _, err := rand.Read(payload); err != nil {
				t.Fatal(err)
			}
			var lockToken, fileTag string
			steps := []struct {
				name, method, path string
				body               []byte
				header             []string
				status             int
				check              func(t *testing.T, resp *http.Response, body []byte)
			}{
				{"no auth is a Basic challenge", "PROPFIND", "/", nil, []string{"Depth", "0", "noauth", "1"}, 401, func(t *testing.T, resp *http.Response, _ []byte) {
					if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic ") {
						t.Errorf("WWW-Authenticate = %q, want a Basic challenge", h)
					}
				}},
				{"wrong password", "PROPFIND", "/", nil, []string{"Depth", "0", "badpass", "1"}, 401, nil},
				{"mkcol", "MKCOL", "/work", nil, nil, 201, func(t *testing.T, _ *http.Response, _ []byte) {
					if st, err := os.Stat(disk("/work")); err != nil || !st.IsDir() {
						t.Errorf("no folder /work on the server: %v", err)
					}
				}},
				{"mkcol again", "MKCOL", "/work", nil, nil, 405, nil},
				{"mkcol without parent", "MKCOL", "/nowhere/x", nil, nil, 409, nil},
				{"put", "PUT", "/work/big file.bin", payload, nil, 201, func(t *testing.T, _ *http.Response, _ []byte) {
					got, err := os.ReadFile(disk("/work/big file.bin"))
					if err != nil || !bytes.Equal(got, payload) {
						t.Errorf("the server holds %d bytes (%v), want the %d sent", len(got), err, len(payload))
					}
					entries, _ := os.ReadDir(disk("/work"))
					if len(entries) != 1 {
						t.Errorf("/work holds %d entries, want only the file (a temporary name left behind?)", len(entries))
					}
				}},
				{"put without parent", "PUT", "/nowhere/f.txt", []byte("x"), nil, 409, nil},
				{"put with If-None-Match * onto a file", "PUT", "/work/big file.bin", []byte("x"), []string{"If-None-Match", "*"}, 412, nil},
				{"put with a stale If-Match", "PUT", "/work/big file.bin", []byte("x"), []string{"If-Match", `"1-1"`}, 412, func(t *testing.T, _ *http.Response, _ []byte) {
					if got, _ := os.ReadFile(disk("/work/big file.bin")); !bytes.Equal(got, payload) {
						t.Error("a PUT whose If-Match failed changed the file")
					}
				}},
				{"propfind depth 0", "PROPFIND", "/work/", nil, []string{"Depth", "0"}, 207, func(t *testing.T, _ *http.Response, body []byte) {
					if ms := parseMultistatus(t, body); len(ms.Responses) != 1 || ms.Responses[0].Props[0].Collection == nil {
						t.Errorf("depth 0 of a folder: %s", body)
					}
				}},
				{"propfind depth 1", "PROPFIND", "/work/", nil, []string{"Depth", "1"}, 207, func(t *testing.T, _ *http.Response, body []byte) {
					ms := parseMultistatus(t, body)
					if len(ms.Responses) != 2 {
						t.Fatalf("depth 1 of a folder with one file: %d responses\n%s", len(ms.Responses), body)
					}
					f := ms.Responses[1]
					if !strings.HasSuffix(f.Href, "/work/big%20file.bin") || f.Props[0].Length != strconv.Itoa(len(payload)) ||
						f.Props[0].Type != "application/octet-stream" || f.Props[0].ETag == "" {
						t.Errorf("the file's entry: %+v", f)
					}
				}},
				{"propfind depth infinity", "PROPFIND", "/", nil, []string{"Depth", "infinity"}, 403, func(t *testing.T, _ *http.Response, body []byte) {
					if !bytes.Contains(body, []byte("propfind-finite-depth")) {
						t.Errorf("no propfind-finite-depth precondition: %s", body)
					}
				}},
				{"propfind without depth is infinity", "PROPFIND", "/", nil, nil, 403, nil},
				{"propfind of nothing", "PROPFIND", "/missing", nil, []string{"Depth", "0"}, 404, nil},
				{"get", "GET", "/work/big file.bin", nil, nil, 200, func(t *testing.T, resp *http.Response, body []byte) {
					if !bytes.Equal(body, payload) {
						t.Errorf("GET gave %d bytes, not the file", len(body))
					}
					if resp.Header.Get("ETag") == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
						t.Errorf("headers %v", resp.Header)
					}
					fileTag = resp.Header.Get("ETag")
				}},
				{"put with the current If-Match", "PUT", "/work/big file.bin", payload, []string{"If-Match", "<etag>"}, 201, nil},
				{"get a range", "GET", "/work/big file.bin", nil, []string{"Range", "bytes=1000000-1000099"}, 206, func(t *testing.T, _ *http.Response, body []byte) {
					if !bytes.Equal(body, payload[1000000:1000100]) {
						t.Errorf("the range is not the file's bytes 1000000-1000099")
					}
				}},
				{"head", "HEAD", "/work/big file.bin", nil, nil, 200, func(t *testing.T, resp *http.Response, _ []byte) {
					if resp.ContentLength != int64(len(payload)) {
						t.Errorf("HEAD Content-Length %d, want %d", resp.ContentLength, len(payload))
					}
				}},
				{"get a folder", "GET", "/work/", nil, nil, 405, nil},
				{"get nothing", "GET", "/missing.txt", nil, nil, 404, nil},
				{"copy", "COPY", "/work/big file.bin", nil, []string{"Destination", u("/work/copy.bin")}, 201, func(t *testing.T, _ *http.Response, _ []byte) {
					if got, err := os.ReadFile(disk("/work/copy.bin")); err != nil || !bytes.Equal(got, payload) {
						t.Errorf("the copy holds %d bytes (%v)", len(got), err)
					}
				}},
				{"copy onto an existing file, no overwrite", "COPY", "/work/big file.bin", nil, []string{"Destination", u("/work/copy.bin"), "Overwrite", "F"}, 412, nil},
				{"copy a folder", "COPY", "/work/", nil, []string{"Destination", u("/work2/")}, 201, func(t *testing.T, _ *http.Response, _ []byte) {
					if got, err := os.ReadFile(disk("/work2/copy.bin")); err != nil || !bytes.Equal(got, payload) {
						t.Errorf("the folder's copy holds %d bytes (%v)", len(got), err)
					}
				}},
				{"move", "MOVE", "/work/copy.bin", nil, []string{"Destination", u("/work/moved.bin")}, 201, func(t *testing.T, _ *http.Response, _ []byte) {
					if exists("/work/copy.bin") || !exists("/work/moved.bin") {
						t.Error("copy.bin was not renamed to moved.bin")
					}
				}},
				{"move into a missing folder", "MOVE", "/work/moved.bin", nil, []string{"Destination", u("/nowhere/m.bin")}, 409, nil},
				{"move onto an existing file", "MOVE", "/work/moved.bin", nil, []string{"Destination", u("/work/big file.bin")}, 204, func(t *testing.T, _ *http.Response, _ []byte) {
					if exists("/work/moved.bin") {
						t.Error("moved.bin is still there")
					}
				}},
				{"lock", "LOCK", "/work/big file.bin", []byte(`<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>`),
					[]string{"Content-Type", "application/xml", "Timeout", "Second-60"}, 200, func(t *testing.T, resp *http.Response, _ []byte) {
						lockToken = resp.Header.Get("Lock-Token")
						if lockToken == "" {
							t.Error("no Lock-Token")
						}
					}},
				{"put on a locked file without its token", "PUT", "/work/big file.bin", []byte("x"), nil, 423, nil},
				{"delete a locked file without its token", "DELETE", "/work/big file.bin", nil, nil, 423, nil},
				{"unlock", "UNLOCK", "/work/big file.bin", nil, []string{"Lock-Token", "<lock>"}, 204, nil},
				{"delete a folder", "DELETE", "/work2/", nil, nil, 204, func(t *testing.T, _ *http.Response, _ []byte) {
					if exists("/work2") {
						t.Error("/work2 is still there")
					}
				}},
				{"delete a file", "DELETE", "/work/big file.bin", nil, nil, 204, func(t *testing.T, _ *http.Response, _ []byte) {
					if exists("/work/big file.bin") {
						t.Error("the file is still there")
					}
				}},
				{"delete nothing", "DELETE", "/work/big file.bin", nil, nil, 404, nil},
				{"delete the login folder", "DELETE", "/", nil, nil, 403, func(t *testing.T, _ *http.Response, _ []byte) {
					if !exists("/work") {
						t.Error("the login folder's contents went")
					}
				}},
				{"options", "OPTIONS", "/work/", nil, nil, 200, func(t *testing.T, resp *http.Response, _ []byte) {
					if resp.Header.Get("DAV") != "1, 2" || resp.Header.Get("MS-Author-Via") != "DAV" {
						t.Errorf("headers %v", resp.Header)
					}
				}},
			}
			for _, s := range steps {
				client, header := c, s.header
				for i := 0; i+1 < len(header); i += 2 {
					switch header[i] {
					case "noauth":
						client = http.DefaultClient
					case "badpass":
						client = &http.Client{Transport: basicAuth{srv.user, srv.pass + "x"}}
					case "Lock-Token":
						header = []string{"Lock-Token", lockToken}
					case "If-Match":
						if header[i+1] == "<etag>" {
							header = []string{"If-Match", fileTag}
						}
					}
				}
				resp, body := davDo(t, client, s.method, u(s.path), s.body, header...)
				if resp.StatusCode != s.status {
					t.Fatalf("%s: %s %s = %d, want %d: %s", s.name, s.method, s.path, resp.StatusCode, s.status, body)
				}
				if s.check != nil {
					s.check(t, resp, body)
				}
			}
		})
	}
}

// TestDavAboveTheSites: the Windows mini-redirector asks OPTIONS of the
// bridge's root before anything else, without credentials, and some
// clients PROPFIND the folders above the one they mount: those are empty
// collections.
func TestDavAboveTheSites(t *testing.T) {
	b := startBridge(t)
	for _, p := range []string{"/", "/dav/"} {
		resp, body := davDo(t, http.DefaultClient, "OPTIONS", b.URL+p, nil)
		if resp.StatusCode != 200 || resp.Header.Get("DAV") != "1, 2" || resp.Header.Get("MS-Author-Via") != "DAV" {
			t.Errorf("OPTIONS %s: %d %v %s", p, resp.StatusCode, resp.Header, body)
		}
	}
	for _, tc := range []struct{ path, depth, href string }{
		{"/", "0", "/"},
		{"/dav", "1", "/dav/"},
		{"/dav/", "0", "/dav/"},
		{"/dav/ftpes/", "1", "/dav/ftpes/"},
	} {
		resp, body := davDo(t, http.DefaultClient, "PROPFIND", b.URL+tc.path, nil, "Depth", tc.depth)
		if resp.StatusCode != 207 {
			t.Errorf("PROPFIND %s: %d %s", tc.path, resp.StatusCode, body)
			continue
		}
		ms := parseMultistatus(t, body)
		if len(ms.Responses) != 1 || ms.Responses[0].Href != tc.href || ms.Responses[0].Props[0].Collection == nil {
			t.Errorf("PROPFIND %s: %s, want one empty collection at %s", tc.path, body, tc.href)
		}
	}
	if resp, _ := davDo(t, http.DefaultClient, "PROPFIND", b.URL+"/dav/", nil, "Depth", "infinity"); resp.StatusCode != 403 {
		t.Errorf("PROPFIND /dav/ with Depth infinity: %d, want 403", resp.StatusCode)
	}
}

// TestDavPolicy: the network policy holds for WebDAV as for the pages; a
// bridge not allowed to reach loopback refuses, before any login.
func TestDavPolicy(t *testing.T) {
	srv := testftp.Start(t, embedftp.Options{})
	b := startBridge(t) // no -allow-hosts: loopback is not allowed
	c := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	resp, body := davDo(t, c, "PROPFIND", davURL(b, testftp.User, srv.Addr(), "/"), nil, "Depth", "1")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "does not allow that server") {
		t.Errorf("PROPFIND of a loopback server: %d %s, want 403 and the policy's words", resp.StatusCode, body)
	}
	for _, l := range srv.Commands() {
		t.Errorf("the FTP server heard %q: the policy must refuse before connecting", l)
	}
}

// TestDavAnonymous: a site without a user is an anonymous login, with no
// Basic auth needed; anonymous vsftpd may not write, which is 403.
func TestDavAnonymous(t *testing.T) {
	srv := realftp.StartVsftpd(t, realftp.Options{Root: t.TempDir()})
	if err := os.WriteFile(filepath.Join(srv.Root, "pub.txt"), []byte("public\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.FixPermissions(t)
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	resp, body := davDo(t, http.DefaultClient, "GET", davURL(b, "", srv.Addr, "/pub.txt"), nil)
	if resp.StatusCode != 200 || string(body) != "public\n" {
		t.Errorf("anonymous GET: %d %q", resp.StatusCode, body)
	}
	resp, body = davDo(t, http.DefaultClient, "PUT", davURL(b, "", srv.Addr, "/new.txt"), []byte("x"))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous PUT to a read-only server: %d %s, want 403", resp.StatusCode, body)
	}
}

// bigFolder makes a tree whose folder /big holds n files of a few kinds.
func bigFolder(t testing.TB, n int) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "big"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := "f" + strconv.Itoa(i) + []string{".txt", ".jpg", "", ".tar.gz"}[i%4]
		if err := os.WriteFile(filepath.Join(root, "big", name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// BenchmarkDavPropfind10k: a PROPFIND of a 10,000-entry folder through the
// bridge, beside the pages' JSON listing and HTML page of the same folder
// (the bound: PROPFIND within 2x of the JSON listing, which has
// every entry as a PROPFIND does; the page carries its first 500 rows).
// A benchmark, not a test: a time is not an assertion on a shared machine.
func BenchmarkDavPropfind10k(b *testing.B) {
	srv, br := startFTP(b, embedftp.Options{Root: bigFolder(b, 10000)})
	c := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	folder := siteURL(br, "ftp", testftp.User, srv, "/big/", true)
	for _, front := range []struct {
		name string
		req  func() *http.Request
	}{
		{"propfind", func() *http.Request {
			r, _ := http.NewRequest("PROPFIND", davURL(br, testftp.User, srv.Addr(), "/big/"), nil)
			r.Header.Set("Depth", "1")
			return r
		}},
		{"json", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, folder, nil)
			r.Header.Set("Accept", "application/json")
			return r
		}},
		{"html", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, folder, nil)
			r.Header.Set("Accept", "text/html")
			return r
		}},
	} {
		b.Run(front.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := c.Do(front.req())
				if err != nil {
					b.Fatal(err)
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode >= 300 {
					b.Fatalf("%s: %d %v", front.name, resp.StatusCode, err)
				}
			}
		})
	}
}

// TestDavListingOneDataConnection: a PROPFIND of a 10,000-entry folder is
// one listing (one MLSD) and nothing per entry: no RETR to sniff a type,
// no SIZE, MDTM or MLST to find a size or time.
func TestDavListingOneDataConnection(t *testing.T) {
	const n = 10000
	srv, b := startFTP(t, embedftp.Options{Root: bigFolder(t, n)})
	c := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	before := len(srv.Commands())
	resp, body := davDo(t, c, "PROPFIND", davURL(b, testftp.User, srv.Addr(), "/big/"), nil, "Depth", "1")
	if resp.StatusCode != 207 {
		t.Fatalf("PROPFIND: %d %s", resp.StatusCode, body)
	}
	if got := len(parseMultistatus(t, body).Responses); got != n+1 {
		t.Errorf("%d responses, want %d", got, n+1)
	}
	data, perEntry := 0, 0
	cmds := srv.Commands()[before:]
	for _, l := range cmds {
		verb, _, _ := strings.Cut(strings.ToUpper(l), " ")
		switch verb {
		case "MLSD", "LIST", "NLST", "RETR", "STOR":
			data++
		case "SIZE", "MDTM", "MLST":
			perEntry++
		}
	}
	if data != 1 || perEntry > 1 {
		t.Errorf("the PROPFIND cost %d data connections and %d SIZE/MDTM/MLST, want 1 and at most 1 (the folder itself): %q", data, perEntry, cmds)
	}
}

// TestDavTransfersCounted: WebDAV downloads, uploads and copies are
// transfers of internal/transfer, so the metrics count them with the
// pages' own.
func TestDavTransfersCounted(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-metrics-listen", "127.0.0.1:0")
	c := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	up := randomBytes(t, 1<<20+3)
	steps := []struct {
		method, path string
		body         []byte
		header       []string
		status       int
	}{
		{"PUT", "/up.bin", up, nil, 201},
		{"GET", "/up.bin", nil, nil, 200},
		{"HEAD", "/up.bin", nil, nil, 200}, // no body: no transfer
		{"COPY", "/up.bin", nil, []string{"Destination", davURL(b, testftp.User, srv.Addr(), "/copy.bin")}, 201},
	}
	for _, s := range steps {
		if resp, body := davDo(t, c, s.method, davURL(b, testftp.User, srv.Addr(), s.path), s.body, s.header...); resp.StatusCode != s.status {
			t.Fatalf("%s %s: %d %s", s.method, s.path, resp.StatusCode, body)
		}
	}
	_, body := get(t, nil, b.Metrics)
	for series, want := range map[string]float64{
		`ftpbridge_transfers_total{op="upload",state="done"}`:   1,
		`ftpbridge_transfers_total{op="download",state="done"}`: 1,
		`ftpbridge_transfers_total{op="copy",state="done"}`:     1,
		`ftpbridge_transfer_bytes_total{direction="up"}`:        float64(len(up)),
	} {
		got := -1.0
		for line := range strings.Lines(string(body)) {
			if name, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && name == series {
				got, _ = strconv.ParseFloat(v, 64)
			}
		}
		if got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// TestDavTransfersInTheSessionPanel: a WebDAV upload and download by alice
// show in /transfers of a browser session logged in as alice on that
// server, and not in one logged in as bob or anonymously.
func TestDavTransfersInTheSessionPanel(t *testing.T) {
	srv := testftp.Start(t, embedftp.Options{Users: map[string]string{testftp.User: testftp.Password, "bob": "bobs pass"}, Anonymous: true})
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	host, port, _ := net.SplitHostPort(srv.Addr())
	session := func(user, password string) *http.Client {
		c := newJarClient(t)
		form := url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {user}, "password": {password}}
		if user == "" {
			form.Set("anonymous", "1")
		}
		resp := postForm(t, c, b.URL+"/connect", form)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("log in as %q: %d", user, resp.StatusCode)
		}
		return c
	}
	alice, bob, anon := session(testftp.User, testftp.Password), session("bob", "bobs pass"), session("", "")

	dav := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	u := davURL(b, testftp.User, srv.Addr(), "/panel.bin")
	if resp, body := davDo(t, dav, "PUT", u, randomBytes(t, 100_000)); resp.StatusCode != 201 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	if resp, _ := davDo(t, dav, "GET", u, nil); resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	transfers := func(c *http.Client) []string {
		var list struct {
			Transfers []struct{ Op, Path, State string }
		}
		resp, body := get(t, c, b.URL+"/transfers", "Accept", "application/json")
		if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil {
			t.Fatalf("GET /transfers: %d %s", resp.StatusCode, body)
		}
		var out []string
		for _, x := range list.Transfers {
			out = append(out, x.Op+" "+x.Path+" "+x.State)
		}
		return out
	}
	if got, want := transfers(alice), []string{"download /panel.bin done", "upload /panel.bin done"}; !slices.Equal(got, want) {
		t.Errorf("alice's session lists %q, want %q", got, want)
	}
	for name, c := range map[string]*http.Client{"bob": bob, "anonymous": anon} {
		if got := transfers(c); len(got) != 0 {
			t.Errorf("%s's session lists alice's WebDAV transfers: %q", name, got)
		}
	}
}

// TestDavLoginLimits: WebDAV logins count against the same limits as the
// pages' (five failed tries per client and user): the sixth wrong password
// is 429 with Retry-After and never reaches the server.
func TestDavLoginLimits(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	bad := &http.Client{Transport: basicAuth{testftp.User, "wrong"}}
	u := davURL(b, testftp.User, srv.Addr(), "/")
	for i := range 5 {
		if resp, body := davDo(t, bad, "PROPFIND", u, nil, "Depth", "0"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password, try %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	heard := passes(srv)
	resp, body := davDo(t, bad, "PROPFIND", u, nil, "Depth", "0")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("sixth wrong password: %d (Retry-After %q) %s, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if passes(srv) != heard {
		t.Error("the sixth try reached the FTP server")
	}
}

// TestDavForeignHost: the -hosts rule holds for WebDAV, against DNS
// rebinding: another Host is 421 and the FTP server hears nothing.
func TestDavForeignHost(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	for _, method := range []string{"PROPFIND", "PUT", "OPTIONS"} {
		req := withHost(mustRequest(method, davURL(b, testftp.User, srv.Addr(), "/x.txt")), "rebind.attacker.example:"+bridgePort(t, b))
		req.SetBasicAuth(testftp.User, testftp.Password)
		req.Header.Set("Depth", "0")
		if resp, body := doReq(t, http.DefaultClient, req); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("%s with a foreign Host: %d %s, want 421", method, resp.StatusCode, body)
		}
	}
	for _, l := range srv.Commands() {
		t.Errorf("the FTP server heard %q", l)
	}
}
