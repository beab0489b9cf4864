// Forgot password: POST /api/auth/password/forgot {email} (202 whatever the address), then "check your email". An
// address whose company enforces single sign-on has no Protu password to reset (403 sso_required): it goes to its
// identity provider, as from the sign-in page.

import { api } from "../api.js";
import { h } from "../dom.js";
import { cardForm, emailField, emailLink, handleSubmit, link, messages, narrowPage, submitButton } from "../ui.js";

export const title = "Reset your password";

export function render({ navigate, signal }) {
  const msg = messages("forgot");
  const email = emailField("forgot-email");
  const form = cardForm({ action: "/forgot-password", testid: "forgot-form" }, email.node, submitButton("forgot-submit", "Email me a reset link"));
  const send = async () => {
    try {
      await emailLink(email, { path: "/api/auth/password/forgot", kind: "reset", navigate, signal });
    } catch (error) {
      if (error?.code !== "sso_required") throw error;
      msg.notice("Your company signs in with single sign-on, so there is no Protu password to reset. Taking you to its sign-in page…");
      const started = await api.post("/api/auth/sso/start", { email: email.input.value.trim() }, { signal });
      if (started.sso) window.location.assign(started.redirect_url);
    }
  };
  handleSubmit(form, send, { messages: msg, fields: { email } });
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
