package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
)

// TestListingPermHidesActions: MLSD's perm facts reach the folder's JSON
// as they are, and its page offers only what they allow: upload needs "c"
// and a new folder "m" on the folder (its cdir line), renaming "f",
// deleting "d" and downloading a file "r" on the entry. Where the server
// gives no perm facts, every action is there.
func TestListingPermHidesActions(t *testing.T) {
	type row struct {
		perm                        string // in the JSON
		link, share, rename, delete bool   // on the page
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	for _, tc := range []struct {
		name       string
		mlsd       []string
		folderPerm string
		upload     bool
		mkdir      bool
		rows       map[string]row
	}{
		{
			name: "read-only",
			mlsd: []string{
				"type=cdir;perm=el;modify=20240102030405; /",
				"type=pdir;perm=el;modify=20240102030405; ..",
				"type=dir;perm=el;modify=20240102030405; sub",
				"type=file;size=5;perm=r;modify=20240102030405; a.txt",
			},
			folderPerm: "el",
			rows: map[string]row{
				"sub":   {perm: "el", link: true, share: true},
				"a.txt": {perm: "r", link: true, share: true},
			},
		},
		{
			name: "some of each",
			mlsd: []string{
				"type=cdir;perm=elc;modify=20240102030405; /",
				"type=dir;perm=elfd;modify=20240102030405; sub",
				"type=file;size=5;perm=awfd;modify=20240102030405; drop-box.txt",
				"type=file;size=5;perm=rf;modify=20240102030405; renameable.txt",
			},
			folderPerm: "elc",
			upload:     true,
			rows: map[string]row{
				"sub":            {perm: "elfd", link: true, share: true, rename: true, delete: true},
				"drop-box.txt":   {perm: "awfd", rename: true, delete: true},
				"renameable.txt": {perm: "rf", link: true, share: true, rename: true},
			},
		},
		{
			name: "no perm facts",
			mlsd: []string{
				"type=cdir;modify=20240102030405; /",
				"type=dir;modify=20240102030405; sub",
				"type=file;size=5;modify=20240102030405; a.txt",
			},
			upload: true,
			mkdir:  true,
			rows: map[string]row{
				"sub":   {link: true, share: true, rename: true, delete: true},
				"a.txt": {link: true, share: true, rename: true, delete: true},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeftp.Start(t)
			srv.MLSD = tc.mlsd
			u := addrURL(b, "ftp", "", srv.Addr(), "/", true)

			resp, body := get(t, nil, u+"?format=json")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("JSON: %d %s", resp.StatusCode, body)
			}
			var l struct {
				Perm    string `json:"perm"`
				Entries []struct {
					Name string `json:"name"`
					Perm string `json:"perm"`
				} `json:"entries"`
			}
			if err := json.Unmarshal(body, &l); err != nil {
				t.Fatalf("JSON: %v: %s", err, body)
			}
			if l.Perm != tc.folderPerm {
				t.Errorf("folder perm %q, want %q", l.Perm, tc.folderPerm)
			}
			if len(l.Entries) != len(tc.rows) {
				t.Errorf("%d entries %+v, want %d", len(l.Entries), l.Entries, len(tc.rows))
			}
			for _, e := range l.Entries {
				if want, ok := tc.rows[e.Name]; !ok || e.Perm != want.perm {
					t.Errorf("entry %q has perm %q, want %q", e.Name, e.Perm, want.perm)
				}
			}

			resp, body = get(t, nil, u, "Accept", "text/html")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("page: %d %s", resp.StatusCode, body)
			}
			doc, err := html.Parse(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for id, want := range map[string]bool{
				"upload-form": tc.upload, "upload-files": tc.upload, "drop-hint": tc.upload,
				"new-folder": tc.mkdir, "new-folder-form": tc.mkdir,
			} {
				if got := findNode(doc, hasAttr("id", id)) != nil; got != want {
					t.Errorf("#%s on the page: %v, want %v", id, got, want)
				}
			}
			seen := 0
			for _, tr := range findNodes(doc, func(n *html.Node) bool { return n.Data == "tr" && attrOf(n, "data-name") != "" }) {
				name := attrOf(tr, "data-name")
				want, ok := tc.rows[name]
				if !ok {
					t.Errorf("a row for %q", name)
					continue
				}
				seen++
				// The row's menu is a link to its actions page, naming the
				// actions the script's shared menu offers in data-acts.
				more := findNode(tr, hasClass("more"))
				acts := ""
				if more != nil {
					acts = attrOf(more, "data-acts")
				}
				got := row{
					perm:   want.perm,
					link:   findNode(findNode(tr, hasClass("name")), func(n *html.Node) bool { return n.Data == "a" }) != nil,
					share:  strings.Contains(acts, "s"),
					rename: strings.Contains(acts, "r"),
					delete: strings.Contains(acts, "d"),
				}
				if got != want {
					t.Errorf("row %q: %+v, want %+v", name, got, want)
				}
				if (more != nil) != (want.share || want.rename || want.delete) {
					t.Errorf("row %q: a menu %v with nothing in it", name, more != nil)
				}
				if more == nil {
					continue
				}
				// Without JavaScript the link leads to the same actions as
				// plain forms.
				resp, body := get(t, nil, b.URL+attrOf(more, "href"), "Accept", "text/html")
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("row %q's actions page: %d %s", name, resp.StatusCode, body)
				}
				page, err := html.Parse(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				rename := findNode(page, func(n *html.Node) bool { return n.Data == "form" && hasClass("rename")(n) })
				del := findNode(page, func(n *html.Node) bool { return n.Data == "form" && hasClass("delete")(n) })
				if (rename != nil) != want.rename || (del != nil) != want.delete {
					t.Errorf("row %q's actions page: rename form %v, delete form %v, want %v, %v", name, rename != nil, del != nil, want.rename, want.delete)
				}
			}
			if seen != len(tc.rows) {
				t.Errorf("%d rows on the page, want %d", seen, len(tc.rows))
			}
		})
	}
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(key, val string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attrOf(n, key) == val }
}

func hasClass(class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return slices.Contains(strings.Fields(attrOf(n, "class")), class) }
}

// findNodes is every element under n (n included) that match accepts.
func findNodes(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	if n.Type == html.ElementNode && match(n) {
		out = append(out, n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		out = append(out, findNodes(c, match)...)
	}
	return out
}

func findNode(n *html.Node, match func(*html.Node) bool) *html.Node {
	if all := findNodes(n, match); len(all) > 0 {
		return all[0]
	}
	return nil
}

// TestSharedListingHasNoPerm: a shared folder's JSON carries none of the
// perm facts, which say what the maker's login may do, not the visitor.
func TestSharedListingHasNoPerm(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.MLSD = []string{
		"type=cdir;perm=flcdmpe; /",
		"type=dir;perm=flcdmpe; sub",
		"type=file;size=5;perm=adfrw; a.txt",
	}
	// The share checks that the folder exists: no MLST, no SIZE, and CWD
	// into it works (fakeftp's default).
	srv.Script["MLST"] = func(c *fakeftp.Conn, _ string) { c.Reply(502, "No MLST") }
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	a := makeShare(t, aliceClient(), addrURL(b, "ftp", "", srv.Addr(), "/", true)+"sub/", nil)
	resp, body := get(t, nil, a.URL+"?format=json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the shared folder's JSON: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), `"a.txt"`) || strings.Contains(string(body), "perm") {
		t.Errorf("the shared folder's JSON: %s, want a.txt and no perm", body)
	}
}
