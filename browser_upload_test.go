package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

const (
	// uploadTestTimeout bounds the whole upload test: a page that never
	// finishes an upload fails it instead of hanging it.
	uploadTestTimeout = 90 * time.Second
	// uploadSize is large enough that the bridge reports progress before
	// the end (events come at most ~4 a second), small enough to be quick.
	uploadSize = 48 << 20
	// pollEvery is how often the page is checked while waiting.
	pollEvery = 50 * time.Millisecond
)

// TestBrowserUpload drives uploads and file operations through the listing
// page in a real Chromium: the script sends the file, the transfers panel
// shows the server's progress events from /ws, and the refreshed listing
// shows the result. The FTP server's disk is the judge of what happened.
func TestBrowserUpload(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	ut := &uploadTest{browserTest: &browserTest{b: b, srv: srv, problems: &pageProblems{notify: make(chan struct{}, 1)}}}

	ctx := startBrowser(t, uploadTestTimeout, ut.problems)
	ut.tab = ctx
	// Every question is the page's own dialog: the browser's confirm(),
	// alert() and prompt() must never open. One that does is counted and
	// dismissed (the page would wait for ever), and the steps fail on it.
	if err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			ut.nativeDialogs.Add(1)
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}); err != nil {
		t.Fatal(err)
	}

	// A user login, so that the browser has a session and with it the /ws
	// transfer events. The steps share the tab; the first failure ends
	// the chain.
	for _, step := range []struct {
		name string
		run  func(*testing.T, context.Context)
	}{
		{"connect", ut.connect},
		{"upload", ut.upload},
		{"a clash waits while the other files upload", ut.clash},
		{"delete asks in the page's dialog", ut.deleteFile},
		{"new folder, rename, delete", ut.folderOps},
	} {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, browserStep(t, ctx)) }) {
			break
		}
	}
	t.Run("no script errors or CSP violations", func(t *testing.T) {
		ut.checkProblems(t, browserStep(t, ctx))
	})
}

// uploadTest is the state the steps of TestBrowserUpload share.
type uploadTest struct {
	*browserTest
	tab           context.Context // the tab's own context, to look at the page after a step timed out
	nativeDialogs atomic.Int32    // confirm(), alert() or prompt() dialogs that opened
}

// upload sends a file with the page's file picker, follows its progress bar
// to 100%, and checks the file on the FTP server and through the bridge.
func (ut *uploadTest) upload(t *testing.T, ctx context.Context) {
	const dir, name = "/sub/", "big upload #1.bin"
	ftpPath := dir + name
	data := make([]byte, uploadSize)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(ut.listingURL(dir)),
		chromedp.WaitReady(chromedp.ID("upload-files")),
	); err != nil {
		t.Fatalf("opening %s: %v", dir, err)
	}
	// Record every value the file's bar takes, to tell in the log whether
	// progress was seen on the way (it depends on the machine's speed, so
	// it is not a condition of the test).
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`
		window.barValues = [];
		new MutationObserver(() => {
			for (const li of document.querySelectorAll("#transfer-list li")) {
				if (li.dataset.path !== `+jsString(ftpPath)+`) continue;
				const bar = li.querySelector("progress");
				const v = bar.hasAttribute("value") ? bar.value : "waiting";
				if (window.barValues[window.barValues.length - 1] !== v) window.barValues.push(v);
			}
		}).observe(document.body, {subtree: true, attributes: true, childList: true});`),
		chromedp.SetUploadFiles(chromedp.ID("upload-files"), []string{src}),
	); err != nil {
		t.Fatalf("choosing %s in the file picker: %v", src, err)
	}

	// The bar must reach 100% because the server said the upload is done,
	// which the entry's transfer id (set from the server's events) proves.
	type barState struct {
		State string `json:"state"`
		Value int    `json:"value"`
		ID    string `json:"id"`
		Info  string `json:"info"`
	}
	bar, err := chromedp.Run(ctx, chromedp.Poll[barState](`(() => {
		const li = Array.from(document.querySelectorAll("#transfer-list li")).find((li) =>
			li.dataset.op === "upload" && li.dataset.path === `+jsString(ftpPath)+`);
		if (!li) return null;
		const bar = li.querySelector("progress");
		const s = {state: li.dataset.state, value: bar.hasAttribute("value") ? bar.value : -1,
			id: li.dataset.id || "", info: li.querySelector(".t-info").textContent};
		return s.state === "done" || s.state === "failed" || s.state === "canceled" || s.state === "skipped" ? s : null;
	})()`, chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0)))
	if err != nil {
		t.Fatalf("waiting for the upload of %s to end: %v; page: %s", name, err, ut.pageState())
	}
	if bar.State != "done" || bar.Value != 100 || bar.ID == "" {
		t.Fatalf("the upload of %s ended %q at %d%% (%s), transfer id %q; want done at 100%% with the server's transfer id; page: %s",
			name, bar.State, bar.Value, bar.Info, bar.ID, ut.pageState())
	}
	if values, err := chromedp.Run(ctx, chromedp.Evaluate[[]any](`window.barValues`)); err == nil {
		t.Logf("the bar of %s went through %v", name, values)
	}

	// The listing refreshes by itself once the uploads are done.
	href := ut.waitRow(t, ctx, name)
	if want := siteURL(ut.b, "ftp", testftp.User, ut.srv, ftpPath, false); ut.b.URL+href != want {
		t.Errorf("the new row links to %s, want %s", ut.b.URL+href, want)
	}
	ut.waitNotice(t, ctx, name+" uploaded.")

	onDisk, err := os.ReadFile(filepath.Join(ut.srv.Root, filepath.FromSlash(ftpPath)))
	if err != nil {
		t.Fatalf("the FTP server has no %s: %v", ftpPath, err)
	}
	if !bytes.Equal(onDisk, data) {
		t.Errorf("the FTP server's %s: %d bytes, want %d, identical=%v", ftpPath, len(onDisk), len(data), bytes.Equal(onDisk, data))
	}
	requireNoPartFiles(t, ut.srv.Root)

	c := &http.Client{Transport: basicAuth{testftp.User, testftp.Password}}
	resp, got := get(t, c, ut.b.URL+href)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Errorf("GET %s: status %d, %d bytes, want 200 and the %d bytes uploaded, identical=%v",
			href, resp.StatusCode, len(got), len(data), bytes.Equal(got, data))
	}
}

// folderOps makes a folder with the New folder form, renames it with its
// row's menu, and deletes it, with what was put inside, after the page
// asks with the count of what goes with it.
func (ut *uploadTest) folderOps(t *testing.T, ctx context.Context) {
	const dir = "/sub/"
	const made, renamed = "made by test", "renamed by test"
	local := func(name string) string { return filepath.Join(ut.srv.Root, filepath.FromSlash(dir), name) }

	if err := chromedp.Do(ctx,
		chromedp.Navigate(ut.listingURL(dir)),
		chromedp.Click(chromedp.CSS("#new-folder summary")),
		chromedp.WaitVisible(chromedp.ID("new-folder-name")),
		chromedp.SendKeys(chromedp.ID("new-folder-name"), made),
		chromedp.Click(chromedp.ID("new-folder-create")),
	); err != nil {
		t.Fatalf("making folder %q with the New folder form: %v", made, err)
	}
	ut.waitRow(t, ctx, made)
	ut.waitNotice(t, ctx, "Created folder "+made+".")
	requireDir(t, local(made))

	if err := chromedp.Do(ctx,
		chromedp.Click(rowSel(made, "td.act a.more")),
		chromedp.WaitVisible(rowSel(made, "form.rename input[name=to]")),
		chromedp.Clear(rowSel(made, "form.rename input[name=to]")),
		chromedp.SendKeys(rowSel(made, "form.rename input[name=to]"), renamed),
		chromedp.Click(rowSel(made, "form.rename button")),
	); err != nil {
		t.Fatalf("renaming %q with its row's menu: %v", made, err)
	}
	ut.waitRow(t, ctx, renamed)
	ut.waitNotice(t, ctx, "Renamed "+made+" to "+renamed+".")
	requireDir(t, local(renamed))
	if _, err := os.Stat(local(made)); !os.IsNotExist(err) {
		t.Errorf("%s is still on the FTP server after the rename (%v)", local(made), err)
	}

	// Fill the folder behind the page's back: the question must count
	// what the server has, not what the page saw.
	for _, p := range []string{"inside.txt", "nested/deep.txt"} {
		full := filepath.Join(local(renamed), filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(rowSel(renamed, "td.act a.more")),
		chromedp.WaitVisible(rowSel(renamed, "form.delete button")),
		chromedp.Click(rowSel(renamed, "form.delete button")),
	); err != nil {
		t.Fatalf("deleting %q with its row's menu: %v", renamed, err)
	}
	q := ut.waitQuestion(t, ctx)
	if want := "Delete folder " + renamed + " and the 2 files and 1 folder in it?"; q.Message != want {
		t.Errorf("the page asked %q, want %q", q.Message, want)
	}
	ut.answer(t, ctx, "yes")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`!Array.from(document.querySelectorAll("#listing tbody tr")).some((r) => r.dataset.name === `+jsString(renamed)+`)`,
		chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0))); err != nil {
		t.Fatalf("the row %q did not go away: %v; page: %s", renamed, err, ut.pageState())
	}
	ut.waitNotice(t, ctx, "Deleted "+renamed+".")
	if _, err := os.Stat(local(renamed)); !os.IsNotExist(err) {
		t.Errorf("%s is still on the FTP server after the delete (%v)", local(renamed), err)
	}
	ut.requireNoNativeDialogs(t)
}

// waitRow waits until the listing has a row for name, and returns the
// href of its link.
func (ut *uploadTest) waitRow(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	href, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		const r = Array.from(document.querySelectorAll("#listing tbody tr")).find((r) => r.dataset.name === `+jsString(name)+`);
		return r ? r.querySelector("td.name a").getAttribute("href") : null;
	})()`, chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0)))
	if err != nil {
		t.Fatalf("the listing did not show %q: %v; page: %s", name, err, ut.pageState())
	}
	return href
}

// waitNotice waits for a notice in the page's live region.
func (ut *uploadTest) waitNotice(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`Array.from(document.querySelectorAll("#notices .notice")).some((n) => n.textContent === `+jsString(text)+`)`,
		chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0))); err != nil {
		t.Errorf("no notice %q: %v; page: %s", text, err, ut.pageState())
	}
}

// pageState describes the listing, the transfers panel and the notices,
// for a failure message. It has its own short deadline, because it is
// called when a step's ran out.
func (ut *uploadTest) pageState() string {
	ctx, cancel := context.WithTimeout(ut.tab, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		url: location.href,
		rows: Array.from(document.querySelectorAll("#listing tbody tr")).map((r) => r.dataset.name),
		transfers: Array.from(document.querySelectorAll("#transfer-list li")).map((li) =>
			[li.dataset.op, li.dataset.path, li.dataset.state, li.dataset.id, li.querySelector(".t-info").textContent]),
		notices: Array.from(document.querySelectorAll("#notices .notice")).map((n) => n.textContent),
	})`))
	if err != nil {
		return fmt.Sprintf("(could not read the page: %v)", err)
	}
	return s
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func requireDir(t *testing.T, p string) {
	t.Helper()
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		t.Errorf("the FTP server has no folder %s (%v)", p, err)
	}
}

// requireNoPartFiles fails on any upload's temporary file left under root.
func requireNoPartFiles(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ok, _ := path.Match(".*.ftpbridge-*.part", d.Name()); ok || strings.HasSuffix(d.Name(), ".part") {
			t.Errorf("temporary upload file left behind: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rowSel selects rest inside the listing row of name.
func rowSel(name, rest string) chromedp.CSS {
	return chromedp.CSS(fmt.Sprintf(`#listing tr[data-name=%q] %s`, name, rest))
}
