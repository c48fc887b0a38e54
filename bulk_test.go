package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
)

// bulkAnswer is the JSON answer of a request on several entries.
type bulkAnswer struct {
	Done   []string `json:"done"`
	Failed []struct {
		Name   string `json:"name"`
		Error  string `json:"error"`
		Status int    `json:"status"`
	} `json:"failed"`
}

// postOp sends a POST with form fields (select repeated) and returns the
// status and the body.
func postOp(t *testing.T, c *http.Client, u string, form url.Values, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return doReq(t, c, req)
}

// TestBulkOps deletes, moves, copies and zips several entries of a folder
// at once, and copies a single file, by HTTP against every server of the
// suite (embedded, vsftpd, pure-ftpd, proftpd), checking the server's disk after every step: the names that
// can be done are done, each one that cannot is reported with its status
// and the others go on.
func TestBulkOps(t *testing.T) {
	for _, kind := range serverKinds() {
		t.Run(kind.name, func(t *testing.T) {
			root := t.TempDir()
			big := make([]byte, 2<<20+17)
			rand.Read(big)
			fixture := map[string][]byte{
				"/work/keep1.txt":          []byte("keep one\n"),
				"/work/keep2.txt":          []byte("keep two\n"),
				"/work/gone1.txt":          []byte("gone\n"),
				"/work/gone2/in.txt":       []byte("gone too\n"),
				"/work/mv1.txt":            []byte("moved\n"),
				"/work/mv2/in.txt":         []byte("moved folder\n"),
				"/work/clash.txt":          []byte("the one that moves\n"),
				"/work/cp1.bin":            big,
				"/work/cp2/a.txt":          []byte("copied a\n"),
				"/work/cp2/deep/b.txt":     []byte("copied b\n"),
				"/work/dest/clash.txt":     []byte("already there\n"),
				"/work/dest/.keep":         nil,
				"/work/cp2/deep/empty/.no": nil,
			}
			for p, data := range fixture {
				full := filepath.Join(root, filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(p, "/.no") {
					continue // only the folder
				}
				if err := os.WriteFile(full, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Links, on the servers that list them as links (the
			// embedded one shows what they lead to).
			links := kind.name != "embedded"
			if links {
				fixture["/work/lnk/real.txt"] = []byte("real\n")
				if err := os.MkdirAll(filepath.Join(root, "work", "lnk"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, "work", "lnk", "real.txt"), fixture["/work/lnk/real.txt"], 0o644); err != nil {
					t.Fatal(err)
				}
				for link, to := range map[string]string{"work/lnk/up": "..", "work/ln-dir": "lnk"} {
					if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
						t.Fatal(err)
					}
				}
			}
			srv := kind.start(t, root)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{srv.user, srv.password}}
			u := func(p string) string { return addrURL(b, "ftp", srv.user, srv.addr, p, strings.HasSuffix(p, "/")) }
			disk := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
			exists := func(p string) bool { _, err := os.Lstat(disk(p)); return err == nil }
			content := func(p string) []byte { b, _ := os.ReadFile(disk(p)); return b }
			bulk := func(t *testing.T, op string, form url.Values) bulkAnswer {
				t.Helper()
				resp, body := postOp(t, client, u("/work/")+"?op="+op, form)
				var a bulkAnswer
				if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil {
					t.Fatalf("op=%s: %d %s, want 200 and JSON", op, resp.StatusCode, body)
				}
				return a
			}
			// failedWith checks the failed names and their statuses.
			failedWith := func(t *testing.T, a bulkAnswer, want map[string]int) {
				t.Helper()
				got := map[string]int{}
				for _, f := range a.Failed {
					got[f.Name] = f.Status
					if f.Error == "" {
						t.Errorf("%q failed without words", f.Name)
					}
				}
				if len(got) != len(want) {
					t.Errorf("failed %+v, want %v", a.Failed, want)
				}
				for n, s := range want {
					if got[n] != s {
						t.Errorf("%q: status %d, want %d (%+v)", n, got[n], s, a.Failed)
					}
				}
			}
			sameDone := func(t *testing.T, a bulkAnswer, want ...string) {
				t.Helper()
				if !slices.Equal(a.Done, want) {
					t.Errorf("done %q, want %q", a.Done, want)
				}
			}

			t.Run("delete", func(t *testing.T) {
				a := bulk(t, "delete", url.Values{"select": {"gone1.txt", "../x", "missing.txt", "gone2", "/work/keep1.txt", ""}, "recursive": {"1"}})
				sameDone(t, a, "gone1.txt", "gone2")
				failedWith(t, a, map[string]int{"../x": 400, "missing.txt": 404, "/work/keep1.txt": 400, "": 400})
				if exists("/work/gone1.txt") || exists("/work/gone2") || !exists("/work/keep1.txt") || !exists("/work/keep2.txt") {
					t.Error("the disk is not as the answer says")
				}
			})
			t.Run("no select", func(t *testing.T) {
				for _, op := range []string{"move", "copy"} {
					if resp, body := postOp(t, client, u("/work/")+"?op="+op, url.Values{"to": {"dest"}}); resp.StatusCode != http.StatusBadRequest {
						t.Errorf("op=%s without select: %d %s, want 400", op, resp.StatusCode, body)
					}
				}
				if resp, body := postOp(t, client, u("/nowhere/")+"?op=delete", url.Values{"select": {"x"}}); resp.StatusCode != http.StatusNotFound {
					t.Errorf("bulk delete in a missing folder: %d %s, want 404", resp.StatusCode, body)
				}
				// A file address deletes that file, as it always did.
				if resp, body := postOp(t, client, u("/work/keep2.txt")+"?op=delete", nil); resp.StatusCode != http.StatusOK || exists("/work/keep2.txt") {
					t.Errorf("delete of a file: %d %s", resp.StatusCode, body)
				}
			})
			t.Run("move", func(t *testing.T) {
				a := bulk(t, "move", url.Values{"select": {"mv1.txt", "mv2", "clash.txt", "nothere"}, "to": {"dest"}, "overwrite": {"1"}})
				sameDone(t, a, "mv1.txt", "mv2")
				failedWith(t, a, map[string]int{"clash.txt": 409, "nothere": 404})
				if !bytes.Equal(content("/work/dest/mv1.txt"), fixture["/work/mv1.txt"]) || !bytes.Equal(content("/work/dest/mv2/in.txt"), fixture["/work/mv2/in.txt"]) || exists("/work/mv1.txt") || exists("/work/mv2") {
					t.Error("mv1.txt and mv2 are not in dest, or still where they were")
				}
				if !bytes.Equal(content("/work/dest/clash.txt"), fixture["/work/dest/clash.txt"]) || !exists("/work/clash.txt") {
					t.Error("a move replaced an existing file")
				}
				if resp, body := postOp(t, client, u("/work/")+"?op=move", url.Values{"select": {"mv1.txt"}, "to": {"nowhere"}}); resp.StatusCode != http.StatusNotFound {
					t.Errorf("move into a missing folder: %d %s, want 404", resp.StatusCode, body)
				}
			})
			t.Run("copy", func(t *testing.T) {
				a := bulk(t, "copy", url.Values{"select": {"cp1.bin", "cp2", "dest"}, "to": {"/work/dest"}})
				sameDone(t, a, "cp1.bin", "cp2")
				failedWith(t, a, map[string]int{"dest": 400}) // into itself
				for _, p := range []string{"/cp1.bin", "/cp2/a.txt", "/cp2/deep/b.txt"} {
					if !bytes.Equal(content("/work/dest"+p), fixture["/work"+p]) || !bytes.Equal(content("/work"+p), fixture["/work"+p]) {
						t.Errorf("%s: the copy or the original differs", p)
					}
				}
				if fi, err := os.Stat(disk("/work/dest/cp2/deep/empty")); err != nil || !fi.IsDir() {
					t.Errorf("the empty folder was not copied: %v", err)
				}
				a = bulk(t, "copy", url.Values{"select": {"cp1.bin", "cp2"}, "to": {"dest"}})
				sameDone(t, a)
				failedWith(t, a, map[string]int{"cp1.bin": 409, "cp2": 409})
				a = bulk(t, "copy", url.Values{"select": {"cp1.bin", "cp2"}, "to": {"dest"}, "overwrite": {"1"}})
				sameDone(t, a, "cp1.bin", "cp2")
			})
			linkTest := func(t *testing.T) {
				a := bulk(t, "copy", url.Values{"select": {"lnk", "ln-dir"}, "to": {"dest"}})
				sameDone(t, a)
				failedWith(t, a, map[string]int{"lnk": 409, "ln-dir": 409})
				for _, f := range a.Failed {
					if !strings.Contains(f.Error, "link") {
						t.Errorf("%q: %q, want it to name the link", f.Name, f.Error)
					}
				}
				if !bytes.Equal(content("/work/dest/lnk/real.txt"), fixture["/work/lnk/real.txt"]) || exists("/work/dest/lnk/up") || exists("/work/dest/ln-dir") {
					t.Error("the folder's file was not copied, or a link was")
				}
				a = bulk(t, "delete", url.Values{"select": {"ln-dir"}, "recursive": {"1"}})
				sameDone(t, a, "ln-dir")
				if exists("/work/ln-dir") || !bytes.Equal(content("/work/lnk/real.txt"), fixture["/work/lnk/real.txt"]) {
					t.Error("deleting a link to a folder did not delete just the link")
				}
			}
			if links {
				t.Run("links", linkTest)
			}
			t.Run("zip", func(t *testing.T) {
				zr, _ := getZipWith(t, client, u("/work/")+"?format=zip&select=keep1.txt&select=cp2&select=nothere")
				files, headers := zipFiles(t, zr)
				want := map[string][]byte{"work/keep1.txt": fixture["/work/keep1.txt"], "work/cp2/a.txt": fixture["/work/cp2/a.txt"], "work/cp2/deep/b.txt": fixture["/work/cp2/deep/b.txt"]}
				for name, data := range want {
					if !bytes.Equal(files[name], data) {
						t.Errorf("%s: %q, want %q", name, files[name], data)
					}
				}
				if headers["work/cp2/deep/empty/"] == nil {
					t.Error("the empty folder is missing from the zip")
				}
				if !strings.Contains(string(files["ERRORS.txt"]), "nothere: not in this folder") {
					t.Errorf("ERRORS.txt: %q, want the missing name", files["ERRORS.txt"])
				}
				for name := range files {
					if _, ok := want[name]; !ok && name != "ERRORS.txt" {
						t.Errorf("%s is in the zip, not selected", name)
					}
				}
				if resp, body := get(t, client, u("/work/")+"?format=zip&select=../etc"); resp.StatusCode != http.StatusBadRequest {
					t.Errorf("zip with select=../etc: %d %.200s, want 400", resp.StatusCode, body)
				}
			})
			t.Run("copy a file", func(t *testing.T) {
				resp, body := postOp(t, client, u("/work/cp1.bin")+"?op=copy", url.Values{"to": {"copy.bin"}})
				if resp.StatusCode != http.StatusCreated || !bytes.Equal(content("/work/copy.bin"), big) {
					t.Fatalf("copy: %d %s", resp.StatusCode, body)
				}
				resp, body = postOp(t, client, u("/work/keep1.txt")+"?op=copy", url.Values{"to": {"copy.bin"}})
				if resp.StatusCode != http.StatusConflict || !bytes.Equal(content("/work/copy.bin"), big) {
					t.Errorf("copy onto an existing file: %d %s, want 409 and the file as it was", resp.StatusCode, body)
				}
				resp, body = postOp(t, client, u("/work/keep1.txt")+"?op=copy", url.Values{"to": {"/work/copy.bin"}, "overwrite": {"1"}})
				if resp.StatusCode != http.StatusOK || !bytes.Equal(content("/work/copy.bin"), fixture["/work/keep1.txt"]) {
					t.Errorf("copy with overwrite=1: %d %s", resp.StatusCode, body)
				}
				if resp, body := postOp(t, client, u("/work/nothing.txt")+"?op=copy", url.Values{"to": {"x.txt"}}); resp.StatusCode != http.StatusNotFound || exists("/work/x.txt") {
					t.Errorf("copy of a missing file: %d %s, want 404", resp.StatusCode, body)
				}
				if resp, body := postOp(t, client, u("/work/keep1.txt")+"?op=copy", url.Values{"to": {"nofolder/x.txt"}}); resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "folder to copy into") {
					t.Errorf("copy into a missing folder: %d %s, want 404 naming the folder", resp.StatusCode, body)
				}
				// Nothing of the temporary names is left behind.
				entries, _ := os.ReadDir(disk("/work"))
				for _, e := range entries {
					if strings.Contains(e.Name(), ".ftpbridge-") {
						t.Errorf("left behind: %s", e.Name())
					}
				}
			})
		})
	}
}

// TestCopyIsATransfer: a copy is a transfer of the session, op "copy",
// seen on /transfers and the WebSocket with the bytes of the file.
func TestCopyIsATransfer(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{AnonymousWritable: true})
	c := sessionClient(t, b, siteURL(b, "ftp", "", srv, "/", true))
	ws, _, err := dialEvents(t, b, c, b.URL)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	want := srv.Files["/big.bin"]
	resp, body := postOp(t, c, siteURL(b, "ftp", "", srv, "/big.bin", false)+"?op=copy", url.Values{"to": {"sub/big copy.bin"}}, "Origin", b.URL)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("copy: %d %s", resp.StatusCode, body)
	}
	if got, err := os.ReadFile(filepath.Join(srv.Root, "sub", "big copy.bin")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the copy differs from the file (%v)", err)
	}
	for {
		ev := readEvent(t, ws)
		if ev.Op != "copy" || ev.Path != "/sub/big copy.bin" {
			t.Fatalf("event %+v, want the copy's", ev)
		}
		if ev.State == "done" {
			if ev.Bytes != int64(len(want)) || ev.Total != int64(len(want)) {
				t.Errorf("done event %+v, want %d bytes", ev, len(want))
			}
			break
		}
		if ev.State != "queued" && ev.State != "running" {
			t.Fatalf("event %+v", ev)
		}
	}
	_, body = get(t, c, b.URL+"/transfers")
	var l struct{ Transfers []transferEvent }
	if json.Unmarshal(body, &l) != nil || len(l.Transfers) != 1 || l.Transfers[0].Op != "copy" || l.Transfers[0].State != "done" {
		t.Errorf("GET /transfers: %s, want the copy, done", body)
	}
}

// TestBulkRefusesCrossSite: a cross-site POST of a bulk delete, move or
// copy, or of a file copy, is 403 and changes nothing.
func TestBulkRefusesCrossSite(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{AnonymousWritable: true})
	dir := siteURL(b, "ftp", "", srv, "/", true)
	before := srv.Files
	for _, tc := range []struct{ url, body string }{
		{dir + "?op=delete", "select=big.bin&select=sub&recursive=1"},
		{dir + "?op=move", "select=big.bin&to=sub"},
		{dir + "?op=copy", "select=big.bin&to=sub"},
		{siteURL(b, "ftp", "", srv, "/big.bin", false) + "?op=copy", "to=evil.bin"},
	} {
		for _, h := range [][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
			req, _ := http.NewRequest(http.MethodPost, tc.url, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(h[0], h[1])
			if resp, body := doReq(t, http.DefaultClient, req); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s with %s: %s: %d %.200s, want 403", tc.url, h[0], h[1], resp.StatusCode, body)
			}
		}
	}
	checkDiskTree(t, srv.Root, before)
}

// TestBulkFromAPlainForm: without JavaScript, a form's bulk request comes
// back to the folder when everything was done, and to a page that says
// what failed, with a link back, when something was not.
func TestBulkFromAPlainForm(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{AnonymousWritable: true})
	dir := siteURL(b, "ftp", "", srv, "/", true)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp := postForm(t, c, dir+"?op=delete", url.Values{"select": {"with space.txt", ".hidden"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != strings.TrimPrefix(dir, b.URL) {
		t.Errorf("delete: %d to %q, want 303 to the folder", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range []string{"with space.txt", ".hidden"} {
		if _, err := os.Stat(filepath.Join(srv.Root, p)); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	resp = postForm(t, c, dir+"?op=delete", url.Values{"select": {"nothing.txt"}})
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(page), "nothing.txt") || !strings.Contains(string(page), "Back to the folder") {
		t.Errorf("delete of a missing name: %d %.300s, want 404 naming it with a link back", resp.StatusCode, page)
	}
}

// TestCopyCanceled: a copy canceled from the transfers panel while the
// bytes are on their way ends both data connections, answers 499, shows
// as canceled, and deletes the partial copy: nothing is left under the
// copy's name or the temporary one.
func TestCopyCanceled(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.List = []string{"-rw-r--r-- 1 ftp ftp 2097152 Jan 01 2026 src.bin"}
	srv.Files["/src.bin"] = make([]byte, 2<<20) // what SIZE says; RETR is scripted
	srv.Script["RETR"] = func(c *fakeftp.Conn, _ string) {
		// Half the file, then nothing until the bridge hangs up.
		c.Transfer(func(w io.Writer) error {
			if _, err := w.Write(make([]byte, 1<<20)); err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, w.(io.Reader))
			return errors.New("cut")
		})
	}
	srv.Script["STOR"] = func(c *fakeftp.Conn, _ string) {
		c.Transfer(func(w io.Writer) error { _, err := io.Copy(io.Discard, w.(io.Reader)); return err })
	}
	srv.Script["CWD"] = func(c *fakeftp.Conn, arg string) {
		if arg != "/" {
			c.Reply(550, "No such folder")
			return
		}
		c.Reply(250, "OK")
	}
	for _, verb := range []string{"DELE", "RNFR", "RNTO"} {
		srv.Script[verb] = func(c *fakeftp.Conn, _ string) { c.Reply(250, "OK") }
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	c := sessionClient(t, b, addrURL(b, "ftp", "", srv.Addr(), "/", true))
	ws, _, err := dialEvents(t, b, c, b.URL)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, addrURL(b, "ftp", "", srv.Addr(), "/src.bin", false)+"?op=copy", strings.NewReader("to=copy.bin"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.URL)
		resp, err := c.Do(req)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	ev := readEvent(t, ws)
	for ev.State != "running" {
		if ev.State != "queued" {
			t.Fatalf("event %+v before running", ev)
		}
		ev = readEvent(t, ws)
	}
	if ev.Op != "copy" || ev.Path != "/copy.bin" || ev.Total != 2<<20 {
		t.Errorf("running event %+v, want the copy of 2 MiB to /copy.bin", ev)
	}
	resp, body := postOp(t, c, b.URL+"/transfers/"+ev.ID+"/cancel", nil, "Origin", b.URL)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", resp.StatusCode, body)
	}
	if s := <-status; s != 499 {
		t.Errorf("the copy's answer: %d, want 499", s)
	}
	for ev.State == "running" {
		ev = readEvent(t, ws)
	}
	if ev.State != "canceled" {
		t.Errorf("final event %+v, want canceled", ev)
	}
	var stored, deleted string
	for _, line := range srv.Commands() {
		verb, arg, _ := strings.Cut(line, " ")
		switch verb {
		case "STOR":
			stored = arg
		case "DELE":
			deleted = arg
		case "RNFR", "RNTO":
			t.Errorf("%s after a canceled copy", line)
		}
	}
	if !strings.HasPrefix(stored, "/.copy.bin.ftpbridge-") || deleted != stored {
		t.Errorf("stored %q and deleted %q, want the temporary name deleted", stored, deleted)
	}
}
