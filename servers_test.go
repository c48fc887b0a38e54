package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/realftp"
	"github.com/ftpbridge/ftpbridge/internal/testftp"
)

// ftpServer is one server of the suite, logged into as a local user with
// write access over the odd-name tree.
type ftpServer struct {
	addr, user, password string
	root                 string // the served tree on this machine's disk
}

// serverKinds start each server of the suite: the embedded one and
// Debian's daemons.
var serverKinds = []struct {
	name  string
	start func(t *testing.T, root string) ftpServer
}{
	{"embedded", func(t *testing.T, root string) ftpServer {
		srv := testftp.Start(t, embedftp.Options{Root: root})
		return ftpServer{srv.Addr(), testftp.User, testftp.Password, root}
	}},
	{"vsftpd", realStarter(realftp.StartVsftpd)},
	{"pure-ftpd", realStarter(realftp.StartPureFTPd)},
}

func realStarter(start func(testing.TB, realftp.Options) *realftp.Server) func(*testing.T, string) ftpServer {
	return func(t *testing.T, root string) ftpServer {
		testftp.Tree(t, root)
		srv := start(t, realftp.Options{Root: root, Writable: true})
		return ftpServer{srv.Addr, srv.User, srv.Password, root}
	}
}

// TestMissingFoldersAre404: on every server, a folder address that names
// no folder (missing, or a file) is 404 however it is asked for (page,
// JSON, zip, count, upload), and the page offers the folder above; an
// empty folder still lists as empty.
func TestMissingFoldersAre404(t *testing.T) {
	for _, kind := range serverKinds {
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
