// Preview: a click on the name of a file the browser can show (an image,
// text, a PDF, audio, video) opens it in a viewer over the listing instead
// of downloading it; previous and next go through the folder's other such
// files (buttons, the arrow keys, a swipe). Without the script, or with a
// modifier key held, the name stays a plain download link.
//
// What the viewer loads is the file's own address: images, audio, video
// and PDF with ?inline=1, which the bridge answers inline only for the
// types it calls safe (handlers/download.go: previewable), always with
// nosniff and a sandbox CSP; PDF is shown by the browser's own viewer in a
// frame that CSP sandboxes. Text is fetched (at most TEXT_CAP bytes, by Range) and
// shown as textContent, never as markup, whatever its type. The extension
// lists below mirror the server's: a file the bridge would not show inline
// is never framed.

import { openEditor, EDIT_CAP } from "./editor.js";
import { el, icon, listingTable } from "./dom.js";
import { humanSize } from "./format.js";
import { withQuery } from "./http.js";

const TEXT_CAP = 256 * 1024;

const KINDS = {};
for (const [kind, exts] of Object.entries({
  // handlers/download.go previewable, by Go's own extension table (so
  // the same on every system); svg can run script and is left out.
  image: "png jpg jpeg gif webp avif bmp",
  audio: "mp3 m4a flac ogg oga opus wav",
  video: "mp4 webm ogv",
  pdf: "pdf",
  // Shown as text by the page itself, so any text will do.
  text: "txt text md log csv tsv rst nfo ini conf cfg json xml yml yaml toml go c h cc cpp py js mjs ts css html htm sh rs java sql diff patch",
})) for (const e of exts.split(" ")) KINDS[e] = kind;

// kindOf says how a file name is previewed, or "" when it is not.
function kindOf(name) {
  const dot = name.lastIndexOf(".");
  return (dot > 0 && KINDS[name.slice(dot + 1).toLowerCase()]) || "";
}

let viewer = null; // the open viewer's state

// opensInViewer says whether a click on the file name opens the viewer:
// not on a share link's pages, whose files count downloads and so are not
// for browsing.
export function opensInViewer(name) {
  return kindOf(name) !== "" && !location.pathname.startsWith("/s/");
}

export function initPreview() {
  const table = listingTable();
  if (!table || location.pathname.startsWith("/s/")) return;
  table.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target instanceof Element ? ev.target.closest("tr.file td.name a") : null;
    if (!a || !kindOf(a.closest("tr").dataset.name)) return;
    ev.preventDefault();
    open(a.closest("tr"));
  });
}

// items are the listing's previewable files, in the order shown (the
// filter's hidden rows left out).
function items() {
  const out = [];
  for (const tr of listingTable().querySelectorAll("tbody tr.file")) {
    const a = tr.querySelector("td.name a");
    if (!tr.hidden && a && kindOf(tr.dataset.name)) out.push(tr);
  }
  return out;
}

function rowInfo(tr) {
  const a = tr.querySelector("td.name a");
  const size = parseInt((tr.querySelector("td.size") || {}).title, 10);
  return { name: tr.dataset.name, href: a.getAttribute("href"), kind: kindOf(tr.dataset.name), size: isNaN(size) ? -1 : size, row: tr };
}

function button(label, iconName, cls) {
  const b = el("button", cls || "secondary");
  b.type = "button";
  if (iconName) b.append(icon(iconName));
  b.append(label);
  return b;
}

function open(tr) {
  if (viewer) return; // one at a time (it is modal: no click gets here meanwhile)
  const dialog = el("dialog", "viewer");
  dialog.id = "viewer";
  dialog.tabIndex = -1;
  dialog.setAttribute("aria-labelledby", "viewer-title");
  const title = el("h2", "", "");
  title.id = "viewer-title";
  const counter = el("span", "counter");
  const prev = button("Previous");
  prev.id = "viewer-prev";
  prev.setAttribute("aria-keyshortcuts", "ArrowLeft");
  const next = button("Next");
  next.id = "viewer-next";
  next.setAttribute("aria-keyshortcuts", "ArrowRight");
  const edit = button("Edit");
  edit.id = "viewer-edit";
  const download = el("a", "button secondary", "Download");
  download.id = "viewer-download";
  const close = button("", "close", "secondary close");
  close.id = "viewer-close";
  close.setAttribute("aria-label", "Close");
  close.title = "Close (Escape)";
  const bar = el("div", "viewer-bar");
  bar.append(title, counter, prev, next, edit, download, close);
  const stage = el("div", "viewer-stage");
  const note = el("p", "viewer-note");
  note.hidden = true;
  dialog.append(bar, note, stage);
  const back = document.activeElement;
  viewer = { dialog, title, counter, prev, next, edit, download, stage, note, row: tr, name: tr.dataset.name, back };

  prev.addEventListener("click", () => step(-1));
  next.addEventListener("click", () => step(1));
  close.addEventListener("click", () => dialog.close());
  edit.addEventListener("click", async () => {
    const it = rowInfo(current());
    const { saved } = await openEditor(it.href, it.name);
    if (saved && viewer && viewer.name === it.name) show(current()); // the new text
  });
  // The listing's shortcuts, and its "a click elsewhere closes the menu",
  // are not for the viewer in front of it (listing.js skips dialogs too).
  dialog.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    const t = ev.target instanceof Element ? ev.target : null;
    if (ev.ctrlKey || ev.metaKey || ev.altKey || (t && t.closest("input, textarea, audio, video, iframe"))) return;
    if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
      ev.preventDefault();
      step(ev.key === "ArrowLeft" ? -1 : 1);
    }
  });
  dialog.addEventListener("click", (ev) => ev.stopPropagation());
  // A swipe sideways goes to the next or previous file.
  let start = null;
  stage.addEventListener("pointerdown", (ev) => {
    if (ev.isPrimary) start = { x: ev.clientX, y: ev.clientY };
  });
  stage.addEventListener("pointercancel", () => (start = null));
  stage.addEventListener("pointerup", (ev) => {
    if (!start || !ev.isPrimary) return;
    const dx = ev.clientX - start.x;
    const dy = ev.clientY - start.y;
    start = null;
    if (Math.abs(dx) > 60 && Math.abs(dx) > 2 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
  });
  dialog.addEventListener("close", () => {
    stage.replaceChildren(); // stops audio and video
    dialog.remove();
    const row = current();
    viewer = null;
    // Back to the file shown last, so the listing's keys go on from there.
    const a = row.isConnected ? row.querySelector("td.name a") : null;
    if (a) a.focus();
    else if (back instanceof HTMLElement && back.isConnected) back.focus();
  }, { once: true });
  document.body.append(dialog);
  dialog.showModal();
  show(tr);
  dialog.focus();
}

// current is the row of the file shown: the listing's rows are made anew
// when it refreshes (after a save, say), so it is found by name.
function current() {
  return items().find((tr) => tr.dataset.name === viewer.name) || viewer.row;
}

function step(by) {
  if (!viewer) return;
  const list = items();
  const i = list.findIndex((tr) => tr.dataset.name === viewer.name);
  if (list.length === 0) return;
  const j = i < 0 ? 0 : (i + by + list.length) % list.length;
  if (list[j].dataset.name !== viewer.name) show(list[j]);
}

// show puts one file in the viewer.
async function show(tr) {
  const v = viewer;
  const it = rowInfo(tr);
  v.row = tr;
  v.name = it.name;
  v.title.textContent = it.name;
  const list = items();
  const i = list.findIndex((r) => r.dataset.name === it.name);
  v.counter.textContent = i >= 0 ? i + 1 + " of " + list.length : "";
  v.prev.disabled = v.next.disabled = list.length < 2;
  v.download.href = it.href;
  v.edit.hidden = !(it.kind === "text" && it.size >= 0 && it.size <= EDIT_CAP);
  v.note.hidden = true;
  v.stage.replaceChildren();
  v.stage.className = "viewer-stage " + it.kind;
  const inline = withQuery(it.href, { inline: "1" });
  let media;
  switch (it.kind) {
    case "image":
      media = el("img");
      media.alt = it.name;
      media.src = inline;
      media.draggable = false;
      break;
    case "audio":
    case "video":
      media = el(it.kind);
      media.controls = true;
      media.preload = "metadata";
      media.src = inline;
      break;
    case "pdf":
      // The browser's own PDF viewer, in a frame that the bridge's answer
      // sandboxes (its CSP: no script of the file's, no origin of the
      // bridge's). Not also with the frame's sandbox attribute: Chromium
      // shows no PDF in a frame sandboxed that way.
      media = el("iframe");
      media.title = it.name;
      media.src = inline;
      break;
    case "text":
      media = el("pre", "text");
      media.tabIndex = 0;
      v.stage.append(media);
      await showText(v, it, media);
      return;
  }
  media.addEventListener("error", () => {
    if (viewer === v && v.name === it.name) noteFor(v, "The browser cannot show this file here. Download it instead.", true);
  });
  v.stage.append(media);
}

async function showText(v, it, pre) {
  let res;
  try {
    res = await fetch(it.href, { headers: { Range: "bytes=0-" + (TEXT_CAP - 1) }, credentials: "same-origin", cache: "no-store" });
  } catch {
    res = null;
  }
  if (viewer !== v || v.name !== it.name) return; // moved on meanwhile
  if (!res || !res.ok) {
    pre.textContent = "";
    noteFor(v, res ? "The file could not be loaded (status " + res.status + "). Download it instead." : "The bridge could not be reached.", true);
    return;
  }
  // A server that will not say the size sends it all: read the cap only.
  const reader = res.body.getReader();
  const chunks = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    if (got >= TEXT_CAP) {
      reader.cancel();
      break;
    }
  }
  if (viewer !== v || v.name !== it.name) return;
  const bytes = new Uint8Array(Math.min(got, TEXT_CAP));
  let at = 0;
  for (const c of chunks) {
    const part = c.subarray(0, bytes.length - at);
    bytes.set(part, at);
    at += part.length;
    if (at >= bytes.length) break;
  }
  pre.textContent = new TextDecoder().decode(bytes, { stream: true });
  const range = res.headers.get("Content-Range");
  const total = range ? parseInt(range.split("/")[1], 10) : it.size;
  if (got >= TEXT_CAP && !(total <= TEXT_CAP)) {
    noteFor(v, "Showing the first " + humanSize(TEXT_CAP) + (total > 0 ? " of " + humanSize(total) : "") + ". Download the file for all of it.", false);
  }
}

function noteFor(v, text, isError) {
  v.note.textContent = text;
  v.note.classList.toggle("error", isError);
  v.note.hidden = false;
}
