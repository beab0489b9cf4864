// Shown for any path no route matches (the server answers unknown non-API paths with index.html).

import { h } from "../dom.js";
import { link, pageFrame } from "../ui.js";

export const title = "Page not found";

export function render() {
  return pageFrame(
    { title, testid: "not-found" },
    h("p", {}, "There is no page at ", h("code", {}, window.location.pathname), "."),
    h("p", {}, link("/", "Go to the start page")),
  );
}
