// Changes to a folder without leaving the page: new folder, rename, delete.

import { confirmAction } from "./dialogs.js";
import { listingTable, notify } from "./dom.js";
import { plural } from "./format.js";
import { errorText, request, withQuery } from "./http.js";
import { focusRow, refreshListing } from "./listing.js";
import { closeRowMenu } from "./menus.js";

export function initFolderChanges() {
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
  const back = row.querySelector("a.more"); // the focus's way back, should the menu close meanwhile
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
    if (!(await confirmAction("Delete folder?", question, "Delete", back))) return;
    if (files + folders > 0) url = withQuery(url, { recursive: "1" });
  } else if (!(await confirmAction("Delete file?", "Delete " + name + "?", "Delete", back))) {
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
