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
