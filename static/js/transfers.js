// Transfers panel and the /ws socket: one entry per transfer the session's
// events tell of (downloads, zips, shared link downloads) and per upload of
// this page (uploads.js), with its bar, figures and cancel button.

import { el, listingTable, notify } from "./dom.js";
import { humanDuration, humanRate, humanSize, lastSegment } from "./format.js";
import { errorText, parseJSON, request } from "./http.js";
import { refreshSharesSoon } from "./shares.js";

export const views = new Map(); // transfer id -> view; uploads join once their id is known
const pending = []; // views not yet tied to a transfer id (uploads)
const ignored = new Set(); // ids of refused upload attempts that were retried
let socket = null;

const FINAL = ["done", "failed", "canceled", "skipped"];
export function isFinal(state) {
  return FINAL.includes(state);
}

export function socketOpen() {
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
export function newView(ev) {
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
export function renderView(v) {
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
export function announce(v) {
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
  // On a phone the panel stays one summary line unless asked: its list
  // would push the folder's rows out of the first screen.
  if (running > 0 && !panelUnfolded && panelChoice !== "closed" && !matchMedia("(max-width: 40rem)").matches) {
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
  if (!v && ev.op === "upload") {
    v = claimUpload(id, ev);
    if (ignored.has(id)) return; // a refused attempt's, claimed to be dropped
  }
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
// FTP path, when that upload is on its way and the id is new to it. An
// upload waiting for its "already exists" answer sends nothing: a new
// transfer of its path is the refused attempt's, whose events came after
// the refusal, and is ignored.
function claimUpload(id, ev) {
  const i = pending.findIndex((v) => v.upload && (v.ev.state === "sending" || v.ev.state === "conflict" || v.upload.assumedDone) &&
    v.ev.path === ev.path && !v.upload.knownIds.has(id));
  if (i < 0) return null;
  const v = pending[i];
  if (v.ev.state === "conflict") {
    ignored.add(id);
    return null;
  }
  pending.splice(i, 1);
  v.id = id;
  views.set(id, v);
  return v;
}

// releaseId unties an upload's view from the transfer of a refused attempt:
// the view waits for the next attempt's id, and the old one's further
// events are ignored.
export function releaseId(v) {
  if (v.id === null) return;
  views.delete(v.id);
  ignored.add(v.id);
  v.id = null;
  if (!pending.includes(v)) pending.push(v);
}

// ignoreTransfers ignores the events of transfers not shown yet: refused
// upload attempts that uploads.js found with GET /transfers.
export function ignoreTransfers(ids) {
  for (const id of ids) if (!views.has(id)) ignored.add(id);
}

// setLocal gives a view an end (or a state) the page knows of without the
// server's events: an upload skipped, canceled, failed or stored.
export function setLocal(v, state, error) {
  v.ev.state = state;
  v.ev.error = error;
  renderView(v);
  announce(v);
}

export function initTransfers() {
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
