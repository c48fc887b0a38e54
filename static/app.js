// ftpbridge pages: small progressive enhancements. Every page works without
// this file; it only adds the filter box, the plain-FTP warning and keyboard
// shortcuts.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // "Go back" links on error pages.
  for (const a of document.querySelectorAll("a[data-back]")) {
    a.addEventListener("click", (ev) => {
      if (history.length > 1) { ev.preventDefault(); history.back(); }
    });
  }

  // Connect form: anonymous disables the credentials; plain FTP with a
  // password warns that it travels in clear.
  const form = document.getElementById("connect-form");
  if (form) {
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
    for (const el of [scheme, anon, pass]) el.addEventListener("input", update);
    update();
  }

  // Listing: filter rows as you type; "/" focuses the filter.
  const filter = document.getElementById("filter");
  const table = document.getElementById("listing");
  if (filter && table) {
    const rows = Array.from(table.tBodies[0].rows).filter((r) => r.dataset.name !== undefined);
    const none = document.getElementById("no-match");
    filter.addEventListener("input", () => {
      const q = filter.value.toLowerCase();
      let shown = 0;
      for (const r of rows) {
        const match = r.dataset.name.toLowerCase().includes(q);
        r.hidden = !match;
        if (match) shown++;
      }
      none.hidden = shown > 0 || rows.length === 0;
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "/" && document.activeElement !== filter) {
        ev.preventDefault();
        filter.focus();
      } else if (ev.key === "Escape" && document.activeElement === filter) {
        filter.value = "";
        filter.dispatchEvent(new Event("input"));
        filter.blur();
      }
    });
  }
});
