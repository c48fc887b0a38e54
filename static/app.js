// ftpbridge pages: progressive enhancements. Every page works without this
// file (folders list, plain forms upload, rename, delete and make folders);
// it adds the filter box, the plain-FTP warning, keyboard shortcuts, uploads
// with a progress bar per file (drag and drop, folders), rename and delete
// without leaving the page, and the live transfers panel.
//
// Data from the server only ever reaches the page through textContent and
// attributes, never as markup, except the listing refresh, which swaps in
// rows the bridge itself rendered with html/template (see refreshListing).
"use strict";

document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  initBackLinks();
  initConnectForm();
  initFilter();
  initSort();
  initBigListing();
  initMenus();
  initFolderChanges();
  initUploads();
  initShareDialog();
  initSharesPage();
  initTransfers();
});

// ---------------------------------------------------------------------------
// Small helpers

// humanSize matches the listing's sizes (handlers/browse.go humanSize), so a
// transfer's "3.0 MiB" reads like the file's row.
function humanSize(n) {
  if (n < 0) return "?";
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let f = n / 1024;
  let i = 0;
  while (f >= 1024 && i < units.length - 1) {
    f /= 1024;
    i++;
  }
  return (f < 10 ? f.toFixed(1) : f.toFixed(0)) + " " + units[i];
}

// humanRate always keeps one decimal: a rate changes every update, and a
// fixed width is easier to read than digits that come and go.
function humanRate(bytesPerSecond) {
  if (bytesPerSecond < 1024) return Math.round(bytesPerSecond) + " B/s";
  const units = ["KiB/s", "MiB/s", "GiB/s", "TiB/s"];
  let f = bytesPerSecond / 1024;
  let i = 0;
  while (f >= 1024 && i < units.length - 1) {
    f /= 1024;
    i++;
  }
  return f.toFixed(1) + " " + units[i];
}

function humanDuration(seconds) {
  const s = Math.ceil(seconds);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

// plural("file", 3) is "3 files".
function plural(word, n) {
  return n + " " + word + (n === 1 ? "" : "s");
}

// lastSegment is the name a transfer shows: "/pub/a.iso" -> "a.iso",
// "/pub/" -> "pub".
function lastSegment(path) {
  const parts = String(path || "").split("/").filter((p) => p !== "");
  return parts.length ? parts[parts.length - 1] : "/";
}

// el builds an element; text goes in as textContent, never as markup.
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", "/static/icons.svg#" + name);
  svg.append(use);
  return svg;
}

// notify shows a short message in the aria-live region. Successes fade after
// a while; errors stay until dismissed, so nobody misses why something failed.
function notify(text, isError) {
  const box = document.getElementById("notices");
  if (!box) return;
  const n = el("p", "notice" + (isError ? " error" : ""));
  n.append(el("span", "", text));
  const close = el("button");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.append(icon("close"));
  close.addEventListener("click", () => n.remove());
  n.append(close);
  box.append(n);
  if (!isError) setTimeout(() => n.remove(), 8000);
}

// errorText reads the bridge's {"error": "..."} answer, or says what little
// is known when there is none (a proxy's page, a dropped connection).
function errorText(status, data) {
  if (data && typeof data.error === "string" && data.error !== "") return data.error;
  if (status === 0) return "The bridge could not be reached.";
  return "The bridge answered with status " + status + ".";
}

function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// request sends a same-origin request that wants JSON back. The bridge's
// cross-origin protection accepts it as is: the browser marks it same-origin.
// It never throws: a network failure is status 0.
async function request(method, url, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) init.body = body;
  try {
    const res = await fetch(url, init);
    return { ok: res.ok, status: res.status, data: parseJSON(await res.text()) };
  } catch {
    return { ok: false, status: 0, data: null };
  }
}

// withQuery adds query parameters to a URL that may already have some.
function withQuery(url, params) {
  const u = new URL(url, location.href);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.pathname + u.search;
}

// ---------------------------------------------------------------------------
// Error pages, connect form, filter

function initBackLinks() {
  // "Go back" links on error pages.
  for (const a of document.querySelectorAll("a[data-back]")) {
    a.addEventListener("click", (ev) => {
      if (history.length > 1) {
        ev.preventDefault();
        history.back();
      }
    });
  }
}

function initConnectForm() {
  // Anonymous disables the credentials; plain FTP with a password warns
  // that it travels in clear.
  const form = document.getElementById("connect-form");
  if (!form) return;
  const scheme = document.getElementById("scheme");
  const anon = document.getElementById("anonymous");
  const user = document.getElementById("user");
  const pass = document.getElementById("password");
  const port = document.getElementById("port");
  const warning = document.getElementById("plain-warning");
  const update = () => {
    user.disabled = pass.disabled = anon.checked;
    warning.hidden = !(scheme.value === "ftp" && !anon.checked && pass.value !== "");
    port.placeholder = scheme.value === "ftps" ? "990" : "21";
  };
  for (const e of [scheme, anon, pass]) e.addEventListener("input", update);
  update();
}

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
}

// ---------------------------------------------------------------------------
// Big folders: the server's page holds the first rows only (data-total
// says how many there are; handlers/browse.go pageRows). The script loads
// the whole folder as JSON and builds only the rows in view, plus a few
// around them, between two spacer rows that keep the scroll height; filter
// and sort work on the data. Rows are built the way handlers/rows.go
// writes them, and names go in as text only.

const big = { on: false, all: [], view: [], rowH: 0, start: 0, end: 0, top: null, bottom: null, frame: 0 };
const OVERSCAN = 20; // rows built above and below the screen

// iconFor matches handlers/browse.go iconFor.
const ICONS = {};
for (const [icon, exts] of Object.entries({
  image: "png jpg jpeg gif webp bmp svg avif ico tif tiff",
  audio: "mp3 wav flac ogg m4a aac opus",
  video: "mp4 mkv webm avi mov m4v",
  archive: "zip gz tgz bz2 xz zst 7z rar tar iso",
  text: "txt md log csv rst nfo",
  pdf: "pdf",
  code: "go c h py js ts html css json xml sh rs java yml yaml toml",
})) for (const e of exts.split(" ")) ICONS[e] = icon;

function iconFor(it) {
  if (it.type === "dir") return "folder";
  if (it.type === "link") return "link";
  const dot = it.name.lastIndexOf(".");
  return (dot >= 0 && ICONS[it.name.slice(dot + 1).toLowerCase()]) || "file";
}

// may matches handlers/perm.go: no perm fact allows everything.
function may(perm, letter) {
  return !perm || perm.includes(letter);
}

const MENU_LABELS = ["", "Share", "Rename", "Share or rename", "Delete", "Share or delete", "Rename or delete", "Share, rename or delete"];

function buildRow(it) {
  const tr = el("tr", it.type);
  tr.dataset.name = it.name;
  const read = it.type === "dir" || may(it.perm, "r");
  const name = el("td", "name");
  let entry;
  if (read) {
    entry = el("a");
    entry.href = it.href;
  } else {
    entry = el("span", "entry");
    entry.title = "You may not download this file";
  }
  entry.append(icon(iconFor(it)), el("span", "", it.name));
  name.append(entry);
  if (it.target) name.append(" ", el("span", "target", "→ " + it.target));
  const size = el("td", "size", it.type === "file" ? humanSize(it.size) : "—");
  if (it.type === "file") size.title = it.size + " bytes";
  const date = el("td", "date");
  if (it.mod) {
    const t = el("time", "", it.mod.slice(0, 16).replace("T", " "));
    t.dateTime = it.mod;
    date.append(t);
  }
  tr.append(name, size, date);
  if (!listingTable().classList.contains("read-only")) {
    const act = el("td", "act");
    const acts = (read ? "s" : "") + (may(it.perm, "f") ? "r" : "") + (may(it.perm, "d") ? "d" : "");
    const label = MENU_LABELS[(read ? 1 : 0) | (acts.includes("r") ? 2 : 0) | (acts.includes("d") ? 4 : 0)];
    if (label) {
      const more = el("a", "more");
      more.href = it.href + "?op=actions";
      more.dataset.acts = acts;
      more.setAttribute("aria-label", label + " " + it.name);
      more.setAttribute("aria-haspopup", "true");
      more.title = label;
      more.append(icon("more"));
      act.append(more);
    }
    tr.append(act);
  }
  return tr;
}

function spacerRow(cols) {
  const tr = el("tr", "spacer");
  tr.setAttribute("aria-hidden", "true");
  const td = el("td");
  td.colSpan = cols;
  tr.append(td);
  return tr;
}

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
  const body = listingTable().tBodies[0];
  const bodyTop = body.getBoundingClientRect().top + window.scrollY;
  const y = bodyTop + i * (big.rowH || 40);
  if (y < window.scrollY || y > window.scrollY + window.innerHeight - 2 * (big.rowH || 40)) {
    window.scrollTo(0, Math.max(0, y - window.innerHeight / 3));
  }
  renderWindow(true);
  return big.view[i].tr;
}

function initBigListing() {
  const table = listingTable();
  if (!table || !table.dataset.total) return;
  loadBig(table.dataset.listing);
}

// Sorting in the page: the column headers are links to the same folder
// sorted by the server, which is what a browser without the script gets;
// with it, a click sorts the rows already here, in the server's order
// (folders first, then by the column, names breaking ties, case folded),
// and the address changes to the link's, so a reload keeps the order.
function sortKey(r) {
  const name = r.dataset.name;
  const sizeCell = r.cells[1];
  const time = r.cells[2] && r.cells[2].querySelector("time");
  let size = 0;
  if (r.dataset.size !== undefined) size = Number(r.dataset.size);
  else if (sizeCell && sizeCell.title) size = parseInt(sizeCell.title, 10) || 0;
  return { r, name, lower: name.toLowerCase(), dir: r.classList.contains("dir"), size, mod: time ? time.dateTime : "" };
}

function compareRows(by, desc) {
  const str = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  return (a, b) => {
    if (a.dir !== b.dir) return a.dir ? -1 : 1;
    let n = 0;
    if (by === "size") n = a.size - b.size;
    else if (by === "modified") n = str(a.mod, b.mod);
    if (n === 0) n = str(a.lower, b.lower) || str(a.name, b.name);
    return desc ? -n : n;
  };
}

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

function initSort() {
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

function initFilter() {
  // Filter rows as you type; "/" focuses the filter, Escape clears it.
  const filter = document.getElementById("filter");
  if (!filter || !document.getElementById("listing")) return;
  filter.addEventListener("input", applyFilter);
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
// Menus: <details class="menu"> works without the script; with it, Escape
// and a click elsewhere close an open menu, as people expect of a menu.
// A listing's rows share one menu (openRowMenu): each row has only a link
// to its actions page, which the script opens in place instead.

function closeMenus(except) {
  for (const d of document.querySelectorAll("details.menu[open]")) {
    if (d !== except) d.open = false;
  }
  if (!except || !except.matches("#row-menu")) closeRowMenu(false);
}

function initMenus() {
  document.addEventListener("click", (ev) => {
    const t = ev.target instanceof Element ? ev.target : null;
    if (t && t.closest("a.more")) return; // the row menu's own button (initRowMenu)
    closeMenus(t ? t.closest("details.menu, #row-menu") : null);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape" || !(ev.target instanceof Element)) return;
    if (ev.target.closest("#row-menu")) {
      closeRowMenu(true);
      return;
    }
    const menu = ev.target.closest("details.menu[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  // Opening a menu puts the cursor in its first field, ready to type.
  document.addEventListener("toggle", (ev) => {
    const d = ev.target;
    if (!(d instanceof HTMLDetailsElement) || !d.matches(".menu") || !d.open) return;
    closeMenus(d);
    // Not when the focus is inside already: someone (or something) is
    // typing there, and selecting would eat what was typed.
    const field = d.querySelector("input:not([type=checkbox])");
    if (field && !d.contains(document.activeElement)) {
      field.focus();
      field.select();
    }
  }, true);
  initRowMenu();
}

// The one row menu: built for the row it opens on, with the actions the
// row's data-acts allows (s share, r rename, d delete: the server's reading
// of the MLSD perm fact), inside that row's action cell, so it stays by the
// row and its forms post like the actions page's.
let rowMenu = null; // { menu, button } while open

function closeRowMenu(refocus) {
  if (!rowMenu) return;
  const { menu, button } = rowMenu;
  rowMenu = null;
  menu.remove();
  button.setAttribute("aria-expanded", "false");
  if (refocus && button.isConnected) button.focus();
}

function openRowMenu(button) {
  closeMenus(null);
  const row = button.closest("tr");
  const acts = button.dataset.acts || "";
  const href = button.getAttribute("href").replace(/\?op=actions$/, "");
  const name = row.dataset.name;
  const menu = el("div", "popover");
  menu.id = "row-menu";
  menu.setAttribute("role", "group");
  menu.setAttribute("aria-label", button.getAttribute("aria-label"));
  if (acts.includes("s")) {
    const share = el("button", "share-open", "Share a link…");
    share.type = "button";
    share.dataset.href = href;
    menu.append(share);
  }
  if (acts.includes("r")) {
    const form = el("form", "rename");
    form.method = "post";
    form.action = href + "?op=rename";
    const label = el("label", "", "New name or path ");
    const input = el("input");
    input.name = "to";
    input.value = name;
    input.required = true;
    input.autocomplete = "off";
    input.spellcheck = false;
    label.append(input);
    const submit = el("button", "", "Rename");
    submit.type = "submit";
    form.append(label, submit);
    menu.append(form);
  }
  if (acts.includes("d")) {
    const form = el("form", "delete");
    form.method = "post";
    form.action = href + "?op=delete";
    form.dataset.type = row.classList.contains("dir") ? "dir" : "file";
    const submit = el("button", "danger", "Delete");
    submit.type = "submit";
    form.append(submit);
    menu.append(form);
  }
  button.after(menu);
  button.setAttribute("aria-expanded", "true");
  rowMenu = { menu, button };
  const field = menu.querySelector("input") || menu.querySelector("button");
  if (field) {
    field.focus();
    if (field instanceof HTMLInputElement) field.select();
  }
}

function initRowMenu() {
  const table = listingTable();
  if (!table) return;
  // One listener on the table, because refreshes and sorting replace rows.
  table.addEventListener("click", (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest("a.more") : null;
    if (!button) return;
    ev.preventDefault();
    const wasOpen = rowMenu && rowMenu.button === button;
    closeRowMenu(false);
    if (!wasOpen) openRowMenu(button);
  });
}

// ---------------------------------------------------------------------------
// The listing: refresh, new folder, rename, delete

function listingTable() {
  return document.getElementById("listing");
}

// folderURL is this listing's own URL without a query: uploads and new
// folders post there.
function folderURL() {
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
async function refreshListing() {
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
  for (const sel of [".toolbar .count", "#toggle-hidden"]) {
    const now = document.querySelector(sel);
    const next = doc.querySelector(sel);
    if (now && next) now.textContent = next.textContent;
  }
  applyFilter();
}

// focusRow moves the keyboard focus to a row's link after the rows were
// replaced, so focus does not fall back to the top of the page.
function focusRow(name) {
  const row = rowByName(name);
  const link = row && row.querySelector("td.name a");
  if (link) link.focus();
  else if (listingTable()) document.getElementById("filter").focus();
}

function initFolderChanges() {
  const table = listingTable();
  const mkdir = document.getElementById("new-folder-form");
  if (!table || table.classList.contains("read-only")) return; // a shared folder
  // A folder whose perm fact forbids new folders has no form, while its
  // rows may still be renamed or deleted.
  if (mkdir) mkdir.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = mkdir.elements.name.value.trim();
    if (name === "") return;
    const res = await request("POST", mkdir.action, new URLSearchParams({ name }));
    if (!res.ok) {
      notify("Could not create folder " + name + ": " + errorText(res.status, res.data), true);
      return;
    }
    mkdir.reset();
    document.getElementById("new-folder").open = false;
    await refreshListing();
    notify("Created folder " + name + ".");
    focusRow(name);
  });

  // Row forms: one listener on the table, because refreshes replace rows.
  table.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (form.matches("form.rename")) {
      ev.preventDefault();
      rename(form);
    } else if (form.matches("form.delete")) {
      ev.preventDefault();
      remove(form);
    }
  });
}

async function rename(form) {
  const name = form.closest("tr").dataset.name;
  const to = form.elements.to.value.trim();
  if (to === "" || to === name) {
    closeRowMenu(true);
    return;
  }
  const res = await request("POST", form.action, new URLSearchParams({ to }));
  if (!res.ok) {
    notify("Could not rename " + name + ": " + errorText(res.status, res.data), true);
    return;
  }
  await refreshListing();
  notify("Renamed " + name + " to " + to + ".");
  // A move to another folder leaves no row here to focus; the filter then.
  focusRow(to);
}

async function remove(form) {
  const row = form.closest("tr");
  const name = row.dataset.name;
  let url = form.action;
  if (form.dataset.type === "dir") {
    // Say what goes with the folder before anything is deleted.
    const href = row.querySelector("td.name a").getAttribute("href");
    const count = await request("GET", withQuery(href, { op: "count" }));
    if (!count.ok) {
      notify("Could not look inside folder " + name + ": " + errorText(count.status, count.data), true);
      return;
    }
    const files = count.data.files || 0;
    const folders = count.data.folders || 0;
    let question = "Delete the empty folder " + name + "?";
    if (files > 0 && folders > 0) {
      question = "Delete folder " + name + " and the " + plural("file", files) + " and " + plural("folder", folders) + " in it?";
    } else if (files + folders > 0) {
      question = "Delete folder " + name + " and the " + (files > 0 ? plural("file", files) : plural("folder", folders)) + " in it?";
    }
    if (!confirm(question)) return;
    if (files + folders > 0) url = withQuery(url, { recursive: "1" });
  } else if (!confirm("Delete " + name + "?")) {
    return;
  }
  const res = await request("POST", url);
  if (!res.ok) {
    notify("Could not delete " + name + ": " + errorText(res.status, res.data), true);
    return;
  }
  await refreshListing();
  notify("Deleted " + name + ".");
  focusRow("");
}

// ---------------------------------------------------------------------------
// Uploads: one file per request, one after the other, so that each file has
// its own bar, its own "already exists" question and its own failure.
// Each upload shows in the transfers panel; its bar moves with the server's
// transfer events (bytes handed to the FTP server), matched by FTP path.

const uploadQueue = [];
let uploading = false;
let replaceAll = null; // the answer to "already exists" for the rest of this batch

function initUploads() {
  const form = document.getElementById("upload-form");
  const table = listingTable();
  if (!form || !table) return;
  const folderPath = table.dataset.path; // FTP path of this folder, ends in "/"

  const add = (items) => {
    for (const { file, rel } of items) {
      const v = newView({ op: "upload", path: folderPath + rel, bytes: 0, total: file.size, state: "waiting" });
      // answered: the upload's last request has its answer, so its end may
      // be announced (a 409 is a question, not an end).
      v.upload = { file, rel, overwrite: false, xhr: null, knownIds: new Set(), answered: false };
      v.live = true;
      uploadQueue.push(v);
      renderView(v);
    }
    if (!uploading) runUploads();
  };

  const files = document.getElementById("upload-files");
  const folder = document.getElementById("upload-folder");
  for (const input of [files, folder]) {
    input.addEventListener("change", () => {
      // webkitRelativePath is "photos/2024/a.jpg" for a picked folder,
      // "" for picked files.
      add(Array.from(input.files, (file) => ({ file, rel: file.webkitRelativePath || file.name })));
      input.value = ""; // so that picking the same file again uploads again
    });
  }
  // Enter in the form would post it whole; the inputs upload on change.
  form.addEventListener("submit", (ev) => ev.preventDefault());

  initDrop(add);
  window.addEventListener("beforeunload", (ev) => {
    if (uploading) ev.preventDefault(); // leaving would cut the upload off
  });
}

// initDrop makes the whole listing page a drop zone for files and folders.
function initDrop(add) {
  const main = document.getElementById("main");
  const hint = document.getElementById("drop-hint");
  let depth = 0; // dragenter/leave fire for every child crossed
  const carriesFiles = (ev) => ev.dataTransfer && Array.from(ev.dataTransfer.types).includes("Files");
  const show = (on) => {
    main.classList.toggle("dropping", on);
    hint.hidden = !on;
  };
  document.addEventListener("dragenter", (ev) => {
    if (!carriesFiles(ev)) return;
    depth++;
    show(true);
  });
  document.addEventListener("dragleave", (ev) => {
    if (!carriesFiles(ev)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) show(false);
  });
  document.addEventListener("dragover", (ev) => {
    if (!carriesFiles(ev)) return;
    ev.preventDefault(); // allows the drop
    ev.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", async (ev) => {
    if (!carriesFiles(ev)) return;
    ev.preventDefault(); // or the browser opens the file instead
    depth = 0;
    show(false);
    // Entries must be taken now: the DataTransfer empties after this event.
    const entries = Array.from(ev.dataTransfer.items || [])
      .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null))
      .filter((e) => e);
    if (entries.length === 0) {
      add(Array.from(ev.dataTransfer.files, (file) => ({ file, rel: file.name })));
      return;
    }
    const found = [];
    for (const e of entries) await walkEntry(e, found);
    add(found);
  });
}

// walkEntry collects the files under a dropped entry with their paths
// relative to the drop ("photos/2024/a.jpg"). Empty folders add nothing.
async function walkEntry(entry, out) {
  try {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ file, rel: entry.fullPath.replace(/^\/+/, "") });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      // readEntries returns a batch at a time (100 in Chrome) until empty.
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walkEntry(child, out);
      }
    }
  } catch (err) {
    notify("Could not read " + entry.fullPath + " from your computer: " + (err && err.message ? err.message : err), true);
  }
}

async function runUploads() {
  uploading = true;
  let changed = false;
  while (uploadQueue.length > 0) {
    const v = uploadQueue.shift();
    if (v.ev.state !== "waiting") continue; // canceled while it waited
    if (await uploadOne(v)) changed = true;
  }
  uploading = false;
  replaceAll = null;
  if (changed) await refreshListing();
}

// uploadOne sends one file, asks before replacing, and reports whether the
// folder changed.
async function uploadOne(v) {
  const u = v.upload;
  for (;;) {
    const res = await sendFile(v);
    if (res.status === 409 && !u.overwrite) {
      // The refused attempt was a transfer of its own, failed; this view
      // now waits for the answer, and any retry is a new transfer.
      releaseId(v);
      v.ev.state = "conflict";
      renderView(v);
      if (await askReplace(v)) {
        u.overwrite = true;
        continue;
      }
      u.answered = true;
      setLocal(v, "skipped", "");
      return false;
    }
    u.answered = true;
    if (res.status === -1) {
      setLocal(v, "canceled", "");
      return false;
    }
    if (res.status === 201) {
      if (isFinal(v.ev.state)) {
        announce(v); // the server's final event came first
      } else if (socketOpen()) {
        // The final event normally follows within moments.
        setTimeout(() => finishStored(v), 3000);
      } else {
        finishStored(v); // no socket, no events: the 201 says the file is whole
      }
      return true;
    }
    // A failure the server already reported as an event keeps its words;
    // otherwise the HTTP answer says what went wrong.
    if (isFinal(v.ev.state) && v.ev.state !== "done") announce(v);
    else setLocal(v, "failed", errorText(res.status, res.data));
    return false;
  }
}

// releaseId unties an upload's view from the transfer of a refused attempt:
// the view waits for the next attempt's id, and the old one's further
// events are ignored.
function releaseId(v) {
  if (v.id === null) return;
  views.delete(v.id);
  ignored.add(v.id);
  v.id = null;
  if (!pending.includes(v)) pending.push(v);
}

// finishStored marks a stored upload done when no final event came for it.
function finishStored(v) {
  if (isFinal(v.ev.state)) return;
  v.ev.bytes = v.ev.total;
  v.upload.assumedDone = true; // a late event may still claim this view
  setLocal(v, "done", "");
}

function setLocal(v, state, error) {
  v.ev.state = state;
  v.ev.error = error;
  renderView(v);
  announce(v);
}

// sendFile posts one file as multipart/form-data, its relative path as the
// part's file name so the server makes the sub-folders. It resolves with
// the status and JSON answer (status 0: network failure, -1: canceled).
function sendFile(v) {
  const u = v.upload;
  return new Promise((resolve) => {
    // Events of transfers already known belong to earlier uploads of the
    // same path; only a new transfer id can be this request's.
    releaseId(v);
    u.knownIds = new Set(views.keys());
    v.ev.state = "sending";
    v.ev.bytes = 0;
    v.ev.rate = 0;
    v.hint = 0;
    renderView(v);
    const body = new FormData();
    // "size" before the file tells the bridge the total, which a multipart
    // part does not carry; without it the bar could not show a percentage.
    body.append("size", String(u.file.size));
    body.append("file", u.file, u.rel);
    const xhr = new XMLHttpRequest();
    u.xhr = xhr;
    xhr.open("POST", u.overwrite ? withQuery(folderURL(), { overwrite: "1" }) : folderURL());
    xhr.setRequestHeader("Accept", "application/json");
    // A hint only, until the server's events arrive: what the browser has
    // sent is not yet what the FTP server has.
    xhr.upload.addEventListener("progress", (e) => {
      if (v.id === null && e.lengthComputable && e.total > 0) {
        v.hint = Math.floor((e.loaded * 100) / e.total);
        renderView(v);
      }
    });
    xhr.addEventListener("load", () => resolve({ status: xhr.status, data: parseJSON(xhr.responseText) }));
    xhr.addEventListener("error", () => resolve({ status: 0, data: null }));
    xhr.addEventListener("abort", () => resolve({ status: -1, data: null }));
    xhr.send(body);
  });
}

// askReplace asks whether to replace an existing file, and offers to give
// the same answer for the rest of this batch.
function askReplace(v) {
  if (replaceAll !== null) return Promise.resolve(replaceAll);
  const dialog = document.getElementById("conflict");
  document.getElementById("conflict-message").textContent = v.upload.rel + " already exists. Replace it?";
  const all = document.getElementById("conflict-all");
  all.checked = false;
  document.getElementById("conflict-rest").hidden = !uploadQueue.some((w) => w.ev.state === "waiting");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const replace = dialog.returnValue === "replace"; // Escape keeps the file
      if (all.checked) replaceAll = replace;
      resolve(replace);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    document.getElementById("conflict-keep").focus(); // the safe choice first
  });
}

// ---------------------------------------------------------------------------
// Share links: the dialog on a listing, and the /shares page

// copyLink puts a link on the clipboard, or selects it for a manual copy
// where the clipboard is not available (plain HTTP on another host).
async function copyLink(url, input) {
  try {
    await navigator.clipboard.writeText(url);
    notify("Link copied.");
  } catch {
    if (input) {
      input.focus();
      input.select();
    }
    notify("Press Ctrl+C (or Cmd+C) to copy the selected link.");
  }
}

function initShareDialog() {
  const table = listingTable();
  const dialog = document.getElementById("share");
  if (!table || !dialog) return;
  const form = document.getElementById("share-form");
  const result = document.getElementById("share-result");
  const urlInput = document.getElementById("share-url");
  let href = null; // the address of the row being shared

  // One listener on the table, because refreshes replace rows.
  table.addEventListener("click", (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest("button.share-open") : null;
    if (!button) return;
    href = button.dataset.href;
    document.getElementById("share-name").textContent = button.closest("tr").dataset.name;
    closeRowMenu(false);
    form.reset();
    result.hidden = true;
    document.getElementById("share-create").disabled = false;
    dialog.showModal();
    document.getElementById("share-expires").focus();
  });
  form.addEventListener("submit", async (ev) => {
    if (ev.submitter && ev.submitter.value !== "create") return; // Close
    ev.preventDefault();
    const create = document.getElementById("share-create");
    create.disabled = true;
    const body = new URLSearchParams({
      expires: form.elements.expires.value,
      max_downloads: form.elements.max_downloads.value || "0",
    });
    if (form.elements.password.value !== "") body.set("password", form.elements.password.value);
    const res = await request("POST", withQuery(href, { op: "share" }), body);
    if (!res.ok) {
      create.disabled = false;
      notify("Could not share " + document.getElementById("share-name").textContent + ": " + errorText(res.status, res.data), true);
      return;
    }
    urlInput.value = res.data.url;
    document.getElementById("share-expiry").textContent =
      "Works until " + new Date(res.data.expires).toLocaleString() + ". See all your links on the Shared links page.";
    result.hidden = false;
    urlInput.focus();
    urlInput.select();
  });
  document.getElementById("share-copy").addEventListener("click", () => copyLink(urlInput.value, urlInput));
}

function initSharesPage() {
  const table = document.getElementById("shares");
  if (!table) return;
  table.addEventListener("click", (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest("button.copy") : null;
    if (button) copyLink(button.dataset.url, button.closest("td").querySelector("input.share-link"));
  });
}

// refreshSharesSoon updates the download counts on /shares after a download
// through a share ended, at most once a second.
let sharesTimer = null;
function refreshSharesSoon() {
  if (!document.getElementById("shares") || sharesTimer !== null) return;
  sharesTimer = setTimeout(async () => {
    sharesTimer = null;
    const res = await request("GET", "/shares");
    if (!res.ok || !res.data || !Array.isArray(res.data.shares)) return;
    for (const s of res.data.shares) {
      const row = document.querySelector("#shares tr[data-id=\"" + CSS.escape(s.id) + "\"]");
      if (!row) continue;
      row.querySelector("td.downloads").textContent = s.downloads + (s.max_downloads ? " of " + s.max_downloads : "");
      row.querySelector("td.state").textContent = s.state;
      const last = row.querySelector("td.last");
      if (s.last_download) {
        const t = el("time", "", new Date(s.last_download).toISOString().slice(0, 16).replace("T", " "));
        t.dateTime = s.last_download;
        last.replaceChildren(t);
      }
    }
  }, 1000);
}

// ---------------------------------------------------------------------------
// Transfers panel and the /ws socket

const views = new Map(); // transfer id -> view; uploads join once their id is known
const pending = []; // views not yet tied to a transfer id (uploads)
const ignored = new Set(); // ids of refused upload attempts that were retried
let socket = null;

const FINAL = ["done", "failed", "canceled", "skipped"];
function isFinal(state) {
  return FINAL.includes(state);
}

function socketOpen() {
  return socket !== null && socket.readyState === WebSocket.OPEN;
}

// dismissed remembers, for this tab, the finished transfers someone
// cleared, so that the server's resend on the next page does not bring
// them back.
function dismissed() {
  try {
    return new Set(JSON.parse(sessionStorage.getItem("ftpbridge-dismissed") || "[]"));
  } catch {
    return new Set();
  }
}

function dismiss(ids) {
  const all = dismissed();
  for (const id of ids) all.add(id);
  try {
    sessionStorage.setItem("ftpbridge-dismissed", JSON.stringify(Array.from(all).slice(-500)));
  } catch {
    // storage full or disabled: they simply come back on the next page
  }
}

// newView makes a panel entry. ev holds the latest event, or for an upload
// that has none yet, what the page knows.
function newView(ev) {
  const v = { id: null, ev: Object.assign({ rate: 0, error: "" }, ev), li: null, upload: null, live: false, announced: false, hint: 0 };
  const li = el("li", "transfer");
  const head = el("div", "t-head");
  v.nameEl = el("span", "t-name");
  v.opEl = el("span", "t-op");
  head.append(v.nameEl, v.opEl);
  v.cancel = el("button", "secondary", "Cancel");
  v.cancel.type = "button";
  v.cancel.addEventListener("click", () => cancel(v));
  v.bar = el("progress");
  v.bar.max = 100;
  v.info = el("div", "t-info");
  li.append(head, v.cancel, v.bar, v.info);
  v.li = li;
  if (ev.id) {
    v.id = ev.id;
    views.set(ev.id, v);
  } else {
    pending.push(v);
  }
  document.getElementById("transfer-list").append(li);
  updatePanel();
  return v;
}

const OP_NAMES = { upload: "upload", download: "download", zip: "zip download", share: "shared link download" };

// renderView shows a view's latest state: name, op, bar, figures, cancel.
function renderView(v) {
  const ev = v.ev;
  const name = lastSegment(ev.path);
  v.li.dataset.state = ev.state;
  v.li.dataset.op = ev.op;
  v.li.dataset.path = ev.path;
  if (v.id) v.li.dataset.id = v.id;
  else delete v.li.dataset.id;
  v.nameEl.textContent = name;
  v.nameEl.title = ev.path;
  v.opEl.textContent = OP_NAMES[ev.op] || ev.op;
  v.bar.setAttribute("aria-label", (OP_NAMES[ev.op] || ev.op) + " of " + name);

  // The bar shows the server's count only (bytes the FTP server has, not
  // bytes the browser sent); before any event, or while the size is
  // unknown, it stays indeterminate: "waiting". Rounding down keeps 100%
  // for the end.
  if (ev.state === "done") {
    v.bar.value = 100;
  } else if (v.id !== null && ev.total > 0) {
    v.bar.value = Math.min(100, Math.floor((ev.bytes * 100) / ev.total));
  } else {
    v.bar.removeAttribute("value");
  }

  const parts = [];
  switch (ev.state) {
    case "waiting":
      parts.push("Waiting");
      break;
    case "sending":
      // Without a socket no server events come: the browser's count is all
      // there is to say.
      if (!socketOpen()) parts.push("Sending" + (v.hint > 0 ? " (" + v.hint + "%)" : ""));
      else parts.push("Waiting for the server" + (v.hint > 0 ? " (sent " + v.hint + "%)" : ""));
      break;
    case "queued":
      parts.push("Queued");
      break;
    case "running":
      parts.push(ev.total >= 0 ? humanSize(ev.bytes) + " of " + humanSize(ev.total) : humanSize(ev.bytes) + " so far");
      if (ev.total > 0) parts.push(Math.floor((ev.bytes * 100) / ev.total) + "%");
      parts.push(ev.rate > 0 ? humanRate(ev.rate) : "—");
      parts.push(ev.rate > 0 && ev.total >= 0 ? humanDuration((ev.total - ev.bytes) / ev.rate) + " left" : "— left");
      break;
    case "done":
      parts.push("Done", humanSize(ev.total >= 0 ? ev.total : ev.bytes));
      break;
    case "failed":
      parts.push("Failed" + (ev.error ? ": " + ev.error : ""));
      break;
    case "canceled":
      parts.push("Canceled");
      break;
    case "conflict":
      parts.push("Already exists: replace it?");
      break;
    case "skipped":
      parts.push("Skipped: kept the existing file");
      break;
  }
  v.info.textContent = parts.join(" · ");
  v.cancel.hidden = isFinal(ev.state);
  v.cancel.setAttribute("aria-label", "Cancel " + (OP_NAMES[ev.op] || ev.op) + " of " + name);
  updatePanel();
}

// announce says once, in the live region, how a transfer ended.
function announce(v) {
  if (v.announced || !v.live || !isFinal(v.ev.state) || v.ev.state === "skipped") return;
  if (v.upload && !v.upload.answered) return; // uploadOne announces it when it ends
  v.announced = true;
  const name = lastSegment(v.ev.path);
  const done = { upload: " uploaded.", download: " downloaded.", zip: " downloaded as a zip.", share: " downloaded through a shared link." };
  if (v.ev.state === "done") notify(name + (done[v.ev.op] || " done."));
  else if (v.ev.state === "failed") notify(name + " failed: " + (v.ev.error || "the transfer did not finish."), true);
  else notify(name + ": " + (OP_NAMES[v.ev.op] || v.ev.op) + " canceled.");
}

// The panel's list starts folded when it only has finished transfers (the
// server resends recent ones on every page), and unfolds once for a
// running one, unless the person folded it in this tab.
let panelChoice = null; // "open" or "closed" once someone clicked the toggle
let panelUnfolded = false;

function setPanelOpen(open) {
  const toggle = document.getElementById("transfers-toggle");
  toggle.setAttribute("aria-expanded", String(open));
  toggle.textContent = open ? "Hide" : "Show";
  document.getElementById("transfer-list").hidden = !open;
}

function updatePanel() {
  const items = Array.from(document.getElementById("transfer-list").children);
  const finished = items.filter((li) => isFinal(li.dataset.state)).length;
  const running = items.length - finished;
  document.getElementById("transfers").hidden = items.length === 0;
  const summary = [];
  if (running > 0) summary.push(running + " running");
  if (finished > 0) summary.push(finished + " finished");
  document.getElementById("transfers-summary").textContent = summary.join(", ");
  document.getElementById("transfers-clear").hidden = finished === 0;
  if (running > 0 && !panelUnfolded && panelChoice !== "closed") {
    panelUnfolded = true;
    setPanelOpen(true);
  }
}

// cancel stops a transfer: an upload still waiting here never starts; one
// the server has not reported yet is aborted; anything else is the
// server's to stop, over the socket, or by POST when the socket is down.
async function cancel(v) {
  if (v.ev.state === "waiting") {
    v.upload.answered = true;
    setLocal(v, "canceled", "");
    return;
  }
  if (v.id === null) {
    if (v.upload && v.upload.xhr) v.upload.xhr.abort();
    return;
  }
  v.cancel.disabled = true;
  v.cancel.textContent = "Canceling…";
  if (socketOpen()) {
    socket.send(JSON.stringify({ type: "cancel", id: v.id }));
    return;
  }
  const res = await request("POST", "/transfers/" + encodeURIComponent(v.id) + "/cancel");
  if (!res.ok) {
    v.cancel.disabled = false;
    v.cancel.textContent = "Cancel";
    notify("Could not cancel " + lastSegment(v.ev.path) + ": " + errorText(res.status, res.data), true);
  }
}

// onTransfer applies one event from the server.
function onTransfer(ev) {
  if (typeof ev.id !== "string" && typeof ev.id !== "number") return;
  const id = String(ev.id);
  if (ignored.has(id)) return;
  let v = views.get(id);
  if (!v && ev.op === "upload") v = claimUpload(id, ev);
  if (!v) {
    if (dismissed().has(id)) return;
    v = newView(Object.assign({}, ev, { id }));
    // A transfer first seen already finished ended before this page: list
    // it, but do not announce it again.
    v.live = !isFinal(ev.state);
  }
  if (ev.op === "share" && isFinal(ev.state)) refreshSharesSoon();
  const wasFinal = isFinal(v.ev.state) && v.id !== null;
  Object.assign(v.ev, ev, { id });
  if (v.cancel.disabled && isFinal(ev.state)) v.cancel.textContent = "Cancel";
  renderView(v);
  if (!wasFinal && isFinal(ev.state)) {
    v.live = true;
    announce(v);
  }
}

// claimUpload ties a new upload transfer to the page's upload of the same
// FTP path, when that upload is on its way and the id is new to it.
function claimUpload(id, ev) {
  const i = pending.findIndex((v) => v.upload && (v.ev.state === "sending" || v.upload.assumedDone) &&
    v.ev.path === ev.path && !v.upload.knownIds.has(id));
  if (i < 0) return null;
  const v = pending[i];
  pending.splice(i, 1);
  v.id = id;
  views.set(id, v);
  return v;
}

function initTransfers() {
  const list = document.getElementById("transfer-list");
  if (!list) return;
  const toggle = document.getElementById("transfers-toggle");
  try {
    panelChoice = sessionStorage.getItem("ftpbridge-transfers");
  } catch {
    // storage disabled: every page starts with the default
  }
  setPanelOpen(panelChoice === "open");
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    panelChoice = open ? "open" : "closed";
    try {
      sessionStorage.setItem("ftpbridge-transfers", panelChoice);
    } catch {
      // storage disabled: the choice holds for this page only
    }
    setPanelOpen(open);
  });
  document.getElementById("transfers-clear").addEventListener("click", () => {
    const ids = [];
    for (const v of Array.from(views.values()).concat(pending)) {
      if (!isFinal(v.ev.state)) continue;
      v.li.remove();
      if (v.id !== null) ids.push(v.id);
    }
    for (let i = pending.length - 1; i >= 0; i--) if (isFinal(pending[i].ev.state)) pending.splice(i, 1);
    dismiss(ids);
    updatePanel();
    // The button is gone now; keep the keyboard in the panel if it stays.
    if (!document.getElementById("transfers").hidden) document.getElementById("transfers-title").focus();
  });
  document.getElementById("transfers-title").tabIndex = -1;
  // A page with logins has a session. A listing one may upload to has
  // none until its socket starts one (so that anonymous uploads have
  // progress too): the page itself leaves no state behind for a passer-by.
  // Other pages have nothing to watch.
  // A shared folder's visitor has no session; the maker of shares watches
  // their downloads on /shares.
  const table = listingTable();
  if (document.body.hasAttribute("data-session") || (table && !table.classList.contains("read-only")) ||
      document.getElementById("shares")) {
    connectSocket(1000);
  }
}

// connectSocket opens /ws. On open the server resends the state of this
// session's transfers, so a reconnect resyncs by itself. After a drop it
// retries with a doubling delay (1 s, 2 s, 4 s … 30 s).
function connectSocket(delay) {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  let opened = false;
  ws.addEventListener("open", () => {
    opened = true;
    socket = ws;
  });
  ws.addEventListener("message", (m) => {
    const ev = parseJSON(m.data);
    if (ev && ev.type === "transfer") onTransfer(ev);
  });
  ws.addEventListener("close", async () => {
    if (socket === ws) socket = null;
    let next = opened ? 1000 : delay;
    if (!opened) {
      // Refused before it opened: ask plainly why. 401 means the session
      // is gone, and retrying would never help.
      const res = await request("GET", "/transfers");
      if (res.status === 401) return;
      if (res.ok && res.data && Array.isArray(res.data.transfers)) {
        for (const ev of res.data.transfers.slice().reverse()) onTransfer(Object.assign({ type: "transfer" }, ev));
      }
    }
    setTimeout(() => connectSocket(Math.min(next * 2, 30000)), next);
  });
}
