// Recent sites: the sites this browser connected to with the home page's
// form, kept in localStorage and offered on the home page as one-click
// connects. What is kept is the form's choices only (security, host, port,
// user, file name encoding, transfer mode); never a password, which the
// bridge keeps sealed in its session and this script never reads.
//
// A site is recorded in two steps: the form's submit notes what was asked
// (sessionStorage, this tab), and the listing page the bridge answers with
// after a good login confirms it. A refused login never lands on a listing
// of that site, so it is never recorded.

import { el } from "./dom.js";

const KEY = "ftpbridge-recent";
const PENDING = "ftpbridge-recent-pending";
const MAX = 12; // sites kept, the most recent first
const PENDING_FOR = 5 * 60 * 1000; // a login slower than this is not confirmed

const DEFAULT_PORTS = { ftp: 21, ftpes: 21, ftps: 990 };
const SCHEME_WORDS = { ftp: "plain FTP", ftpes: "FTPS explicit", ftps: "FTPS implicit" };

function load() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || "[]");
    return Array.isArray(list) ? list.filter((s) => s && typeof s.host === "string" && DEFAULT_PORTS[s.scheme]) : [];
  } catch {
    return [];
  }
}

function save(list) {
  try {
    if (list.length === 0) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX)));
  } catch {
    // storage full or disabled: nothing is remembered
  }
}

function sameSite(a, b) {
  return a.scheme === b.scheme && a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port && a.user === b.user;
}

// siteOf keeps the fields a site is made of, and nothing else: what is
// stored is exactly this.
function siteOf(s) {
  return {
    scheme: s.scheme,
    host: s.host,
    port: s.port,
    user: s.user,
    encoding: s.encoding || "",
    mode: s.mode || "auto",
  };
}

// label names a site as its address does, with the security in words.
function label(s) {
  const host = s.host.includes(":") ? "[" + s.host + "]" : s.host;
  const port = s.port !== DEFAULT_PORTS[s.scheme] ? ":" + s.port : "";
  return (s.user ? s.user + "@" : "") + host + port;
}

function details(s) {
  const parts = [SCHEME_WORDS[s.scheme], s.user ? "user " + s.user : "anonymous"];
  if (s.encoding) parts.push("names in " + s.encoding);
  if (s.mode && s.mode !== "auto") parts.push(s.mode + " mode");
  return parts.join(", ");
}

// addressOf reads the site of a bridge address /{scheme}/[user@]host[:port]/…
function addressOf(pathname) {
  const m = /^\/(ftp|ftpes|ftps)\/([^/]+)\//.exec(pathname);
  if (!m) return null;
  let seg = m[2];
  let user = "";
  const at = seg.lastIndexOf("@");
  if (at >= 0) {
    try {
      user = decodeURIComponent(seg.slice(0, at));
    } catch {
      return null;
    }
    seg = seg.slice(at + 1);
  }
  let host = seg;
  let port = DEFAULT_PORTS[m[1]];
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(seg);
  if (hp) {
    host = hp[1].replace(/^\[|\]$/g, "");
    if (hp[2]) port = Number(hp[2]);
  }
  return { scheme: m[1], host, port, user };
}

// noteConnect remembers what the connect form asks for, until the page
// the bridge answers with says whether the login worked.
function noteConnect(form) {
  const f = form.elements;
  const scheme = f.scheme.value;
  const anonymous = f.anonymous.checked;
  const port = Number(f.port.value.trim()) || DEFAULT_PORTS[scheme];
  const site = siteOf({
    scheme,
    host: f.host.value.trim().replace(/^\[|\]$/g, ""),
    port,
    user: anonymous ? "" : f.user.value,
    encoding: f.encoding ? f.encoding.value : "",
    mode: f.mode ? f.mode.value : "auto",
  });
  try {
    sessionStorage.setItem(PENDING, JSON.stringify({ site, at: Date.now() }));
  } catch {
    // storage disabled: nothing is remembered
  }
}

// confirmConnect records the noted site once a listing of it has loaded.
function confirmConnect() {
  let pending;
  try {
    pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  } catch {
    return;
  }
  if (!pending || !pending.site || !document.getElementById("listing")) return;
  const here = addressOf(location.pathname);
  try {
    sessionStorage.removeItem(PENDING);
  } catch {
    return;
  }
  if (!here || Date.now() - pending.at > PENDING_FOR || !sameSite(here, pending.site)) return;
  const site = siteOf(pending.site);
  save([site, ...load().filter((s) => !sameSite(s, site))]);
}

// connectTo fills the form with a site: an anonymous one connects at
// once; for a user, the password is what is left to type.
function connectTo(form, s) {
  const f = form.elements;
  f.scheme.value = s.scheme;
  f.host.value = s.host.includes(":") ? "[" + s.host + "]" : s.host;
  f.port.value = s.port !== DEFAULT_PORTS[s.scheme] ? String(s.port) : "";
  f.anonymous.checked = s.user === "";
  f.user.value = s.user;
  f.password.value = "";
  if (f.encoding) f.encoding.value = s.encoding || "";
  if (f.mode) f.mode.value = s.mode || "auto";
  // The form's own script (pages.js) enables the fields and the warning.
  for (const e of [f.scheme, f.anonymous, f.password]) e.dispatchEvent(new Event("input"));
  if (s.user === "") {
    form.requestSubmit();
    return;
  }
  f.password.focus();
}

function render(section, form) {
  const list = load();
  section.hidden = list.length === 0;
  const ul = section.querySelector("ul");
  ul.replaceChildren();
  for (const s of list) {
    const li = el("li");
    li.dataset.site = label(s);
    const go = el("button", "link recent-connect", label(s));
    go.type = "button";
    go.title = s.user ? "Fill in the form; then type the password" : "Connect";
    go.addEventListener("click", () => connectTo(form, s));
    const what = el("span", "hint", details(s));
    const forget = el("button", "link recent-forget", "Forget");
    forget.type = "button";
    forget.setAttribute("aria-label", "Forget " + label(s));
    forget.addEventListener("click", () => {
      save(load().filter((o) => !sameSite(o, s)));
      render(section, form);
      if (!section.hidden) section.querySelector("button").focus();
      else document.getElementById("host").focus();
    });
    li.append(go, " ", what, " ", forget);
    ul.append(li);
  }
}

export function initRecent() {
  confirmConnect();
  const form = document.getElementById("connect-form");
  if (!form) return;
  form.addEventListener("submit", () => noteConnect(form));
  // Only the home page lists them, not the login form of a page that
  // asked for one (its "next" field is filled).
  if (!document.querySelector(".card #connect-form") || (form.elements.next && form.elements.next.value)) return;
  const section = el("section", "card recent");
  section.id = "recent";
  section.setAttribute("aria-labelledby", "recent-title");
  const h = el("h2", "", "Recent sites");
  h.id = "recent-title";
  const ul = el("ul", "recent-list");
  const all = el("button", "secondary", "Forget all");
  all.type = "button";
  all.id = "recent-forget-all";
  all.addEventListener("click", () => {
    save([]);
    render(section, form);
    document.getElementById("host").focus();
  });
  section.append(h, ul, all);
  form.closest(".card").after(section);
  render(section, form);
}
