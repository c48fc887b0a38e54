package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPutIfMatch: a PUT with the ETag of the GET that loaded a file
// replaces it; one with an ETag gone stale (the file changed since, also
// while the new bytes were going up) is 412 and writes nothing; If-Match: *
// on a missing file is 412 and makes none. On every server of the suite.
func TestPutIfMatch(t *testing.T) {
	for _, kind := range serverKinds() {
		t.Run(kind.name, func(t *testing.T) {
			root := t.TempDir()
			srv := kind.start(t, root)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{srv.user, srv.password}}
			disk := filepath.Join(root, "notes.txt")
			if err := os.WriteFile(disk, []byte("first"), 0o666); err != nil {
				t.Fatal(err)
			}
			u := addrURL(b, "ftp", srv.user, srv.addr, "/notes.txt", false)
			etag := func() string {
				t.Helper()
				resp, _ := get(t, client, u)
				if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
					t.Fatalf("GET: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
				}
				return resp.Header.Get("ETag")
			}
			put := func(url, ifMatch, body string) (int, string) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
				req.Header.Set("If-Match", ifMatch)
				req.Header.Set("Accept", "application/json")
				resp, answer := doReq(t, client, req)
				return resp.StatusCode, string(answer)
			}
			onDisk := func(want string) {
				t.Helper()
				if got, err := os.ReadFile(disk); err != nil || string(got) != want {
					t.Errorf("the file holds %q (%v), want %q", got, err, want)
				}
			}
			refused := func(status int, answer, what string) {
				t.Helper()
				var e struct{ Error string }
				if status != http.StatusPreconditionFailed || json.Unmarshal([]byte(answer), &e) != nil || e.Error == "" {
					t.Errorf("%s: %d %s, want 412 with an error in words", what, status, answer)
				}
			}

			opened := etag()
			if status, answer := put(u+"?overwrite=1", opened, "second, longer"); status != http.StatusOK {
				t.Fatalf("PUT with the current ETag: %d %s", status, answer)
			}
			onDisk("second, longer")

			// The ETag of before that save is stale now.
			status, answer := put(u+"?overwrite=1", opened, "lost")
			refused(status, answer, "PUT with a stale ETag")
			onDisk("second, longer")

			// Changed behind the bridge's back.
			current := etag()
			if err := os.WriteFile(disk, []byte("changed elsewhere"), 0o666); err != nil {
				t.Fatal(err)
			}
			status, answer = put(u+"?overwrite=1", current, "lost")
			refused(status, answer, "PUT after a change on the server")
			onDisk("changed elsewhere")

			// Changed while the new bytes were going up: the check before
			// the rename catches it. The body waits for 100 Continue,
			// which the bridge asks for when it first reads the body:
			// after its first check, once the upload has started.
			current = etag()
			pr, pw := io.Pipe()
			req, _ := http.NewRequest(http.MethodPut, u+"?overwrite=1", pr)
			req.Header.Set("If-Match", current)
			req.Header.Set("Expect", "100-continue")
			req.Header.Set("Accept", "application/json")
			req.SetBasicAuth(srv.user, srv.password)
			expecting := &http.Transport{ExpectContinueTimeout: time.Minute}
			defer expecting.CloseIdleConnections()
			type result struct {
				status int
				answer string
				err    error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := expecting.RoundTrip(req)
				if err != nil {
					done <- result{err: err}
					return
				}
				answer, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				done <- result{resp.StatusCode, string(answer), err}
			}()
			if _, err := pw.Write([]byte("lost, ")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(disk, []byte("changed during the upload"), 0o666); err != nil {
				t.Fatal(err)
			}
			pw.Write([]byte("all of it"))
			pw.Close()
			if r := <-done; r.err != nil {
				t.Errorf("PUT while the file changed: %v", r.err)
			} else {
				refused(r.status, r.answer, "PUT while the file changed")
			}
			onDisk("changed during the upload")
			if names := tempNames(t, root); len(names) > 0 {
				t.Errorf("left behind: %v", names)
			}

			// "*": the file must be there.
			missing := addrURL(b, "ftp", srv.user, srv.addr, "/missing.txt", false)
			status, answer = put(missing, "*", "new")
			refused(status, answer, "PUT If-Match: * of a missing file")
			if _, err := os.Stat(filepath.Join(root, "missing.txt")); !os.IsNotExist(err) {
				t.Errorf("PUT If-Match: * made the missing file (%v)", err)
			}
			if status, answer := put(u, "*", "star"); status != http.StatusOK {
				t.Errorf("PUT If-Match: * of an existing file: %d %s, want 200", status, answer)
			}
			onDisk("star")
		})
	}
}

// tempNames lists the upload's hidden temporary files left in dir.
func tempNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".ftpbridge-") {
			names = append(names, e.Name())
		}
	}
	return names
}
