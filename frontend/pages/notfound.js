// Shown for any path no route matches (the server answers unknown non-API paths with index.html).

import { h } from "../dom.js";

export const title = "Page not found";

export function render() {
  return h(
    "section",
    { class: "page", "aria-labelledby": "page-title", "data-testid": "not-found" },
    h("h1", { id: "page-title" }, "Page not found"),
    h("p", {}, "There is no page at ", h("code", {}, window.location.pathname), "."),
    h("p", {}, h("a", { href: "/", "data-link": true }, "Go to the start page")),
  );
}
