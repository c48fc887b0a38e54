package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/testftp"
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

// filterShowsOnly is a script that types name into the filter box and
// reports whether the listing then shows that one row and no other.
func filterShowsOnly(name string) string {
	return `(() => {
		const f = document.getElementById("filter");
		f.value = ` + jsString(name) + `;
		f.dispatchEvent(new Event("input"));
		const shown = Array.from(document.querySelectorAll("#listing tbody tr[data-name]")).filter((r) => !r.hidden);
		return shown.length === 1 && shown[0].dataset.name === ` + jsString(name) + `;
	})()`
}

// BenchmarkListingInteractive measures, in Chromium, the time from the
// navigation to a big folder's listing until the page is interactive: the
// document is complete, a script evaluation returns, and typing in the
// filter leaves just the row typed. The figure is ms-to-interactive.
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
				ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](filterShowsOnly(target)))
				if err != nil {
					b.Fatal(err)
				}
				if !ok {
					b.Fatalf("the filter for %s did not leave just its row", target)
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
	srv, b := startFTP(t, embedftp.Options{})
	bt := &browserTest{b: b, srv: srv, problems: &pageProblems{notify: make(chan struct{}, 1)}}
	tab := startBrowser(t, browserTimeout, bt.problems)
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
