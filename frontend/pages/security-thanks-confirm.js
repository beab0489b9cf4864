// Landing page of the "fixed" email's credit link: <origin>/security/thanks/confirm#token=... ->
// POST /api/security/thanks/confirm {token} -> {name}. Nothing is published until the reporter opens it.

import { api } from "../api.js";
import { h } from "../dom.js";
import { describeError, link, pageFrame, takeFragmentToken } from "../ui.js";

export const title = "Confirm your credit";

export function render({ signal }) {
  const token = takeFragmentToken();
  const result = h("div", { class: "card", "aria-live": "polite", "aria-busy": "true", "data-testid": "credit-result" }, h("p", {}, "Confirming…"));

  async function confirm() {
    try {
      const { name } = await api.post("/api/security/thanks/confirm", { token }, { signal });
      result.replaceChildren(
        h("p", { class: "notice", "data-testid": "credit-confirmed" }, `Thank you. You are credited as “${name}”.`),
        h("p", {}, link("/security/thanks", "See the acknowledgements page", { "data-testid": "credit-thanks" })),
      );
    } catch (error) {
      const text = describeError(error);
      if (text !== null) result.replaceChildren(h("p", { class: "notice notice--error", "data-testid": "credit-error" }, text));
    } finally {
      result.setAttribute("aria-busy", "false");
    }
  }

  if (token) confirm();
  else {
    result.setAttribute("aria-busy", "false");
    result.replaceChildren(h("p", { class: "notice notice--error", "data-testid": "credit-error" }, "This link is incomplete. Open the link from the email again."));
  }
  return pageFrame({ title: "Confirm your credit", testid: "security-thanks-confirm", narrow: true }, result);
}
