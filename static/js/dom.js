// Small DOM helpers every part of the script uses.

// el builds an element; text goes in as textContent, never as markup.
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", "/static/icons.svg#" + name);
  svg.append(use);
  return svg;
}

// notify shows a short message in the aria-live region. Successes fade after
// a while; errors stay until dismissed, so nobody misses why something failed.
export function notify(text, isError) {
  const box = document.getElementById("notices");
  if (!box) return;
  const n = el("p", "notice" + (isError ? " error" : ""));
  n.append(el("span", "", text));
  const close = el("button");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.append(icon("close"));
  close.addEventListener("click", () => n.remove());
  n.append(close);
  box.append(n);
  if (!isError) setTimeout(() => n.remove(), 8000);
}

// listingTable is the table of a folder's page (null on other pages).
export function listingTable() {
  return document.getElementById("listing");
}
