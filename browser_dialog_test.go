package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The steps of TestBrowserUpload that go through the page's questions
// (static/js/dialogs.js): an upload whose file exists, and a delete.

// question is what an open question dialog shows, as a screen reader
// would find it: the name and description come through the dialog's
// aria-labelledby and aria-describedby.
type question struct {
	Role    string   `json:"role"`
	Modal   bool     `json:"modal"`   // opened with showModal: the page behind is inert
	Title   string   `json:"title"`   // the text aria-labelledby points at
	Message string   `json:"message"` // the text aria-describedby points at
	Buttons []string `json:"buttons"` // "value=label" of each button, in order
	Focused string   `json:"focused"` // the value of the button with the focus, if it is in the dialog
	Check   string   `json:"check"`   // the checkbox's label, if there is one
}

// questionJS reads the open question dialog, or null when none is open.
const questionJS = `(() => {
	const d = document.querySelector("dialog.ask[open]");
	if (!d) return null;
	const text = (id) => {
		const e = id ? document.getElementById(id) : null;
		return e && d.contains(e) ? e.textContent : "";
	};
	const a = document.activeElement;
	const check = d.querySelector("label.check");
	return {
		role: d.getAttribute("role") || "",
		modal: d.matches(":modal"),
		title: text(d.getAttribute("aria-labelledby")),
		message: text(d.getAttribute("aria-describedby")),
		buttons: Array.from(d.querySelectorAll("button"), (b) => b.value + "=" + b.textContent),
		focused: a instanceof HTMLButtonElement && d.contains(a) ? a.value : "",
		check: check ? check.textContent.trim() : "",
	};
})()`

// waitQuestion waits for a question dialog to open and returns what it
// shows. Every question must be the same accessible, modal alert dialog.
func (ut *uploadTest) waitQuestion(t *testing.T, ctx context.Context) question {
	t.Helper()
	q, err := chromedp.Run(ctx, chromedp.Poll[question](questionJS, chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0)))
	if err != nil {
		t.Fatalf("no question dialog opened: %v; page: %s", err, ut.pageState())
	}
	if q.Role != "alertdialog" || !q.Modal || q.Title == "" || q.Message == "" {
		t.Errorf("the question is %+v; want a modal alertdialog named and described by its title and message", q)
	}
	return q
}

// answer clicks the button of value in the open question and waits for
// the dialog to go.
func (ut *uploadTest) answer(t *testing.T, ctx context.Context, value string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`dialog.ask[open] button[value=%q]`, value)))); err != nil {
		t.Fatalf("answering %q: %v; page: %s", value, err, ut.pageState())
	}
	ut.waitNoQuestion(t, ctx)
}

// waitNoQuestion waits until no question dialog is left in the page.
func (ut *uploadTest) waitNoQuestion(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("dialog.ask") === null`,
		chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0))); err != nil {
		t.Fatalf("the question dialog did not go away: %v; page: %s", err, ut.pageState())
	}
}

// expectProblem waits for the page to report a problem ending in want,
// which the step provoked on purpose, and fails on any other.
func (ut *uploadTest) expectProblem(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	for {
		seen := false
		for _, p := range ut.problems.take() {
			if !seen && strings.HasSuffix(p, want) {
				seen = true
				continue
			}
			t.Error(p)
		}
		if seen {
			return
		}
		select {
		case <-ut.problems.notify:
		case <-ctx.Done():
			t.Fatalf("the page did not report %q: %v", want, ctx.Err())
		}
	}
}

func (ut *uploadTest) requireNoNativeDialogs(t *testing.T) {
	t.Helper()
	if n := ut.nativeDialogs.Load(); n != 0 {
		t.Errorf("%d of the browser's own confirm/alert/prompt dialogs opened; every question must be the page's dialog", n)
	}
}

// upload states of the transfer panel's entries, by FTP path.
type panelEntry struct {
	State string `json:"state"`
	Value int    `json:"value"` // the bar's value, -1 while indeterminate
	Count int    `json:"count"` // entries of this path: one per file, retries included
}

func (ut *uploadTest) panel(t *testing.T, ctx context.Context, paths []string) map[string]panelEntry {
	t.Helper()
	m, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]panelEntry](`(() => {
		const out = {};
		for (const p of `+mustJSON(paths)+`) {
			const lis = Array.from(document.querySelectorAll("#transfer-list li")).filter((li) =>
				li.dataset.op === "upload" && li.dataset.path === p);
			const bar = lis.length ? lis[0].querySelector("progress") : null;
			out[p] = {state: lis.length ? lis[0].dataset.state : "", count: lis.length,
				value: bar && bar.hasAttribute("value") ? bar.value : -1};
		}
		return out;
	})()`))
	if err != nil {
		t.Fatalf("reading the transfers panel: %v", err)
	}
	return m
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// clash uploads three files in one pick, the middle one already on the
// server. The page asks about that one while the other two go on: they
// are on the FTP server, done in the panel and in the listing while the
// question is still open. Replace then replaces the old file's content.
func (ut *uploadTest) clash(t *testing.T, ctx context.Context) {
	const dir = "/sub/"
	names := []string{"clash 1.txt", "clash 2.txt", "clash 3.txt"}
	const clashing = 1
	local := func(name string) string { return filepath.Join(ut.srv.Root, filepath.FromSlash(dir), name) }
	ftpPaths := make([]string, len(names))
	for i, n := range names {
		ftpPaths[i] = dir + n
	}
	old := []byte("the file that was there before\n")
	if err := os.WriteFile(local(names[clashing]), old, 0o644); err != nil {
		t.Fatal(err)
	}
	srcDir := t.TempDir()
	var srcs [][]byte
	var picked []string
	for _, n := range names {
		data := []byte("uploaded by the browser test as " + n + "\n")
		p := filepath.Join(srcDir, n)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, data)
		picked = append(picked, p)
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(ut.listingURL(dir)),
		chromedp.WaitReady(chromedp.ID("upload-files")),
		chromedp.SetUploadFiles(chromedp.ID("upload-files"), picked),
	); err != nil {
		t.Fatalf("choosing %q in the file picker: %v", names, err)
	}

	// The question about the clash opens, and stays open until answered.
	q := ut.waitQuestion(t, ctx)
	if want := names[clashing] + " already exists. Replace it?"; q.Message != want {
		t.Errorf("the page asked %q, want %q", q.Message, want)
	}
	if want := []string{"replace=Replace", "keep=Keep the existing file"}; !slices.Equal(q.Buttons, want) {
		t.Errorf("the question offers %q, want %q", q.Buttons, want)
	}
	if q.Focused != "keep" {
		t.Errorf("the focus is on %q in the question, want the safe choice, keep", q.Focused)
	}

	// The refused first attempt is a 409, which the browser logs as a
	// failed load: expected here, once, and nothing else.
	ut.expectProblem(t, ctx, " at "+ut.listingURL(dir)+": Failed to load resource: the server responded with a status of 409 (Conflict)")

	// Meanwhile the other two upload: wait for both to end in the panel.
	others := []string{ftpPaths[0], ftpPaths[2]}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => {
		const ended = (p) => Array.from(document.querySelectorAll("#transfer-list li")).some((li) =>
			li.dataset.op === "upload" && li.dataset.path === p && ["done", "failed", "canceled", "skipped"].includes(li.dataset.state));
		return `+mustJSON(others)+`.every(ended);
	})()`, chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0))); err != nil {
		t.Fatalf("the files that do not clash did not finish while the question was open: %v; page: %s", err, ut.pageState())
	}
	// The listing reloads for them, the question still open.
	ut.waitRow(t, ctx, names[0])
	ut.waitRow(t, ctx, names[2])
	now, err := chromedp.Run(ctx, chromedp.Evaluate[*question](questionJS))
	if err != nil {
		t.Fatal(err)
	}
	if now == nil || now.Message != q.Message {
		t.Fatalf("the question about %s is no longer open (%+v) though nobody answered it; page: %s", names[clashing], now, ut.pageState())
	}
	got := ut.panel(t, ctx, ftpPaths)
	for _, p := range others {
		if e := got[p]; e.State != "done" || e.Value != 100 || e.Count != 1 {
			t.Errorf("the panel shows %s as %+v while the question is open, want one entry, done at 100%%", p, e)
		}
	}
	if e := got[ftpPaths[clashing]]; e.State != "conflict" || e.Count != 1 {
		t.Errorf("the panel shows %s as %+v while the question is open, want one entry waiting for the answer (conflict)", ftpPaths[clashing], e)
	}
	for _, i := range []int{0, 2} {
		if onDisk, err := os.ReadFile(local(names[i])); err != nil || !bytes.Equal(onDisk, srcs[i]) {
			t.Errorf("the FTP server's %s is %q (%v) while the question is open, want %q", names[i], onDisk, err, srcs[i])
		}
	}
	if onDisk, err := os.ReadFile(local(names[clashing])); err != nil || !bytes.Equal(onDisk, old) {
		t.Errorf("the FTP server's %s is %q (%v) before the answer, want the old %q", names[clashing], onDisk, err, old)
	}

	ut.answer(t, ctx, "replace")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Array.from(document.querySelectorAll("#transfer-list li")).some((li) =>
		li.dataset.op === "upload" && li.dataset.path === `+jsString(ftpPaths[clashing])+` && ["done", "failed", "canceled", "skipped"].includes(li.dataset.state))`,
		chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0))); err != nil {
		t.Fatalf("the replacing upload of %s did not end: %v; page: %s", names[clashing], err, ut.pageState())
	}
	ut.waitNotice(t, ctx, names[clashing]+" uploaded.")
	got = ut.panel(t, ctx, ftpPaths)
	for _, p := range ftpPaths {
		if e := got[p]; e.State != "done" || e.Value != 100 || e.Count != 1 {
			t.Errorf("the panel shows %s as %+v at the end, want one entry, done at 100%%", p, e)
		}
	}
	// The refused attempt is no failure to tell of.
	if errs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#notices .notice.error"), (n) => n.textContent)`)); err != nil || len(errs) > 0 {
		t.Errorf("error notices %q (%v), want none", errs, err)
	}
	if onDisk, err := os.ReadFile(local(names[clashing])); err != nil || !bytes.Equal(onDisk, srcs[clashing]) {
		t.Errorf("the FTP server's %s is %q (%v) after Replace, want the uploaded %q", names[clashing], onDisk, err, srcs[clashing])
	}
	requireNoPartFiles(t, ut.srv.Root)
	ut.requireNoNativeDialogs(t)
}

// deleteFile deletes a file through its row's menu. The page asks in its
// own dialog, focus inside on Cancel: Escape and Cancel keep the file and
// give the focus back to the Delete button; Delete deletes it.
func (ut *uploadTest) deleteFile(t *testing.T, ctx context.Context) {
	const dir, name = "/sub/", "delete me.txt"
	local := filepath.Join(ut.srv.Root, filepath.FromSlash(dir), name)
	if err := os.WriteFile(local, []byte("to be deleted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deleteButton := rowSel(name, "form.delete button")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(ut.listingURL(dir)),
		chromedp.Click(rowSel(name, "td.act a.more")),
		chromedp.WaitVisible(deleteButton),
	); err != nil {
		t.Fatalf("opening the menu of %q: %v", name, err)
	}

	for _, how := range []string{"Escape", "Cancel"} {
		if err := chromedp.Do(ctx, chromedp.Click(deleteButton)); err != nil {
			t.Fatalf("clicking Delete of %q: %v", name, err)
		}
		q := ut.waitQuestion(t, ctx)
		if q.Title != "Delete file?" || q.Message != "Delete "+name+"?" {
			t.Errorf("the page asked %q: %q, want %q: %q", q.Title, q.Message, "Delete file?", "Delete "+name+"?")
		}
		if want := []string{"yes=Delete", "no=Cancel"}; !slices.Equal(q.Buttons, want) {
			t.Errorf("the question offers %q, want %q", q.Buttons, want)
		}
		if q.Focused != "no" {
			t.Errorf("the focus is on %q in the question, want Cancel (no)", q.Focused)
		}
		if how == "Escape" {
			if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Escape)); err != nil {
				t.Fatal(err)
			}
			ut.waitNoQuestion(t, ctx)
		} else {
			ut.answer(t, ctx, "no")
		}
		back, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
			`document.activeElement === document.querySelector(%s)`, jsString(string(deleteButton)))))
		if err != nil {
			t.Fatal(err)
		}
		if !back {
			t.Errorf("after %s the focus is not back on the Delete button; page: %s", how, ut.pageState())
		}
		if _, err := os.Stat(local); err != nil {
			t.Fatalf("%s is gone from the FTP server after %s: %v", name, how, err)
		}
		requireRows(t, ctx, name)
	}

	if err := chromedp.Do(ctx, chromedp.Click(deleteButton)); err != nil {
		t.Fatalf("clicking Delete of %q: %v", name, err)
	}
	ut.waitQuestion(t, ctx)
	ut.answer(t, ctx, "yes")
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`!Array.from(document.querySelectorAll("#listing tbody tr")).some((r) => r.dataset.name === `+jsString(name)+`)`,
		chromedp.WithPollingInterval(pollEvery), chromedp.WithPollingTimeout(0))); err != nil {
		t.Fatalf("the row %q did not go away: %v; page: %s", name, err, ut.pageState())
	}
	ut.waitNotice(t, ctx, "Deleted "+name+".")
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("%s is still on the FTP server after the delete (%v)", local, err)
	}
	ut.requireNoNativeDialogs(t)
}
