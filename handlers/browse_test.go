package handlers

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/share"
	"github.com/ftpbridge/ftpbridge/internal/urlpath"
	"github.com/ftpbridge/ftpbridge/templates"
)

func entries(n int) []ftppool.Entry {
	out := make([]ftppool.Entry, n)
	for i := range out {
		out[i] = ftppool.Entry{Name: fmt.Sprintf("file-%05d with <odd> & name.txt", i), Size: int64(i * 1000), Modified: time.Unix(int64(1700000000+i), 0)}
		if i%10 == 0 {
			out[i].Type, out[i].Size = ftppool.TypeDir, -1
		}
	}
	return out
}

var site = urlpath.Site{Scheme: "ftp", Host: "ftp.example.org", Port: 21}

func TestBuildListing(t *testing.T) {
	l := buildListing(siteLinks{Site: site, home: "/"}, "/pub/a b", []ftppool.Entry{
		{Name: "z.txt", Size: 5},
		{Name: "dir", Type: ftppool.TypeDir, Size: -1},
		{Name: ".dot", Size: 1},
		{Name: "A.txt", Size: 50},
	}, url.Values{"sort": {"size"}, "order": {"desc"}})
	l.makeRows()
	var names []string
	for _, e := range l.Entries {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ","); got != "dir,A.txt,z.txt,.dot" {
		t.Errorf("order = %s", got)
	}
	if l.Parent != "/ftp/ftp.example.org/pub/" || len(l.Crumbs) != 3 || l.Crumbs[2].Href != "/ftp/ftp.example.org/pub/a%20b/" || !l.Crumbs[0].Home {
		t.Errorf("parent %q crumbs %+v", l.Parent, l.Crumbs)
	}
	l.filterHidden()
	l.makeRows()
	if len(l.Entries) != 3 || l.Hidden != 1 {
		t.Errorf("after filtering: %d entries, %d hidden", len(l.Entries), l.Hidden)
	}
	if l.SortLinks.Size != "/ftp/ftp.example.org/pub/a%20b/?order=asc&sort=size" {
		t.Errorf("size header link %q should flip to ascending", l.SortLinks.Size)
	}
}

// TestListingBelowAndAboveHome: a login folder that is not the server's
// root. Links below it are relative to it, links above and beside it
// absolute (%2F), the path shown is absolute and the home crumb marked.
func TestListingBelowAndAboveHome(t *testing.T) {
	sl := siteLinks{Site: site, home: "/home/alice"}
	entries := []ftppool.Entry{{Name: "notes.txt", Size: 5}, {Name: "inbox", Type: ftppool.TypeDir, Size: -1}}
	for _, tc := range []struct {
		dir       string
		hrefs     []string // inbox, notes.txt
		crumbs    []string
		homeCrumb int
		parent    string
	}{
		{"/home/alice", []string{"/ftp/ftp.example.org/inbox/", "/ftp/ftp.example.org/notes.txt"},
			[]string{"/ftp/ftp.example.org/%2F/", "/ftp/ftp.example.org/%2Fhome/", "/ftp/ftp.example.org/"}, 2, "/ftp/ftp.example.org/%2Fhome/"},
		{"/home/alice/pub", []string{"/ftp/ftp.example.org/pub/inbox/", "/ftp/ftp.example.org/pub/notes.txt"},
			[]string{"/ftp/ftp.example.org/%2F/", "/ftp/ftp.example.org/%2Fhome/", "/ftp/ftp.example.org/", "/ftp/ftp.example.org/pub/"}, 2, "/ftp/ftp.example.org/"},
		{"/srv", []string{"/ftp/ftp.example.org/%2Fsrv/inbox/", "/ftp/ftp.example.org/%2Fsrv/notes.txt"},
			[]string{"/ftp/ftp.example.org/%2F/", "/ftp/ftp.example.org/%2Fsrv/"}, -1, "/ftp/ftp.example.org/%2F/"},
	} {
		l := buildListing(sl, tc.dir, entries, url.Values{"sort": {"name"}, "order": {"asc"}, "hidden": {"1"}})
		l.makeRows()
		if l.Path != tc.dir+"/" || l.Home != "/home/alice/" || l.Parent != tc.parent {
			t.Errorf("%s: path %q home %q parent %q", tc.dir, l.Path, l.Home, l.Parent)
		}
		for i, it := range l.Entries {
			if it.Href != tc.hrefs[i] {
				t.Errorf("%s: %s links to %q, want %q", tc.dir, it.Name, it.Href, tc.hrefs[i])
			}
		}
		if len(l.Crumbs) != len(tc.crumbs) {
			t.Fatalf("%s: crumbs %+v", tc.dir, l.Crumbs)
		}
		for i, c := range l.Crumbs {
			if c.Href != tc.crumbs[i] || c.Home != (i == tc.homeCrumb) {
				t.Errorf("%s: crumb %d = %+v, want %q (home %v)", tc.dir, i, c, tc.crumbs[i], i == tc.homeCrumb)
			}
		}
	}
}

// TestShareEntryURLs: a shared folder's entries link where shareLinks.URL
// says, whatever the share's path, the folder and the name, including a
// folder whose path only starts with the share's as text ("/pub/ab" and
// "/pub/abc").
func TestShareEntryURLs(t *testing.T) {
	names := append(testftp.OddNames(), "abc", "..", ".", "", "a/b", "%2F", "\xff")
	for _, shared := range []string{"/", "/pub", "/pub/", "/pub/ab", "//", ""} {
		sl := shareLinks{sh: &share.Share{ID: "tok", Path: shared}}
		for _, dir := range []string{"/", "/pub", "/pub/abc", "/pub/ab/c", "/srv", "", "pub", "/pub//x", "/pub/../x"} {
			for _, name := range names {
				for _, isDir := range []bool{false, true} {
					want := sl.URL(path.Join(dir, name), isDir)
					if got := sl.EntryURLs(dir)(name, isDir); got != want {
						t.Errorf("share %q, folder %q, name %q, dir %v: %q, URL gives %q", shared, dir, name, isDir, got, want)
					}
				}
			}
		}
	}
}

// TestSortEntries: sortEntries puts entries where a stable sort by the
// listing's rules does (folders first, then the column, then the name
// case aside, then the name; all but folders-first turned around when
// descending), for listings with many equal keys (names differing only in
// case, or not at all, as a hostile server may list them), each way and
// column.
func TestSortEntries(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	types := []ftppool.EntryType{ftppool.TypeDir, ftppool.TypeFile, ftppool.TypeLink}
	for range 200 {
		es := make([]ftppool.Entry, rnd.IntN(60))
		for i := range es {
			name := string(rune('a' + rnd.IntN(3)))
			if rnd.IntN(2) == 0 {
				name = strings.ToUpper(name)
			}
			es[i] = ftppool.Entry{Name: name, Type: types[rnd.IntN(3)], Size: rnd.Int64N(3), Modified: time.Unix(rnd.Int64N(3), 0)}
		}
		for _, by := range []string{"name", "size", "modified"} {
			for _, desc := range []bool{false, true} {
				want := make([]int, len(es))
				for i := range want {
					want[i] = i
				}
				slices.SortStableFunc(want, func(i, j int) int {
					a, b := es[i], es[j]
					if ad, bd := a.Type == ftppool.TypeDir, b.Type == ftppool.TypeDir; ad != bd {
						return map[bool]int{true: -1, false: 1}[ad]
					}
					n := 0
					if by == "size" && a.Type != ftppool.TypeDir { // a folder's size is not shown
						n = cmp.Compare(a.Size, b.Size)
					} else if by == "modified" {
						n = a.Modified.Compare(b.Modified)
					}
					n = cmp.Or(n, strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(a.Name, b.Name))
					if desc {
						n = -n
					}
					return n
				})
				if got := sortEntries(es, by, desc); !slices.Equal(got, want) {
					t.Fatalf("by %s, desc %v: %v, want %v", by, desc, got, want)
				}
			}
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{-1: "?", 0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 20: "3.0 MiB", 150 << 30: "150 GiB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// BenchmarkListing10k measures a 10,000-entry folder from FTP entries to
// bytes on the wire, as HTML and as JSON.
func BenchmarkListing10k(b *testing.B) {
	pages, err := templates.Parse()
	if err != nil {
		b.Fatal(err)
	}
	es := entries(10000)
	v := &views{pages: pages, logger: slog.New(slog.DiscardHandler)}
	// As browse serves the page: its first rows, or all of them (?all=1).
	for _, all := range []bool{false, true} {
		b.Run(fmt.Sprintf("html all=%t", all), func(b *testing.B) {
			for b.Loop() {
				l := buildListing(siteLinks{Site: site, home: "/"}, "/pub", es, url.Values{"sort": {"name"}, "order": {"asc"}})
				l.filterHidden()
				l.firstRows(all, "/ftp/ftp.example.org/pub/")
				v.renderListing(discardResponse{http.Header{}}, l)
			}
		})
	}
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			l := buildListing(siteLinks{Site: site, home: "/"}, "/pub", es, url.Values{"sort": {"name"}, "order": {"asc"}})
			if err := writeListingJSON(io.Discard, l); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// discardResponse is a response whose body goes nowhere.
type discardResponse struct{ h http.Header }

func (d discardResponse) Header() http.Header         { return d.h }
func (d discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d discardResponse) WriteHeader(int)             {}
