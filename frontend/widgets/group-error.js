// An error for a group of controls rather than one field (the questions, the answers), with ui.js field()'s
// { error(text), clear(), input } shape so showError() puts a 422 naming the group there. `focus()` answers the
// control that takes the focus.

import { h } from "../dom.js";

export function groupError({ id, testid, focus }) {
  const node = h("p", { id, class: "field__error", "data-testid": testid, hidden: true });
  return {
    node,
    error(text) {
      node.textContent = text;
      node.hidden = false;
    },
    clear() {
      node.textContent = "";
      node.hidden = true;
    },
    get input() {
      return focus();
    },
  };
}
