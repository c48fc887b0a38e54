package main

import (
	"slices"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/fakeftp"
)

// TestBrowserPermMenus, in a real Chromium: in a folder whose MLSD perm
// facts allow uploads but no new folders, holding a file that may be
// renamed but not downloaded or deleted, the page shows just that; and a
// rename from the row's menu still goes through the script (a notice, no
// page load), though the page has no new-folder form.
func TestBrowserPermMenus(t *testing.T) {
	srv := fakeftp.Start(t)
	srv.MLSD = []string{
		"type=cdir;perm=elc; /",
		"type=dir;perm=elf; sub",
		"type=file;size=5;perm=awf; drop-box.txt",
	}
	// The rename first makes sure its target is free.
	srv.Script["MLST"] = func(c *fakeftp.Conn, _ string) { c.Reply(550, "No such file") }
	srv.Script["RNFR"] = func(c *fakeftp.Conn, _ string) { c.Reply(350, "Ready") }
	srv.Script["RNTO"] = func(c *fakeftp.Conn, _ string) { c.Reply(250, "Renamed") }
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	bt := &browserTest{b: b, problems: &pageProblems{notify: make(chan struct{}, 1)}}
	tab := startBrowser(t, browserTimeout, bt.problems)
	folder := addrURL(b, "ftp", "", srv.Addr(), "/", true)

	t.Run("only allowed actions shown", func(t *testing.T) {
		ctx := browserStep(t, tab)
		// The row's actions show in the menu it opens.
		if err := chromedp.Do(ctx, chromedp.Navigate(folder), chromedp.WaitVisible(chromedp.ID("listing")),
			chromedp.Click(rowSel("drop-box.txt", "td.act a.more")),
			chromedp.WaitVisible(chromedp.ID("row-menu"))); err != nil {
			t.Fatal(err)
		}
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]bool](`({
			upload: !!document.getElementById("upload-form"),
			newFolder: !!document.getElementById("new-folder-form"),
			downloadLink: !!document.querySelector('#listing tr[data-name="drop-box.txt"] td.name a'),
			rename: !!document.querySelector('#listing tr[data-name="drop-box.txt"] form.rename'),
			delete: !!document.querySelector("#listing form.delete"),
		})`))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"upload": true, "newFolder": false, "downloadLink": false, "rename": true, "delete": false}
		for k, v := range want {
			if shown[k] != v {
				t.Errorf("%s shown: %v, want %v", k, shown[k], v)
			}
		}
		// Its button closes it again.
		if err := chromedp.Do(ctx, chromedp.Click(rowSel("drop-box.txt", "td.act a.more")),
			chromedp.WaitNotPresent(chromedp.ID("row-menu"))); err != nil {
			t.Errorf("closing the row menu with its button: %v", err)
		}
	})

	t.Run("rename without a new-folder form", func(t *testing.T) {
		ctx := browserStep(t, tab)
		to := rowSel("drop-box.txt", "form.rename input[name=to]")
		if err := chromedp.Do(ctx,
			// Gone if the page loads anew, as a plain form post would.
			chromedp.Evaluate[chromedp.Void](`window.samePage = true`),
			chromedp.Click(rowSel("drop-box.txt", "td.act a.more")),
			chromedp.WaitVisible(to),
			chromedp.Clear(to),
			chromedp.SendKeys(to, "kept.txt"),
			chromedp.Click(rowSel("drop-box.txt", "form.rename button")),
		); err != nil {
			t.Fatalf("renaming from the row's menu: %v", err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
			`Array.from(document.querySelectorAll("#notices .notice")).some((n) => n.textContent === "Renamed drop-box.txt to kept.txt.")`,
			chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0))); err != nil {
			t.Errorf("no notice of the rename: %v", err)
		}
		if same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.samePage === true`)); err != nil || !same {
			t.Errorf("the rename loaded a new page (%v), want the script to post it", err)
		}
		if !slices.Contains(srv.Commands(), "RNTO /kept.txt") {
			t.Errorf("the server got no RNTO /kept.txt: %q", srv.Commands())
		}
	})

	t.Run("no script errors or CSP violations", func(t *testing.T) {
		bt.checkProblems(t, browserStep(t, tab))
	})
}
