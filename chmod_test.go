package main

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
)

// modeEntry is a listing's JSON entry with its unix permissions.
type modeEntry struct {
	Name string `json:"name"`
	Mode string `json:"mode"`
}

// listModes lists a folder's modes by name.
func listModes(t *testing.T, c *http.Client, folder string) map[string]string {
	t.Helper()
	resp, body := get(t, c, folder, "Accept", "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", folder, resp.StatusCode, body)
	}
	var l struct{ Entries []modeEntry }
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	modes := map[string]string{}
	for _, e := range l.Entries {
		modes[e.Name] = e.Mode
	}
	return modes
}

// modeOf is the unix permissions of a file on this machine's disk.
func modeOf(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// chmod posts ?op=chmod as a script does.
func chmod(t *testing.T, c *http.Client, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u+"?op=chmod", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, body := doReq(t, c, req)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("chmod %s: %d %s", u, resp.StatusCode, body)
	}
	return resp.StatusCode, out
}

// TestChmod: on every server, a listing's "mode" is the file's mode on
// disk (where the server lists modes); POST ?op=chmod changes a file's
// mode and, with recursive=1, a folder's and everything in it; a mode
// that is not three or four octal digits is 400; a browser's form is
// sent back to the folder.
func TestChmod(t *testing.T) {
	for _, kind := range serverKinds() {
		t.Run(kind.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"perm/a.txt": "a", "perm/sub/b.txt": "b"})
			srv := kind.start(t, root)
			if err := os.Chmod(filepath.Join(root, "perm/a.txt"), 0o604); err != nil {
				t.Fatal(err)
			}
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{srv.user, srv.password}}
			folder := addrURL(b, "ftp", srv.user, srv.addr, "/perm", true)
			file := addrURL(b, "ftp", srv.user, srv.addr, "/perm/a.txt", false)
			sub := addrURL(b, "ftp", srv.user, srv.addr, "/perm/sub", true)

			modes := listModes(t, client, folder)
			if kind.name == "embedded" && modes["a.txt"] == "" {
				t.Logf("the embedded server lists no modes")
			} else if modes["a.txt"] != "rw----r--" || modes["sub"] != "rwxr-xr-x" {
				t.Errorf("modes listed %q, want a.txt rw----r-- and sub rwxr-xr-x", modes)
			}

			status, out := chmod(t, client, file, url.Values{"mode": {"0640"}})
			if status != http.StatusOK || out["path"] != "/perm/a.txt" || out["mode"] != "0640" {
				t.Fatalf("chmod 0640: %d %v", status, out)
			}
			if m := modeOf(t, filepath.Join(root, "perm/a.txt")); m != 0o640 {
				t.Errorf("a.txt is %o after chmod 0640", m)
			}
			if m := listModes(t, client, folder)["a.txt"]; m != "" && m != "rw-r-----" {
				t.Errorf("a.txt lists as %q after chmod 0640", m)
			}

			status, out = chmod(t, client, sub, url.Values{"mode": {"750"}, "recursive": {"1"}})
			if status != http.StatusOK || out["mode"] != "0750" || out["changed"] != float64(2) {
				t.Fatalf("chmod -R 750: %d %v", status, out)
			}
			for _, p := range []string{"perm/sub", "perm/sub/b.txt"} {
				if m := modeOf(t, filepath.Join(root, p)); m != 0o750 {
					t.Errorf("%s is %o after chmod -R 750", p, m)
				}
			}

			for _, bad := range []string{"", "64", "0999", "12345", "rwx", "+644", "-644", "0x1f", " 644"} {
				if status, out := chmod(t, client, file, url.Values{"mode": {bad}}); status != http.StatusBadRequest {
					t.Errorf("mode %q: %d %v, want 400", bad, status, out)
				}
			}
			if status, out := chmod(t, client, file, url.Values{"mode": {"644"}, "recursive": {"1"}}); status != http.StatusBadRequest {
				t.Errorf("recursive on a file: %d %v, want 400", status, out)
			}
			if m := modeOf(t, filepath.Join(root, "perm/a.txt")); m != 0o640 {
				t.Errorf("a.txt is %o after refused chmods", m)
			}

			// A browser's form goes back to the folder.
			noRedirect := &http.Client{Transport: client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			req, _ := http.NewRequest(http.MethodPost, file+"?op=chmod", strings.NewReader("mode=600"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "text/html")
			resp, body := doReq(t, noRedirect, req)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != strings.TrimPrefix(folder, b.URL) {
				t.Errorf("the form: %d to %q, want 303 to the folder; %s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			if m := modeOf(t, filepath.Join(root, "perm/a.txt")); m != 0o600 {
				t.Errorf("a.txt is %o after the form's 600", m)
			}
		})
	}
}

// TestChmodUnsupported: a server without SITE CHMOD (it answers 500, or
// 502, to SITE) is 501, saying so.
func TestChmodUnsupported(t *testing.T) {
	for _, code := range []int{500, 502} {
		srv := fakeftp.Start(t)
		srv.Script["SITE"] = func(c *fakeftp.Conn, _ string) { c.Reply(code, "Unknown SITE command") }
		b := startBridge(t, "-allow-hosts", "127.0.0.1")
		status, out := chmod(t, http.DefaultClient, addrURL(b, "ftp", "", srv.Addr(), "/x.txt", false), url.Values{"mode": {"644"}})
		if msg, _ := out["error"].(string); status != http.StatusNotImplemented || !strings.Contains(msg, "SITE CHMOD") || !strings.Contains(msg, "Unknown SITE command") {
			t.Errorf("a server answering %d to SITE: %d %v, want 501 saying so", code, status, out)
		}
	}
}
