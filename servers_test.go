package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
)

// ftpServer is one server of the suite, logged into as a local user with
// write access over the odd-name tree.
type ftpServer struct {
	addr, user, password string
	root                 string // the served tree on this machine's disk
}

type serverKind struct {
	name  string
	start func(t *testing.T, root string) ftpServer
}

// serverKinds start each server of the suite: the embedded one and
// Debian's daemons.
func serverKinds() []serverKind {
	kinds := []serverKind{{"embedded", func(t *testing.T, root string) ftpServer {
		srv := testftp.Start(t, embedftp.Options{Root: root})
		return ftpServer{srv.Addr(), testftp.User, testftp.Password, root}
	}}}
	for _, d := range realftp.Daemons {
		kinds = append(kinds, serverKind{d.Name, func(t *testing.T, root string) ftpServer {
			testftp.Tree(t, root)
			srv := d.Start(t, realftp.Options{Root: root, Writable: true})
			return ftpServer{srv.Addr, srv.User, srv.Password, root}
		}})
	}
	return kinds
}

// TestMissingFoldersAre404: on every server (embedded, vsftpd, pure-ftpd,
// proftpd), a folder address that names
// no folder (missing, or a file) is 404 however it is asked for (page,
// JSON, zip, count, upload), and the page offers the folder above; an
// empty folder still lists as empty.
func TestMissingFoldersAre404(t *testing.T) {
	for _, kind := range serverKinds() {
		t.Run(kind.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
				t.Fatal(err)
			}
			srv := kind.start(t, root)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{srv.user, srv.password}}
			url := func(p string) string { return addrURL(b, "ftp", srv.user, srv.addr, p, true) }

			for _, tc := range []struct{ what, dir, parent string }{
				{"missing", "/missing", "/"},
				{"missing below a folder", "/sub/deeper/nothing", "/sub/deeper"},
				{"a file", "/big.bin", "/"},
			} {
				for _, ask := range []struct {
					name, query string
					header      []string
				}{
					{"page", "", []string{"Accept", "text/html"}},
					{"json", "", []string{"Accept", "application/json"}},
					{"zip", "?format=zip", nil},
					{"count", "?op=count", nil},
				} {
					resp, body := get(t, client, url(tc.dir)+ask.query, ask.header...)
					if resp.StatusCode != http.StatusNotFound {
						t.Errorf("%s as %s: %d %.200s, want 404", tc.what, ask.name, resp.StatusCode, body)
						continue
					}
					parent := strings.TrimPrefix(url(tc.parent), b.URL)
					if ask.name == "page" && !bytes.Contains(body, []byte(`href="`+parent+`" id="error-link"`)) {
						t.Errorf("%s: the 404 page does not offer the folder above (%s):\n%s", tc.what, parent, body)
					}
				}
				// An upload into it is refused, and makes no folder on the way.
				var form bytes.Buffer
				mw := multipart.NewWriter(&form)
				fw, _ := mw.CreateFormFile("file", "new/inside.txt")
				fw.Write([]byte("x"))
				mw.Close()
				req, _ := http.NewRequest(http.MethodPost, url(tc.dir), &form)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				resp, body := doReq(t, client, req)
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("upload into %s: %d %.200s, want 404", tc.what, resp.StatusCode, body)
				}
				if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(tc.dir), "new")); !errors.Is(err, fs.ErrNotExist) && !strings.Contains(err.Error(), "not a directory") {
					t.Errorf("upload into %s made a folder: %v", tc.what, err)
				}
				// So is a PUT of a file in it.
				req, _ = http.NewRequest(http.MethodPut, strings.TrimSuffix(url(tc.dir), "/")+"/put.txt", strings.NewReader("x"))
				if resp, body := doReq(t, client, req); resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte("folder")) {
					t.Errorf("PUT into %s: %d %.200s, want 404 about the folder", tc.what, resp.StatusCode, body)
				}
			}
			if l := listJSON(t, client, url("/empty")); len(l.Entries) != 0 {
				t.Errorf("empty folder lists %+v", l.Entries)
			}
		})
	}
}

// TestHostilePWD: whatever a server answers to PWD, the site stays usable
// from a home that is a clean absolute path the server named, or from "/".
func TestHostilePWD(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply func(c *fakeftp.Conn)
		home  string
	}{
		{"a home", func(c *fakeftp.Conn) { c.Reply(257, `"/home/alice" is the current directory`) }, "/home/alice"},
		{"doubled quote", func(c *fakeftp.Conn) { c.Reply(257, `"/home/a""b" is current`) }, `/home/a"b`},
		{"trailing slash", func(c *fakeftp.Conn) { c.Reply(257, `"/home/alice/"`) }, "/home/alice"},
		{"relative", func(c *fakeftp.Conn) { c.Reply(257, `"home/alice"`) }, "/"},
		{"dot dot", func(c *fakeftp.Conn) { c.Reply(257, `"/home/../etc"`) }, "/"},
		{"empty", func(c *fakeftp.Conn) { c.Reply(257, `""`) }, "/"},
		{"no quotes", func(c *fakeftp.Conn) { c.Reply(257, `/home/alice`) }, "/"},
		{"stray quote", func(c *fakeftp.Conn) { c.Reply(257, `"/x" is "current"`) }, "/"},
		{"control byte", func(c *fakeftp.Conn) { c.Reply(257, "\"/home/a\tb\"") }, "/"},
		{"windows drive", func(c *fakeftp.Conn) { c.Reply(257, `"C:\Users\alice"`) }, "/"},
		{"refused", func(c *fakeftp.Conn) { c.Reply(550, "No PWD for you") }, "/"},
		{"not implemented", func(c *fakeftp.Conn) { c.Reply(502, "PWD not implemented") }, "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeftp.Start(t)
			srv.List = []string{"-rw-r--r-- 1 ftp ftp 5 Jan 01 2026 real.txt"}
			srv.Script["PWD"] = func(c *fakeftp.Conn, _ string) { tc.reply(c) }
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{"alice", "pw"}}
			resp, body := get(t, client, addrURL(b, "ftp", "alice", srv.Addr(), "/", true), "Accept", "application/json")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("listing: %d %s", resp.StatusCode, body)
			}
			wantHome := strings.TrimSuffix(tc.home, "/") + "/"
			if !bytes.Contains(body, []byte(`"home":`+jsonString(wantHome))) || !bytes.Contains(body, []byte(`"path":`+jsonString(wantHome))) {
				t.Errorf("listing %s, want path and home %q", body, wantHome)
			}
			listed := false
			for _, cmd := range srv.Commands() {
				listed = listed || cmd == "LIST "+tc.home
			}
			if !listed {
				t.Errorf("the bridge never listed %q: %q", tc.home, srv.Commands())
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestLoginFolderWithoutChroot: a local user who is not chrooted lands in
// a folder of the server (vsftpd's default for local users; also on
// pure-ftpd and proftpd). Bridge paths
// are relative to it as curl's ftp:// URLs are, %2F makes them absolute,
// and the connect form lands there.
func TestLoginFolderWithoutChroot(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		realftp.SkipOrFail(t, "curl not installed: %v", err)
	}
	for _, start := range realftp.Daemons {
		t.Run(start.Name, func(t *testing.T) {
			root := t.TempDir()
			files := testftp.Tree(t, root)
			if err := os.WriteFile(filepath.Join(root, "notes.txt"), []byte("alice's notes\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			srv := start.Start(t, realftp.Options{Root: root, Writable: true, NonChroot: true})
			if srv.Home == "/" {
				t.Fatalf("the server chroots its local user")
			}
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
			site := b.URL + "/ftp/" + srv.User + "@" + srv.Addr + "/"

			// The same bytes as curl's own ftp:// URL, which is relative too.
			direct, err := exec.Command(curl, "-sS", "--fail", "-u", srv.User+":"+srv.Password, "ftp://"+srv.Addr+"/notes.txt").Output()
			if err != nil {
				t.Fatalf("curl ftp://: %v", err)
			}
			resp, body := get(t, client, site+"notes.txt")
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, direct) || string(body) != "alice's notes\n" {
				t.Fatalf("notes.txt: %d %q, curl ftp:// gave %q", resp.StatusCode, body, direct)
			}
			// The odd-name tree is the login folder: every file lists and
			// downloads by the relative links.
			files["/notes.txt"] = direct
			checkTree(t, client, b, "ftp", srv.User, srv.Addr, files)

			l := listJSON(t, client, site)
			home := strings.TrimSuffix(srv.Home, "/") + "/"
			if l.Path != home || l.Home != home {
				t.Errorf("listing path %q home %q, want both %q", l.Path, l.Home, home)
			}
			l = listJSON(t, client, site+"%2F/")
			if l.Path != "/" || l.Home != home || !slices.ContainsFunc(l.Entries, func(e jsonEntry) bool { return e.Name == "etc" }) {
				t.Errorf("%%2F/ lists %q (home %q), want the server's root with etc", l.Path, l.Home)
			}
			for _, e := range l.Entries {
				if e.Name == "etc" && e.Href != "/ftp/"+srv.User+"@"+srv.Addr+"/%2Fetc/" {
					t.Errorf("etc links to %q, want the %%2F form", e.Href)
				}
			}
			// An upload by a relative address lands in the login folder.
			req, _ := http.NewRequest(http.MethodPut, site+"put.txt", strings.NewReader("put"))
			if resp, body := doReq(t, client, req); resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT: %d %s", resp.StatusCode, body)
			}
			if got, err := os.ReadFile(filepath.Join(root, "put.txt")); err != nil || string(got) != "put" {
				t.Errorf("the upload is not in the login folder: %q %v", got, err)
			}

			// A share made by the relative address keeps the absolute path,
			// and its link serves the file.
			sh := makeShare(t, client, site+"notes.txt", url.Values{})
			var shares struct {
				Shares []struct{ ID, Path string } `json:"shares"`
			}
			resp, body = get(t, client, b.URL+"/shares", "Accept", "application/json")
			if err := json.Unmarshal(body, &shares); resp.StatusCode != http.StatusOK || err != nil || len(shares.Shares) != 1 || shares.Shares[0].Path != path.Join(srv.Home, "notes.txt") {
				t.Errorf("shares %s (%v), want one of %s", body, err, path.Join(srv.Home, "notes.txt"))
			}
			if resp, body := get(t, nil, sh.URL); resp.StatusCode != http.StatusOK || string(body) != "alice's notes\n" {
				t.Errorf("the share link: %d %q", resp.StatusCode, body)
			}

			// Neither home nor a folder above it can be renamed or deleted:
			// every address of the site starts there.
			for _, tc := range []struct{ method, url string }{
				{http.MethodPost, site + "?op=rename&to=elsewhere"},
				{http.MethodPost, site + "?op=delete&recursive=1"},
				{http.MethodDelete, site + urlpath.EncodeSitePath(path.Dir(srv.Home), true)[1:] + "?recursive=1"},
				{http.MethodPost, site + urlpath.EncodeSitePath(path.Dir(srv.Home), true)[1:] + "?op=rename&to=elsewhere"},
			} {
				req, _ := http.NewRequest(tc.method, tc.url, nil)
				if resp, body := doReq(t, client, req); resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%s %s: %d %s, want 400", tc.method, tc.url, resp.StatusCode, body)
				}
			}
			if _, err := os.Stat(filepath.Join(root, "notes.txt")); err != nil {
				t.Fatalf("the login folder is gone: %v", err)
			}

			// The connect form lands in home; the breadcrumbs show the
			// absolute path, home marked, the levels above in the %2F form.
			c := newJarClient(t)
			host, port, _ := net.SplitHostPort(srv.Addr)
			resp = postForm(t, c, b.URL+"/connect", url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port}, "user": {srv.User}, "password": {srv.Password}})
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != site || !bytes.Contains(page, []byte("notes.txt")) {
				t.Fatalf("connect landed on %s (%d) without notes.txt", resp.Request.URL, resp.StatusCode)
			}
			parent := path.Dir(strings.TrimSuffix(srv.Home, "/"))
			for _, want := range []string{`(home)</span>`, `href="/ftp/` + srv.User + "@" + srv.Addr + `/%2F/"`,
				`href="/ftp/` + srv.User + "@" + srv.Addr + urlpath.EncodeSitePath(parent, true) + `"`} {
				if !bytes.Contains(page, []byte(want)) {
					t.Errorf("the home page lacks %s", want)
				}
			}
		})
	}
}

// TestEmptyFolderSaidWith550: servers such as IIS and wu-ftpd answer LIST
// of an empty folder with "550 No files found"; the folder is there (CWD
// enters it), so it lists as empty, while a missing one is still 404.
func TestEmptyFolderSaidWith550(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.Script["LIST"] = func(c *fakeftp.Conn, _ string) { c.Reply(550, "No files found") }
	srv.Script["CWD"] = func(c *fakeftp.Conn, arg string) {
		if arg == "/empty" {
			c.Reply(250, "CWD command successful")
			return
		}
		c.Reply(550, "The system cannot find the file specified")
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	if l := listJSON(t, nil, addrURL(b, "ftp", "", srv.Addr(), "/empty", true)); len(l.Entries) != 0 {
		t.Errorf("the empty folder lists %+v", l.Entries)
	}
	if resp, body := get(t, nil, addrURL(b, "ftp", "", srv.Addr(), "/missing", true), "Accept", "application/json"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the missing folder: %d %s, want 404", resp.StatusCode, body)
	}
}
