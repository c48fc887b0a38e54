package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

// The tests check both the requests the page sends (./?format=zip and
// POST ./?op=delete|move|copy with select=NAME, README "Several at once")
// and what the server then did, on its disk.

// clickWith clicks the first node sel matches while holding modifiers.
func clickWith(t *testing.T, ctx context.Context, sel chromedp.CSS, mods ...chromedp.Modifier) {
	t.Helper()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(sel, chromedp.NodeVisible))
	if err != nil || len(nodes) == 0 {
		t.Fatalf("finding %s: %v", sel, err)
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickNode(nodes[0], chromedp.ButtonModifiers(mods...))); err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
}

// selectedNames is a script that lists the rows the page shows selected
// (checked boxes) and the selection bar's count.
const selectedNames = `({
	names: Array.from(document.querySelectorAll("#listing tbody tr[data-name]"))
		.filter((r) => r.querySelector("td.sel input").checked && r.classList.contains("selected"))
		.map((r) => r.dataset.name),
	bar: document.getElementById("selection-bar").hidden ? "" : document.getElementById("selection-count").textContent,
	said: document.getElementById("announce").textContent.trim(),
	path: location.pathname,
})`

type selState struct {
	Names []string
	Bar   string
	Said  string
	Path  string
}

func readSel(t *testing.T, ctx context.Context) selState {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[selState](selectedNames))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// recordPosts makes the page note each POST it sends through fetch.
const recordPosts = `(() => {
	window.sentPosts = [];
	if (window.fetchWrapped) return;
	window.fetchWrapped = true;
	const orig = window.fetch;
	window.fetch = function (url, init) {
		if (init && init.method === "POST") window.sentPosts.push({ url: String(url), body: init.body ? String(init.body) : "" });
		return orig.apply(this, arguments);
	};
})()`

type sentPost struct {
	URL  string
	Body string
}

// waitPost waits for the page to have sent a POST whose URL contains op.
func waitPost(t *testing.T, ctx context.Context, op string) (string, url.Values) {
	t.Helper()
	p, err := chromedp.Run(ctx, chromedp.Poll[sentPost](`window.sentPosts.find((p) => p.url.includes(`+jsString(op)+`))`))
	if err != nil {
		t.Fatalf("the page sent no POST with %s: %v", op, err)
	}
	body, err := url.ParseQuery(p.Body)
	if err != nil {
		t.Fatalf("the POST's body %q: %v", p.Body, err)
	}
	return p.URL, body
}

// dragTo is a script that drags the row of name onto the element target
// selects, with the HTML5 drag events a person's drag fires (CDP's mouse
// events do not start an HTML5 drag).
func dragTo(name, target string) string {
	return `(() => {
		const src = document.querySelector('#listing tr[data-name=` + jsString(name) + `] td.name a');
		const dst = document.querySelector(` + jsString(target) + `);
		if (!src || !dst) return "missing: " + !!src + " " + !!dst;
		const dt = new DataTransfer();
		const fire = (el, type) => el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
		fire(src, "dragstart");
		fire(dst, "dragenter");
		const allowed = !fire(dst, "dragover"); // a drop target cancels dragover
		const dropping = document.getElementById("main").classList.contains("dropping");
		fire(dst, "drop");
		fire(src, "dragend");
		return allowed ? (dropping ? "the upload drop zone showed" : "") : "the folder did not take the drop";
	})()`
}

// settled waits until the page shows cond, or an error notice, which it
// returns: without the server's bulk operations it fails at once instead
// of waiting out the step.
func settled(ctx context.Context, cond string) error {
	msg, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
		if (`+cond+`) return "ok";
		const e = document.querySelector("#notices .notice.error");
		return e ? e.textContent : null;
	})()`))
	if err != nil {
		return err
	}
	if msg != "ok" {
		return fmt.Errorf("the page says: %s", msg)
	}
	return nil
}

// TestBrowserSelect: several rows are selected with the mouse (click,
// Shift-click, Ctrl-click) and the keyboard (Ctrl+A, Escape); the bar
// counts them, downloads them as one zip, deletes them after asking, and a
// row dragged onto a folder moves there, with an undo. In a big folder the
// selection outlives the rows scrolled away.
func TestBrowserSelect(t *testing.T) {
	root := t.TempDir()
	box := filepath.Join(root, "box")
	for _, d := range []string{"dest", "keep"} {
		if err := os.MkdirAll(filepath.Join(box, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"a.txt": "alpha\n", "b.txt": "bravo\n", "c.txt": "charlie\n", "d.txt": "delta\n", "e.txt": "echo\n"}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(box, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// keep/ has an e.txt already: moving box's e.txt there fails.
	if err := os.WriteFile(filepath.Join(box, "keep", "e.txt"), []byte("another echo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	makeBigFolder(t, root, "many", 1200)
	bt, tab := newBrowserTest(t, embedftp.Options{Root: root})
	t.Run("connect", func(t *testing.T) { bt.connect(t, browserStep(t, tab)) })

	t.Run("click, shift-click, ctrl-click", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.listingURL("/box/")), chromedp.WaitVisible(rowSel("a.txt", "td.sel input"))); err != nil {
			t.Fatal(err)
		}
		clickWith(t, ctx, rowSel("a.txt", "td.size"))
		clickWith(t, ctx, rowSel("b.txt", "td.size"), chromedp.ModifierShift)
		// Ctrl on the name's link selects instead of opening it.
		clickWith(t, ctx, rowSel("d.txt", "td.name a"), chromedp.ModifierCtrl)
		s := readSel(t, ctx)
		if !slices.Equal(s.Names, []string{"a.txt", "b.txt", "d.txt"}) || s.Bar != "3 selected" || !strings.HasPrefix(s.Said, "3 selected") || bt.b.URL+s.Path != bt.listingURL("/box/") {
			t.Errorf("after click, Shift-click and Ctrl-click: %+v; want a.txt, b.txt, d.txt selected, the bar and the live region saying 3, still on the folder", s)
		}
		// A range from the anchor: Shift-click on e.txt after d.txt's Ctrl-click.
		clickWith(t, ctx, rowSel("e.txt", "td.sel input"), chromedp.ModifierShift)
		if s := readSel(t, ctx); !slices.Equal(s.Names, []string{"a.txt", "b.txt", "d.txt", "e.txt"}) {
			t.Errorf("after Shift-click on e.txt's box: %q selected, want a, b, d, e", s.Names)
		}
		clickWith(t, ctx, rowSel("e.txt", "td.sel input"))
		if s := readSel(t, ctx); s.Bar != "3 selected" {
			t.Errorf("after unticking e.txt the bar says %q, want 3 selected", s.Bar)
		}
	})

	t.Run("download as zip", func(t *testing.T) {
		ctx := browserStep(t, tab)
		saved := watchDownloads(t, ctx)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("selection-zip"))); err != nil {
			t.Fatal(err)
		}
		begin, got := saved.next(t, ctx, "the selection's zip")
		u, err := url.Parse(begin.URL)
		if err != nil {
			t.Fatal(err)
		}
		if q := u.Query(); q.Get("format") != "zip" || !slices.Equal(q["select"], []string{"a.txt", "b.txt", "d.txt"}) {
			t.Errorf("the zip came from %s; want ?format=zip with select=a.txt, b.txt, d.txt", begin.URL)
		}
		zr, err := zip.NewReader(bytes.NewReader(got), int64(len(got)))
		if err != nil {
			t.Fatalf("the saved zip does not open: %v", err)
		}
		inZip, _ := zipFiles(t, zr)
		var names []string
		for n, data := range inZip {
			n = path.Base(n)
			names = append(names, n)
			if slices.Contains([]string{"a.txt", "b.txt", "d.txt"}, n) && string(data) != files[n] {
				t.Errorf("%s in the zip holds %q, want %q", n, data, files[n])
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"a.txt", "b.txt", "d.txt"}) {
			t.Errorf("the zip holds %q, want exactly a.txt, b.txt, d.txt", names)
		}
	})

	t.Run("escape, ctrl+a with a filter", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`),
			chromedp.KeyEvent(kb.Escape),
		); err != nil {
			t.Fatal(err)
		}
		if s := readSel(t, ctx); len(s.Names) != 0 || s.Bar != "" || s.Said != "Selection cleared." {
			t.Errorf("after Escape: %+v; want nothing selected, no bar, said so", s)
		}
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](typeFilter(".txt")),
			chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`),
			chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		); err != nil {
			t.Fatal(err)
		}
		if s := readSel(t, ctx); len(s.Names) != 5 || s.Bar != "5 selected" {
			t.Errorf("after Ctrl+A with the filter .txt: %+v; want the 5 files", s)
		}
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](typeFilter("")), chromedp.KeyEvent(kb.Escape)); err != nil {
			t.Fatal(err)
		}
		if s := readSel(t, ctx); len(s.Names) != 0 {
			t.Errorf("after Escape: %q still selected", s.Names)
		}
	})

	t.Run("delete asks", func(t *testing.T) {
		ctx := browserStep(t, tab)
		// The zip's notice may lie over the rows to click, as it would
		// until a person dismissed it.
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("#notices .notice").forEach((n) => n.remove())`)); err != nil {
			t.Fatal(err)
		}
		clickWith(t, ctx, rowSel("b.txt", "td.sel input"))
		clickWith(t, ctx, rowSel("d.txt", "td.sel input"))
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](recordPosts),
			chromedp.Click(chromedp.ID("selection-delete")),
			chromedp.WaitVisible(chromedp.CSS("dialog.ask[open]")),
		); err != nil {
			t.Fatal(err)
		}
		question, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("dialog.ask[open]")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(question, "Delete 2 entries?") || !strings.Contains(question, "b.txt, d.txt") {
			t.Errorf("the question reads %q; want it to name b.txt and d.txt", question)
		}
		if sent, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.sentPosts.length`)); err != nil || sent != 0 {
			t.Errorf("%d requests sent before the answer (%v)", sent, err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`dialog.ask[open] button.danger`))); err != nil {
			t.Fatal(err)
		}
		u, body := waitPost(t, ctx, "op=delete")
		if !strings.HasSuffix(u, "/box/?op=delete") || !slices.Equal(body["select"], []string{"b.txt", "d.txt"}) || body.Has("recursive") {
			t.Errorf("the delete sent %s with %v; want ./?op=delete with select=b.txt, d.txt", u, body)
		}
		if err := settled(ctx, `!document.querySelector('#listing tr[data-name="b.txt"]') && !document.querySelector('#listing tr[data-name="d.txt"]')`); err != nil {
			t.Errorf("the rows of b.txt and d.txt stay after the delete: %v", err)
		}
		for n, gone := range map[string]bool{"a.txt": false, "b.txt": true, "d.txt": true} {
			if _, err := os.Stat(filepath.Join(box, n)); os.IsNotExist(err) != gone {
				t.Errorf("after deleting b.txt and d.txt, %s exists: %v", n, !os.IsNotExist(err))
			}
		}
	})

	t.Run("drag onto a folder, undo", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.listingURL("/box/")), chromedp.WaitVisible(rowSel("c.txt", "td.sel input")), chromedp.Evaluate[chromedp.Void](recordPosts)); err != nil {
			t.Fatal(err)
		}
		problem, err := chromedp.Run(ctx, chromedp.Evaluate[string](dragTo("c.txt", `#listing tr[data-name="dest"]`)))
		if err != nil {
			t.Fatal(err)
		}
		if problem != "" {
			t.Errorf("dragging c.txt onto dest: %s", problem)
		}
		u, body := waitPost(t, ctx, "op=move")
		if !strings.HasSuffix(u, "/box/?op=move") || !slices.Equal(body["select"], []string{"c.txt"}) || body.Get("to") != "/box/dest" {
			t.Errorf("the drag sent %s with %v; want ./?op=move with select=c.txt, to=/box/dest", u, body)
		}
		if err := settled(ctx, `!!document.querySelector("#notices .notice.undo button.undo-button")`); err != nil {
			t.Fatalf("no undo notice after the move: %v", err)
		}
		if _, err := os.Stat(filepath.Join(box, "dest", "c.txt")); err != nil {
			t.Errorf("c.txt is not in dest after the drag: %v", err)
		}
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](recordPosts),
			chromedp.Click(chromedp.CSS("#notices .notice.undo button.undo-button")),
		); err != nil {
			t.Fatal(err)
		}
		u, body = waitPost(t, ctx, "op=move")
		if !strings.HasSuffix(u, "/box/dest/?op=move") || !slices.Equal(body["select"], []string{"c.txt"}) || body.Get("to") != "/box/" {
			t.Errorf("the undo sent %s with %v; want dest/?op=move with select=c.txt, to=/box/", u, body)
		}
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`!!document.querySelector('#listing tr[data-name="c.txt"]')`)); err != nil {
			t.Errorf("c.txt's row is not back after the undo: %v", err)
		}
		if _, err := os.Stat(filepath.Join(box, "c.txt")); err != nil {
			t.Errorf("c.txt is not back in box after the undo: %v", err)
		}
	})

	t.Run("move to, one fails", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.listingURL("/box/")), chromedp.WaitVisible(rowSel("c.txt", "td.sel input")), chromedp.Evaluate[chromedp.Void](recordPosts)); err != nil {
			t.Fatal(err)
		}
		clickWith(t, ctx, rowSel("c.txt", "td.sel input"))
		clickWith(t, ctx, rowSel("e.txt", "td.sel input"))
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.ID("selection-move")),
			chromedp.WaitVisible(chromedp.ID("move-to")),
			chromedp.SetValue(chromedp.ID("move-to"), "keep"),
			chromedp.Click(chromedp.CSS(`dialog[open] button[value=move]`)),
		); err != nil {
			t.Fatal(err)
		}
		u, body := waitPost(t, ctx, "op=move")
		if !strings.HasSuffix(u, "/box/?op=move") || !slices.Equal(body["select"], []string{"c.txt", "e.txt"}) || body.Get("to") != "keep" {
			t.Errorf("Move to… sent %s with %v; want ./?op=move with select=c.txt, e.txt, to=keep", u, body)
		}
		if err := settled(ctx, `!!document.querySelector("#notices .bulk-failures")`); err != nil {
			t.Fatalf("no notice of the failure: %v", err)
		}
		failures, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#notices .bulk-failures li")))
		if err != nil || !strings.HasPrefix(failures, "e.txt: ") {
			t.Errorf("the failure notice lists %q (%v); want e.txt and why", failures, err)
		}
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`!document.querySelector('#listing tr[data-name="c.txt"]')`)); err != nil {
			t.Errorf("c.txt's row stays after it moved: %v", err)
		}
		if s := readSel(t, ctx); !slices.Equal(s.Names, []string{"e.txt"}) {
			t.Errorf("after the move, %q selected; want e.txt, which failed", s.Names)
		}
		if got, err := os.ReadFile(filepath.Join(box, "keep", "c.txt")); err != nil || string(got) != files["c.txt"] {
			t.Errorf("keep/c.txt: %q, %v", got, err)
		}
		if got, err := os.ReadFile(filepath.Join(box, "keep", "e.txt")); err != nil || string(got) != "another echo\n" {
			t.Errorf("keep/e.txt was changed: %q, %v", got, err)
		}
	})

	t.Run("copy to, as a transfer", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.listingURL("/box/keep/")), chromedp.WaitVisible(rowSel("c.txt", "td.sel input"))); err != nil {
			t.Fatal(err)
		}
		clickWith(t, ctx, rowSel("c.txt", "td.sel input"))
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.ID("selection-copy")),
			chromedp.WaitVisible(chromedp.ID("copy-to")),
			chromedp.SetValue(chromedp.ID("copy-to"), "/box/dest"),
			chromedp.Click(chromedp.CSS(`dialog[open] button[value=copy]`)),
		); err != nil {
			t.Fatal(err)
		}
		if err := settled(ctx, `[...document.querySelectorAll("#notices .notice")].some((n) => n.textContent.startsWith("Copied 1"))`); err != nil {
			t.Fatalf("no notice of the copy: %v", err)
		}
		for _, p := range []string{filepath.Join(box, "dest", "c.txt"), filepath.Join(box, "keep", "c.txt")} {
			if got, err := os.ReadFile(p); err != nil || string(got) != files["c.txt"] {
				t.Errorf("%s after the copy: %q, %v; want c.txt's content", p, got, err)
			}
		}
		// The copy went through the bridge, as a transfer of this session.
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#transfer-list li")].some((li) => li.textContent.includes("c.txt") && li.textContent.includes("copy"))`)); err != nil {
			t.Errorf("the transfers panel shows no copy of c.txt: %v", err)
		}
	})

	t.Run("drag the selection onto a breadcrumb", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.listingURL("/box/keep/")), chromedp.WaitVisible(chromedp.ID("listing"))); err != nil {
			t.Fatal(err)
		}
		// An empty folder has no row to drag: go to box, select two, drag
		// them onto the site root's breadcrumb.
		if err := chromedp.Do(ctx, chromedp.Navigate(bt.listingURL("/box/")), chromedp.WaitVisible(rowSel("a.txt", "td.sel input")), chromedp.Evaluate[chromedp.Void](recordPosts)); err != nil {
			t.Fatal(err)
		}
		clickWith(t, ctx, rowSel("a.txt", "td.sel input"))
		clickWith(t, ctx, rowSel("e.txt", "td.sel input"))
		problem, err := chromedp.Run(ctx, chromedp.Evaluate[string](dragTo("e.txt", `nav.crumbs a`)))
		if err != nil || problem != "" {
			t.Errorf("dragging a.txt and e.txt onto the root's breadcrumb: %q %v", problem, err)
		}
		u, body := waitPost(t, ctx, "op=move")
		if !strings.HasSuffix(u, "/box/?op=move") || !slices.Equal(body["select"], []string{"a.txt", "e.txt"}) || body.Get("to") != "/" {
			t.Errorf("the drag sent %s with %v; want ./?op=move with select=a.txt, e.txt, to=/", u, body)
		}
		if err := settled(ctx, `!document.querySelector('#listing tr[data-name="a.txt"]')`); err != nil {
			t.Errorf("a.txt's row stays after moving it up: %v", err)
		}
		for _, n := range []string{"a.txt", "e.txt"} {
			if _, err := os.Stat(filepath.Join(root, n)); err != nil {
				t.Errorf("%s is not at the root after the drag: %v", n, err)
			}
		}
	})

	t.Run("a big folder keeps the selection by name", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/many/")),
			chromedp.Poll[chromedp.Void](`document.getElementById("listing").classList.contains("windowed")`),
		); err != nil {
			t.Fatal(err)
		}
		clickWith(t, ctx, rowSel(bigName(1), "td.sel input"))
		clickWith(t, ctx, rowSel(bigName(3), "td.sel input"), chromedp.ModifierShift)
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.documentElement.scrollHeight)`),
			chromedp.Poll[chromedp.Void](`!!document.querySelector('#listing tr[data-name="`+bigName(1199)+`"]') && !document.querySelector('#listing tr[data-name="`+bigName(1)+`"]')`),
		); err != nil {
			t.Fatal(err)
		}
		clickWith(t, ctx, rowSel(bigName(1199), "td.sel input"), chromedp.ModifierShift)
		if s := readSel(t, ctx); s.Bar != "1199 selected" {
			t.Errorf("after a Shift-click from %s to %s, out of view of each other, the bar says %q, want 1199 selected", bigName(3), bigName(1199), s.Bar)
		}
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
			chromedp.Poll[chromedp.Void](`!!document.querySelector('#listing tr[data-name="`+bigName(1)+`"]')`),
		); err != nil {
			t.Fatal(err)
		}
		s := readSel(t, ctx)
		if !slices.Contains(s.Names, bigName(1)) || slices.Contains(s.Names, bigName(0)) {
			t.Errorf("back at the top, the rows shown selected are %q; want %s and not %s", s.Names[:min(5, len(s.Names))], bigName(1), bigName(0))
		}
		if err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`),
			chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		); err != nil {
			t.Fatal(err)
		}
		if s := readSel(t, ctx); s.Bar != "1200 selected" {
			t.Errorf("Ctrl+A in the big folder: the bar says %q, want 1200 selected", s.Bar)
		}
	})

	t.Run("no script errors or CSP violations", func(t *testing.T) { bt.checkProblems(t, browserStep(t, tab)) })
}
