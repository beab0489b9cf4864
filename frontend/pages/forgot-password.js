// Forgot password: POST /api/auth/password/forgot {email} (202 whatever the address), then "check your email".

import { h } from "../dom.js";
import { cardForm, emailField, emailLink, handleSubmit, link, messages, narrowPage, submitButton } from "../ui.js";

export const title = "Reset your password";

export function render({ navigate, signal }) {
  const msg = messages("forgot");
  const email = emailField("forgot-email");
  const form = cardForm({ action: "/forgot-password", testid: "forgot-form" }, email.node, submitButton("forgot-submit", "Email me a reset link"));
  handleSubmit(form, () => emailLink(email, { path: "/api/auth/password/forgot", kind: "reset", navigate, signal }), {
    messages: msg,
    fields: { email },
  });
  return narrowPage(
    {
      title: "Reset your password",
      lead: "Enter your email address and we will send you a link to choose a new password.",
      testid: "forgot-password",
    },
    ...msg.nodes,
    form,
    h("p", {}, link("/signin", "Back to sign in", { "data-testid": "forgot-signin" })),
  );
}
