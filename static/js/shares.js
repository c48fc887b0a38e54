// Share links: the dialog on a listing, and the /shares page, whose download
// counts follow the transfer events (transfers.js).

import { listingTable, notify } from "./dom.js";
import { errorText, request, withQuery } from "./http.js";
import { closeRowMenu } from "./menus.js";
import { localTime, timeElement } from "./times.js";

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

export function initShareDialog() {
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
      "Works until " + localTime(new Date(res.data.expires)) + ". See all your links on the Shared links page.";
    result.hidden = false;
    urlInput.focus();
    urlInput.select();
  });
  document.getElementById("share-copy").addEventListener("click", () => copyLink(urlInput.value, urlInput));
}

export function initSharesPage() {
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
export function refreshSharesSoon() {
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
      if (s.last_download) last.replaceChildren(timeElement(s.last_download));
    }
  }, 1000);
}
