// Landing page of the "fixed" email's credit link: <origin>/security/thanks/confirm#token=... ->
// POST /api/security/thanks/confirm {token} -> {name}. Nothing is published until the reporter opens it.

import { h } from "../dom.js";
import { link, narrowPage, tokenResult } from "../ui.js";

export const title = "Confirm your credit";

export function render({ signal }) {
  const result = tokenResult({
    path: "/api/security/thanks/confirm",
    signal,
    testid: "credit-result",
    waiting: h("p", {}, "Confirming…"),
    incomplete: "This link is incomplete. Open the link from the email again.",
    done: ({ name }) => [
      h("p", { class: "notice", "data-testid": "credit-confirmed" }, `Thank you. You are credited as “${name}”.`),
      h("p", {}, link("/security/thanks", "See the acknowledgements page", { "data-testid": "credit-thanks" })),
    ],
    failure: (text) => h("p", { class: "notice notice--error", "data-testid": "credit-error" }, text),
  });
  return narrowPage({ title: "Confirm your credit", testid: "security-thanks-confirm" }, result);
}
