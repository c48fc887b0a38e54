package main

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestBrowserRecentSites, in Chromium: the home page lists the sites this
// browser connected to (static/js/recent.js), anonymous and with a user,
// with their choices and never a password; the anonymous one connects in
// one click, the user's fills the form and leaves the password to type;
// Forget and Forget all remove them, and an empty list shows nothing.
func TestBrowserRecentSites(t *testing.T) {
	bt, tab := newBrowserTest(t, embedftp.Options{Anonymous: true})
	_, port, _ := net.SplitHostPort(bt.srv.Addr())
	anonURL := addrURL(bt.b, "ftp", "", bt.srv.Addr(), "/", true)
	anonLabel := "127.0.0.1:" + port
	userLabel := testftp.User + "@127.0.0.1:" + port

	// shown lists the recent sites the home page shows, by their buttons.
	shown := func(t *testing.T, ctx context.Context) []string {
		t.Helper()
		names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
			const s = document.getElementById("recent");
			if (!s || s.hidden) return [];
			return Array.from(s.querySelectorAll("button.recent-connect"), (b) => b.textContent);
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	fill := func(t *testing.T, ctx context.Context, user, password, mode string) {
		t.Helper()
		actions := []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(bt.b.URL + "/"),
			chromedp.SetValue(chromedp.ID("scheme"), "ftp"),
			chromedp.SendKeys(chromedp.ID("host"), "127.0.0.1"),
			chromedp.SendKeys(chromedp.ID("port"), port),
			chromedp.SetValue(chromedp.ID("mode"), mode),
		}
		if user == "" {
			actions = append(actions, chromedp.Click(chromedp.ID("anonymous")))
		} else {
			actions = append(actions, chromedp.SendKeys(chromedp.ID("user"), user), chromedp.SendKeys(chromedp.ID("password"), password))
		}
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("filling the connect form: %v", err)
		}
	}

	t.Run("none at first", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.b.URL+"/")); err != nil {
			t.Fatal(err)
		}
		if got := shown(t, ctx); len(got) != 0 {
			t.Errorf("a new browser's home page lists recent sites %q", got)
		}
	})

	t.Run("a refused login is not recorded", func(t *testing.T) {
		ctx := browserStep(t, tab)
		fill(t, ctx, testftp.User, "not the password", "auto")
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("connect"))); err != nil {
			t.Fatal(err)
		}
		// The 401 of the refused login is logged as a failed load; it is
		// not a problem of the page's.
		for _, p := range bt.problems.take() {
			if !strings.Contains(p, "401") {
				t.Error(p)
			}
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.b.URL+"/")); err != nil {
			t.Fatal(err)
		}
		if got := shown(t, ctx); len(got) != 0 {
			t.Errorf("after a refused login the home page lists %q", got)
		}
	})

	t.Run("connect anonymously and as a user", func(t *testing.T) {
		ctx := browserStep(t, tab)
		fill(t, ctx, "", "", "passive")
		clickAndLoad(t, ctx, chromedp.ID("connect"), anonURL)
		fill(t, ctx, testftp.User, testftp.Password, "auto")
		clickAndLoad(t, ctx, chromedp.ID("connect"), bt.listingURL("/"))
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.b.URL+"/")); err != nil {
			t.Fatal(err)
		}
		got := shown(t, ctx)
		if len(got) != 2 || got[0] != userLabel || got[1] != anonLabel {
			t.Errorf("the home page lists %q, want %q then %q", got, userLabel, anonLabel)
		}
	})

	t.Run("no password stored", func(t *testing.T) {
		ctx := browserStep(t, tab)
		stored, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => {
			const all = {};
			for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) all[s.key(i)] = s.getItem(s.key(i));
			return all;
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		recent := stored["ftpbridge-recent"]
		if !strings.Contains(recent, `"mode":"passive"`) || !strings.Contains(recent, `"user":"`+testftp.User+`"`) {
			t.Errorf("localStorage's recent sites: %s; want both sites with their transfer modes", recent)
		}
		for k, v := range stored {
			if strings.Contains(v, testftp.Password) || strings.Contains(strings.ToLower(v), "password") {
				t.Errorf("the browser's storage %q holds a password: %s", k, v)
			}
		}
	})

	t.Run("one click connects anonymously", func(t *testing.T) {
		ctx := browserStep(t, tab)
		clickAndLoad(t, ctx, chromedp.CSS(`#recent li[data-site="`+anonLabel+`"] button.recent-connect`), anonURL)
		requireRows(t, ctx, "sub")
	})

	t.Run("a user's site asks for the password", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.b.URL+"/"),
			chromedp.Click(chromedp.CSS(`#recent li[data-site="`+userLabel+`"] button.recent-connect`)),
		); err != nil {
			t.Fatal(err)
		}
		form, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
			focused: document.activeElement.id,
			user: document.getElementById("user").value,
			anonymous: document.getElementById("anonymous").checked,
			scheme: document.getElementById("scheme").value,
			port: document.getElementById("port").value,
			home: location.pathname,
		})`))
		if err != nil {
			t.Fatal(err)
		}
		if form["focused"] != "password" || form["user"] != testftp.User || form["anonymous"] != false || form["scheme"] != "ftp" || form["port"] != port || form["home"] != "/" {
			t.Errorf("after clicking %s: %v; want the form filled, still home, the password focused", userLabel, form)
		}
	})

	t.Run("forget", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.b.URL+"/"),
			chromedp.Click(chromedp.CSS(`#recent li[data-site="`+anonLabel+`"] button.recent-forget`)),
		); err != nil {
			t.Fatal(err)
		}
		if got := shown(t, ctx); len(got) != 1 || got[0] != userLabel {
			t.Errorf("after forgetting %s the home page lists %q", anonLabel, got)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.b.URL+"/")); err != nil {
			t.Fatal(err)
		}
		if got := shown(t, ctx); len(got) != 1 || got[0] != userLabel {
			t.Errorf("after forgetting %s and a reload the home page lists %q", anonLabel, got)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("recent-forget-all"))); err != nil {
			t.Fatal(err)
		}
		if got := shown(t, ctx); len(got) != 0 {
			t.Errorf("after Forget all the home page lists %q", got)
		}
		left, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`localStorage.getItem("ftpbridge-recent") === null`))
		if err != nil || !left {
			t.Errorf("after Forget all, localStorage still holds recent sites (%v)", err)
		}
	})

	t.Run("no script errors or CSP violations", func(t *testing.T) { bt.checkProblems(t, browserStep(t, tab)) })
}
