package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
)

// searchLine is one NDJSON line of GET ?op=search.
type searchLine struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Path       string `json:"path"`
	Href       string `json:"href"`
	Folder     string `json:"folder"`
	FolderHref string `json:"folder_href"`
	Type       string `json:"type"`
	Folders    int    `json:"folders"`
	Matches    int    `json:"matches"`
	Error      string `json:"error"`
}

// searchJSON asks for a search as a script does and reads its lines: the
// matches, and the last line.
func searchJSON(t *testing.T, c *http.Client, folder, q string) (matches []searchLine, end searchLine) {
	t.Helper()
	resp, body := get(t, c, folder+"?op=search&q="+q, "Accept", "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("search %q: %d %s", q, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("search's Content-Type is %q, want application/x-ndjson", ct)
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		var l searchLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch l.Kind {
		case "match":
			matches = append(matches, l)
		case "progress":
		case "done", "stopped":
			end = l
		default:
			t.Errorf("unknown line %q", sc.Text())
		}
	}
	if end.Kind == "" {
		t.Errorf("search %q: no last line in %s", q, body)
	}
	return matches, end
}

// TestSearch: on every server, a search below a folder finds the names
// that contain the text in any case, in nested folders, files and folders
// alike; each result links to the entry and to its folder, which work; the
// HTML page lists the same; no text is 400; a missing folder 404.
func TestSearch(t *testing.T) {
	for _, kind := range serverKinds() {
		t.Run(kind.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{
				"find/a/B/Report-Final.txt": "final",
				"find/a/report.md":          "md",
				"find/c/d/e/REPORTS/x.txt":  "x",
				"find/c/other.txt":          "other",
				"find/top-repo.txt":         "not a match: no “report” in it",
			})
			srv := kind.start(t, root)
			b := startBridge(t, "-allow-hosts", "127.0.0.1")
			client := &http.Client{Transport: basicAuth{srv.user, srv.password}}
			folder := addrURL(b, "ftp", srv.user, srv.addr, "/find", true)

			matches, end := searchJSON(t, client, folder, "rEpOrT")
			var got []string
			for _, m := range matches {
				got = append(got, m.Path)
			}
			slices.Sort(got)
			want := []string{"/find/a/B/Report-Final.txt", "/find/a/report.md", "/find/c/d/e/REPORTS"}
			if !slices.Equal(got, want) {
				t.Errorf("found %q, want %q", got, want)
			}
			if end.Kind != "done" || end.Matches != 3 || end.Folders < 6 {
				t.Errorf("last line %+v, want done with 3 matches in 6 or more folders", end)
			}
			for _, m := range matches {
				switch m.Name {
				case "Report-Final.txt":
					if resp, body := get(t, client, b.URL+m.Href); resp.StatusCode != 200 || string(body) != "final" {
						t.Errorf("the match's link %s: %d %q", m.Href, resp.StatusCode, body)
					}
					if m.Folder != "/find/a/B/" || m.Type != "file" {
						t.Errorf("match %+v, want a file in /find/a/B/", m)
					}
				case "REPORTS":
					if m.Type != "dir" || !strings.HasSuffix(m.Href, "/") {
						t.Errorf("match %+v, want a folder", m)
					}
				}
				l := listJSON(t, client, b.URL+m.FolderHref)
				if !slices.ContainsFunc(l.Entries, func(e jsonEntry) bool { return e.Name == m.Name }) {
					t.Errorf("the folder link of %s lists %+v", m.Path, l.Entries)
				}
			}

			resp, body := get(t, client, folder+"?op=search&q=report", "Accept", "text/html")
			page := string(body)
			if resp.StatusCode != 200 {
				t.Fatalf("search page: %d %s", resp.StatusCode, body)
			}
			for _, m := range matches {
				for _, link := range []string{`href="` + m.Href + `"`, `href="` + m.FolderHref + `"`} {
					if !strings.Contains(page, link) {
						t.Errorf("the page lacks %s:\n%s", link, page)
					}
				}
			}
			if !strings.Contains(page, `id="search-end"`) || !strings.Contains(page, "3 matches") {
				t.Errorf("the page does not end by saying what it found:\n%s", page)
			}

			for _, tc := range []struct {
				what, url string
				status    int
			}{
				{"no text", folder + "?op=search&q=", http.StatusBadRequest},
				{"no q", folder + "?op=search", http.StatusBadRequest},
				{"a missing folder", addrURL(b, "ftp", srv.user, srv.addr, "/nothing", true) + "?op=search&q=x", http.StatusNotFound},
			} {
				if resp, body := get(t, client, tc.url, "Accept", "application/json"); resp.StatusCode != tc.status {
					t.Errorf("%s: %d %s, want %d", tc.what, resp.StatusCode, body, tc.status)
				}
			}
		})
	}
}

// TestSearchWalkBudget: a search that goes past -walk-max-entries stops,
// saying so in its last line, after what it found in time.
func TestSearchWalkBudget(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"budget/a/match-1.txt": "1",
		"budget/b/c/d/e.txt":   "e",
		"budget/b/c/f.txt":     "f",
		"budget/b/c/g.txt":     "g",
	})
	srv, b := startFTP(t, embedftp.Options{Root: root}, "-walk-max-entries", "4")
	folder := siteURL(b, "ftp", "", srv, "/budget", true)
	matches, end := searchJSON(t, nil, folder, "MATCH")
	if end.Kind != "stopped" || !strings.Contains(end.Error, "more than 4 files and folders") {
		t.Errorf("last line %+v, want stopped at the walk budget", end)
	}
	if len(matches) != 1 || matches[0].Name != "match-1.txt" {
		t.Errorf("matches %+v, want match-1.txt, found before the budget ran out", matches)
	}
	resp, body := get(t, nil, folder+"?op=search&q=match", "Accept", "text/html")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "The search stopped") || !strings.Contains(string(body), "more than 4 files and folders") {
		t.Errorf("page: %d, want it to say the search stopped at the budget:\n%s", resp.StatusCode, body)
	}
}

// TestSearchStopsWhenTheClientLeaves: a client that goes away mid-search
// ends the walk: the listing the bridge was reading is cut at once (long
// before -io-timeout), instead of the walk going on to its budget.
func TestSearchStopsWhenTheClientLeaves(t *testing.T) {
	srv := fakeftp.Start(t)
	reading, cut := make(chan struct{}), make(chan struct{})
	srv.Script["LIST"] = func(c *fakeftp.Conn, arg string) {
		if !strings.HasSuffix(arg, "/deep") {
			c.Transfer(func(w io.Writer) error {
				_, err := io.WriteString(w, "drwxr-xr-x 2 ftp ftp 4096 Jan 01 2026 deep\r\n-rw-r--r-- 1 ftp ftp 1 Jan 01 2026 match-me.txt\r\n")
				return err
			})
			return
		}
		// The folder below never ends its listing: the bridge's cut is
		// what ends this read.
		c.Transfer(func(w io.Writer) error {
			close(reading)
			_, err := io.Copy(io.Discard, w.(net.Conn))
			close(cut)
			return cmp.Or(err, io.ErrUnexpectedEOF)
		})
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-io-timeout", "60s")
	req, _ := http.NewRequest(http.MethodGet, addrURL(b, "ftp", "", srv.Addr(), "/", true)+"?op=search&q=match", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"match-me.txt"`) {
		t.Fatalf("first line %q, %v; want the match", line, err)
	}
	select {
	case <-reading:
	case <-time.After(20 * time.Second):
		t.Fatalf("the search did not go on to the folder below; commands %q", srv.Commands())
	}
	resp.Body.Close() // before the end: the connection goes
	select {
	case <-cut:
	case <-time.After(20 * time.Second):
		t.Fatal("the walk still reads the endless listing 20 s after its client left")
	}
}
