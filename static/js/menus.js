// Menus: <details class="menu"> works without the script; with it, Escape
// and a click elsewhere close an open menu, as people expect of a menu.
// A listing's rows share one menu (openRowMenu): each row has only a link
// to its actions page, which the script opens in place instead.

import { el, listingTable } from "./dom.js";

function closeMenus(except) {
  // A menu inside another (New folder in the toolbar's Actions) keeps the
  // one around it open.
  for (const d of document.querySelectorAll("details.menu[open]")) {
    if (d !== except && !(except && d.contains(except))) d.open = false;
  }
  if (!except || !except.matches("#row-menu")) closeRowMenu(false);
}

export function initMenus() {
  document.addEventListener("click", (ev) => {
    const t = ev.target instanceof Element ? ev.target : null;
    if (t && t.closest("a.more")) return; // the row menu's own button (initRowMenu)
    closeMenus(t ? t.closest("details.menu, #row-menu") : null);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape" || !(ev.target instanceof Element)) return;
    if (ev.target.closest("#row-menu")) {
      closeRowMenu(true);
      return;
    }
    const menu = ev.target.closest("details.menu[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  // Opening a menu puts the cursor in its first field, ready to type.
  document.addEventListener("toggle", (ev) => {
    const d = ev.target;
    if (!(d instanceof HTMLDetailsElement) || !d.matches(".menu") || !d.open) return;
    closeMenus(d);
    // A menu near the right edge of the screen opens leftward.
    const pop = d.querySelector(":scope > .popover");
    if (pop) {
      pop.classList.remove("end");
      if (pop.getBoundingClientRect().right > document.documentElement.clientWidth) pop.classList.add("end");
    }
    if (d.id === "folder-actions") {
      // The toolbar's Actions menu (narrow screens): its first action.
      const first = d.querySelector(".actions-list a, .actions-list summary");
      if (first && !d.contains(document.activeElement)) first.focus();
      return;
    }
    // Not when the focus is inside already: someone (or something) is
    // typing there, and selecting would eat what was typed.
    const field = d.querySelector("input:not([type=checkbox])");
    if (field && !d.contains(document.activeElement)) {
      field.focus();
      field.select();
    }
  }, true);
  initRowMenu();
}

// The one row menu: built for the row it opens on, with the actions the
// row's data-acts allows (s share, r rename, d delete: the server's reading
// of the MLSD perm fact), inside that row's action cell, so it stays by the
// row and its forms post like the actions page's.
export let rowMenu = null; // { menu, button } while open; other modules only read it

export function closeRowMenu(refocus) {
  if (!rowMenu) return;
  const { menu, button } = rowMenu;
  rowMenu = null;
  menu.remove();
  button.setAttribute("aria-expanded", "false");
  if (refocus && button.isConnected) button.focus();
}

// placeRowMenu keeps an open row menu in view: it opens below its row,
// upward when it would end below the screen and there is more room above,
// and what still sticks out is scrolled into view.
function placeRowMenu(menu) {
  menu.classList.remove("up");
  const r = menu.getBoundingClientRect();
  const row = menu.closest("tr").getBoundingClientRect();
  if (r.bottom > window.innerHeight && row.top - r.height > 0) menu.classList.add("up");
  const now = menu.getBoundingClientRect();
  if (now.top < 0 || now.bottom > window.innerHeight) menu.scrollIntoView({ block: "nearest" });
}

// openRowMenu opens the menu of the row whose "more" button this is; the
// keyboard (listing.js: F2, Delete) opens it too. It returns the menu.
export function openRowMenu(button) {
  closeMenus(null);
  const row = button.closest("tr");
  const acts = button.dataset.acts || "";
  const href = button.getAttribute("href").replace(/\?op=actions$/, "");
  const name = row.dataset.name;
  const menu = el("div", "popover");
  menu.id = "row-menu";
  menu.setAttribute("role", "group");
  menu.setAttribute("aria-label", button.getAttribute("aria-label"));
  if (acts.includes("s")) {
    const share = el("button", "share-open", "Share a link…");
    share.type = "button";
    share.dataset.href = href;
    menu.append(share);
  }
  if (acts.includes("r")) {
    const form = el("form", "rename");
    form.method = "post";
    form.action = href + "?op=rename";
    const label = el("label", "", "New name or path ");
    const input = el("input");
    input.name = "to";
    input.value = name;
    input.required = true;
    input.autocomplete = "off";
    input.spellcheck = false;
    label.append(input);
    const submit = el("button", "", "Rename");
    submit.type = "submit";
    form.append(label, submit);
    menu.append(form);
  }
  if (acts.includes("d")) {
    const form = el("form", "delete");
    form.method = "post";
    form.action = href + "?op=delete";
    form.dataset.type = row.classList.contains("dir") ? "dir" : "file";
    const submit = el("button", "danger", "Delete");
    submit.type = "submit";
    form.append(submit);
    menu.append(form);
  }
  menu.append(chmodForm(row, href));
  button.after(menu);
  button.setAttribute("aria-expanded", "true");
  rowMenu = { menu, button };
  placeRowMenu(menu);
  const field = menu.querySelector("form.rename input") || menu.querySelector("button, summary");
  if (field) {
    field.focus();
    if (field instanceof HTMLInputElement) field.select();
  }
  return menu;
}

// octal reads ls's nine letters ("rw-r-----") as octal digits ("640"), as
// handlers/chmod.go octalOf does; "" for anything else.
function octal(rwx) {
  if (!/^[r-][w-][xsS-][r-][w-][xsS-][r-][w-][xtT-]$/.test(rwx)) return "";
  let n = 0;
  let special = 0;
  for (let i = 0; i < 9; i++) {
    const ch = rwx[i];
    if (ch !== "-" && ch !== "S" && ch !== "T") n |= 1 << (8 - i);
    if ("sStT".includes(ch)) special |= 1 << (2 - Math.floor(i / 3));
  }
  const digits = n.toString(8).padStart(3, "0");
  return special ? special.toString(8) + digits : digits;
}

// chmodForm is the row menu's "Permissions…": the actions page's form
// (templates/actions.html), folded, posting ?op=chmod to the row.
function chmodForm(row, href) {
  const box = el("details", "chmod");
  box.append(el("summary", "", "Permissions…"));
  const form = el("form", "chmod");
  form.method = "post";
  form.action = href + "?op=chmod";
  const cell = row.querySelector("td.mode");
  const now = cell ? cell.textContent : "";
  const label = el("label", "", "Octal: owner, group, others; read 4, write 2, open 1" + (now ? " (now " + now + ")" : ""));
  const input = el("input");
  input.name = "mode";
  input.value = octal(now);
  input.placeholder = "644";
  input.required = true;
  input.pattern = "[0-7]{3,4}";
  input.inputMode = "numeric";
  input.autocomplete = "off";
  label.append(input);
  form.append(label);
  if (row.classList.contains("dir")) {
    const check = el("label", "check");
    const box2 = el("input");
    box2.type = "checkbox";
    box2.name = "recursive";
    box2.value = "1";
    check.append(box2, " also everything in it");
    form.append(check);
  }
  const submit = el("button", "", "Set permissions");
  submit.type = "submit";
  form.append(submit);
  box.append(form);
  return box;
}

function initRowMenu() {
  const table = listingTable();
  if (!table) return;
  // One listener on the table, because refreshes and sorting replace rows.
  table.addEventListener("click", (ev) => {
    const button = ev.target instanceof Element ? ev.target.closest("a.more") : null;
    if (!button) return;
    ev.preventDefault();
    const wasOpen = rowMenu && rowMenu.button === button;
    closeRowMenu(false);
    if (!wasOpen) openRowMenu(button);
  });
}
