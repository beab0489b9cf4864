// The public acknowledgements page: GET /api/security/thanks -> {items: [{name, fixed}]}, the people who reported a
// vulnerability that is now fixed and confirmed they want to be credited (names are shown as text, never markup).

import { api } from "../api.js";
import { h } from "../dom.js";
import { describeError, link, pageFrame } from "../ui.js";

export const title = "Security acknowledgements";

export function render({ signal }) {
  const list = h("div", { class: "card", "aria-live": "polite", "aria-busy": "true", "data-testid": "thanks-list" }, h("p", {}, "Loading…"));

  (async () => {
    try {
      const { items } = await api.get("/api/security/thanks", { signal });
      list.replaceChildren(
        items.length
          ? h("ul", { class: "thanks" }, ...items.map((item) => h("li", { "data-testid": "thanks-name" }, `${item.name} — fixed ${item.fixed}`)))
          : h("p", { "data-testid": "thanks-empty" }, "No one is listed yet."),
      );
    } catch (error) {
      const text = describeError(error);
      if (text !== null) list.replaceChildren(h("p", { class: "notice notice--error" }, text));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  })();

  return pageFrame(
    {
      title: "Security acknowledgements",
      lead: "People who reported a vulnerability in Protu responsibly, named here once it was fixed and with their consent. Thank you.",
      testid: "security-thanks",
    },
    list,
    h("p", {}, link("/security/report", "Report a security issue")),
  );
}
