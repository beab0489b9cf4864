// An edit refused because the record changed since it was loaded (409 version_conflict). What the person typed stays
// in the form; the panel shows, field by field, their value next to the one saved now, and offers to save theirs
// over the latest version or to load the latest version instead (and type the change again).
//
//   const conflict = versionConflict({ noun: "role", testid: "role" });   // conflict.node goes under the form
//   conflict.show(msg, { rows, overwrite, reload });  // rows: [{ name, label, yours, saved, mine }] or null
//   conflict.clear();
//
// Test ids: <testid>-conflict (the panel), <testid>-conflict-field (a row, data-field = the API's name, with
// conflict-yours and conflict-saved), <testid>-overwrite and <testid>-reload (the buttons).

import { h } from "../dom.js";
import { busy } from "../ui.js";

export function versionConflict({ noun, testid }) {
  const node = h("div", { class: "conflict", "data-testid": `${testid}-conflict`, hidden: true });
  const button = (label, suffix, action, secondary) =>
    h(
      "button",
      {
        type: "button",
        class: ["button", "button--small", secondary && "button--secondary"],
        "data-testid": `${testid}-${suffix}`,
        onClick: (event) => busy(event.currentTarget, action),
      },
      label,
    );

  function show(msg, { rows, overwrite, reload }) {
    const reloadButton = button("Load the latest version", "reload", reload, true);
    if (!rows) {
      // The latest version could not be read: all there is to offer is loading it.
      clear();
      msg.error(
        `Someone else changed this ${noun} after you opened it, so your changes were not saved. `,
        "Load the latest version, then make your change again. ",
        reloadButton,
      );
      return reloadButton.focus();
    }
    msg.error(
      `Someone else changed this ${noun} after you opened it, so your changes were not saved. `,
      "What you typed is still in the form. Below is what differs from the version saved now.",
    );
    const overwriteButton = button("Save my changes over it", "overwrite", overwrite, false);
    node.replaceChildren(
      h("h3", { class: "conflict__title" }, "What changed"),
      h("dl", { class: "details conflict__changes" }, rows.map((row) => conflictRow(row, testid))),
      h(
        "p",
        { class: "field__hint" },
        "Saving yours over it keeps the other changes to fields you did not touch. Loading the latest version drops what you typed.",
      ),
      h("div", { class: "actions" }, overwriteButton, reloadButton),
    );
    node.hidden = false;
    overwriteButton.focus();
  }

  function clear() {
    node.replaceChildren();
    node.hidden = true;
  }

  return { node, show, clear };
}

function conflictRow({ name, label, yours, saved, mine }, testid) {
  return [
    h("dt", {}, label),
    h(
      "dd",
      { class: "conflict__values", "data-testid": `${testid}-conflict-field`, "data-field": name },
      h("span", {}, mine ? "Yours: " : "When you opened it: ", h("strong", { "data-testid": "conflict-yours" }, yours)),
      h("span", {}, "Saved now: ", h("strong", { "data-testid": "conflict-saved" }, saved), mine ? "" : " (kept)"),
    ),
  ];
}
