// ftpbridge pages: progressive enhancements. Every page works without the
// script (folders list, plain forms upload, rename, delete and make folders);
// it adds the filter box, the plain-FTP warning, keyboard shortcuts, uploads
// with a progress bar per file (drag and drop, folders), rename and delete
// without leaving the page, the live transfers panel, and the page's own
// dialog for every question it asks (dialogs.js; never confirm()).
//
// Data from the server only ever reaches the page through textContent and
// attributes, never as markup, except the listing refresh, which swaps in
// rows the bridge itself rendered with html/template (see refreshListing in
// listing.js).
//
// This is the entry module, loaded with <script type="module"> (deferred,
// strict, no globals); each module below holds one concern, and this one
// wires them to the page. No bundler: the browser loads the modules as they
// are, from /static/js/.
import { initFolderChanges } from "./changes.js";
import { initBigListing, initFilter, initKeyboard, initSort } from "./listing.js";
import { initMenus } from "./menus.js";
import { initBackLinks, initConnectForm } from "./pages.js";
import { initPreview } from "./preview.js";
import { initRecent } from "./recent.js";
import { initSelect } from "./select.js";
import { initShareDialog, initSharesPage } from "./shares.js";
import { localTimes } from "./times.js";
import { initTransfers } from "./transfers.js";
import { initUploads } from "./uploads.js";

document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  localTimes();
  initBackLinks();
  initConnectForm();
  initRecent();
  initFilter();
  initSort();
  initBigListing();
  initKeyboard();
  initMenus();
  initSelect();
  initPreview();
  initFolderChanges();
  initUploads();
  initShareDialog();
  initSharesPage();
  initTransfers();
});
