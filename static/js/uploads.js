// Uploads: one file per request, one after the other, so that each file has
// its own bar, its own "already exists" question and its own failure.
// Each upload shows in the transfers panel; its bar moves with the server's
// transfer events (bytes handed to the FTP server), matched by FTP path.
//
// A file that already exists on the server (409) does not hold up the
// others: it waits, marked in the panel, for its question while the files
// after it go on uploading. The questions come one at a time, in the order
// the clashes were found; a file to be replaced goes next in line.

import { ask } from "./dialogs.js";
import { listingTable, notify } from "./dom.js";
import { errorText, parseJSON, request, withQuery } from "./http.js";
import { folderURL, refreshListing } from "./listing.js";
import { announce, ignoreTransfers, isFinal, newView, releaseId, renderView, setLocal, socketOpen, views } from "./transfers.js";

const uploadQueue = []; // views waiting to be sent, in order
const clashes = []; // views whose file exists on the server, waiting for their question
let current = null; // the view being sent
let sending = false; // runUploads is sending the queue
let asking = false; // askClashes is asking the questions
let changed = false; // the folder changed since the listing was last reloaded
let replaceAll = null; // the answer to "already exists" for the rest of this batch

export function initUploads() {
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
    runUploads();
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
    // Leaving would cut the upload off, or drop the files still waiting
    // for an answer.
    if (sending || asking) ev.preventDefault();
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

// runUploads sends the queued files one at a time, and reloads the listing
// once the queue is empty, even while questions are still open: the files
// that arrived show at once.
async function runUploads() {
  if (sending) return; // the loop below takes new files as well
  sending = true;
  while (uploadQueue.length > 0) {
    const v = uploadQueue.shift();
    if (v.ev.state !== "waiting") continue; // canceled while it waited
    current = v;
    const end = await uploadOne(v);
    current = null;
    if (end === "stored") changed = true;
    if (end === "clash") {
      clashes.push(v);
      askClashes();
    }
  }
  sending = false;
  if (changed) {
    changed = false;
    await refreshListing();
  }
  batchOver();
}

// askClashes asks about each file that exists on the server, one question
// at a time, while runUploads goes on with the other files.
async function askClashes() {
  if (asking) return;
  asking = true;
  while (clashes.length > 0) {
    const v = clashes.shift();
    if (v.ev.state !== "conflict") continue;
    if (await askReplace(v)) {
      v.upload.overwrite = true;
      v.ev.state = "waiting";
      renderView(v);
      uploadQueue.unshift(v);
      runUploads();
    } else {
      v.upload.answered = true;
      setLocal(v, "skipped", "");
    }
  }
  asking = false;
  batchOver();
}

// batchOver forgets the "for the other files" answer once nothing is left
// to send or to ask about: the next files picked are a batch of their own.
function batchOver() {
  if (!sending && !asking) replaceAll = null;
}

// uploadOne sends one file and says how it ended: "stored" (the folder
// changed), "clash" (the file exists; the view waits for the question) or
// "ended" (failed, canceled).
async function uploadOne(v) {
  const u = v.upload;
  const res = await sendFile(v);
  if (res.status === 409 && !u.overwrite) {
    // The refused attempt was a transfer of its own, failed; this view
    // now waits for the answer, and any retry is a new transfer.
    releaseId(v);
    v.ev.state = "conflict";
    renderView(v);
    await forgetRefused(v);
    return "clash";
  }
  u.answered = true;
  if (res.status === -1) {
    setLocal(v, "canceled", "");
    return "ended";
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
    return "stored";
  }
  // A failure the server already reported as an event keeps its words;
  // otherwise the HTTP answer says what went wrong.
  if (isFinal(v.ev.state) && v.ev.state !== "done") announce(v);
  else setLocal(v, "failed", errorText(res.status, res.data));
  return "ended";
}

// forgetRefused ignores the transfer the server made of a refused attempt.
// Its events travel on the socket, apart from the 409, and may come after
// it: unnamed, a late one would show as a failed upload of its own, or be
// taken for the retry's. The server ended that transfer before it
// answered, so the list it gives now has it.
async function forgetRefused(v) {
  const res = await request("GET", "/transfers");
  if (!res.ok || !res.data || !Array.isArray(res.data.transfers)) return; // no session: no events either
  const ids = res.data.transfers
    .filter((t) => t.op === "upload" && t.path === v.ev.path && isFinal(t.state) && !v.upload.knownIds.has(String(t.id)))
    .map((t) => String(t.id));
  ignoreTransfers(ids);
}

// finishStored marks a stored upload done when no final event came for it.
function finishStored(v) {
  if (isFinal(v.ev.state)) return;
  v.ev.bytes = v.ev.total;
  v.upload.assumedDone = true; // a late event may still claim this view
  setLocal(v, "done", "");
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
// the same answer for the other files of this batch that exist.
async function askReplace(v) {
  if (replaceAll !== null) return replaceAll;
  const others = current !== null || uploadQueue.some((w) => w.ev.state === "waiting") ||
    clashes.some((w) => w.ev.state === "conflict");
  const { choice, checked } = await ask({
    title: "Replace the file?",
    message: v.upload.rel + " already exists. Replace it?",
    choices: [
      { value: "replace", label: "Replace", kind: "danger" },
      { value: "keep", label: "Keep the existing file", kind: "secondary" },
    ],
    cancel: "keep", // the safe choice, and Escape's
    check: others ? "Do the same for the other files that already exist" : "",
  });
  const replace = choice === "replace";
  if (checked) replaceAll = replace;
  return replace;
}
