package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/net/html"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// makeBigFolder puts a folder of n empty files, f000000 to f(n-1), under
// the server's root.
func makeBigFolder(tb testing.TB, root, name string, n int) {
	tb.Helper()
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		f, err := os.Create(filepath.Join(dir, bigName(i)))
		if err != nil {
			tb.Fatal(err)
		}
		f.Close()
	}
}

func bigName(i int) string { return fmt.Sprintf("f%06d", i) }

// typeFilter is a script that types name into the filter box.
func typeFilter(name string) string {
	return `(() => {
		const f = document.getElementById("filter");
		f.value = ` + jsString(name) + `;
		f.dispatchEvent(new Event("input"));
	})()`
}

// showsOnly is a script that reports whether the listing shows the row of
// name and no other.
func showsOnly(name string) string {
	return `(() => {
		const shown = Array.from(document.querySelectorAll("#listing tbody tr[data-name]")).filter((r) => !r.hidden);
		return shown.length === 1 && shown[0].dataset.name === ` + jsString(name) + `;
	})()`
}

// BenchmarkListingInteractive measures, in Chromium, the time from the
// navigation to a big folder's listing until the page is interactive: the
// document is complete, a script evaluation (typing in the filter) returns,
// and the listing shows just the row typed, one of the last third, which
// is not in the page's first rows. The figure is ms-to-interactive.
//
//	go test -run '^$' -bench BenchmarkListingInteractive -benchtime 3x .
func BenchmarkListingInteractive(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			root := b.TempDir()
			name := fmt.Sprintf("big%dk", n/1000)
			makeBigFolder(b, root, name, n)
			srv, br := startFTP(b, embedftp.Options{Root: root})
			url := siteURL(br, "ftp", testftp.User, srv, "/"+name+"/", true)
			tab := startBrowser(b, 10*time.Minute, &pageProblems{notify: make(chan struct{}, 1)})
			// Log in with the form; this also warms up the FTP connection
			// and the static files.
			_, port, _ := net.SplitHostPort(srv.Addr())
			if err := chromedp.Do(tab,
				chromedp.Navigate(br.URL+"/"),
				chromedp.SetValue(chromedp.ID("scheme"), "ftp"),
				chromedp.SendKeys(chromedp.ID("host"), "127.0.0.1"),
				chromedp.SendKeys(chromedp.ID("port"), port),
				chromedp.SendKeys(chromedp.ID("user"), testftp.User),
				chromedp.SendKeys(chromedp.ID("password"), testftp.Password),
				chromedp.Click(chromedp.ID("connect")),
				chromedp.WaitVisible(chromedp.ID("listing")),
			); err != nil {
				b.Fatal(err)
			}
			target := bigName(n * 2 / 3)
			b.ResetTimer()
			var total time.Duration
			for range b.N {
				start := time.Now()
				if err := chromedp.Do(tab,
					chromedp.Navigate(url),
					chromedp.Poll[chromedp.Void](`document.readyState === "complete"`, chromedp.WithPollingTimeout(0)),
				); err != nil {
					b.Fatal(err)
				}
				// A page that takes over the filter only once it has all
				// the entries shows the row when it has them.
				if err := chromedp.Do(tab,
					chromedp.Evaluate[chromedp.Void](typeFilter(target)),
					chromedp.Poll[chromedp.Void](showsOnly(target), chromedp.WithPollingTimeout(0)),
				); err != nil {
					b.Fatalf("filtering for %s: %v", target, err)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-interactive")
		})
	}
}

// sortedAsServer is a script that reports whether the listing's rows are in
// the order the server gives the page's current address, and how many rows
// it compared.
const sortedAsServer = `(async () => {
	const res = await fetch(location.href, { headers: { Accept: "text/html" } });
	const doc = new DOMParser().parseFromString(await res.text(), "text/html");
	const names = (root) => Array.from(root.querySelectorAll("#listing tbody tr[data-name]"), (r) => r.dataset.name);
	const server = names(doc);
	const page = names(document);
	return { same: JSON.stringify(server) === JSON.stringify(page), rows: page.length };
})()`

// TestBrowserSortInPage: a column header sorts the rows in the page, in the
// order the server gives the address the page then shows, without loading
// a page; the header says which way it sorts.
func TestBrowserSortInPage(t *testing.T) {
	bt, tab := newBrowserTest(t, embedftp.Options{})
	t.Run("connect", func(t *testing.T) { bt.connect(t, browserStep(t, tab)) })

	for _, step := range []struct {
		header, wantSort, wantQuery string
	}{
		{"th.name a", "descending", "order=desc&sort=name"},
		{"th.size a", "ascending", "order=asc&sort=size"},
		{"th.size a", "descending", "order=desc&sort=size"},
		{"th.date a", "ascending", "order=asc&sort=modified"},
	} {
		t.Run(step.header+" "+step.wantSort, func(t *testing.T) {
			ctx := browserStep(t, tab)
			if err := chromedp.Do(ctx,
				chromedp.Evaluate[chromedp.Void](`window.samePage = true`),
				chromedp.Click(chromedp.CSS("#listing thead "+step.header)),
			); err != nil {
				t.Fatal(err)
			}
			state, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
				same: window.samePage === true,
				search: location.search,
				sort: document.querySelector("#listing thead `+step.header+`").getAttribute("aria-sort"),
				others: document.querySelectorAll("#listing thead a[aria-sort]").length,
			})`))
			if err != nil {
				t.Fatal(err)
			}
			if state["same"] != true {
				t.Errorf("sorting loaded a new page")
			}
			if state["search"] != "?"+step.wantQuery {
				t.Errorf("the address's query is %v, want ?%s", state["search"], step.wantQuery)
			}
			if state["sort"] != step.wantSort || state["others"] != float64(1) {
				t.Errorf("the header says aria-sort=%v (%v headers sorted), want %s on it only", state["sort"], state["others"], step.wantSort)
			}
			cmp, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](sortedAsServer, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatal(err)
			}
			if cmp["same"] != true || cmp["rows"].(float64) < 3 {
				t.Errorf("the rows are not in the server's order for %s (%v rows)", step.wantQuery, cmp["rows"])
			}
		})
	}
	t.Run("no script errors or CSP violations", func(t *testing.T) { bt.checkProblems(t, browserStep(t, tab)) })
}

// TestBigFolderPage: a folder of more entries than a page holds is, without
// JavaScript, a page of the first 500 rows that links to the page with all
// of them, in the same order.
func TestBigFolderPage(t *testing.T) {
	root := t.TempDir()
	makeBigFolder(t, root, "big", 1200)
	srv, b := startFTP(t, embedftp.Options{Root: root})
	u := addrURL(b, "ftp", "", srv.Addr(), "/big/", true) // anonymous
	rows := func(doc *html.Node) []string {
		var names []string
		for _, tr := range findNodes(doc, func(n *html.Node) bool { return n.Data == "tr" && attrOf(n, "data-name") != "" }) {
			names = append(names, attrOf(tr, "data-name"))
		}
		return names
	}
	page := func(u string) *html.Node {
		t.Helper()
		resp, body := get(t, nil, u, "Accept", "text/html")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", u, resp.StatusCode, body)
		}
		doc, err := html.Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	doc := page(u + "?sort=name&order=desc")
	first := rows(doc)
	if len(first) != 500 || first[0] != bigName(1199) || first[499] != bigName(700) {
		t.Fatalf("the page has %d rows from %q, want the first 500 from %s", len(first), first[:min(1, len(first))], bigName(1199))
	}
	if total := attrOf(findNode(doc, hasAttr("id", "listing")), "data-total"); total != "1200" {
		t.Errorf("the table's data-total is %q, want 1200", total)
	}
	all := findNode(doc, hasAttr("id", "all-rows"))
	if all == nil {
		t.Fatal("no link to the page with all the rows")
	}
	// The page's script takes the entries the page was made from, once,
	// without the folder being listed again.
	token := attrOf(findNode(doc, hasAttr("id", "listing")), "data-listing")
	lists := func() int {
		return len(slices.DeleteFunc(srv.Commands(), func(c string) bool { return !strings.HasPrefix(c, "MLSD") && !strings.HasPrefix(c, "LIST") }))
	}
	for i, wantLists := range []int{0, 1} { // the second time, the token is spent
		before := lists()
		resp, body := get(t, nil, u+"?sort=name&order=desc&format=json&listing="+url.QueryEscape(token))
		var l struct {
			Entries []struct{ Name string } `json:"entries"`
		}
		if err := json.Unmarshal(body, &l); resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("JSON with the page's token: %d %v", resp.StatusCode, err)
		}
		if len(l.Entries) != 1200 || l.Entries[0].Name != bigName(1199) {
			t.Errorf("JSON with the page's token: %d entries, want 1200 from %s", len(l.Entries), bigName(1199))
		}
		if got := lists() - before; got != wantLists {
			t.Errorf("request %d with the page's token listed the folder %d times, want %d", i+1, got, wantLists)
		}
	}
	allRows := rows(page(b.URL + attrOf(all, "href")))
	if len(allRows) != 1200 || allRows[0] != bigName(1199) || allRows[1199] != bigName(0) {
		t.Errorf("the page with all rows has %d, from %q, want 1200 in the same order", len(allRows), allRows[:min(1, len(allRows))])
	}
}

// TestBrowserBigFolder: in Chromium, a big folder's page shows the whole
// folder a window of rows at a time: the filter, the sort and the scroll
// reach entries beyond the page's first rows, rows are built as the server
// writes them, and their menus work.
func TestBrowserBigFolder(t *testing.T) {
	root := t.TempDir()
	makeBigFolder(t, root, "big", 3000)
	bt, tab := newBrowserTest(t, embedftp.Options{Root: root})
	t.Run("connect", func(t *testing.T) { bt.connect(t, browserStep(t, tab)) })
	const built = `document.querySelectorAll("#listing tbody tr[data-name]").length`
	const firstRow = `document.querySelector("#listing tbody tr[data-name]").dataset.name`

	t.Run("windowed", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/big/")),
			chromedp.Poll[chromedp.Void](`document.getElementById("listing").classList.contains("windowed")`),
		); err != nil {
			t.Fatal(err)
		}
		state, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({ built: `+built+`, first: `+firstRow+`,
			moreHidden: document.getElementById("more-rows").hidden })`))
		if err != nil {
			t.Fatal(err)
		}
		if n := state["built"].(float64); n < 10 || n > 300 {
			t.Errorf("%v rows built for 3000 entries, want a window of them", n)
		}
		if state["first"] != bigName(0) || state["moreHidden"] != true {
			t.Errorf("first row %v, the \"Show all\" note hidden %v; want %s, true", state["first"], state["moreHidden"], bigName(0))
		}
	})

	t.Run("rows as the server writes them", func(t *testing.T) {
		ctx := browserStep(t, tab)
		same, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
			const res = await fetch(location.href, { headers: { Accept: "text/html" } });
			const doc = new DOMParser().parseFromString(await res.text(), "text/html");
			// The page takes rows out of the Tab order (roving focus, listing.js).
			const norm = (tr) => tr.innerHTML.replace(/ tabindex="-1"/g, "").replace(/>\s+</g, "><").trim();
			const name = `+jsString(bigName(10))+`;
			const server = doc.querySelector('#listing tr[data-name="' + name + '"]');
			const page = document.querySelector('#listing tr[data-name="' + name + '"]');
			if (!server || !page) return "missing row: server " + !!server + ", page " + !!page;
			// The page adds its own checkbox cell to the rows it shows
			// (select.js); the rows themselves are the server's.
			const mine = page.cloneNode(true);
			mine.querySelector(":scope > td.sel").remove();
			// The page shows times in the browser's zone (times.js, beside
			// the entry module); the server's row gets the same.
			const times = await import(new URL("times.js", document.querySelector("script[type=module]").src));
			times.localTimes(server);
			return norm(server) === norm(mine) && server.className === mine.className ? "" : norm(server) + "\n" + norm(mine);
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if same != "" {
			t.Errorf("the page's row differs from the server's:\n%s", same)
		}
	})

	t.Run("filter beyond the first rows", func(t *testing.T) {
		ctx := browserStep(t, tab)
		name := bigName(2999)
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](typeFilter(name))); err != nil {
			t.Fatal(err)
		}
		if only, err := chromedp.Run(ctx, chromedp.Evaluate[bool](showsOnly(name))); err != nil || !only {
			t.Errorf("the filter for %s does not show just its row (%v)", name, err)
		}
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](typeFilter("no such entry"))); err != nil {
			t.Fatal(err)
		}
		if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("no-match").hidden && `+built+` === 0`)); err != nil || !shown {
			t.Errorf("a filter matching nothing leaves rows or no note (%v)", err)
		}
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](typeFilter(""))); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("sort and scroll", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`window.samePage = true`),
			chromedp.Click(chromedp.CSS("#listing thead th.name a")),
		); err != nil {
			t.Fatal(err)
		}
		state, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({ same: window.samePage === true, first: `+firstRow+`, built: `+built+` })`))
		if err != nil {
			t.Fatal(err)
		}
		if state["same"] != true || state["first"] != bigName(2999) || state["built"].(float64) > 300 {
			t.Errorf("after sorting by name, descending: same page %v, first row %v, %v rows built; want true, %s, a window", state["same"], state["first"], state["built"], bigName(2999))
		}
		// The last entry is at the bottom of the page's full height.
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.documentElement.scrollHeight)`),
			chromedp.Poll[chromedp.Void](`!!document.querySelector('#listing tr[data-name="`+bigName(0)+`"]')`),
		); err != nil {
			t.Errorf("scrolled to the bottom, the row of %s: %v", bigName(0), err)
		}
	})

	t.Run("row menu", func(t *testing.T) {
		ctx := browserStep(t, tab)
		name := bigName(5)
		if err := chromedp.Do(ctx,
			chromedp.ScrollIntoView(rowSel(name, "td.act a.more")),
			chromedp.Click(rowSel(name, "td.act a.more")),
			chromedp.WaitVisible(rowSel(name, "#row-menu form.rename input[name=to]")),
		); err != nil {
			t.Fatalf("opening the menu of %s: %v", name, err)
		}
		if v, err := chromedp.Run(ctx, chromedp.Value(rowSel(name, "form.rename input[name=to]"))); err != nil || v != name {
			t.Errorf("the rename field holds %q (%v), want %q", v, err, name)
		}
		// A rename reloads the entries and shows the row under its new name.
		to := rowSel(name, "form.rename input[name=to]")
		if err := chromedp.Do(ctx,
			chromedp.Clear(to),
			chromedp.SendKeys(to, "renamed in a big folder"),
			chromedp.Click(rowSel(name, "form.rename button")),
			chromedp.Poll[chromedp.Void](`!!document.querySelector('#listing tr[data-name="renamed in a big folder"]') && !document.querySelector('#listing tr[data-name="`+name+`"]')`),
		); err != nil {
			t.Fatalf("renaming %s in the big folder: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(root, "big", "renamed in a big folder")); err != nil {
			t.Errorf("the rename did not reach the FTP server: %v", err)
		}
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[float64](built)); err != nil || n > 300 {
			t.Errorf("%v rows built after the rename (%v), want a window", n, err)
		}
	})

	t.Run("no script errors or CSP violations", func(t *testing.T) { bt.checkProblems(t, browserStep(t, tab)) })
}

// TestBigSharedFolder: a big shared folder's page, too, holds the first
// rows, links to all of them, and hands its entries to its script.
func TestBigSharedFolder(t *testing.T) {
	root := t.TempDir()
	makeBigFolder(t, root, "big", 600)
	srv, b := startFTP(t, embedftp.Options{Root: root})
	a := makeShare(t, aliceClient(), siteURL(b, "ftp", testftp.User, srv, "/big/", true), nil)
	resp, body := get(t, nil, a.URL, "Accept", "text/html")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the share's page: %d %s", resp.StatusCode, body)
	}
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	table := findNode(doc, hasAttr("id", "listing"))
	rows := findNodes(doc, func(n *html.Node) bool { return n.Data == "tr" && attrOf(n, "data-name") != "" })
	if len(rows) != 500 || attrOf(table, "data-total") != "600" || findNode(doc, hasAttr("id", "all-rows")) == nil {
		t.Errorf("the share's page: %d rows, data-total %q, a link to all: %v; want 500, 600, true",
			len(rows), attrOf(table, "data-total"), findNode(doc, hasAttr("id", "all-rows")) != nil)
	}
	all := attrOf(findNode(doc, hasAttr("id", "all-rows")), "href")
	if !strings.HasPrefix(all, "/s/"+a.ID+"/") {
		t.Errorf("the link to all rows, %q, leaves the share", all)
	}
	lists := func() int {
		return len(slices.DeleteFunc(srv.Commands(), func(c string) bool { return !strings.HasPrefix(c, "MLSD") && !strings.HasPrefix(c, "LIST") }))
	}
	before := lists()
	l := listJSON(t, nil, a.URL+"?listing="+url.QueryEscape(attrOf(table, "data-listing")))
	if len(l.Entries) != 600 {
		t.Errorf("the share's JSON with the page's token: %d entries, want 600", len(l.Entries))
	}
	if n := lists() - before; n != 0 {
		t.Errorf("the share's JSON with the page's token listed the folder %d times, want 0", n)
	}
}
