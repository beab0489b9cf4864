// Landing page of the verification email: <origin>/verify-email#token=... -> POST /api/auth/verify-email.

import { h } from "../dom.js";
import { session } from "../session.js";
import { link, narrowPage, tokenResult } from "../ui.js";

export const title = "Confirm your email";

export function render({ signal }) {
  const result = tokenResult({
    path: "/api/auth/verify-email",
    signal,
    testid: "verify-email-result",
    waiting: h("p", {}, "Confirming your email address…"),
    incomplete: "This link is incomplete. Open the link from the email again, or copy the whole address into your browser.",
    done: confirmed,
    failure,
  });
  return narrowPage({ title: "Confirm your email", testid: "verify-email" }, result);
}

function confirmed() {
  if (session.user) session.update({ ...session.user, email_verified: true });
  const next = session.user ? ["/account", "Go to your account"] : ["/signin", "Sign in"];
  return [
    h("p", { class: "notice", "data-testid": "verify-email-success" }, "Your email address is confirmed."),
    h("p", {}, link(...next, { "data-testid": "verify-email-continue" })),
  ];
}

function failure(text) {
  return h(
    "div",
    {},
    h("p", { class: "notice notice--error", "data-testid": "verify-email-error" }, text),
    h("p", {}, link("/signin", "Go to sign in", { "data-testid": "verify-email-signin" })),
  );
}
