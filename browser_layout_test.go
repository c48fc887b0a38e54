package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

// setViewport makes the tab a screen of w×h CSS pixels; mobile emulates a
// phone (the viewport meta tag, overlay scrollbars).
func setViewport(t *testing.T, ctx context.Context, w, h int64, mobile bool) {
	t.Helper()
	scale := 1.0
	if mobile {
		scale = 3
	}
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: w, Height: h, DeviceScaleFactor: scale, Mobile: mobile,
	}); err != nil {
		t.Fatalf("emulating a %dx%d screen: %v", w, h, err)
	}
}

// box is an element's place on the screen, as getBoundingClientRect says,
// with the viewport's size and the page's scroll.
type box struct {
	Top, Bottom, Left, Right float64
	VW, VH, ScrollY          float64
	Hit                      bool // the element (or one inside it) is what a tap at its middle reaches
	Found                    bool
}

// boxOf is a script that measures the element the expression el gives.
func boxOf(el string) string {
	return `(() => {
		const el = ` + el + `;
		if (!el) return { Found: false };
		const r = el.getBoundingClientRect();
		const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
		return { Found: true, Top: r.top, Bottom: r.bottom, Left: r.left, Right: r.right,
			VW: document.documentElement.clientWidth, VH: window.innerHeight, ScrollY: window.scrollY,
			Hit: !!hit && el.contains(hit) };
	})()`
}

func measure(t *testing.T, ctx context.Context, el string) box {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.Evaluate[box](boxOf(el)))
	if err != nil {
		t.Fatalf("measuring %s: %v", el, err)
	}
	if !b.Found {
		t.Fatalf("the page has no %s", el)
	}
	return b
}

func (b box) inViewport() bool {
	return b.Top >= 0 && b.Left >= 0 && b.Bottom <= b.VH && b.Right <= b.VW
}

// TestBrowserLayout: on a phone (390×844) the list starts in the first
// screen, the folder's actions fold into one menu, and a row menu opens in
// view even for a row at the bottom of the screen; on a desktop (1280×900)
// the home page is centered.
func TestBrowserLayout(t *testing.T) {
	root := t.TempDir()
	makeBigFolder(t, root, "many", 60)
	bt, tab := newBrowserTest(t, embedftp.Options{Root: root})
	if !t.Run("connect", func(t *testing.T) { bt.connect(t, browserStep(t, tab)) }) {
		return
	}

	t.Run("phone: the first row is in the first screen", func(t *testing.T) {
		ctx := browserStep(t, tab)
		setViewport(t, ctx, 390, 844, true)
		// The site root over plain FTP: the page with the most above its
		// list (the plain-FTP note, a parent-less toolbar).
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/")),
			chromedp.WaitVisible(rowLink("many")),
		); err != nil {
			t.Fatal(err)
		}
		first := measure(t, ctx, `document.querySelector("#listing tbody tr[data-name] td.name a")`)
		if first.VW != 390 || first.ScrollY != 0 {
			t.Fatalf("the page is %v px wide, scrolled %v px; want 390, 0", first.VW, first.ScrollY)
		}
		if !first.inViewport() || !first.Hit {
			t.Fatalf("the first row's link is at %+v: not wholly on the 390x844 screen, or covered", first)
		}
		// The actions fold into one menu: the list's top is not below them.
		state, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
			summary: getComputedStyle(document.querySelector("#folder-actions > summary")).display,
			zipShown: document.getElementById("zip").checkVisibility(),
		})`))
		if err != nil {
			t.Fatal(err)
		}
		if state["summary"] == "none" || state["zipShown"] != false {
			t.Errorf("on a phone the Actions menu's summary shows as %v and the zip button shows: %v; want a folded menu", state["summary"], state["zipShown"])
		}
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS("#folder-actions > summary")),
			chromedp.WaitVisible(chromedp.ID("zip")),
			chromedp.WaitVisible(chromedp.ID("toggle-hidden")),
		); err != nil {
			t.Fatalf("opening the Actions menu: %v", err)
		}
		if zip := measure(t, ctx, `document.getElementById("zip")`); !zip.inViewport() {
			t.Errorf("the Actions menu's zip button is at %+v, outside the screen", zip)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#folder-actions > summary")), chromedp.Poll[chromedp.Void](`!document.getElementById("zip").checkVisibility()`)); err != nil {
			t.Fatalf("closing the Actions menu: %v", err)
		}
		// A tap where the first row's link is opens it: no scrolling needed.
		first = measure(t, ctx, `document.querySelector("#listing tbody tr[data-name] td.name a")`)
		resp, err := chromedp.RunResponse(ctx, chromedp.MouseClickXY((first.Left+first.Right)/2, (first.Top+first.Bottom)/2))
		if err != nil {
			t.Fatalf("tapping the first row: %v", err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || loc != bt.listingURL("/many/") {
			t.Errorf("tapping the first row led to %s (%d), want %s", loc, resp.Status, bt.listingURL("/many/"))
		}
	})

	t.Run("phone: a row menu at the bottom of the screen opens in view", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/many/")),
			chromedp.WaitVisible(rowLink(bigName(0))),
		); err != nil {
			t.Fatal(err)
		}
		// The last row wholly on the screen.
		name, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			let last = "";
			for (const r of document.querySelectorAll("#listing tbody tr[data-name]")) {
				if (r.getBoundingClientRect().bottom <= window.innerHeight) last = r.dataset.name;
			}
			return last;
		})()`))
		if err != nil || name == "" || name == bigName(59) {
			t.Fatalf("no row near the bottom of the screen (%q, %v)", name, err)
		}
		button := `document.querySelector('#listing tr[data-name="` + name + `"] td.act a.more')`
		before := measure(t, ctx, button)
		if err := chromedp.Do(ctx,
			chromedp.Click(rowSel(name, "td.act a.more")),
			chromedp.WaitVisible(rowSel(name, "#row-menu form.rename input[name=to]")),
		); err != nil {
			t.Fatalf("opening the menu of %s: %v", name, err)
		}
		menu := measure(t, ctx, `document.getElementById("row-menu")`)
		if !menu.inViewport() {
			t.Errorf("the menu of %s, near the bottom of the screen, is at %+v: not wholly on the %vx%v screen", name, menu, menu.VW, menu.VH)
		}
		// In view where it opened: the page did not scroll away from the row.
		if menu.ScrollY != before.ScrollY {
			t.Errorf("opening the menu of %s scrolled the page from %v to %v px", name, before.ScrollY, menu.ScrollY)
		}
		for _, sel := range []string{"#row-menu form.rename button", "#row-menu form.delete button"} {
			if bx := measure(t, ctx, `document.querySelector(`+jsString(sel)+`)`); !bx.inViewport() || !bx.Hit {
				t.Errorf("%s is at %+v: off the screen or covered", sel, bx)
			}
		}
	})

	t.Run("phone: the transfers panel leaves the list in the first screen", func(t *testing.T) {
		ctx := browserStep(t, tab)
		src := filepath.Join(t.TempDir(), "from the phone.txt")
		if err := os.WriteFile(src, []byte("uploaded from a phone\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/many/")),
			chromedp.WaitReady(chromedp.ID("upload-files")),
			chromedp.SetUploadFiles(chromedp.ID("upload-files"), []string{src}),
			chromedp.Poll[chromedp.Void](`!document.getElementById("transfers").hidden && !!document.querySelector('#listing tr[data-name="from the phone.txt"]')`),
		); err != nil {
			t.Fatalf("uploading a file on the phone: %v", err)
		}
		panel := measure(t, ctx, `document.getElementById("transfers")`)
		if h := panel.Bottom - panel.Top; h > 60 {
			t.Errorf("the transfers panel is %.0f px high on the phone, want a summary line", h)
		}
		first := measure(t, ctx, `document.querySelector("#listing tbody tr[data-name] td.name a")`)
		if !first.inViewport() || !first.Hit || first.ScrollY != 0 {
			t.Errorf("with the transfers panel, the first row's link is at %+v: not on the first screen", first)
		}
		// Unfolded on request, its list stays short.
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.ID("transfers-toggle")),
			chromedp.WaitVisible(chromedp.ID("transfer-list")),
		); err != nil {
			t.Fatalf("unfolding the transfers panel: %v", err)
		}
		if list := measure(t, ctx, `document.getElementById("transfer-list")`); list.Bottom-list.Top > 150 {
			t.Errorf("the unfolded transfer list is %.0f px high on the phone", list.Bottom-list.Top)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("transfers-toggle")), chromedp.WaitNotVisible(chromedp.ID("transfer-list"))); err != nil {
			t.Fatalf("folding the transfers panel: %v", err)
		}
	})

	t.Run("phone without JavaScript: the Actions menu opens", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(tab, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/sub/")),
			chromedp.WaitVisible(rowLink("deeper")),
		); err != nil {
			t.Fatal(err)
		}
		if js, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.classList.contains("js")`)); err != nil || js {
			t.Fatalf("the page's script ran (%v)", err)
		}
		if first := measure(t, ctx, `document.querySelector("#listing tbody tr[data-name] td.name a")`); !first.inViewport() || !first.Hit {
			t.Errorf("without the script, the first row's link is at %+v: not on the first screen", first)
		}
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS("#folder-actions > summary")),
			chromedp.WaitVisible(chromedp.ID("parent")),
			chromedp.WaitVisible(chromedp.ID("zip")),
			chromedp.WaitVisible(chromedp.CSS("#new-folder > summary")),
			chromedp.WaitVisible(chromedp.CSS("#upload-form .nojs button[type=submit]")),
		); err != nil {
			t.Fatalf("the Actions menu without the script: %v", err)
		}
	})

	t.Run("desktop: the home page is centered", func(t *testing.T) {
		ctx := browserStep(t, tab)
		setViewport(t, ctx, 1280, 900, false)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.b.URL+"/"),
			chromedp.WaitVisible(chromedp.ID("connect-form")),
		); err != nil {
			t.Fatal(err)
		}
		// The cards in main, taken together.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`(() => {
			const rs = Array.from(document.querySelectorAll("main > .card"), (c) => c.getBoundingClientRect());
			return { cards: rs.length, left: Math.min(...rs.map((r) => r.left)), right: Math.max(...rs.map((r) => r.right)),
				width: document.documentElement.clientWidth };
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		left, right := got["left"], got["width"]-got["right"]
		if got["cards"] < 2 || got["width"] < 1200 || math.Abs(left-right) > 4 {
			t.Errorf("the home page's %v cards leave %.0f px on the left and %.0f px on the right of %v; want them centered", got["cards"], left, right, got["width"])
		}
		if w := got["right"] - got["left"]; w < 400 || w > 900 {
			t.Errorf("the home page's cards are %.0f px wide, want a readable width", w)
		}
	})

	t.Run("desktop: the actions are in the toolbar", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/sub/")),
			chromedp.WaitVisible(chromedp.ID("zip")),
			chromedp.WaitVisible(chromedp.ID("parent")),
			chromedp.WaitVisible(chromedp.CSS("#new-folder > summary")),
			chromedp.WaitNotVisible(chromedp.CSS("#folder-actions > summary")),
		); err != nil {
			t.Fatalf("the toolbar at 1280 px: %v", err)
		}
		// New folder, at the right end of the toolbar, opens on the screen.
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS("#new-folder > summary")),
			chromedp.WaitVisible(chromedp.ID("new-folder-name")),
		); err != nil {
			t.Fatal(err)
		}
		if form := measure(t, ctx, `document.getElementById("new-folder-form")`); !form.inViewport() {
			t.Errorf("the New folder form is at %+v, off the %vx%v screen", form, form.VW, form.VH)
		}
	})

	t.Run("no script errors or CSP violations", func(t *testing.T) { bt.checkProblems(t, browserStep(t, tab)) })
}

// focusedRow is a script that names the row the focus is in ("" outside
// the rows, "filter" in the filter box).
const focusedRow = `(() => {
	const a = document.activeElement;
	if (a && a.id === "filter") return "filter";
	const tr = a && a.closest("#listing tbody tr[data-name]");
	return tr ? tr.dataset.name : "";
})()`

// announced is a script that returns what the page's live region says.
const announced = `document.getElementById("notices").textContent`

// TestBrowserKeyboard: the arrows move the focus over the rows, Enter
// opens, Backspace goes up, Enter in the filter opens its only match, F2
// and Delete start a rename and a delete, the windowed listing of a big
// folder builds the rows the keys reach, and the live region says what
// happened.
func TestBrowserKeyboard(t *testing.T) {
	root := t.TempDir()
	makeBigFolder(t, root, "big", 1200)
	bt, tab := newBrowserTest(t, embedftp.Options{Root: root})
	if !t.Run("connect", func(t *testing.T) { bt.connect(t, browserStep(t, tab)) }) {
		return
	}
	focusIs := func(t *testing.T, ctx context.Context, key, want string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(key)); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](focusedRow))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("after %q the focus is on %q, want %q", key, got, want)
		}
	}
	// pressAndLoad presses key and requires the page it leads to.
	pressAndLoad := func(t *testing.T, ctx context.Context, key, wantURL string) {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(key))
		if err != nil {
			t.Fatalf("pressing %q: %v", key, err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || loc != wantURL {
			t.Fatalf("pressing %q led to %s (%d), want %s", key, loc, resp.Status, wantURL)
		}
	}
	waitSaid := func(t *testing.T, ctx context.Context, words string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](announced+`.includes(`+jsString(words)+`)`)); err != nil {
			said, _ := chromedp.Run(ctx, chromedp.Evaluate[string](announced))
			t.Fatalf("the live region does not say %q: it says %q (%v)", words, said, err)
		}
	}

	t.Run("arrows, Enter, Backspace", func(t *testing.T) {
		ctx := browserStep(t, tab)
		rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#listing tbody tr[data-name]"), (r) => r.dataset.name)`))
		if err != nil || len(rows) < 3 || rows[0] != "big" || rows[1] != "sub" {
			t.Fatalf("the root's rows: %q (%v), want big, sub, …", rows, err)
		}
		focusIs(t, ctx, kb.ArrowDown, rows[0])
		focusIs(t, ctx, kb.ArrowDown, rows[1])
		focusIs(t, ctx, kb.ArrowDown, rows[2])
		focusIs(t, ctx, kb.ArrowUp, rows[1])
		// Roving focus: the rows are one Tab stop, the row focused last.
		stops, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(
			document.querySelectorAll('#listing tbody tr[data-name] td.name a:not([tabindex="-1"]), #listing tbody tr[data-name] a.more:not([tabindex="-1"])'),
			(a) => a.closest("tr").dataset.name)`))
		if err != nil || len(stops) != 2 || stops[0] != rows[1] || stops[1] != rows[1] {
			t.Errorf("the rows' links and menu buttons in the Tab order are those of %q (%v), want %s's only", stops, err, rows[1])
		}
		pressAndLoad(t, ctx, kb.Enter, bt.listingURL("/sub/"))
		waitSaid(t, ctx, "Opened folder sub.")
		pressAndLoad(t, ctx, kb.Backspace, bt.listingURL("/"))
		waitSaid(t, ctx, "Opened the parent folder.")
	})

	t.Run("Enter in the filter opens its only match", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/sub/")),
			chromedp.SendKeys(chromedp.ID("filter"), "deep"),
		); err != nil {
			t.Fatal(err)
		}
		waitSaid(t, ctx, "One match: folder deeper.")
		// Keys that move and open do nothing else while typing: Backspace
		// takes a letter off, and the page stays.
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Backspace), chromedp.KeyEvent("p")); err != nil {
			t.Fatal(err)
		}
		if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("filter"))); err != nil || v != "deep" {
			t.Fatalf("the filter holds %q after Backspace and p (%v), want deep", v, err)
		}
		pressAndLoad(t, ctx, kb.Enter, bt.listingURL("/sub/deeper/"))
		waitSaid(t, ctx, "Opened folder deeper.")
	})

	t.Run("F2 and Delete", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/sub/deeper/")),
			chromedp.WaitVisible(rowLink("leaf.txt")),
		); err != nil {
			t.Fatal(err)
		}
		focusIs(t, ctx, kb.ArrowDown, "leaf.txt")
		if err := chromedp.Do(ctx,
			chromedp.KeyEvent(kb.F2),
			chromedp.Poll[chromedp.Void](`document.activeElement.matches('#listing tr[data-name="leaf.txt"] #row-menu form.rename input[name=to]')`),
		); err != nil {
			t.Fatalf("F2 did not open the rename field of leaf.txt: %v", err)
		}
		waitSaid(t, ctx, "Rename leaf.txt")
		if err := chromedp.Do(ctx,
			chromedp.KeyEvent(kb.Escape),
			chromedp.Poll[chromedp.Void](`!document.getElementById("row-menu")`),
		); err != nil {
			t.Fatalf("Escape did not close the menu: %v", err)
		}
		focusIs(t, ctx, kb.ArrowUp, "filter")
		focusIs(t, ctx, kb.ArrowDown, "leaf.txt")

		// Delete asks first, with whatever the page asks with: confirm()
		// or a dialog of its own. The test says no.
		asked := make(chan string, 2)
		go func() {
			for ev, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
				if err != nil {
					return
				}
				asked <- ev.Message
				if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false}); err != nil {
					return
				}
			}
		}()
		pollCtx, stopPoll := context.WithCancel(ctx)
		defer stopPoll()
		go func() {
			q, err := chromedp.Run(pollCtx, chromedp.Poll[string](`(() => { const d = document.querySelector("dialog[open]"); return d ? d.textContent : ""; })()`))
			if err == nil {
				asked <- q
			}
		}()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Delete)); err != nil {
			t.Fatal(err)
		}
		select {
		case q := <-asked:
			if !strings.Contains(q, "leaf.txt") {
				t.Errorf("Delete asked %q, which does not name leaf.txt", q)
			}
		case <-ctx.Done():
			t.Fatal("Delete on leaf.txt did not ask before deleting")
		}
		stopPoll()
		waitSaid(t, ctx, "Delete leaf.txt?")
	})

	t.Run("a big folder builds the rows the keys reach", func(t *testing.T) {
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(bt.listingURL("/big/")),
			chromedp.Poll[chromedp.Void](`document.getElementById("listing").classList.contains("windowed")`),
		); err != nil {
			t.Fatal(err)
		}
		focusIs(t, ctx, kb.ArrowDown, bigName(0))
		focusIs(t, ctx, kb.End, bigName(1199))
		focusIs(t, ctx, kb.ArrowUp, bigName(1198))
		focusIs(t, ctx, kb.Home, bigName(0))
		// Past the rows built at first, one row at a time.
		for i := 1; i <= 120; i++ {
			if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.ArrowDown)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({ row: `+focusedRow+`,
			built: document.querySelectorAll("#listing tbody tr[data-name]").length,
			stops: Array.from(document.querySelectorAll('#listing tbody td.name a:not([tabindex="-1"])'), (a) => a.closest("tr").dataset.name).join() })`))
		if err != nil {
			t.Fatal(err)
		}
		if got["row"] != bigName(120) || got["built"].(float64) > 300 {
			t.Errorf("after 120 × ArrowDown the focus is on %v with %v rows built; want %s, a window", got["row"], got["built"], bigName(120))
		}
		if got["stops"] != bigName(120) {
			t.Errorf("the row links in the Tab order are %q, want %s's only", got["stops"], bigName(120))
		}
	})

	t.Run("no script errors or CSP violations", func(t *testing.T) { bt.checkProblems(t, browserStep(t, tab)) })
}
