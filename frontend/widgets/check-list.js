// A group of checkboxes, one per [value, label] (the members of a team, an employee's teams). values() answers the
// checked ones in the given order; set(values) checks exactly those; fill(items) replaces the choices, keeping what
// was checked; label(value) answers the text shown for a value.

import { h } from "../dom.js";

export function checkList({ id, legend, hint, emptyText, testid }) {
  const list = h("ul", { class: "check-list", "data-testid": testid });
  const hintNode = hint ? h("p", { class: "field__hint", id: `${id}-hint` }, hint) : null;
  const node = h(
    "fieldset",
    { class: "field check-list__group", id, "aria-describedby": hint ? `${id}-hint` : null },
    h("legend", { class: "field__label" }, legend),
    hintNode,
    list,
  );
  let labels = new Map();
  const boxes = () => [...list.querySelectorAll("input[type=checkbox]")];
  const values = () => boxes().filter((box) => box.checked).map((box) => box.value);
  function set(selected) {
    const wanted = new Set(selected ?? []);
    for (const box of boxes()) box.checked = wanted.has(box.value);
  }
  function fill(items, selected = values()) {
    labels = new Map(items);
    if (items.length === 0) return list.replaceChildren(h("li", { class: "muted" }, emptyText));
    list.replaceChildren(...items.map(([value, text], n) => checkItem(`${id}-${n}`, value, text, testid)));
    set(selected);
  }
  fill([]);
  return { node, values, set, fill, legend, label: (value) => labels.get(value) ?? value };
}

function checkItem(boxId, value, text, testid) {
  return h(
    "li",
    { class: "check-list__item" },
    h("input", { type: "checkbox", id: boxId, value, "data-testid": `${testid}-option`, "data-value": value }),
    h("label", { for: boxId }, text),
  );
}

// The same ids, in any order.
export function sameIds(a, b) {
  const left = new Set(a ?? []);
  const right = new Set(b ?? []);
  return left.size === right.size && [...left].every((id) => right.has(id));
}
