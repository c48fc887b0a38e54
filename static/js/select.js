// Selecting several entries of a folder, acting on them at once, and
// moving them by drag and drop.
//
// The selection is a set of names, not of rows: a big folder's page builds
// only the rows in view (listing.js), and a refresh replaces every row, so
// a row's checkbox is drawn from the set each time the row is built. The
// checkboxes exist only with the script, and only in the rows the page has
// built: the server's rows (handlers/rows.go, and rows.js after it) carry
// none, which keeps a 100,000-entry page as light as before and a page
// without the script as it was.
//
// Click a checkbox, or a row outside its links, to select; Shift-click
// selects a range, Ctrl-click (Cmd on a Mac) adds or takes away one row,
// also on the name's link; Space on a row's link toggles it, Ctrl+A
// selects every row the filter shows, Escape clears. The selection bar
// says how many are selected (also to screen readers, through the live
// region) and acts on them with the folder's bulk operations: POST
// ./?op=delete|move with select=NAME repeated, answering
// {"done":[...],"failed":[{"name","error"}]}, and GET ./?format=zip with
// select=NAME for a zip of just those.
//
// Dragging a row (the selection, when the row is in it) onto a folder row
// or a breadcrumb moves the entries there; a notice offers to undo it.
// Internal drags carry their own type, so uploads.js, which takes drops
// of files from the desktop, never mistakes them for files.

import { confirmAction } from "./dialogs.js";
import { el, icon, listingTable, notify } from "./dom.js";
import { errorText, request, withQuery } from "./http.js";
import { announce, folderURL, listedEntries, refreshListing } from "./listing.js";
import { closeRowMenu } from "./menus.js";

const selected = new Set(); // names
let anchor = null; // the name a Shift-click range starts from
let bar = null; // the selection bar's parts
let head = null; // the header's "select all" box

export const DRAG_TYPE = "application/x-ftpbridge-entries";

export function initSelect() {
  const table = listingTable();
  if (!table || table.classList.contains("read-only")) return; // a shared folder
  const th = el("th", "sel");
  th.scope = "col";
  head = el("input");
  head.type = "checkbox";
  head.setAttribute("aria-label", "Select every entry shown");
  head.addEventListener("change", () => {
    if (head.checked) for (const e of listedEntries(false)) selected.add(e.name);
    else selected.clear();
    changed();
  });
  th.append(head);
  table.tHead.rows[0].prepend(th);
  table.classList.add("selectable");
  buildBar(table);
  // Rows come and go (windowing, refreshes, sorting): each one built gets
  // its checkbox as it arrives.
  new MutationObserver((records) => {
    for (const rec of records) {
      for (const n of rec.addedNodes) {
        if (n instanceof HTMLTableRowElement) decorate(n);
        else if (n instanceof HTMLTableSectionElement) for (const r of n.rows) decorate(r);
      }
    }
  }).observe(table, { childList: true, subtree: true });
  for (const r of table.tBodies[0].rows) decorate(r);

  table.addEventListener("mousedown", (ev) => {
    // Shift-click selects rows, not the text between two clicks.
    if (ev.shiftKey && ev.target instanceof Element && ev.target.closest("tbody tr[data-name]")) ev.preventDefault();
  });
  table.addEventListener("click", onClick);
  document.addEventListener("keydown", onKey);
  initDrag(table);
}

// decorate gives a row its checkbox cell, checked as the selection says;
// other rows (empty folder, spacers) span the added column.
function decorate(tr) {
  const name = tr.dataset.name;
  if (name === undefined) {
    if (tr.cells.length === 1) tr.cells[0].colSpan = listingTable().tHead.rows[0].cells.length;
    return;
  }
  let box = tr.querySelector(":scope > td.sel input");
  if (!box) {
    const td = el("td", "sel");
    box = el("input");
    box.type = "checkbox";
    box.tabIndex = -1; // the rows' keys select (Space); one Tab stop for the rows
    box.setAttribute("aria-label", "Select " + name);
    td.append(box);
    tr.prepend(td);
    tr.draggable = true;
  }
  const on = selected.has(name);
  box.checked = on;
  tr.classList.toggle("selected", on);
}

function rowsInPage() {
  return listingTable().querySelectorAll("tbody tr[data-name]");
}

// changed shows the selection: the rows built, the header's box, the bar,
// and the count, said to screen readers.
function changed(quiet) {
  for (const tr of rowsInPage()) decorate(tr);
  const n = selected.size;
  const shown = listedEntries(false);
  const inView = shown.filter((e) => selected.has(e.name)).length;
  head.checked = n > 0 && inView === shown.length;
  head.indeterminate = inView > 0 && inView < shown.length;
  bar.box.hidden = n === 0;
  bar.count.textContent = n === 1 ? "1 selected" : n + " selected";
  if (n > inView) bar.count.textContent += " (" + (n - inView) + " hidden by the filter)";
  const zip = new URL(folderURL(), location.href);
  zip.searchParams.set("format", "zip");
  for (const name of selected) zip.searchParams.append("select", name);
  bar.zip.href = zip.pathname + zip.search;
  if (!quiet) announce(n === 0 ? "Selection cleared." : bar.count.textContent + ".");
}

function toggle(name, on) {
  if (on === undefined) on = !selected.has(name);
  if (on) selected.add(name);
  else selected.delete(name);
  anchor = name;
}

// selectRange selects the rows shown from one name to another; without
// add, only them.
function selectRange(from, to, add) {
  const names = listedEntries(false).map((e) => e.name);
  const j = names.indexOf(to);
  let i = from === null ? -1 : names.indexOf(from);
  if (i < 0) i = j;
  if (!add) selected.clear();
  for (let k = Math.min(i, j); k <= Math.max(i, j); k++) selected.add(names[k]);
}

function onClick(ev) {
  const t = ev.target instanceof Element ? ev.target : null;
  const tr = t && t.closest("tbody tr[data-name]");
  if (!tr || t.closest("td.act")) return; // the row's menu is its own
  const name = tr.dataset.name;
  const modifier = ev.ctrlKey || ev.metaKey;
  if (t.closest("td.sel")) {
    // The box, or the cell around it.
    const box = tr.querySelector("td.sel input");
    if (ev.shiftKey) {
      selectRange(anchor, name, true);
      anchor = name;
    } else {
      toggle(name, t === box ? box.checked : !selected.has(name));
    }
    changed();
    return;
  }
  if (ev.shiftKey || modifier) {
    // Also on the name's link: here Shift and Ctrl select, as in a file
    // manager (a middle click still opens a new tab).
    ev.preventDefault();
    if (ev.shiftKey) selectRange(anchor, name, modifier);
    else toggle(name);
    if (ev.shiftKey && anchor === null) anchor = name;
    changed();
    return;
  }
  if (t.closest("a, button, input, select, textarea, label, form")) return; // a link opens
  // A plain click on the row selects it alone.
  selected.clear();
  toggle(name, true);
  changed();
}

function typing(t) {
  return t instanceof Element && !!t.closest("input:not([type=checkbox]), textarea, select, [contenteditable], dialog");
}

function onKey(ev) {
  if (ev.defaultPrevented || ev.altKey) return;
  const t = ev.target;
  if (typing(t)) return;
  if ((ev.ctrlKey || ev.metaKey) && (ev.key === "a" || ev.key === "A")) {
    ev.preventDefault();
    const shown = listedEntries(false);
    for (const e of shown) selected.add(e.name);
    changed();
    return;
  }
  if (ev.ctrlKey || ev.metaKey) return;
  if (ev.key === "Escape" && selected.size > 0) {
    // An open menu closes first (menus.js); then the selection clears.
    if (t instanceof Element && t.closest("#row-menu, details.menu")) return;
    if (document.getElementById("row-menu") || document.querySelector("details.menu[open]")) return;
    selected.clear();
    anchor = null;
    changed();
    return;
  }
  if (ev.key === " " && t instanceof Element) {
    const tr = t.closest("#listing tbody tr[data-name]");
    if (!tr || !t.matches("td.name a, td.act a.more")) return;
    ev.preventDefault(); // not a scroll
    if (ev.shiftKey) selectRange(anchor, tr.dataset.name, true);
    else toggle(tr.dataset.name);
    changed();
  }
}

// ---------------------------------------------------------------------------
// The selection bar

function buildBar(table) {
  const box = el("div", "selection-bar");
  box.id = "selection-bar";
  box.setAttribute("role", "region");
  box.setAttribute("aria-label", "Selected entries");
  box.hidden = true;
  const count = el("span", "count");
  count.id = "selection-count";
  const button = (id, text, kind, act) => {
    const b = el("button", kind, text);
    b.type = "button";
    b.id = id;
    b.addEventListener("click", act);
    return b;
  };
  const zip = el("a", "button secondary");
  zip.id = "selection-zip";
  zip.download = "";
  zip.title = "The selected entries, folders with everything in them, as one zip file";
  zip.append(icon("archive"), "Download as zip");
  box.append(
    count,
    button("selection-delete", "Delete", "danger", deleteSelected),
    button("selection-move", "Move to…", "secondary", moveSelected),
    button("selection-copy", "Copy to…", "secondary", copySelected),
    zip,
    button("selection-share", "Share each", "secondary", shareSelected),
    button("selection-clear", "Clear selection", "link", () => {
      selected.clear();
      changed();
    }),
  );
  table.before(box);
  bar = { box, count, zip };
}

// entriesOf are the listed entries of these names, in the page's order.
function entriesOf(names) {
  const want = new Set(names);
  return listedEntries(true).filter((e) => want.has(e.name));
}

function someNames(names) {
  const shown = names.slice(0, 5).join(", ");
  return names.length > 5 ? shown + " and " + (names.length - 5) + " more" : shown;
}

// bulk posts one of the folder's bulk operations; it resolves with
// { done, failed } or null after saying why it failed as a whole.
async function bulk(folder, op, names, fields, what) {
  const body = new URLSearchParams();
  for (const n of names) body.append("select", n);
  for (const [k, v] of Object.entries(fields)) body.set(k, v);
  const res = await request("POST", withQuery(folder, { op }), body);
  if (!res.ok || !res.data || !Array.isArray(res.data.done)) {
    notify("Could not " + what + ": " + errorText(res.status, res.data), true);
    return null;
  }
  return { done: res.data.done, failed: Array.isArray(res.data.failed) ? res.data.failed : [] };
}

// reportFailures shows which entries failed, and why, in one notice that
// stays until dismissed.
function reportFailures(what, failed) {
  if (failed.length === 0) return;
  const box = document.getElementById("notices");
  const n = el("div", "notice error bulk-failures");
  const text = el("div", "");
  text.append(el("span", "", "Could not " + what + " " + entriesWord(failed.length) + ":"));
  const list = el("ul");
  for (const f of failed) list.append(el("li", "", f.name + ": " + f.error));
  text.append(list);
  n.append(text, closeButton(n));
  box.append(n);
}

function closeButton(n) {
  const close = el("button");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.append(icon("close"));
  close.addEventListener("click", () => n.remove());
  return close;
}

// settle refreshes the rows after an operation and keeps selected only the
// entries it failed on, so they can be tried again.
async function settle(result) {
  for (const name of result.done) selected.delete(name);
  await refreshListing();
  const left = new Set(listedEntries(true).map((e) => e.name));
  for (const name of Array.from(selected)) if (!left.has(name)) selected.delete(name);
  changed(true);
}

function entriesWord(n) {
  return n === 1 ? "1 entry" : n + " entries";
}

async function deleteSelected() {
  const entries = entriesOf(Array.from(selected));
  if (entries.length === 0) return;
  const names = entries.map((e) => e.name);
  const folders = entries.filter((e) => e.dir).length;
  let message = "Delete " + someNames(names) + "?";
  if (folders > 0) message += " Folders go with everything in them.";
  if (!(await confirmAction("Delete " + entriesWord(names.length) + "?", message, "Delete", bar.count))) return;
  const result = await bulk(folderURL(), "delete", names, folders > 0 ? { recursive: "1" } : {}, "delete");
  if (!result) return;
  await settle(result);
  if (result.done.length > 0) notify("Deleted " + entriesWord(result.done.length) + ".");
  reportFailures("delete", result.failed);
}

async function moveSelected() {
  const names = entriesOf(Array.from(selected)).map((e) => e.name);
  if (names.length === 0) return;
  const to = await askFolder(names, "move");
  if (to === null) return;
  await moveEntries({ from: folderURL(), path: listingTable().dataset.path, names, to, toURL: null, toName: to });
}

// copySelected copies the selected entries into another folder of the
// site, through the bridge (FTP has no copy): each file shows as a
// transfer in the panel.
async function copySelected() {
  const names = entriesOf(Array.from(selected)).map((e) => e.name);
  if (names.length === 0) return;
  const to = await askFolder(names, "copy");
  if (to === null) return;
  const result = await bulk(folderURL(), "copy", names, { to }, "copy " + someNames(names));
  if (!result) return;
  await settle(result);
  if (result.done.length > 0) notify("Copied " + entriesWord(result.done.length) + " to " + to + ".");
  reportFailures("copy", result.failed);
}

// moveEntries moves names from one folder to another and reports; with
// the target's address known, the notice offers to move them back.
async function moveEntries(m) {
  const result = await bulk(m.from, "move", m.names, { to: m.to }, "move " + someNames(m.names));
  if (!result) return;
  await settle(result);
  reportFailures("move", result.failed);
  if (result.done.length === 0) return;
  const text = "Moved " + entriesWord(result.done.length) + " to " + m.toName + ".";
  if (!m.toURL) {
    notify(text);
    return;
  }
  undoNotice(text, async () => {
    const back = await bulk(m.toURL, "move", result.done, { to: m.path }, "move them back");
    if (!back) return;
    await settle(back);
    reportFailures("move back", back.failed);
    if (back.done.length > 0) notify("Moved " + entriesWord(back.done.length) + " back.");
  });
}

// undoNotice is a notice with an Undo button; it stays a while longer
// than others, and goes once used.
function undoNotice(text, undo) {
  const box = document.getElementById("notices");
  const n = el("p", "notice undo");
  n.append(el("span", "", text));
  const b = el("button", "link undo-button", "Undo");
  b.type = "button";
  b.addEventListener("click", () => {
    n.remove();
    undo();
  });
  n.append(b, closeButton(n));
  box.append(n);
  setTimeout(() => n.remove(), 20000);
}

// ---------------------------------------------------------------------------
// Dialogs of their own: a folder to move to, and the links made. (The
// questions of dialogs.js have no field to type in.)

function dialog(titleText, build) {
  return new Promise((resolve) => {
    const before = document.activeElement;
    const d = el("dialog", "ask selection-dialog");
    d.setAttribute("aria-labelledby", "selection-dialog-title");
    const form = el("form");
    form.method = "dialog";
    const title = el("h2", "", titleText);
    title.id = "selection-dialog-title";
    form.append(title);
    const focus = build(form);
    d.append(form);
    for (const type of ["click", "keydown"]) d.addEventListener(type, (ev) => ev.stopPropagation());
    d.addEventListener("close", () => {
      const value = d.returnValue;
      const data = new FormData(form);
      d.remove();
      if (before instanceof HTMLElement && before.isConnected) before.focus();
      else bar.count.focus();
      resolve({ value, data });
    }, { once: true });
    document.body.append(d);
    d.returnValue = "";
    d.showModal();
    if (focus) focus.focus();
  });
}

function buttons(...list) {
  const box = el("div", "buttons");
  for (const [value, label, kind] of list) {
    const b = el("button", kind || "", label);
    b.type = "submit";
    b.value = value;
    if (value === "cancel") b.formNoValidate = true;
    box.append(b);
  }
  return box;
}

// askFolder asks where to move or copy (verb) names: a folder, or null.
async function askFolder(names, verb) {
  const Verb = verb === "copy" ? "Copy" : "Move";
  const { value, data } = await dialog(Verb + " " + entriesWord(names.length), (form) => {
    form.append(el("p", "", Verb + " " + someNames(names) + " to the folder:"));
    const label = el("label", "", "Folder (a path from the site’s root, or from this folder) ");
    const input = el("input");
    input.name = "to";
    input.id = verb + "-to";
    input.required = true;
    input.autocomplete = "off";
    input.spellcheck = false;
    input.value = listingTable().dataset.path || "/";
    label.append(input);
    form.append(label, buttons([verb, Verb], ["cancel", "Cancel", "secondary"]));
    setTimeout(() => input.select());
    return input;
  });
  const to = String(data.get("to") || "").trim();
  return value === verb && to !== "" ? to : null;
}

async function shareSelected() {
  const entries = entriesOf(Array.from(selected));
  if (entries.length === 0) return;
  const links = [];
  const failed = [];
  announce("Making " + entriesWord(entries.length) + " links…");
  for (const e of entries) {
    if (!e.href) {
      failed.push({ name: e.name, error: "you may not download it" });
      continue;
    }
    const body = new URLSearchParams({ expires: "168h", max_downloads: "0" });
    const res = await request("POST", withQuery(e.href, { op: "share" }), body);
    if (res.ok && res.data && res.data.url) links.push(e.name + ": " + res.data.url);
    else failed.push({ name: e.name, error: errorText(res.status, res.data) });
  }
  reportFailures("share", failed);
  if (links.length === 0) return;
  await dialog("Links for " + entriesWord(links.length), (form) => {
    form.append(el("p", "", "Each works for 7 days, with no download limit. See and end them on the Shared links page."));
    const area = el("textarea");
    area.id = "share-links";
    area.readOnly = true;
    area.rows = Math.min(10, links.length + 1);
    area.value = links.join("\n");
    area.setAttribute("aria-label", "The links, one a line");
    const copy = el("button", "", "Copy all");
    copy.type = "button";
    copy.id = "share-links-copy";
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(area.value);
        notify("Links copied.");
      } catch {
        area.focus();
        area.select();
        notify("Press Ctrl+C (or Cmd+C) to copy the selected links.");
      }
    });
    const box = buttons(["close", "Close", "secondary"]);
    box.prepend(copy);
    form.append(area, box);
    return copy;
  });
}

// ---------------------------------------------------------------------------
// Moving by drag and drop

let dragging = null; // { from, path, names } while a row of this page is dragged
let over = null; // the drop target marked

function initDrag(table) {
  table.addEventListener("dragstart", (ev) => {
    const tr = ev.target instanceof Element ? ev.target.closest("tbody tr[data-name]") : null;
    if (!tr || !ev.dataTransfer) return;
    closeRowMenu(false);
    const name = tr.dataset.name;
    const names = selected.has(name) ? entriesOf(Array.from(selected)).map((e) => e.name) : [name];
    dragging = { from: folderURL(), path: table.dataset.path, names };
    ev.dataTransfer.setData(DRAG_TYPE, JSON.stringify(dragging));
    ev.dataTransfer.setData("text/plain", names.join("\n"));
    ev.dataTransfer.effectAllowed = "move";
    document.body.classList.add("dragging-entries");
    announce("Dragging " + someNames(names) + ". Drop on a folder or a breadcrumb to move.");
  });
  document.addEventListener("dragend", () => {
    dragging = null;
    mark(null);
    document.body.classList.remove("dragging-entries");
  });
  document.addEventListener("dragover", (ev) => {
    if (!internal(ev)) return;
    const target = dropTarget(ev.target);
    mark(target);
    if (!target) return;
    ev.preventDefault(); // allows the drop
    ev.dataTransfer.dropEffect = "move";
  });
  document.addEventListener("dragleave", (ev) => {
    if (internal(ev) && over && !(ev.relatedTarget instanceof Node && over.contains(ev.relatedTarget))) mark(null);
  });
  document.addEventListener("drop", (ev) => {
    if (!internal(ev)) return;
    const target = dropTarget(ev.target);
    mark(null);
    document.body.classList.remove("dragging-entries");
    if (!target) return;
    ev.preventDefault();
    let m = dragging;
    try {
      m = JSON.parse(ev.dataTransfer.getData(DRAG_TYPE));
    } catch {
      // this page's own drag, as noted at its start
    }
    dragging = null;
    if (!m || !Array.isArray(m.names) || m.names.length === 0) return;
    moveEntries({ from: m.from, path: m.path, names: m.names, ...target });
  });
}

function internal(ev) {
  return !!ev.dataTransfer && Array.from(ev.dataTransfer.types).includes(DRAG_TYPE);
}

// dropTarget is where a drop on this element moves entries to, or null:
// a folder row that is not itself dragged, or a breadcrumb other than this
// folder's own. It gives the element, the folder's address (for the undo),
// its path (the "to" of the move: from the site's root) and its name.
function dropTarget(t) {
  if (!(t instanceof Element)) return null;
  const path = listingTable().dataset.path || "/";
  const tr = t.closest("#listing tbody tr.dir[data-name]");
  if (tr) {
    const name = tr.dataset.name;
    if (dragging && dragging.from === folderURL() && dragging.names.includes(name)) return null;
    const link = tr.querySelector("td.name a");
    if (!link) return null;
    return { el: tr, toURL: link.getAttribute("href"), to: path + name, toName: name };
  }
  const crumb = t.closest("nav.crumbs a");
  if (crumb) {
    const crumbs = Array.from(document.querySelectorAll("nav.crumbs a"));
    const i = crumbs.indexOf(crumb);
    if (i === crumbs.length - 1) return null; // this folder
    const segs = path.split("/").filter((s) => s !== "");
    const to = "/" + segs.slice(0, i).join("/");
    return { el: crumb, toURL: crumb.getAttribute("href"), to, toName: to };
  }
  return null;
}

function mark(target) {
  const e = target ? target.el : null;
  if (over === e) return;
  if (over) over.classList.remove("drop-target");
  over = e;
  if (over) over.classList.add("drop-target");
}
