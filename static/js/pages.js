// Enhancements of single pages: the error pages' "Go back" links and the
// home page's connect form.

export function initBackLinks() {
  // "Go back" links on error pages.
  for (const a of document.querySelectorAll("a[data-back]")) {
    a.addEventListener("click", (ev) => {
      if (history.length > 1) {
        ev.preventDefault();
        history.back();
      }
    });
  }
}

export function initConnectForm() {
  // Anonymous disables the credentials; plain FTP with a password warns
  // that it travels in clear.
  const form = document.getElementById("connect-form");
  if (!form) return;
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
  for (const e of [scheme, anon, pass]) e.addEventListener("input", update);
  update();
}
