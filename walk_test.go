package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles writes path -> content under root, making the folders.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// zipOf downloads a folder as zip with client and reads every file in it.
func zipOf(t *testing.T, client *http.Client, u string) (map[string][]byte, []string) {
	t.Helper()
	resp, body := get(t, client, u+"?format=zip", "Accept", "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("zip of %s: %d %.300s", u, resp.StatusCode, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("the zip of %s does not open: %v", u, err)
	}
	files, _ := zipFiles(t, zr)
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return files, names
}

// tallyOf asks for a folder's count.
func tallyOf(t *testing.T, client *http.Client, u string) (int, string, map[string]int64) {
	t.Helper()
	resp, body := get(t, client, u+"?op=count", "Accept", "application/json")
	var tally map[string]int64
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &tally); err != nil {
			t.Fatalf("count of %s: %v: %s", u, err, body)
		}
	}
	return resp.StatusCode, string(body), tally
}

// deleteTree deletes a folder with everything in it.
func deleteTree(t *testing.T, client *http.Client, u string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u+"?op=delete&recursive=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if client == nil {
		client = http.DefaultClient
	}
	resp, body := doReq(t, client, req)
	return resp.StatusCode, string(body)
}

// TestWalksGoPastUnsafeNames: on every server of the suite, a file named
// x\..\y.txt (one name on Unix; on Windows it would step up a folder)
// deep in a folder stops no walk. The zip of each folder above it is 200
// with every other file and names it in ERRORS.txt; the count counts it;
// a recursive delete deletes it (DELE takes the name whole, as the server
// listed it) and the folder, and nothing beside the folder. pure-ftpd
// refuses the name in any command ("553 Prohibited file name"): there the
// delete stops at it and says so in the server's words.
func TestWalksGoPastUnsafeNames(t *testing.T) {
	const odd = `x\..\y.txt`
	for _, kind := range serverKinds {
		t.Run(kind.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{
				"walk/a.txt":               "a",
				"walk/nested/b.txt":        "bb",
				"walk/nested/inner/ok.txt": "ccc",
				"walk/nested/inner/" + odd: "dddd",
				"walk/nested/y.txt":        "what the name would name on Windows",
			})
			srv := kind.start(t, root)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{srv.user, srv.password}}
			url := func(p string) string { return addrURL(b, "ftp", srv.user, srv.addr, p, true) }

			for _, tc := range []struct {
				folder string
				want   map[string]string
				note   string
			}{
				{"/walk", map[string]string{"walk/a.txt": "a", "walk/nested/b.txt": "bb", "walk/nested/inner/ok.txt": "ccc",
					"walk/nested/y.txt": "what the name would name on Windows"}, "walk/nested/inner/" + odd},
				{"/walk/nested", map[string]string{"nested/b.txt": "bb", "nested/inner/ok.txt": "ccc",
					"nested/y.txt": "what the name would name on Windows"}, "nested/inner/" + odd},
				{"/walk/nested/inner", map[string]string{"inner/ok.txt": "ccc"}, "inner/" + odd},
			} {
				got, names := zipOf(t, client, url(tc.folder))
				for name, data := range tc.want {
					if string(got[name]) != data {
						t.Errorf("zip of %s: %s is %q, want %q", tc.folder, name, got[name], data)
					}
				}
				if notes := string(got["ERRORS.txt"]); !strings.Contains(notes, tc.note+": a name that cannot be unpacked safely, left out") {
					t.Errorf("zip of %s: ERRORS.txt %q does not name %s", tc.folder, notes, tc.note)
				}
				for _, name := range names {
					if strings.Contains(name, `\`) {
						t.Errorf("zip of %s holds %q", tc.folder, name)
					}
				}
			}

			status, body, tally := tallyOf(t, client, url("/walk"))
			if status != http.StatusOK || tally["files"] != 5 || tally["folders"] != 2 {
				t.Errorf("count of /walk: %d %s, want 5 files and 2 folders", status, body)
			}

			status, body = deleteTree(t, client, url("/walk/nested"))
			_, err := os.Stat(filepath.Join(root, "walk", "nested", "inner", odd))
			switch {
			case kind.name == "pure-ftpd":
				if status != http.StatusForbidden || !strings.Contains(body, "553 Prohibited file name") || err != nil {
					t.Errorf("delete of /walk/nested: %d %s (%s there: %v), want 403 quoting pure-ftpd's refusal of the name", status, body, odd, err)
				}
			case status != http.StatusOK || !strings.Contains(body, `"deleted":6`):
				t.Errorf("delete of /walk/nested: %d %s, want 200 and 6 deleted", status, body)
			default:
				if _, err := os.Stat(filepath.Join(root, "walk", "nested")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("/walk/nested is still there: %v", err)
				}
			}
			if data, err := os.ReadFile(filepath.Join(root, "walk", "a.txt")); err != nil || string(data) != "a" {
				t.Errorf("/walk/a.txt beside the deleted folder: %q %v", data, err)
			}
		})
	}
}
