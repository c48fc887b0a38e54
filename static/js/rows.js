// Listing rows the script builds itself (big folders, listing.js), the way
// handlers/rows.go writes them, and the server's order of rows.

import { el, icon, listingTable } from "./dom.js";
import { humanSize } from "./format.js";
import { timeElement } from "./times.js";

// iconFor matches handlers/browse.go iconFor.
const ICONS = {};
for (const [kind, exts] of Object.entries({
  image: "png jpg jpeg gif webp bmp svg avif ico tif tiff",
  audio: "mp3 wav flac ogg m4a aac opus",
  video: "mp4 mkv webm avi mov m4v",
  archive: "zip gz tgz bz2 xz zst 7z rar tar iso",
  text: "txt md log csv rst nfo",
  pdf: "pdf",
  code: "go c h py js ts html css json xml sh rs java yml yaml toml",
})) for (const e of exts.split(" ")) ICONS[e] = kind;

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

export function buildRow(it) {
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
  if (it.mod) date.append(timeElement(it.mod));
  tr.append(name, size, date, el("td", "mode", it.mode || ""));
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

export function spacerRow(cols) {
  const tr = el("tr", "spacer");
  tr.setAttribute("aria-hidden", "true");
  const td = el("td");
  td.colSpan = cols;
  tr.append(td);
  return tr;
}

// sortKey and compareRows order rows as the server does: folders first,
// then by the column, names breaking ties, case folded.

export function sortKey(r) {
  const name = r.dataset.name;
  // By class: the page may add cells (select.js's checkbox).
  const sizeCell = r.querySelector("td.size");
  const time = r.querySelector("td.date time");
  let size = 0;
  if (r.dataset.size !== undefined) size = Number(r.dataset.size);
  else if (sizeCell && sizeCell.title) size = parseInt(sizeCell.title, 10) || 0;
  return { r, name, lower: name.toLowerCase(), dir: r.classList.contains("dir"), size, mod: time ? time.dateTime : "" };
}

export function compareRows(by, desc) {
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
