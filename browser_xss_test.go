package main

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
)

// TestBrowserHostileNamesAreInert, in a real Chromium: a listing whose
// names are markup, script and a right-to-left override shows them as
// text: no dialog opens, no script error or CSP violation happens, and
// every name is a row's exact text.
func TestBrowserHostileNamesAreInert(t *testing.T) {
	names := []string{
		`"><img src=x onerror=alert(1)>`,
		`</script><svg onload=alert(2)>`,
		`javascript:alert(3)`,
		"\u202Egnp.exe",
		`{{.Name}} ${alert(4)}`,
	}
	srv := fakeftp.Start(t)
	for _, n := range names {
		srv.List = append(srv.List, "-rw-r--r-- 1 ftp ftp 5 Jan 01 2026 "+n)
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	site := addrURL(b, "ftp", "", srv.Addr(), "/", true)
	if resp, _ := get(t, nil, site, "Accept", "text/html"); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("the listing page's CSP is %q", resp.Header.Get("Content-Security-Policy"))
	}

	problems := &pageProblems{notify: make(chan struct{}, 1)}
	tab := startBrowser(t, browserTimeout, problems)
	ctx := browserStep(t, tab)
	var dialogs atomic.Int32
	if err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			// Close it, or the page would wait for ever.
			go chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(site), chromedp.WaitVisible(chromedp.ID("listing"))); err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#listing tbody tr td.name a span")).map((s) => s.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !slices.Contains(shown, n) {
			t.Errorf("name %q is not shown as text; rows: %q", n, shown)
		}
	}
	// Clicking a row whose name is a javascript: URL goes to the bridge.
	if err := chromedp.Do(ctx, chromedp.Click(rowLink(`javascript:alert(3)`))); err != nil {
		t.Fatal(err)
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d script dialogs opened", n)
	}
	for _, p := range problems.take() {
		// The click downloads through the fake server, which may refuse:
		// a failed load is not a script running.
		if !strings.Contains(p, "Failed to load resource") {
			t.Error(p)
		}
	}
}
