package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

const (
	// browserTimeout bounds the whole browser test, so that a hung page or
	// a download that never completes fails the test instead of blocking it.
	browserTimeout = 60 * time.Second
	// browserStepTimeout bounds each step, so that a failure names the step
	// that hung rather than ending in the whole test's deadline.
	browserStepTimeout = 20 * time.Second
)

// TestBrowser drives a real Chromium through the bridge the way a person
// would: connect with the form, click through folders, filter, and download
// by clicking links. The HTTP tests cannot see what only a browser does:
// the script modules running under the page CSP, the form's redirect and
// cookie, and Content-Disposition turning a click into a saved file.
func TestBrowser(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	bt := &browserTest{b: b, srv: srv, problems: &pageProblems{notify: make(chan struct{}, 1)}}

	ctx := startBrowser(t, browserTimeout, bt.problems)

	// The steps share the tab and each starts on the page the previous one
	// left, so the first failure ends the chain.
	for _, step := range []struct {
		name string
		run  func(*testing.T, context.Context)
	}{
		{"connect", bt.connect},
		{"browse", bt.browse},
		{"filter", bt.filter},
		{"download", bt.download},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, browserStep(t, ctx)) }) {
			break
		}
	}
	// Always run: script errors often explain why a step above failed.
	t.Run("no script errors or CSP violations", func(t *testing.T) {
		bt.checkProblems(t, browserStep(t, ctx))
	})
}

// browserTest is the state the steps of TestBrowser share.
type browserTest struct {
	b        *bridge
	srv      *testftp.Server
	problems *pageProblems
}

// listingURL is the bridge URL of a folder, as the logged-in user sees it.
func (bt *browserTest) listingURL(dir string) string {
	return siteURL(bt.b, "ftp", testftp.User, bt.srv, dir, true)
}

// connect logs in with the home page's form and lands on the site root.
func (bt *browserTest) connect(t *testing.T, ctx context.Context) {
	_, port, err := net.SplitHostPort(bt.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(bt.b.URL+"/"),
		chromedp.SetValue(chromedp.ID("scheme"), "ftp"),
		chromedp.SendKeys(chromedp.ID("host"), "127.0.0.1"),
		chromedp.SendKeys(chromedp.ID("port"), port),
		chromedp.SendKeys(chromedp.ID("user"), testftp.User),
		chromedp.SendKeys(chromedp.ID("password"), testftp.Password),
		// The script warns once plain FTP and a password are both chosen.
		chromedp.WaitVisible(chromedp.ID("plain-warning")),
	); err != nil {
		t.Fatalf("filling the connect form: %v", err)
	}
	clickAndLoad(t, ctx, chromedp.ID("connect"), bt.listingURL("/"))
	requireRows(t, ctx, "sub", "big.bin")
}

// browse follows folder links two levels down and checks the breadcrumbs.
func (bt *browserTest) browse(t *testing.T, ctx context.Context) {
	clickAndLoad(t, ctx, rowLink("sub"), bt.listingURL("/sub/"))
	requireRows(t, ctx, "deeper")
	clickAndLoad(t, ctx, rowLink("deeper"), bt.listingURL("/sub/deeper/"))
	requireRows(t, ctx, "leaf.txt")

	crumbs, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("nav.crumbs")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(crumbs, "sub") {
		t.Errorf("breadcrumbs %q do not name the folder sub", crumbs)
	}
	links, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll("nav.crumbs a")))
	if err != nil {
		t.Fatal(err)
	}
	var hrefs []string
	for _, a := range links {
		hrefs = append(hrefs, bt.b.URL+a["href"])
	}
	if !slices.Contains(hrefs, bt.listingURL("/sub/")) {
		t.Errorf("breadcrumb links %q lack %s", hrefs, bt.listingURL("/sub/"))
	}
}

// filter types into the filter box (static/js/listing.js) on the
// /sub/deeper/ listing.
func (bt *browserTest) filter(t *testing.T, ctx context.Context) {
	leaf := chromedp.CSS(`#listing tr[data-name="leaf.txt"]`)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("filter"), "matches-nothing-zz"),
		chromedp.WaitVisible(chromedp.ID("no-match")),
		chromedp.WaitNotVisible(leaf),
	); err != nil {
		t.Fatalf("filtering out every row: %v", err)
	}
	// Escape clears the box (listing.js binds it, as Chrome does for search
	// inputs) and fires the input event that shows every row again.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("filter"), kb.Escape),
		chromedp.WaitNotVisible(chromedp.ID("no-match")),
		chromedp.WaitVisible(leaf),
	); err != nil {
		t.Fatalf("clearing the filter: %v", err)
	}
}

// download saves files by clicking their links and compares the saved bytes
// with the fixture.
func (bt *browserTest) download(t *testing.T, ctx context.Context) {
	saved := watchDownloads(t, ctx)

	// Two files by their rows' links (a text file through the viewer its
	// link opens, static/js/preview.js), and a folder by its zip button.
	type download struct {
		folder string       // the listing page to start on
		click  chromedp.CSS // what starts the download
		then   chromedp.CSS // and then, if set
		url    string       // where the download comes from
		name   string       // the file name the browser suggests
		check  func(t *testing.T, got []byte)
	}
	var downloads []download
	for _, ftpPath := range []string{"/sub/deeper/leaf.txt", "/big.bin"} {
		folder, name := path.Split(ftpPath)
		var then chromedp.CSS
		if kindOfPreview(name) {
			then = chromedp.CSS("#viewer-download")
		}
		downloads = append(downloads, download{folder, rowLink(name), then, siteURL(bt.b, "ftp", testftp.User, bt.srv, ftpPath, false), name, func(t *testing.T, got []byte) {
			if want := bt.srv.Files[ftpPath]; !bytes.Equal(got, want) {
				t.Errorf("saved %s: %d bytes, want %d, identical=%v", name, len(got), len(want), bytes.Equal(got, want))
			}
		}})
	}
	downloads = append(downloads, download{"/sub/", chromedp.CSS("#zip"), "", bt.listingURL("/sub/") + "?format=zip", "sub.zip", func(t *testing.T, got []byte) {
		zr, err := zip.NewReader(bytes.NewReader(got), int64(len(got)))
		if err != nil {
			t.Fatalf("the saved zip does not open: %v", err)
		}
		files, _ := zipFiles(t, zr)
		if want := bt.srv.Files["/sub/deeper/leaf.txt"]; !bytes.Equal(files["sub/deeper/leaf.txt"], want) {
			t.Errorf("sub/deeper/leaf.txt in the zip: %q, want %q", files["sub/deeper/leaf.txt"], want)
		}
	}})

	for _, dl := range downloads {
		t.Run(dl.name, func(t *testing.T) {
			ctx := browserStep(t, ctx)
			if err := chromedp.Do(ctx,
				chromedp.Navigate(bt.listingURL(dl.folder)),
				chromedp.Click(dl.click),
			); err != nil {
				t.Fatalf("clicking for %s: %v", dl.name, err)
			}
			if dl.then != "" {
				if err := chromedp.Do(ctx, chromedp.Click(dl.then)); err != nil {
					t.Fatalf("clicking %s for %s: %v", dl.then, dl.name, err)
				}
			}
			begin, got := saved.next(t, ctx, dl.name)
			if begin.URL != dl.url || begin.SuggestedFilename != dl.name {
				t.Errorf("download began as %+v, want URL %s and file name %s", begin, dl.url, dl.name)
			}
			dl.check(t, got)
		})
	}
}

// savedDownloads follows the downloads of a browser context: each is
// saved under its GUID, which the events carry, so the test knows the
// file's name without guessing.
type savedDownloads struct {
	dir      string
	mu       sync.Mutex
	begun    map[string]*browser.EventDownloadWillBegin // by GUID
	finished chan *browser.EventDownloadProgress
}

// watchDownloads lets the tab's browser context download into a folder of
// the test's, and listens to the download events until ctx ends.
func watchDownloads(t *testing.T, ctx context.Context) *savedDownloads {
	t.Helper()
	d := &savedDownloads{dir: t.TempDir(), begun: map[string]*browser.EventDownloadWillBegin{}, finished: make(chan *browser.EventDownloadProgress, 16)}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorAllowAndName,
		BrowserContextID: chromedp.FromContext(ctx).BrowserContextID, // "" is the default context
		DownloadPath:     d.dir,
		EventsEnabled:    new(true),
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.ListenBrowser(ctx, func(ev any) {
		// This runs in the browser's message loop: record and return.
		switch ev := ev.(type) {
		case *browser.EventDownloadWillBegin:
			d.mu.Lock()
			d.begun[ev.GUID] = ev
			d.mu.Unlock()
		case *browser.EventDownloadProgress:
			if ev.State == browser.DownloadProgressStateInProgress {
				return
			}
			// Never block the loop; the buffer holds far more final
			// events than a test's downloads produce.
			select {
			case d.finished <- ev:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return d
}

// next waits for the next download to end, requires that it completed, and
// returns how it began and the saved bytes.
func (d *savedDownloads) next(t *testing.T, ctx context.Context, what string) (*browser.EventDownloadWillBegin, []byte) {
	t.Helper()
	var ev *browser.EventDownloadProgress
	select {
	case ev = <-d.finished:
	case <-ctx.Done():
		t.Fatalf("the download of %s did not finish: %v", what, ctx.Err())
	}
	if ev.State != browser.DownloadProgressStateCompleted {
		t.Fatalf("the download of %s ended %s after %.0f bytes", what, ev.State, ev.ReceivedBytes)
	}
	d.mu.Lock()
	begin := d.begun[ev.GUID]
	d.mu.Unlock()
	if begin == nil {
		t.Fatalf("the download of %s (%s) finished without beginning", what, ev.GUID)
	}
	got, err := os.ReadFile(filepath.Join(d.dir, ev.GUID))
	if err != nil {
		t.Fatal(err)
	}
	return begin, got
}

// checkProblems fails on every script error or CSP violation the pages
// reported, then proves that such reports do reach the test.
func (bt *browserTest) checkProblems(t *testing.T, ctx context.Context) {
	for _, p := range bt.problems.take() {
		t.Error(p)
	}
	// A listener that never fires would pass the check above vacuously, so
	// provoke one uncaught exception and one CSP violation (an inline
	// script) and require both to be seen.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`
		setTimeout(() => { throw new Error("browser test canary"); });
		const s = document.createElement("script");
		s.textContent = "void 0";
		document.head.append(s);`)); err != nil {
		t.Fatal(err)
	}
	var seen []string
	reported := func(sub string) bool {
		return slices.ContainsFunc(seen, func(m string) bool { return strings.Contains(m, sub) })
	}
	for !reported("browser test canary") || !reported("Content Security Policy") {
		select {
		case <-bt.problems.notify:
			seen = append(seen, bt.problems.take()...)
		case <-ctx.Done():
			t.Fatalf("the provoked exception and CSP violation were not both reported; saw %q", seen)
		}
	}
}

// newBrowserTest starts the embedded FTP server with o, a bridge that may
// reach it, and Chromium, whose tab it returns.
func newBrowserTest(t *testing.T, o embedftp.Options) (*browserTest, context.Context) {
	t.Helper()
	srv, b := startFTP(t, o)
	bt := &browserTest{b: b, srv: srv, problems: &pageProblems{notify: make(chan struct{}, 1)}}
	return bt, startBrowser(t, browserTimeout, bt.problems)
}

// startBrowser starts a headless Chromium and opens a tab whose script
// errors and CSP violations go to problems. The browser ends with the test
// (before the bridge, whose cleanup was registered earlier, so downloads
// and sockets end first) or when timeout runs out, so that a hung page
// fails the test instead of blocking it.
func startBrowser(t testing.TB, timeout time.Duration, problems *pageProblems) context.Context {
	t.Helper()
	chromium := chromiumPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // the tests may run as root
		chromedp.Flag("disable-gpu", true),
		// The browser talks to the bridge only: no QUIC, no updates, no
		// sync, no background fetches from the outside world.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	// The listener is installed before the tab's first command, so that it
	// sees every event of every page the tab loads.
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(problems.listen))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancel()
	})
	// Starts the browser and opens the tab. chromedp enables the log domain
	// on every tab already; enabling it here states that the CSP check
	// depends on it.
	if _, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return tab
}

// chromiumPath returns Debian's Chromium, or skips (fails under
// FTPBRIDGE_REQUIRE_REAL=1) when it is not installed.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err != nil {
		realftp.SkipOrFail(t, "browser tests need Chromium: apt-get install chromium (%v)", err)
	}
	return debian
}

// browserStep bounds one step of TestBrowser and ends with it. Deriving it
// from the tab's context limits the step only: the browser stays up.
func browserStep(t *testing.T, parent context.Context) context.Context {
	ctx, cancel := context.WithTimeout(parent, browserStepTimeout)
	t.Cleanup(cancel)
	return ctx
}

// rowLink selects the link in the listing row for name.
func rowLink(name string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`#listing tr[data-name=%q] td.name a`, name))
}

// clickAndLoad clicks sel, waits for the page it leads to, and requires that
// page to be wantURL, served with 200 once redirects are followed.
func clickAndLoad[S chromedp.Selectable](t *testing.T, ctx context.Context, sel S, wantURL string) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
	if err != nil {
		t.Fatalf("clicking %v: %v", sel, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || loc != wantURL {
		t.Fatalf("clicking %v led to %s with status %d, want %s with 200", sel, loc, resp.Status, wantURL)
	}
}

// requireRows requires the listing on the page to have a row for each name.
func requireRows(t *testing.T, ctx context.Context, names ...string) {
	t.Helper()
	rows, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll("#listing tbody tr[data-name]")))
	if err != nil {
		t.Fatalf("reading the listing: %v", err)
	}
	var have []string
	for _, r := range rows {
		have = append(have, r["data-name"])
	}
	for _, n := range names {
		if !slices.Contains(have, n) {
			t.Errorf("the listing has no row %q; rows: %q", n, have)
		}
	}
}

// pageProblems collects what pages report as broken: uncaught exceptions,
// console.error calls, and browser log errors, CSP violations among them.
type pageProblems struct {
	mu     sync.Mutex
	found  []string
	notify chan struct{} // signalled, without blocking, on each new problem
}

// listen runs in the tab's message loop, so it only records.
func (p *pageProblems) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *cdpruntime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, d.Text)
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
	case *cdpruntime.EventConsoleAPICalled:
		if ev.Type != cdpruntime.ConsoleAPICalledTypeError && ev.Type != cdpruntime.ConsoleAPICalledTypeAssert {
			return
		}
		msg = "console." + string(ev.Type) + ":"
		for _, a := range ev.Args {
			msg += " " + string(a.Value) + a.Description
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		// CSP reports arrive as log entries; match the text as well as the
		// level, so that a report logged as a warning still counts.
		if e.Level != cdplog.EntryLevelError && !strings.Contains(e.Text, "Content Security Policy") {
			return
		}
		msg = fmt.Sprintf("browser log %s/%s at %s: %s", e.Source, e.Level, e.URL, e.Text)
	default:
		return
	}
	p.mu.Lock()
	p.found = append(p.found, msg)
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// take returns the problems found since the last call.
func (p *pageProblems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	found := p.found
	p.found = nil
	return found
}
