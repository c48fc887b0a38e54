package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

// TestBrowserShare, in a real Chromium: the maker shares a folder with a
// password from its row's menu and gets the link; a fresh browser context,
// with none of the maker's cookies, opens the link, gives the password on
// the page, walks the read-only folder and downloads a file byte-identical;
// the maker's Shared links page counts the download.
func TestBrowserShare(t *testing.T) {
	bt, maker := newBrowserTest(t, embedftp.Options{})
	srv, b := bt.srv, bt.b
	const password = "let me in"

	var link string
	t.Run("share", func(t *testing.T) {
		ctx := browserStep(t, maker)
		bt.connect(t, ctx)
		url := shareFromMenu(t, ctx, "sub", "24h", password)
		if !strings.HasPrefix(url, b.URL+"/s/") || !strings.HasSuffix(url, "/") {
			t.Fatalf("the page shows the link %q, want a folder link on %s/s/", url, b.URL)
		}
		link = url
	})
	if link == "" {
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(link, b.URL+"/s/"), "/")
	downloadsCell := `(document.querySelector('#shares tr[data-id="` + id + `"] td.downloads') || {}).textContent || null`

	// The maker watches the Shared links page while the visitor downloads.
	t.Run("shared links page", func(t *testing.T) {
		ctx := browserStep(t, maker)
		if err := chromedp.Do(ctx, chromedp.Navigate(b.URL+"/shares")); err != nil {
			t.Fatal(err)
		}
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[string](downloadsCell)); err != nil || n != "0" {
			t.Fatalf("downloads %q (%v), want 0", n, err)
		}
	})

	t.Run("open in a fresh browser context", func(t *testing.T) {
		// A browser context of its own: no cookie of the maker's.
		visitor, cancel := chromedp.NewContext(maker, chromedp.WithNewBrowserContext(), chromedp.WithListener(bt.problems.listen))
		defer cancel()
		ctx := browserStep(t, visitor)
		// The context comes into being with its first page; downloads
		// can be set up for it only then.
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		saved := watchDownloads(t, ctx)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.ID("share-pass-form")),
			chromedp.SendKeys(chromedp.ID("share-pass"), password),
			chromedp.Submit(chromedp.ID("share-pass-form")),
			chromedp.WaitVisible(chromedp.ID("listing")),
		); err != nil {
			t.Fatalf("opening the link with its password: %v", err)
		}
		readOnly, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`document.getElementById("listing").classList.contains("read-only") && !document.getElementById("upload-form") && !document.querySelector("td.act")`))
		if err != nil || !readOnly {
			t.Errorf("the shared folder's page offers changes (read-only %v, %v)", readOnly, err)
		}
		clickAndLoad(t, ctx, rowLink("deeper"), link+"deeper/")
		if err := chromedp.Do(ctx, chromedp.Click(rowLink("leaf.txt"))); err != nil {
			t.Fatal(err)
		}
		begin, got := saved.next(t, ctx, "leaf.txt")
		if begin.URL != link+"deeper/leaf.txt" || !bytes.Equal(got, srv.Files["/sub/deeper/leaf.txt"]) {
			t.Errorf("download from %s: %q, want %q", begin.URL, got, srv.Files["/sub/deeper/leaf.txt"])
		}
	})

	t.Run("the maker's page counts it live", func(t *testing.T) {
		ctx := browserStep(t, maker)
		// No reload: the count follows the share's transfer events.
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`(`+downloadsCell+`) === "1"`, chromedp.WithPollingInterval(50*time.Millisecond)))
		if err != nil {
			n, _ := chromedp.Run(ctx, chromedp.Evaluate[string](downloadsCell))
			t.Errorf("Shared links page: downloads %q (%v), want 1", n, err)
		}
	})

	t.Run("no script errors or CSP violations", func(t *testing.T) {
		// The password page is a 401, which Chromium logs as a failed
		// load: expected, and the only report allowed.
		for _, p := range bt.problems.take() {
			if !strings.Contains(p, link) || !strings.Contains(p, "status of 401") {
				t.Error(p)
			}
		}
		bt.checkProblems(t, browserStep(t, maker))
	})
}

// TestBrowserShareFileLink, in Chromium: alice shares a file with a
// password; a visitor's wrong then right password lands on the file's
// page (no stale error, nothing of alice's pages) whose Download button
// gets the file; alice, logged in from another browser, finds the link on
// her Shared links page and revokes it there.
func TestBrowserShareFileLink(t *testing.T) {
	bt, maker := newBrowserTest(t, embedftp.Options{})
	srv, b := bt.srv, bt.b
	const password = "for your eyes"

	ctx := browserStep(t, maker)
	bt.connect(t, ctx)
	link := shareFromMenu(t, ctx, "big.bin", "", password)
	id := strings.TrimPrefix(link, b.URL+"/s/")

	// newContext is another browser: none of the maker's cookies.
	newContext := func(t *testing.T) context.Context {
		c, cancel := chromedp.NewContext(maker, chromedp.WithNewBrowserContext(), chromedp.WithListener(bt.problems.listen))
		t.Cleanup(cancel)
		ctx := browserStep(t, c)
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		return ctx
	}

	t.Run("the visitor", func(t *testing.T) {
		ctx := newContext(t)
		saved := watchDownloads(t, ctx)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(link),
			chromedp.SendKeys(chromedp.ID("share-pass"), "a guess"),
			chromedp.Submit(chromedp.ID("share-pass-form")),
			chromedp.WaitVisible(chromedp.ID("share-pass-error")),
			chromedp.SendKeys(chromedp.ID("share-pass"), password),
			chromedp.Submit(chromedp.ID("share-pass-form")),
			chromedp.WaitVisible(chromedp.ID("shared-download")),
		); err != nil {
			t.Fatalf("a wrong, then the right password: %v", err)
		}
		page, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
			error: !!document.getElementById("share-pass-error"),
			owners: !!document.querySelector('a[href="/shares"], nav.sites'),
			name: document.getElementById("shared-name").textContent,
			left: document.getElementById("shared-left").textContent })`))
		if err != nil {
			t.Fatal(err)
		}
		if page["error"] != false || page["owners"] != false || page["name"] != "big.bin" || page["left"] != "no limit" {
			t.Errorf("the file's page after the password: %v; want no error, no link to the maker's pages, big.bin, no limit", page)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("shared-download"))); err != nil {
			t.Fatal(err)
		}
		if _, got := saved.next(t, ctx, "big.bin"); !bytes.Equal(got, srv.Files["/big.bin"]) {
			t.Errorf("the Download button gave %d bytes, want big.bin's %d", len(got), len(srv.Files["/big.bin"]))
		}
	})

	t.Run("alice in another browser", func(t *testing.T) {
		ctx := newContext(t)
		bt.connect(t, ctx)
		row := chromedp.CSS(`#shares tr[data-id="` + id + `"]`)
		if err := chromedp.Do(ctx, chromedp.Navigate(b.URL+"/shares"), chromedp.WaitVisible(row)); err != nil {
			t.Fatalf("alice's Shared links page in another browser: %v", err)
		}
		clickAndLoad(t, ctx, chromedp.CSS(`#shares tr[data-id="`+id+`"] form.revoke button`), b.URL+"/shares")
		state, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#shares tr[data-id="`+id+`"] td.state`)))
		if err != nil || state != "revoked" {
			t.Errorf("after revoking: the link is %q (%v), want revoked", state, err)
		}
	})
	// The password page is a 401 (the wrong guess's too), which Chromium
	// logs as a failed load: expected, and the only report allowed.
	for _, p := range bt.problems.take() {
		if !strings.Contains(p, "/s/"+id) || !strings.Contains(p, "status of 401") {
			t.Error(p)
		}
	}
	bt.checkProblems(t, browserStep(t, maker))
}

// shareFromMenu shares the row name from its menu, in the page's dialog,
// for expires ("" keeps the dialog's choice) with password ("" for none),
// and returns the link the dialog shows.
func shareFromMenu(t *testing.T, ctx context.Context, name, expires, password string) string {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Click(rowSel(name, "td.act a.more")),
		chromedp.Click(rowSel(name, "button.share-open")),
		chromedp.WaitVisible(chromedp.ID("share-form")),
	}
	if expires != "" {
		steps = append(steps, chromedp.SetValue(chromedp.ID("share-expires"), expires))
	}
	if password != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.ID("share-password"), password))
	}
	steps = append(steps, chromedp.Click(chromedp.ID("share-create")), chromedp.WaitVisible(chromedp.ID("share-result")))
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("sharing %s from its row's menu: %v", name, err)
	}
	link, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("share-url")))
	if err != nil {
		t.Fatal(err)
	}
	return link
}
