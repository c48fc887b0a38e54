// Questions: the one way the pages ask something (delete this? replace
// that?). Each question is a native <dialog> opened with showModal(), so the
// rest of the page is inert while it is open; the focus goes to the safe
// choice, Escape gives the cancel answer, and the focus goes back to where
// it was. Screen readers hear an alert dialog named by its title and
// described by its message. One question at a time: one asked while
// another is open waits for it to be answered.
//
// The pages never call confirm(), alert() or prompt(): they cannot be
// styled, announce nothing the page controls, and block the page's
// script, uploads included, while they are open (static/embed_test.go
// checks).

import { el } from "./dom.js";

let turn = Promise.resolve(); // settles when the question asked last is answered
let count = 0; // for the ids that tie the title and message to the dialog

// ask shows a question and resolves with the answer: { choice, checked }.
// q has:
//   title    the dialog's name, short ("Delete file?")
//   message  what is asked, in full
//   choices  the buttons, in order: [{ value, label, kind }], kind being
//            "danger", "secondary" or "" (the accent colour)
//   cancel   the value Escape gives; its button has the focus first
//   check    optional: the label of a checkbox, whose state comes back as
//            checked ("Do the same for the other files")
//   fallback optional: where the focus goes after the answer when the
//            element that had it before is gone
export function ask(q) {
  const answer = turn.then(() => show(q));
  turn = answer.catch(() => {});
  return answer;
}

// confirmAction asks a yes-or-no question whose yes is a button named for
// the action ("Delete"), and resolves true for it.
export async function confirmAction(title, message, action, fallback) {
  const { choice } = await ask({
    title,
    message,
    choices: [
      { value: "yes", label: action, kind: "danger" },
      { value: "no", label: "Cancel", kind: "secondary" },
    ],
    cancel: "no",
    fallback,
  });
  return choice === "yes";
}

function show(q) {
  return new Promise((resolve) => {
    const before = document.activeElement;
    const id = "ask-" + ++count;
    const dialog = el("dialog", "ask");
    dialog.setAttribute("role", "alertdialog");
    dialog.setAttribute("aria-labelledby", id + "-title");
    dialog.setAttribute("aria-describedby", id + "-message");
    const form = el("form");
    form.method = "dialog";
    const title = el("h2", "", q.title);
    title.id = id + "-title";
    const message = el("p", "", q.message);
    message.id = id + "-message";
    form.append(title, message);
    let box = null;
    if (q.check) {
      const label = el("label", "check");
      box = el("input");
      box.type = "checkbox";
      label.append(box, " " + q.check);
      form.append(label);
    }
    const buttons = el("div", "buttons");
    let first = null;
    for (const c of q.choices) {
      const b = el("button", c.kind || "", c.label);
      b.type = "submit";
      b.value = c.value;
      buttons.append(b);
      if (c.value === q.cancel) first = b;
    }
    form.append(buttons);
    dialog.append(form);
    // The page's own shortcuts and "a click elsewhere closes the menu"
    // are for the page behind, not for the question in front of it.
    for (const type of ["click", "keydown"]) dialog.addEventListener(type, (ev) => ev.stopPropagation());
    dialog.addEventListener("close", () => {
      // A button's value, or "" for Escape (and anything else that closes
      // the dialog without a button).
      const chosen = q.choices.some((c) => c.value === dialog.returnValue) ? dialog.returnValue : q.cancel;
      const checked = box !== null && box.checked;
      dialog.remove();
      if (before instanceof HTMLElement && before !== document.body && before.isConnected) before.focus();
      else if (q.fallback && q.fallback.isConnected) q.fallback.focus();
      resolve({ choice: chosen, checked });
    }, { once: true });
    document.body.append(dialog);
    dialog.returnValue = "";
    dialog.showModal();
    (first || buttons.querySelector("button")).focus();
  });
}
