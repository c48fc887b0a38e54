// The listing: the filter box, sorting in the page, big folders shown
// windowed, and reloading the rows after a change. Rows the script builds
// itself come from rows.js; the one menu all rows share, from menus.js.

import { listingTable, notify } from "./dom.js";
import { errorText, request } from "./http.js";
import { closeRowMenu, openRowMenu, rowMenu } from "./menus.js";
import { opensInViewer } from "./preview.js";
import { buildRow, compareRows, sortKey, spacerRow } from "./rows.js";
import { localTimes } from "./times.js";

// ---------------------------------------------------------------------------
// Filter

// applyFilter hides the rows that do not match the filter box. It reads the
// rows each time, because a refresh replaces them.
function applyFilter() {
  const filter = document.getElementById("filter");
  const table = document.getElementById("listing");
  if (!filter || !table) return;
  const q = filter.value.toLowerCase();
  if (big.on) {
    big.view = q === "" ? big.all : big.all.filter((it) => it.lower.includes(q));
    renderWindow(true);
    document.getElementById("no-match").hidden = big.view.length > 0 || big.all.length === 0;
    rove();
    return;
  }
  let rows = 0;
  let shown = 0;
  for (const r of table.tBodies[0].rows) {
    if (r.dataset.name === undefined) continue;
    rows++;
    const match = r.dataset.name.toLowerCase().includes(q);
    r.hidden = !match;
    if (match) shown++;
  }
  document.getElementById("no-match").hidden = shown > 0 || rows === 0;
  rove();
}

export function initFilter() {
  // Filter rows as you type; "/" focuses the filter, Escape clears it.
  const filter = document.getElementById("filter");
  if (!filter || !document.getElementById("listing")) return;
  filter.addEventListener("input", applyFilter);
  filter.addEventListener("input", announceMatchesSoon);
  document.addEventListener("keydown", (ev) => {
    const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement;
    if (ev.key === "/" && !typing) {
      ev.preventDefault();
      filter.focus();
    } else if (ev.key === "Escape" && document.activeElement === filter) {
      filter.value = "";
      filter.dispatchEvent(new Event("input"));
      filter.blur();
    }
  });
}

// ---------------------------------------------------------------------------
// Keyboard: the arrows (and Home, End) move the focus over the rows' links,
// Enter opens (the link's own behaviour), Backspace goes to the parent
// folder, Delete and F2 open the row's menu and start its delete or rename
// (changes.js does them, as from the menu). In the filter, the down arrow
// goes to the first row and Enter opens the only match. What happens is
// said in the page's polite live region (#announce, in #notices).

// announce says text to screen readers without showing it.
export function announce(text) {
  const region = document.getElementById("announce");
  if (!region) return;
  // The same words again would not be read: vary them invisibly.
  region.textContent = region.textContent === text ? text + "\u00a0" : text;
}

// The page after a navigation says what was opened.
const AFTER_KEY = "ftpbridge-announce";

function announceNext(text) {
  try {
    sessionStorage.setItem(AFTER_KEY, text);
  } catch {
    // storage disabled: the next page says nothing
  }
}

// visibleRows are the rows the filter lets through, in the page's order
// (a plain listing; a windowed one goes by big.view).
function visibleRows() {
  const table = listingTable();
  return Array.from(table.tBodies[0].rows).filter((r) => r.dataset.name !== undefined && !r.hidden);
}

function matchCount() {
  return big.on ? big.view.length : visibleRows().length;
}

// rowAt returns the i-th row the filter lets through, built if need be.
function rowAt(i) {
  return big.on ? bigRowAt(i) : visibleRows()[i];
}

// rowFocus is what the keyboard focuses in a row: its link, or for a file
// that may not be downloaded, its menu button.
function rowFocus(tr) {
  return tr && (tr.querySelector("td.name a") || tr.querySelector("td.act a.more"));
}

function rowIndex(tr) {
  if (big.on) return tr.bigItem ? big.view.indexOf(tr.bigItem) : -1;
  return visibleRows().indexOf(tr);
}

// firstInView is the index of the first row on the screen.
function firstInView() {
  const rows = big.on ? Array.from(listingTable().tBodies[0].rows).filter((r) => r.bigItem) : visibleRows();
  for (const r of rows) if (r.getBoundingClientRect().bottom > 0) return Math.max(0, rowIndex(r));
  return 0;
}

// Roving focus: the rows are one stop of the Tab key, the row focused last
// (at first, the first one shown); the arrows move between them. The
// other rows' links and menu buttons have tabindex -1.
let stop = null;

function rowFocusables(tr) {
  return tr.querySelectorAll("td.name a, td.act a.more");
}

function setStop(tr) {
  if (stop === tr) return;
  if (stop) for (const a of rowFocusables(stop)) a.tabIndex = -1;
  stop = tr;
  if (tr) for (const a of rowFocusables(tr)) a.removeAttribute("tabindex");
}

// rove takes every row but the stop out of the Tab order, after rows were
// built, replaced, filtered or scrolled away; a stop that is gone or
// filtered out passes to the first row shown.
function rove() {
  const table = listingTable();
  if (!table) return;
  const keep = stop && stop.isConnected && !stop.hidden ? stop : null;
  let next = keep;
  for (const tr of table.tBodies[0].rows) {
    if (tr.dataset.name === undefined) continue;
    if (!next && !tr.hidden) next = tr;
    if (tr !== next) for (const a of rowFocusables(tr)) if (a.tabIndex !== -1) a.tabIndex = -1;
  }
  if (next !== keep) stop = null;
  setStop(next);
}

function focusedRow() {
  const a = document.activeElement;
  return a instanceof Element ? a.closest("#listing tbody tr[data-name]") : null;
}

// moveFocus moves the focus to another row: by delta, or to the first or
// last; from outside the rows, to the first row on the screen.
function moveFocus(delta, edge) {
  const n = matchCount();
  if (n === 0) {
    announce("No entry matches the filter.");
    return;
  }
  const cur = focusedRow();
  let i;
  if (edge === "first") i = 0;
  else if (edge === "last") i = n - 1;
  else if (!cur) i = firstInView();
  else {
    i = rowIndex(cur) + delta;
    if (i < 0) {
      document.getElementById("filter").focus();
      return;
    }
    i = Math.min(i, n - 1);
  }
  const target = rowFocus(rowAt(i));
  if (target) target.focus();
}

function entryWords(tr) {
  return (tr.classList.contains("dir") ? "folder " : "") + tr.dataset.name;
}

// openRow follows a row's link as a click would (a folder opens, a file
// downloads) and says so.
// opening says what opening a row does: a folder opens, a file the viewer
// shows (preview.js) opens in it, any other file downloads.
function opening(tr) {
  const opens = tr.classList.contains("dir") || (tr.classList.contains("file") && opensInViewer(tr.dataset.name));
  return (opens ? "Opening " : "Downloading ") + entryWords(tr) + ".";
}

function openRow(tr) {
  const link = tr.querySelector("td.name a");
  if (!link) {
    announce("You may not download " + tr.dataset.name + ".");
    return;
  }
  if (tr.classList.contains("dir")) announceNext("Opened folder " + tr.dataset.name + ".");
  announce(opening(tr));
  link.click();
}

// rowAction opens the row's menu for a rename (F2) or a delete (Delete):
// the menu's own forms do them, so they ask and report as from the menu.
function rowAction(tr, act) {
  const more = tr.querySelector("td.act a.more");
  const word = act === "r" ? "renamed" : "deleted";
  if (!more || !(more.dataset.acts || "").includes(act)) {
    announce(tr.dataset.name + " may not be " + word + " here.");
    return;
  }
  closeRowMenu(false);
  const menu = openRowMenu(more);
  if (act === "r") {
    announce("Rename " + entryWords(tr) + ": type the new name and press Enter.");
    return;
  }
  const form = menu.querySelector("form.delete");
  form.querySelector("button").focus();
  announce("Delete " + entryWords(tr) + "?");
  form.requestSubmit();
}

let matchTimer = 0;

// announceMatchesSoon says how many rows match once typing pauses.
function announceMatchesSoon() {
  clearTimeout(matchTimer);
  matchTimer = setTimeout(() => {
    const filter = document.getElementById("filter");
    if (!filter || filter.value === "") return;
    const n = matchCount();
    if (n === 0) announce("No entry matches the filter.");
    else if (n === 1) {
      const tr = rowAt(0);
      announce("One match: " + entryWords(tr) + ". Press Enter to open it.");
    } else announce(n + " matches.");
  }, 400);
}

export function initKeyboard() {
  const table = listingTable();
  const filter = document.getElementById("filter");
  if (!table || !filter) return;
  try {
    const said = sessionStorage.getItem(AFTER_KEY);
    if (said) {
      sessionStorage.removeItem(AFTER_KEY);
      // A moment after the load, so screen readers take it as a change.
      setTimeout(() => announce(said), 300);
    }
  } catch {
    // storage disabled
  }
  table.addEventListener("focusin", (ev) => {
    const tr = ev.target instanceof Element ? ev.target.closest("tbody tr[data-name]") : null;
    if (tr) setStop(tr);
  });
  rove();
  document.addEventListener("keydown", (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target instanceof Element ? ev.target : null;
    if (t === filter) {
      if (ev.key === "ArrowDown") {
        ev.preventDefault();
        moveFocus(0, "first");
      } else if (ev.key === "Enter") {
        ev.preventDefault();
        const n = matchCount();
        if (n === 1) openRow(rowAt(0));
        else if (n === 0) announce("No entry matches the filter.");
        else announce(n + " matches: press the down arrow to go through them.");
      }
      return;
    }
    // Not while typing, nor in a dialog or an open menu.
    if (t && (t.closest("input, textarea, select, [contenteditable], dialog, #row-menu, details.menu[open]"))) return;
    const row = focusedRow();
    switch (ev.key) {
      case "ArrowDown":
      case "ArrowUp":
        ev.preventDefault();
        moveFocus(ev.key === "ArrowDown" ? 1 : -1);
        break;
      case "Home":
      case "End":
        if (!row) return;
        ev.preventDefault();
        moveFocus(0, ev.key === "Home" ? "first" : "last");
        break;
      case "Enter":
        // The link's own Enter opens it; say what it opens.
        if (!row || !t.matches("td.name a")) return;
        if (row.classList.contains("dir")) announceNext("Opened folder " + row.dataset.name + ".");
        announce(opening(row));
        break;
      case "Backspace": {
        ev.preventDefault();
        const parent = document.getElementById("parent");
        if (!parent) {
          announce("This is the top folder.");
          return;
        }
        announceNext("Opened the parent folder.");
        announce("Going up to the parent folder.");
        parent.click();
        break;
      }
      case "Delete":
      case "F2":
        if (!row) return;
        ev.preventDefault();
        rowAction(row, ev.key === "F2" ? "r" : "d");
        break;
    }
  });
}

// ---------------------------------------------------------------------------
// Sorting in the page: the column headers are links to the same folder
// sorted by the server, which is what a browser without the script gets;
// with it, a click sorts the rows already here, in the server's order
// (folders first, then by the column, names breaking ties, case folded),
// and the address changes to the link's, so a reload keeps the order.

function sortListing(by, desc) {
  if (big.on) {
    big.all.sort(compareRows(by, desc));
    applyFilter();
    return;
  }
  const table = listingTable();
  const body = table.tBodies[0];
  const keys = [];
  for (const r of body.rows) if (r.dataset.name !== undefined) keys.push(sortKey(r));
  keys.sort(compareRows(by, desc));
  const frag = document.createDocumentFragment();
  for (const k of keys) frag.append(k.r);
  body.prepend(frag);
}

export function initSort() {
  const table = listingTable();
  if (!table) return;
  const links = Array.from(table.tHead.querySelectorAll("th a[href]"));
  for (const a of links) {
    a.addEventListener("click", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey || ev.button !== 0) return; // a new tab: the server's page
      ev.preventDefault();
      const u = new URL(a.href);
      const by = u.searchParams.get("sort") || "name";
      const order = u.searchParams.get("order") === "desc" ? "desc" : "asc";
      closeRowMenu(false);
      sortListing(by, order === "desc");
      // The headers now say what the server's page would: the column
      // sorted, and its link the other way round.
      for (const other of links) {
        const ou = new URL(other.href);
        if (other === a) {
          other.setAttribute("aria-sort", order === "asc" ? "ascending" : "descending");
          ou.searchParams.set("order", order === "asc" ? "desc" : "asc");
        } else {
          other.removeAttribute("aria-sort");
          ou.searchParams.set("order", "asc");
        }
        other.href = ou.pathname + ou.search;
      }
      const hidden = document.getElementById("toggle-hidden");
      if (hidden) {
        const hu = new URL(hidden.href);
        hu.searchParams.set("sort", by);
        hu.searchParams.set("order", order);
        hidden.href = hu.pathname + hu.search;
      }
      history.replaceState(history.state, "", u.pathname + u.search);
    });
  }
}

// ---------------------------------------------------------------------------
// Big folders: the server's page holds the first rows only (data-total
// says how many there are; handlers/browse.go pageRows). The script loads
// the whole folder as JSON and builds only the rows in view, plus a few
// around them, between two spacer rows that keep the scroll height; filter
// and sort work on the data. rows.js builds the rows the way
// handlers/rows.go writes them, and names go in as text only.

const big = { on: false, all: [], view: [], rowH: 0, start: 0, end: 0, top: null, bottom: null, frame: 0 };
const OVERSCAN = 20; // rows built above and below the screen

// loadBig fetches the folder's entries and shows them windowed. It
// resolves false if they could not be had: the page's own rows and its
// "Show all" link stay.
async function loadBig(token) {
  const table = listingTable();
  const u = new URL(location.href);
  u.searchParams.delete("all");
  u.searchParams.set("format", "json");
  // The entries the page was made from, which the bridge keeps for a few
  // seconds (handlers/handoff.go); without them it lists the folder again.
  if (token) u.searchParams.set("listing", token);
  const asked = location.search;
  const res = await request("GET", u.pathname + u.search);
  if (!res.ok || !res.data || !Array.isArray(res.data.entries)) {
    notify("Only the first rows of this folder are shown: the rest could not be loaded (" + errorText(res.status, res.data) + ")", true);
    return false;
  }
  // The JSON has dot-files always; the page, only when asked.
  const hidden = u.searchParams.get("hidden") === "1";
  big.all = [];
  for (const e of res.data.entries) {
    if (!hidden && e.name.startsWith(".")) continue;
    big.all.push({
      name: e.name, lower: e.name.toLowerCase(), href: e.href, type: e.type, dir: e.type === "dir",
      size: e.type === "dir" ? 0 : e.size, mod: e.modified || "", target: e.target || "", perm: e.perm || "", tr: null,
    });
  }
  if (location.search !== asked) {
    // The JSON came sorted as asked, but a sort in the page changed the
    // address since the request went out.
    const su = new URL(location.href);
    big.all.sort(compareRows(su.searchParams.get("sort") || "name", su.searchParams.get("order") === "desc"));
  }
  if (!big.on) {
    big.on = true;
    const cols = table.tHead.rows[0].cells.length;
    big.top = spacerRow(cols);
    big.bottom = spacerRow(cols);
    table.classList.add("windowed");
    const more = document.getElementById("more-rows");
    if (more) more.hidden = true;
    let ticking = false;
    const schedule = () => {
      if (ticking) return;
      ticking = true;
      requestAnimationFrame(() => {
        ticking = false;
        renderWindow(false);
      });
    };
    window.addEventListener("scroll", schedule, { passive: true });
    window.addEventListener("resize", schedule);
  }
  closeRowMenu(false);
  table.tBodies[0].replaceChildren(big.top, big.bottom);
  applyFilter();
  return true;
}

// renderWindow builds the rows in view (and OVERSCAN around them) of the
// filtered entries, keeping the ones already built.
function renderWindow(force) {
  const body = listingTable().tBodies[0];
  const n = big.view.length;
  const rowH = big.rowH || 40;
  const bodyTop = body.getBoundingClientRect().top + window.scrollY;
  const first = Math.min(Math.max(0, Math.floor((window.scrollY - bodyTop) / rowH) - OVERSCAN), Math.max(0, n - 1));
  const last = Math.min(n, first + Math.ceil(window.innerHeight / rowH) + 2 * OVERSCAN);
  if (!force && first === big.start && last === big.end) return;
  const keep = new Set();
  for (let i = first; i < last; i++) keep.add(big.view[i]);
  // Rows out of view now: scrolled past, filtered out, sorted away.
  for (const tr of Array.from(body.rows)) {
    if (tr === big.top || tr === big.bottom) continue;
    const it = tr.bigItem;
    if (!it || !keep.has(it)) {
      if (rowMenu && tr.contains(rowMenu.menu)) closeRowMenu(false);
      tr.remove();
      if (it) it.tr = null;
    }
  }
  let ref = big.top.nextSibling;
  for (let i = first; i < last; i++) {
    const it = big.view[i];
    if (!it.tr) {
      it.tr = buildRow(it);
      it.tr.bigItem = it;
    }
    if (it.tr === ref) ref = ref.nextSibling;
    else body.insertBefore(it.tr, ref);
  }
  big.start = first;
  big.end = last;
  big.top.firstChild.style.height = first * rowH + "px";
  big.top.hidden = first === 0;
  big.bottom.firstChild.style.height = (n - last) * rowH + "px";
  big.bottom.hidden = last >= n;
  rove();
  // The rows' height is the CSS's; measure it once a row is there.
  if (!big.rowH && last > first) {
    const h = big.view[first].tr.getBoundingClientRect().height;
    if (h > 0) {
      big.rowH = h;
      renderWindow(true);
    }
  }
}

// bigScrollTo brings an entry of the windowed listing into view.
function bigScrollTo(name) {
  const i = big.view.findIndex((it) => it.name === name);
  if (i < 0) return null;
  return bigRowAt(i);
}

// bigRowAt brings the i-th entry of the windowed listing (filtered and
// sorted) into view and returns its row.
function bigRowAt(i) {
  const it = big.view[i];
  if (it.tr && it.tr.isConnected) return it.tr;
  const body = listingTable().tBodies[0];
  const bodyTop = body.getBoundingClientRect().top + window.scrollY;
  const y = bodyTop + i * (big.rowH || 40);
  if (y < window.scrollY || y > window.scrollY + window.innerHeight - 2 * (big.rowH || 40)) {
    window.scrollTo(0, Math.max(0, y - window.innerHeight / 3));
  }
  renderWindow(true);
  return it.tr;
}

export function initBigListing() {
  const table = listingTable();
  if (!table || !table.dataset.total) return;
  loadBig(table.dataset.listing);
}

// listedEntries are the folder's entries in the page's order, { name,
// href, dir }: those the filter lets through, or all of them. A windowed
// listing gives its data, rows in view or not (select.js).
export function listedEntries(all) {
  if (big.on) return (all ? big.all : big.view).map((it) => ({ name: it.name, href: it.href, dir: it.dir }));
  const table = listingTable();
  if (!table) return [];
  const out = [];
  for (const r of table.tBodies[0].rows) {
    if (r.dataset.name === undefined || (!all && r.hidden)) continue;
    const link = r.querySelector("td.name a") || r.querySelector("td.act a.more");
    const href = link ? link.getAttribute("href").replace(/\?op=actions$/, "") : null;
    out.push({ name: r.dataset.name, href, dir: r.classList.contains("dir") });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reloading the rows after a change (changes.js, uploads.js)

// folderURL is this listing's own URL without a query: uploads and new
// folders post there.
export function folderURL() {
  return location.pathname;
}

function rowByName(name) {
  const table = listingTable();
  if (!table) return null;
  if (big.on) return bigScrollTo(name);
  for (const r of table.tBodies[0].rows) if (r.dataset.name === name) return r;
  return null;
}

// refreshListing reloads the rows without leaving the page, so the
// transfers panel, notices and upload bars stay. It fetches this same page
// and moves the bridge's own rendering of the rows (html/template escaped)
// into place: sorting, icons and sizes stay the server's, in one place.
export async function refreshListing() {
  const table = listingTable();
  if (!table) return;
  let doc;
  try {
    const res = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
    if (!res.ok) throw new Error("status " + res.status);
    doc = new DOMParser().parseFromString(await res.text(), "text/html");
  } catch {
    notify("The folder could not be reloaded. Reload the page to see the changes.", true);
    return;
  }
  const fresh = doc.getElementById("listing");
  if (!fresh) return;
  closeRowMenu(false);
  if (big.on || fresh.dataset.total) {
    // A folder that is big now: its page has the first rows only.
    if (!(await loadBig(fresh.dataset.listing))) table.tBodies[0].replaceWith(document.adoptNode(fresh.tBodies[0]));
  } else {
    table.tBodies[0].replaceWith(document.adoptNode(fresh.tBodies[0]));
  }
  localTimes(table);
  for (const sel of [".toolbar .count", "#toggle-hidden"]) {
    const now = document.querySelector(sel);
    const next = doc.querySelector(sel);
    if (now && next) now.textContent = next.textContent;
  }
  applyFilter();
}

// focusRow moves the keyboard focus to a row's link after the rows were
// replaced, so focus does not fall back to the top of the page.
export function focusRow(name) {
  const row = rowByName(name);
  const link = row && row.querySelector("td.name a");
  if (link) link.focus();
  else if (listingTable()) document.getElementById("filter").focus();
}
