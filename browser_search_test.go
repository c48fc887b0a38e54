package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
)

// TestBrowserSearchAndPermissions, in a real Chromium against vsftpd: the
// listing shows each entry's permissions on a desktop screen; the toolbar's
// search form finds a nested name, whose links lead to the file and to its
// folder; and the row menu's "Permissions…" changes a file's mode.
func TestBrowserSearchAndPermissions(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"find/a/b/Nested-Needle.txt": "needle", "find/top.txt": "top"})
	srv := realftp.StartVsftpd(t, realftp.Options{Root: root, Writable: true})
	if err := os.Chmod(filepath.Join(root, "find/top.txt"), 0o604); err != nil {
		t.Fatal(err)
	}
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	bt := &browserTest{b: b, problems: &pageProblems{notify: make(chan struct{}, 1)}}
	tab := startBrowser(t, browserTimeout, bt.problems)
	folderURL := func(p string) string { return homeURL(b, "ftp", srv.User, srv.Addr, srv.Home, p, true) }

	t.Run("connect", func(t *testing.T) {
		ctx := browserStep(t, tab)
		_, port, _ := net.SplitHostPort(srv.Addr)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(b.URL+"/"),
			chromedp.SetValue(chromedp.ID("scheme"), "ftp"),
			chromedp.SendKeys(chromedp.ID("host"), "127.0.0.1"),
			chromedp.SendKeys(chromedp.ID("port"), port),
			chromedp.SendKeys(chromedp.ID("user"), srv.User),
			chromedp.SendKeys(chromedp.ID("password"), srv.Password),
		); err != nil {
			t.Fatal(err)
		}
		clickAndLoad(t, ctx, chromedp.ID("connect"), folderURL("/"))
	})

	t.Run("permissions column", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.Navigate(folderURL("/find")), chromedp.WaitVisible(chromedp.ID("listing"))); err != nil {
			t.Fatal(err)
		}
		requireRows(t, ctx, "a", "top.txt")
		got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`({
			header: getComputedStyle(document.querySelector("#listing th.mode")).display,
			file: document.querySelector('#listing tr[data-name="top.txt"] td.mode').innerText,
			folder: document.querySelector('#listing tr[data-name="a"] td.mode').innerText,
		})`))
		if err != nil {
			t.Fatal(err)
		}
		if got["header"] == "none" || got["file"] != "rw----r--" || got["folder"] != "rwxr-xr-x" {
			t.Errorf("permissions column %q, want shown, top.txt rw----r-- and a rwxr-xr-x", got)
		}
	})

	t.Run("search finds a nested name", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("search-q"), "needle")); err != nil {
			t.Fatal(err)
		}
		clickAndLoad(t, ctx, chromedp.CSS("#search-form button[type=submit]"), folderURL("/find")+"?op=search&q=needle")
		got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
			matches: [...document.querySelectorAll("#search-results li.match")].map((li) => li.innerText),
			end: document.getElementById("search-end").innerText,
			stop: getComputedStyle(document.getElementById("search-stop")).display,
			file: document.querySelector("#search-results li.match a").href,
		})`))
		if err != nil {
			t.Fatal(err)
		}
		matches, _ := got["matches"].([]any)
		if len(matches) != 1 || got["stop"] != "none" {
			t.Fatalf("search page %q, want one match and no Stop button once done", got)
		}
		if want := homeURL(b, "ftp", srv.User, srv.Addr, srv.Home, "/find/a/b/Nested-Needle.txt", false); got["file"] != want {
			t.Errorf("the match links to %v, want %s", got["file"], want)
		}
		client := &http.Client{Transport: basicAuth{srv.User, srv.Password}}
		if resp, body := get(t, client, got["file"].(string)); resp.StatusCode != 200 || string(body) != "needle" {
			t.Errorf("the match's link: %d %q", resp.StatusCode, body)
		}
		clickAndLoad(t, ctx, chromedp.CSS("#search-results li.match a.folder"), folderURL("/find/a/b"))
		requireRows(t, ctx, "Nested-Needle.txt")
	})

	t.Run("permissions from the row menu", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.Navigate(folderURL("/find")), chromedp.WaitVisible(chromedp.ID("listing")),
			chromedp.Click(rowSel("top.txt", "td.act a.more")),
			chromedp.WaitVisible(chromedp.ID("row-menu")),
			chromedp.Click(chromedp.CSS("#row-menu details.chmod summary")),
			chromedp.WaitVisible(chromedp.CSS(`#row-menu form.chmod input[name=mode]`)),
		); err != nil {
			t.Fatal(err)
		}
		start, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#row-menu form.chmod input[name=mode]`)))
		if err != nil {
			t.Fatal(err)
		}
		if start != "604" {
			t.Errorf("the form starts from %q, want 604", start)
		}
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`#row-menu form.chmod input[name=mode]`), "640")); err != nil {
			t.Fatal(err)
		}
		clickAndLoad(t, ctx, chromedp.CSS("#row-menu form.chmod button[type=submit]"), folderURL("/find"))
		if m := modeOf(t, filepath.Join(root, "find/top.txt")); m != 0o640 {
			t.Errorf("top.txt is %o after the menu's 640", m)
		}
		mode, err := chromedp.Run(ctx, chromedp.Text(rowSel("top.txt", "td.mode")))
		if err != nil {
			t.Fatal(err)
		}
		if mode != "rw-r-----" {
			t.Errorf("top.txt shows %q after chmod 640", mode)
		}
	})

	t.Run("no script errors or CSP violations", func(t *testing.T) {
		bt.checkProblems(t, browserStep(t, tab))
	})
}
