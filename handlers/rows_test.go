package handlers

import (
	"bufio"
	"html/template"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/templates"
)

// The elements and attributes a row may have: anything else in a parsed
// row means a name broke out of its place.
var (
	rowElements   = []string{"tr", "td", "a", "svg", "use", "span", "time"}
	rowAttributes = []string{"class", "data-name", "href", "aria-hidden", "title", "datetime", "aria-label", "data-acts", "aria-haspopup", "data-size"}
)

// FuzzListingRows renders a listing holding one entry of any name and link
// target, between two plain ones, parses the page as a browser would, and
// checks that the rows are exactly what the entries say: three rows, the
// names and targets as text and attribute values, the links the bridge
// made, and no element or attribute a name could have smuggled in.
func FuzzListingRows(f *testing.F) {
	for _, seed := range []string{
		"plain.txt", `"><script>alert(1)</script>`, "a'b\"c&d<e>f", "</td></tr><tr><td>x", "&lt;not-an-entity",
		"\x00nul", "line\r\nbreak", "\xe9latin1", "<!--", "]]>", "javascript:alert(1)", " onmouseover=alert(1) ",
	} {
		f.Add(seed, "", false, false)
		f.Add(seed, seed, true, true)
	}
	pages, err := templates.Parse()
	if err != nil {
		f.Fatal(err)
	}
	v := &views{pages: pages, logger: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, name, target string, dir, readOnly bool) {
		if name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
			return // not a name an FTP listing gives the bridge
		}
		e := ftppool.Entry{Name: name, Size: 42, Modified: time.Unix(1700000000, 0), Target: target}
		if dir {
			e.Type = ftppool.TypeDir
		} else if target != "" {
			e.Type = ftppool.TypeLink
		}
		entries := []ftppool.Entry{{Name: "aaaa-first"}, e, {Name: "zzzz-last"}}
		l := buildListing(siteLinks{Site: site, home: "/"}, "/pub", entries, url.Values{"sort": {"name"}, "order": {"asc"}, "hidden": {"1"}})
		l.ReadOnly = readOnly
		rec := httptest.NewRecorder()
		v.renderListing(rec, l)
		doc, err := html.Parse(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		table := find(doc, func(n *html.Node) bool { return n.Data == "table" && attr(n, "id") == "listing" })
		tbody := find(table, func(n *html.Node) bool { return n.Data == "tbody" })
		var rows []*html.Node
		for c := tbody.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode {
				rows = append(rows, c)
			}
		}
		if len(rows) != len(l.Entries) {
			t.Fatalf("%d rows for %d entries", len(rows), len(l.Entries))
		}
		for i, row := range rows {
			it := l.Entries[i]
			want := parsed(it.Name)
			if got := attr(row, "data-name"); got != want {
				t.Errorf("row %d: data-name %q, want %q", i, got, want)
			}
			link := find(row, func(n *html.Node) bool { return n.Data == "a" })
			if got := attr(link, "href"); got != it.Href || !strings.HasPrefix(got, "/") {
				t.Errorf("row %d: link %q, want %q", i, got, it.Href)
			}
			if got := text(find(link, func(n *html.Node) bool { return n.Data == "span" })); got != want {
				t.Errorf("row %d: shows %q, want %q", i, got, want)
			}
			if it.Target != "" {
				span := find(row, func(n *html.Node) bool { return attr(n, "class") == "target" })
				if got := text(span); got != "→ "+parsed(it.Target) {
					t.Errorf("row %d: target %q, want %q", i, got, "→ "+parsed(it.Target))
				}
			}
			menu := find(row, func(n *html.Node) bool { return attr(n, "class") == "more" })
			if (menu != nil) == readOnly {
				t.Errorf("row %d: has a menu %v in a read-only listing %v", i, menu != nil, readOnly)
			}
			if menu != nil && attr(menu, "href") != it.Href+"?op=actions" {
				t.Errorf("row %d: menu link %q, want %q", i, attr(menu, "href"), it.Href+"?op=actions")
			}
			walk(row, func(n *html.Node) {
				if n.Type != html.ElementNode {
					return
				}
				if !slices.Contains(rowElements, n.Data) {
					t.Errorf("row %d: a <%s> element", i, n.Data)
				}
				for _, a := range n.Attr {
					if !slices.Contains(rowAttributes, a.Key) {
						t.Errorf("row %d: <%s> has attribute %q", i, n.Data, a.Key)
					}
				}
			})
		}
	})
}

// FuzzRowEscape: the rows' escaper writes what html/template's
// HTMLEscapeString returns.
func FuzzRowEscape(f *testing.F) {
	for _, seed := range []string{"", "plain", `"><script>'&`, "\x00nul", "\xe9latin1", "&amp;"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		bw := bufio.NewWriter(&b)
		rowWriter{bw}.esc(s)
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		if want := template.HTMLEscapeString(s); b.String() != want {
			t.Errorf("esc(%q) = %q, HTMLEscapeString gives %q", s, b.String(), want)
		}
	})
}

// parsed is what an HTML parser makes of a value the page carries: line
// breaks normalised, as the parser does to all its input (NUL is written
// as U+FFFD by the escaper).
func parsed(s string) string {
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

func walk(n *html.Node, visit func(*html.Node)) {
	visit(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, visit)
	}
}

// find is the first element under n (n included) that match accepts.
func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	var found *html.Node
	walk(n, func(c *html.Node) {
		if found == nil && c.Type == html.ElementNode && match(c) {
			found = c
		}
	})
	return found
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	if n != nil {
		walk(n, func(c *html.Node) {
			if c.Type == html.TextNode {
				b.WriteString(c.Data)
			}
		})
	}
	return b.String()
}
