// Forgot password: POST /api/auth/password/forgot {email} (202 whatever the address), then "check your email".

import { api } from "../api.js";
import { h } from "../dom.js";
import { session } from "../session.js";
import { field, handleSubmit, link, messages, pageFrame } from "../ui.js";

export const title = "Reset your password";

export function render({ navigate, signal }) {
  const msg = messages("forgot");
  const email = field({
    id: "forgot-email",
    label: "Email",
    type: "email",
    name: "email",
    autocomplete: "username",
    required: true,
    testid: "forgot-email",
  });
  const form = h(
    "form",
    { class: "card form", method: "post", action: "/forgot-password", "aria-labelledby": "page-title", "data-testid": "forgot-form" },
    email.node,
    h("button", { type: "submit", class: "button", "data-testid": "forgot-submit" }, "Email me a reset link"),
  );
  handleSubmit(
    form,
    async () => {
      await api.post("/api/auth/password/forgot", { email: email.input.value.trim() }, { signal });
      session.lastEmail = email.input.value.trim();
      await navigate("/check-email?kind=reset");
    },
    { messages: msg, fields: { email } },
  );
  return pageFrame(
    {
      title: "Reset your password",
      lead: "Enter your email address and we will send you a link to choose a new password.",
      testid: "forgot-password",
      narrow: true,
    },
    ...msg.nodes,
    form,
    h("p", {}, link("/signin", "Back to sign in", { "data-testid": "forgot-signin" })),
  );
}
