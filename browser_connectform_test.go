package main

import (
	"net"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestBrowserConnectForm, in Chromium: after a refused password the form
// keeps what was typed and the cursor is in the password field; after a
// name that is not found, with Anonymous ticked, the tick stays (the
// credentials stay disabled) and the cursor is in the host field, and the
// message names the host in plain words.
func TestBrowserConnectForm(t *testing.T) {
	srv, b := startFTP(t, embedftp.Options{})
	problems := &pageProblems{notify: make(chan struct{}, 1)}
	ctx := browserStep(t, startBrowser(t, browserTimeout, problems))
	_, port, _ := net.SplitHostPort(srv.Addr())

	type formState struct {
		Focused, User, Password, Encoding, Mode, Error string
		Anonymous, CredsDisabled                       bool
	}
	state := func(t *testing.T) formState {
		t.Helper()
		// Chromium applies autofocus when it next renders the page, a
		// moment after the load: wait until some field has the focus.
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`document.activeElement !== document.body`)); err != nil {
			t.Fatalf("no field took the focus: %v", err)
		}
		s, err := chromedp.Run(ctx, chromedp.Evaluate[formState](`({
			Focused: document.activeElement.id,
			User: document.getElementById("user").value,
			Password: document.getElementById("password").value,
			Encoding: document.getElementById("encoding").value,
			Mode: document.getElementById("mode").value,
			Error: (document.getElementById("connect-error") || {}).textContent || "",
			Anonymous: document.getElementById("anonymous").checked,
			CredsDisabled: document.getElementById("user").disabled && document.getElementById("password").disabled,
		})`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// submit sends the form and waits for the page that answers it.
	submit := func(t *testing.T, wantStatus int64) {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("connect")))
		if err != nil {
			t.Fatalf("sending the connect form: %v", err)
		}
		if resp.Status != wantStatus {
			t.Fatalf("the connect form's answer: %d, want %d", resp.Status, wantStatus)
		}
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(b.URL+"/"),
		chromedp.SetValue(chromedp.ID("scheme"), "ftp"),
		chromedp.SendKeys(chromedp.ID("host"), "127.0.0.1"),
		chromedp.SendKeys(chromedp.ID("port"), port),
		chromedp.SendKeys(chromedp.ID("user"), testftp.User),
		chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.SetValue(chromedp.ID("encoding"), "windows-1251"),
		chromedp.SetValue(chromedp.ID("mode"), "passive"),
	); err != nil {
		t.Fatalf("filling the connect form: %v", err)
	}
	submit(t, 401)
	s := state(t)
	if s.Focused != "password" || s.User != testftp.User || s.Password != "" || s.Encoding != "windows-1251" || s.Mode != "passive" ||
		!strings.Contains(s.Error, "refused the login") {
		t.Errorf("after a refused password: %+v; want the password focused and empty, the rest as typed", s)
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("anonymous")),
		chromedp.SetValue(chromedp.ID("host"), "nope.example.invalid"),
	); err != nil {
		t.Fatalf("ticking Anonymous and changing the host: %v", err)
	}
	submit(t, 502)
	s = state(t)
	if s.Focused != "host" || !s.Anonymous || !s.CredsDisabled || !strings.Contains(s.Error, "The server name “nope.example.invalid”") ||
		strings.Contains(s.Error, "lookup") {
		t.Errorf("after a name not found: %+v; want the host focused, Anonymous still ticked, a plain message", s)
	}
	for _, p := range problems.take() {
		// The browser logs the 401 and 502 answers; nothing else may show.
		if !strings.Contains(p, "status of 401") && !strings.Contains(p, "status of 502") {
			t.Error(p)
		}
	}
}
