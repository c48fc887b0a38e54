// Edit: a text file of at most EDIT_CAP bytes in a <textarea>, saved back
// with PUT {file}?overwrite=1 (an upload through a temporary name, renamed
// into place) and If-Match: the ETag of the GET that loaded it. When the
// file changed on the server meanwhile the bridge answers 412 and writes
// nothing; the page then asks whether to load the server's version
// (dropping the edits) or to overwrite it. Closing with unsaved changes
// asks first.

import { ask } from "./dialogs.js";
import { el } from "./dom.js";
import { humanSize } from "./format.js";
import { errorText, parseJSON, withQuery } from "./http.js";

export const EDIT_CAP = 1024 * 1024;

// openEditor edits the file at href, named name; it resolves once the
// editor is closed, with saved telling whether anything was saved.
export function openEditor(href, name) {
  return new Promise((resolve) => {
    const dialog = el("dialog", "editor");
    dialog.id = "editor";
    dialog.setAttribute("aria-labelledby", "editor-title");
    const title = el("h2", "", "Edit " + name);
    title.id = "editor-title";
    const status = el("p", "editor-status", "Loading…");
    status.id = "editor-status";
    status.setAttribute("role", "status");
    const text = el("textarea");
    text.id = "editor-text";
    text.spellcheck = false;
    text.disabled = true;
    text.setAttribute("aria-labelledby", "editor-title");
    const save = el("button", "button primary", "Save");
    save.type = "button";
    save.id = "editor-save";
    save.disabled = true;
    save.setAttribute("aria-keyshortcuts", "Control+S");
    const close = el("button", "secondary", "Close");
    close.type = "button";
    close.id = "editor-close";
    const buttons = el("div", "buttons");
    buttons.append(save, close);
    const head = el("div", "editor-bar");
    head.append(title, buttons);
    dialog.append(head, status, text);

    let etag = ""; // of the version the text was loaded from, or last saved
    let original = ""; // the text as loaded or last saved
    let crlf = false; // the file's lines end in CR LF: keep them so
    let saved = false;
    let busy = false;
    const dirty = () => !text.disabled && text.value !== original;
    const say = (words, isError) => {
      status.textContent = words;
      status.classList.toggle("error", !!isError);
    };
    const keepUnsaved = (ev) => {
      if (dirty()) ev.preventDefault();
    };

    async function load() {
      busy = true;
      text.disabled = save.disabled = true;
      say("Loading…");
      let res = null;
      let bytes = null;
      try {
        res = await fetch(href, { credentials: "same-origin", cache: "no-store" });
        const length = parseInt(res.headers.get("Content-Length"), 10);
        if (res.ok && !(length > EDIT_CAP)) bytes = new Uint8Array(await res.arrayBuffer());
      } catch {
        // said below
      }
      busy = false;
      if (!res || !res.ok) {
        say(res ? "The file could not be loaded (status " + res.status + ")." : "The bridge could not be reached.", true);
        return;
      }
      if (!bytes || bytes.length > EDIT_CAP) {
        say("This file is larger than " + humanSize(EDIT_CAP) + ", the most the page edits. Download it to edit it.", true);
        return;
      }
      let value;
      try {
        value = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        say("This file is not UTF-8 text: saving it from here would change it. Download it to edit it.", true);
        return;
      }
      crlf = value.includes("\r\n");
      etag = res.headers.get("ETag") || "";
      text.value = value;
      original = text.value; // as the textarea holds it (line ends as LF)
      text.disabled = save.disabled = false;
      say(etag ? "" : "The FTP server does not tell this file's time: a save cannot check that nobody changed it meanwhile.");
      text.focus();
    }

    async function store(force) {
      if (busy || text.disabled) return;
      busy = true;
      save.disabled = true;
      say("Saving…");
      const value = text.value;
      const headers = { Accept: "application/json" };
      if (etag && !force) headers["If-Match"] = etag;
      let res = null;
      let data = null;
      try {
        res = await fetch(withQuery(href, { overwrite: "1" }), {
          method: "PUT",
          headers,
          credentials: "same-origin",
          body: new Blob([crlf ? value.replace(/\n/g, "\r\n") : value], { type: "application/octet-stream" }),
        });
        data = parseJSON(await res.text());
        if (res.ok) {
          // The new version's ETag, for the next save.
          const head = await fetch(href, { method: "HEAD", credentials: "same-origin", cache: "no-store" });
          etag = (head.ok && head.headers.get("ETag")) || "";
        }
      } catch {
        // said below
      }
      busy = false;
      save.disabled = false;
      if (res && res.ok) {
        original = value;
        saved = true;
        say("Saved.");
        return;
      }
      if (res && res.status === 412) {
        say(errorText(412, data), true);
        const { choice } = await ask({
          title: "The file changed",
          message: errorText(412, data) + " Reload shows the server's version and drops your changes; Overwrite replaces the server's version with yours.",
          choices: [
            { value: "reload", label: "Reload" },
            { value: "overwrite", label: "Overwrite", kind: "danger" },
            { value: "keep", label: "Keep editing", kind: "secondary" },
          ],
          cancel: "keep",
          fallback: text,
        });
        if (choice === "reload") await load();
        else if (choice === "overwrite") await store(true);
        return;
      }
      say(errorText(res ? res.status : 0, data), true);
    }

    let asking = false;
    async function tryClose() {
      if (asking) return;
      if (dirty()) {
        asking = true;
        const { choice } = await ask({
          title: "Discard your changes?",
          message: "The changes to " + name + " are not saved.",
          choices: [
            { value: "discard", label: "Discard", kind: "danger" },
            { value: "keep", label: "Keep editing", kind: "secondary" },
          ],
          cancel: "keep",
          fallback: text,
        });
        asking = false;
        if (choice !== "discard") return;
      }
      dialog.close();
    }

    save.addEventListener("click", () => store(false));
    close.addEventListener("click", tryClose);
    dialog.addEventListener("cancel", (ev) => {
      // Escape: ask first when there are changes.
      ev.preventDefault();
      tryClose();
    });
    // The listing's and the viewer's keys are not for the editor.
    dialog.addEventListener("keydown", (ev) => {
      ev.stopPropagation();
      if (ev.key === "Escape") {
        // Handled here, not left to the dialog's cancel: a browser may
        // close a dialog without a cancel it lets the page refuse.
        ev.preventDefault();
        tryClose();
      } else if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "s") {
        ev.preventDefault();
        store(false);
      }
    });
    dialog.addEventListener("click", (ev) => ev.stopPropagation());
    window.addEventListener("beforeunload", keepUnsaved);
    dialog.addEventListener("close", () => {
      window.removeEventListener("beforeunload", keepUnsaved);
      dialog.remove();
      resolve({ saved });
    }, { once: true });
    document.body.append(dialog);
    dialog.showModal();
    load();
  });
}
