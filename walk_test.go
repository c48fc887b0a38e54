package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/procstat"
)

// endlessFolders is a hostile server whose every folder holds n folders
// with names of about nameLen bytes: LIST ignores its argument, so each
// level lists the same n folder lines again, written as they go out rather
// than built first.
func endlessFolders(t *testing.T, n, nameLen int) *fakeftp.Server {
	t.Helper()
	srv := fakeftp.Start(t)
	pad := strings.Repeat("x", max(nameLen-16, 1))
	srv.Script["LIST"] = func(c *fakeftp.Conn, _ string) {
		c.Transfer(func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 64<<10)
			for i := range n {
				if _, err := fmt.Fprintf(bw, "drwxr-xr-x 2 ftp ftp 4096 Jan 01 2026 folder-%06d-%s\r\n", i, pad); err != nil {
					return err // the bridge stopped reading
				}
			}
			return bw.Flush()
		})
	}
	return srv
}

// walkAnswer is what one request that walks a folder got.
type walkAnswer struct {
	query  string
	status int
	msg    string // the JSON error
	err    error
}

// askWalk sends GET folder+query as a script does, asking for JSON errors.
// It may run on any goroutine.
func askWalk(folder, query string, header ...string) walkAnswer {
	a := walkAnswer{query: query}
	req, err := http.NewRequest(http.MethodGet, folder+query, nil)
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	a.status, a.err = resp.StatusCode, err
	var e struct{ Error string }
	if json.Unmarshal(body, &e) == nil {
		a.msg = e.Error
	}
	return a
}

// TestHostileWalkIsBounded attacks a bridge process with a server that
// lists thousands of folders at every level, as the review did with
// 200,000 (one count took the bridge from 15 MB to 2 GB). Count and zip
// end at the walk budget with 413, saying so, also when the walk first
// goes down (50,000 a level: the root's listing alone is under the
// budget), also when the names are long (each listing far over the bytes
// a walk reads at once, below -max-list-bytes), and also four at once
// from one client, which the per-client limit answers with 429. The
// bridge's peak RSS stays under 256 MiB.
func TestHostileWalkIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("walks hostile listings of millions of lines; skipped with -short")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc to read the bridge's RSS from: %v", err)
	}
	const limit = 256 << 20
	bin := buildBridge(t)
	for _, tc := range []struct {
		perLevel, nameLen int
		says              string
	}{
		{200000, 64, "more than 100000 files and folders"},
		{50000, 64, "more than 100000 files and folders"},
		{200000, 600, "whose listing is longer than 16 MiB"},
	} {
		t.Run(fmt.Sprintf("%d folders a level, names of %d bytes", tc.perLevel, tc.nameLen), func(t *testing.T) {
			srv := endlessFolders(t, tc.perLevel, tc.nameLen)
			br, pid := runBridgeProcess(t, bin)
			if err := procstat.ResetPeak(pid); err != nil {
				t.Logf("cannot reset the peak (%v): VmHWM below counts from the bridge's start", err)
			}
			start, err := procstat.StatusBytes(pid, "VmRSS")
			if err != nil {
				t.Fatal(err)
			}
			folder := addrURL(br, "ftp", "", srv.Addr(), "/", true)
			check := func(a walkAnswer, tooMany bool) {
				t.Helper()
				switch {
				case a.err != nil:
					t.Errorf("%s: %v", a.query, a.err)
				case tooMany && a.status == http.StatusTooManyRequests:
				case a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.msg, tc.says):
					t.Errorf("%s: %d %q, want 413 saying %q", a.query, a.status, a.msg, tc.says)
				}
			}
			queries := []string{"?op=count", "?format=zip", "?op=count", "?format=zip"}
			for _, q := range queries[:2] {
				begun := time.Now()
				check(askWalk(folder, q), false)
				t.Logf("%s: answered in %v", q, time.Since(begun).Round(time.Millisecond))
			}
			answers := make(chan walkAnswer, len(queries))
			var wg sync.WaitGroup
			for _, q := range queries {
				wg.Go(func() { answers <- askWalk(folder, q) })
			}
			wg.Wait()
			close(answers)
			for a := range answers {
				check(a, true)
			}
			peak, err := procstat.StatusBytes(pid, "VmHWM")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("bridge RSS %s before the walks, peak (VmHWM) %s; %d LIST commands served", mib(start), mib(peak), srv.Count("LIST"))
			if peak >= limit {
				t.Errorf("bridge peak RSS %s, want under %s", mib(peak), mib(limit))
			}
		})
	}
}

// TestWalksPerClientAreLimited: while a client has two walks running
// (held by a server that has not answered their listings yet), its third
// is refused with 429 and Retry-After before anything reaches the server;
// another client's walk still runs, and once the walks end the client may
// walk again.
func TestWalksPerClientAreLimited(t *testing.T) {
	srv := fakeftp.Start(t)
	listed := make(chan struct{}, 8)
	release := make(chan struct{})
	srv.Script["LIST"] = func(c *fakeftp.Conn, _ string) {
		listed <- struct{}{}
		<-release
		c.Transfer(func(w io.Writer) error {
			_, err := io.WriteString(w, "-rw-r--r-- 1 ftp ftp 5 Jan 01 2026 a.txt\r\n")
			return err
		})
	}
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the server's cleanup, which waits for its handlers
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-trusted-proxies", "127.0.0.1")
	folder := addrURL(b, "ftp", "", srv.Addr(), "/", true)
	const alice, bob = "203.0.113.7", "198.51.100.9"
	waitListed := func(what string) {
		t.Helper()
		select {
		case <-listed:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never reached the server", what)
		}
	}

	running := make(chan walkAnswer, 3)
	for _, q := range []string{"?op=count", "?format=zip"} {
		go func() { running <- askWalk(folder, q, "X-Forwarded-For", alice) }()
		waitListed("alice's " + q)
	}
	lists := srv.Count("LIST")
	resp, body := get(t, nil, folder+"?op=count", "X-Forwarded-For", alice, "Accept", "application/json")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "the most the bridge runs at once") {
		t.Errorf("alice's third walk: %d, Retry-After %q, %s; want 429 with Retry-After, in words", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := srv.Count("LIST"); n != lists {
		t.Errorf("the refused walk listed on the server: %d LIST commands, were %d", n, lists)
	}
	go func() { running <- askWalk(folder, "?op=count", "X-Forwarded-For", bob) }()
	waitListed("bob's count, while alice's two walks run,")

	unblock()
	for range 3 {
		if a := <-running; a.err != nil || a.status != http.StatusOK {
			t.Errorf("%s: %d %q %v, want 200", a.query, a.status, a.msg, a.err)
		}
	}
	if a := askWalk(folder, "?op=count", "X-Forwarded-For", alice); a.err != nil || a.status != http.StatusOK {
		t.Errorf("alice's count after her walks ended: %d %q %v, want 200", a.status, a.msg, a.err)
	}
}

// TestWalkTimeLimit: a server that starts a listing and then says nothing
// more holds a walk only until -walk-timeout, not until the I/O timeout
// (30 s), and the answer says which limit it met.
func TestWalkTimeLimit(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.Script["LIST"] = func(c *fakeftp.Conn, _ string) {
		c.Transfer(func(w io.Writer) error {
			if _, err := io.WriteString(w, "drwxr-xr-x 2 ftp ftp 4096 Jan 01 2026 slow\r\n"); err != nil {
				return err
			}
			// Silence until the bridge hangs up the data connection.
			_, err := io.Copy(io.Discard, w.(io.Reader))
			return err
		})
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-walk-timeout", "1s")
	folder := addrURL(b, "ftp", "", srv.Addr(), "/", true)
	for _, q := range []string{"?op=count", "?format=zip"} {
		begun := time.Now()
		a := askWalk(folder, q)
		took := time.Since(begun)
		if a.err != nil || a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.msg, "took longer than 1s") {
			t.Errorf("%s: %d %q %v after %v, want 413 saying it took longer than 1s", q, a.status, a.msg, a.err, took)
		}
	}
}

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
	for _, kind := range serverKinds() {
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

// TestWalksFollowNoLinks: on every server of the suite, links to the
// server's "/" and to ".." inside a folder lead no walk out of it: the
// count counts them as entries, the zip holds nothing from outside, and a
// recursive delete deletes the links, never what they lead to.
func TestWalksFollowNoLinks(t *testing.T) {
	const outside = "outside the walked folder"
	for _, kind := range serverKinds() {
		t.Run(kind.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{"outside.txt": outside, "top/a.txt": "a", "top/sub/b.txt": "bb"})
			// The server's "/": the daemons chroot, so "/" is root; the
			// embedded server does not, and a link to the machine's "/"
			// is not one a test may risk a recursive delete in.
			slash := "/"
			if kind.name == "embedded" {
				slash = root
			}
			for link, target := range map[string]string{"top/sub/toroot": slash, "top/sub/up": ".."} {
				if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))); err != nil {
					t.Fatal(err)
				}
			}
			srv := kind.start(t, root)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{srv.user, srv.password}}
			url := func(p string) string { return addrURL(b, "ftp", srv.user, srv.addr, p, true) }

			status, body, tally := tallyOf(t, client, url("/top"))
			if status != http.StatusOK || tally["files"] != 4 || tally["folders"] != 1 {
				t.Errorf("count of /top: %d %s, want 4 files (two of them links) and 1 folder", status, body)
			}

			got, names := zipOf(t, client, url("/top"))
			if string(got["top/a.txt"]) != "a" || string(got["top/sub/b.txt"]) != "bb" {
				t.Errorf("the zip of /top lacks its own files: %q", names)
			}
			for _, name := range names {
				if name != "ERRORS.txt" && !strings.HasPrefix(name, "top/") || strings.HasPrefix(name, "top/sub/toroot/") || strings.HasPrefix(name, "top/sub/up/") {
					t.Errorf("the zip of /top holds %q, from outside it", name)
				}
			}
			for name, data := range got {
				if string(data) == outside {
					t.Errorf("the zip of /top holds outside.txt as %q", name)
				}
			}

			if status, body := deleteTree(t, client, url("/top/sub")); status != http.StatusOK {
				t.Errorf("delete of /top/sub: %d %s", status, body)
			}
			if _, err := os.Lstat(filepath.Join(root, "top", "sub")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("/top/sub is still there: %v", err)
			}
			for p, data := range map[string]string{"outside.txt": outside, "top/a.txt": "a"} {
				if got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p))); err != nil || string(got) != data {
					t.Errorf("%s, reached by a link from the deleted folder: %q %v", p, got, err)
				}
			}
		})
	}
}

// linkListedAsFolder is a scripted server whose MLSD lists the link
// /top/sub/root, which leads to "/", as a folder (type=dir), as pure-ftpd
// may; like servers that chdir(), its CWD goes where the link leads and
// its PWD says so. Paths through the link reach the files at "/".
func linkListedAsFolder(t *testing.T) *fakeftp.Server {
	t.Helper()
	const facts = "modify=20260101000000;"
	folders := map[string][]string{
		"/":        {"type=file;size=6;" + facts + " secret.txt", "type=dir;" + facts + " top"},
		"/top":     {"type=file;size=1;" + facts + " a.txt", "type=dir;" + facts + " sub"},
		"/top/sub": {"type=file;size=2;" + facts + " b.txt", "type=dir;" + facts + " root"},
	}
	files := map[string]string{"/secret.txt": "secret", "/top/a.txt": "a", "/top/sub/b.txt": "bb"}
	resolve := func(p string) string {
		p = path.Clean("/" + p)
		for p == "/top/sub/root" || strings.HasPrefix(p, "/top/sub/root/") {
			p = path.Join("/", strings.TrimPrefix(p, "/top/sub/root"))
		}
		return p
	}
	srv := fakeftp.Start(t)
	srv.MLSD = []string{} // FEAT offers MLST
	srv.Script["CWD"] = func(c *fakeftp.Conn, arg string) {
		if p := resolve(arg); folders[p] != nil {
			c.Dir = p
			c.Reply(250, "OK")
			return
		}
		c.Reply(550, "No such folder")
	}
	srv.Script["MLSD"] = func(c *fakeftp.Conn, arg string) {
		lines := folders[resolve(arg)]
		if lines == nil {
			c.Reply(550, "No such folder")
			return
		}
		c.Transfer(func(w io.Writer) error {
			_, err := io.WriteString(w, strings.Join(lines, "\r\n")+"\r\n")
			return err
		})
	}
	srv.Script["MLST"] = func(c *fakeftp.Conn, arg string) {
		p := resolve(arg)
		facts := "type=dir;" + facts
		if data, ok := files[p]; ok {
			facts = fmt.Sprintf("type=file;size=%d;modify=20260101000000;", len(data))
		} else if folders[p] == nil {
			c.Reply(550, "No such file")
			return
		}
		_ = c.Raw("250-Listing\r\n " + facts + " " + arg + "\r\n250 End\r\n")
	}
	srv.Script["RETR"] = func(c *fakeftp.Conn, arg string) {
		data, ok := files[resolve(arg)]
		if !ok {
			c.Reply(550, "No such file")
			return
		}
		c.Transfer(func(w io.Writer) error { _, err := io.WriteString(w, data); return err })
	}
	for _, verb := range []string{"DELE", "RMD"} {
		srv.Script[verb] = func(c *fakeftp.Conn, _ string) { c.Reply(250, "Deleted") }
	}
	return srv
}

// TestWalksFollowNoLinkListedAsFolder: a link to "/" that the server lists
// as a folder is found by where CWD leads, and no walk goes through it:
// the count counts it as one entry, the zip leaves it out and says so, and
// a recursive delete deletes the link alone, nothing at "/".
func TestWalksFollowNoLinkListedAsFolder(t *testing.T) {
	srv := linkListedAsFolder(t)
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	url := addrURL(b, "ftp", "", srv.Addr(), "/top", true)

	status, body, tally := tallyOf(t, nil, url)
	if status != http.StatusOK || tally["files"] != 3 || tally["folders"] != 1 {
		t.Errorf("count of /top: %d %s, want 3 files (one of them the link) and 1 folder", status, body)
	}

	got, names := zipOf(t, nil, url)
	if string(got["top/a.txt"]) != "a" || string(got["top/sub/b.txt"]) != "bb" {
		t.Errorf("the zip of /top lacks its own files: %q", names)
	}
	for _, name := range names {
		if strings.HasPrefix(name, "top/sub/root/") {
			t.Errorf("the zip of /top holds %q, through the link", name)
		}
	}
	if notes := string(got["ERRORS.txt"]); !strings.Contains(notes, "top/sub/root: a link, left out") {
		t.Errorf("ERRORS.txt %q does not say the link was left out", notes)
	}

	if status, body := deleteTree(t, nil, url); status != http.StatusOK {
		t.Errorf("delete of /top: %d %s", status, body)
	}
	var deleted []string
	for _, cmd := range srv.Commands() {
		if verb, arg, _ := strings.Cut(cmd, " "); verb == "DELE" || verb == "RMD" {
			deleted = append(deleted, cmd)
			if arg != "/top" && !strings.HasPrefix(arg, "/top/") || strings.HasPrefix(arg, "/top/sub/root/") {
				t.Errorf("the delete of /top sent %q, outside it", cmd)
			}
		}
	}
	if !slices.Contains(deleted, "DELE /top/sub/root") {
		t.Errorf("the link itself was not deleted: %q", deleted)
	}
}

// TestWalkBudgetStopsADelete: on the embedded server, with a budget of 5
// entries, the count and zip of a folder of 9 are 413, and a recursive
// delete deletes whole listings up to the budget, then stops with 413
// saying how many went and that the rest is still there, which it is.
func TestWalkBudgetStopsADelete(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{}, "-walk-max-entries", "5")
	files := map[string]string{}
	for _, d := range []string{"d1", "d2", "d3"} {
		for _, f := range []string{"f1", "f2"} {
			files["many/"+d+"/"+f] = d + f
		}
	}
	writeFiles(t, srv.Root, files)
	client := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	url := siteURL(b, "ftp", testftp.User, srv, "/many", true)
	const says = "more than 5 files and folders"
	if status, body, _ := tallyOf(t, client, url); status != http.StatusRequestEntityTooLarge || !strings.Contains(body, says) {
		t.Errorf("count: %d %s, want 413 saying %q", status, body, says)
	}
	if resp, body := get(t, client, url+"?format=zip", "Accept", "application/json"); resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), says) {
		t.Errorf("zip: %d %s, want 413 saying %q", resp.StatusCode, body, says)
	}
	// The three folders (3), then the first one's two files (5): that
	// folder goes whole, and the next one's listing is over the budget.
	status, body := deleteTree(t, client, url)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, says) || !strings.Contains(body, "3 files and folders were deleted before the bridge stopped; the rest is still there") {
		t.Errorf("delete: %d %s, want 413 saying 3 went and the rest is there", status, body)
	}
	var gone []string
	for _, d := range []string{"d1", "d2", "d3"} {
		_, err := os.Stat(filepath.Join(srv.Root, "many", d))
		if errors.Is(err, fs.ErrNotExist) {
			gone = append(gone, d)
			continue
		}
		for _, f := range []string{"f1", "f2"} {
			if data, err := os.ReadFile(filepath.Join(srv.Root, "many", d, f)); err != nil || string(data) != d+f {
				t.Errorf("many/%s/%s, in a folder the delete did not reach: %q %v", d, f, data, err)
			}
		}
	}
	if len(gone) != 1 {
		t.Errorf("folders deleted: %q, want one", gone)
	}
}

// TestWalkFlagsFromEnvironment: the walk limits come from FTPBRIDGE_*
// variables as every flag does, and a flag on the command line wins.
func TestWalkFlagsFromEnvironment(t *testing.T) {
	env := map[string]string{"FTPBRIDGE_WALK_MAX_ENTRIES": "7", "FTPBRIDGE_WALK_TIMEOUT": "9s", "FTPBRIDGE_WALKS_PER_CLIENT": "3"}
	c, err := parseFlags([]string{"ftpbridge", "-walks-per-client", "1"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.walkMaxEntries != 7 || c.walkTimeout != 9*time.Second || c.walksPerClient != 1 {
		t.Errorf("walk-max-entries %d, walk-timeout %v, walks-per-client %d; want 7, 9s, 1", c.walkMaxEntries, c.walkTimeout, c.walksPerClient)
	}
}
