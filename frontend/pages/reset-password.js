// Landing page of the reset email: <origin>/reset-password#token=... -> a new password,
// POST /api/auth/password/reset {token, password}; every session ends, so on to sign in (with two-factor, the
// sign-in asks for a code as usual).

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { session } from "../session.js";
import { describeError, field, handleSubmit, link, linkError, messages, pageFrame, passwordRules, takeFragmentToken } from "../ui.js";

export const title = "Choose a new password";

const DEAD_LINK = new Set(["invalid_token", "token_expired"]);

export function render({ navigate, signal }) {
  const token = takeFragmentToken();
  const msg = messages("reset");

  if (!token) {
    return frame(deadLink("This reset link is incomplete. Open the link from the email again, or ask for a new one."));
  }

  const password = field({
    id: "reset-password",
    label: "New password",
    type: "password",
    name: "password",
    autocomplete: "new-password",
    required: true,
    minlength: "8",
    maxlength: "128",
    hint: passwordRules("reset-password-hint"),
    testid: "reset-password",
  });
  const form = h(
    "form",
    { class: "card form", method: "post", action: "/reset-password", "aria-labelledby": "page-title", "data-testid": "reset-form" },
    password.node,
    h("button", { type: "submit", class: "button", "data-testid": "reset-submit" }, "Set new password"),
  );
  const body = h("div", {}, form);
  handleSubmit(
    form,
    async () => {
      try {
        await api.post("/api/auth/password/reset", { token, password: password.input.value }, { signal });
      } catch (error) {
        if (error instanceof ApiError && DEAD_LINK.has(error.code)) {
          body.replaceChildren(deadLink(describeError(error)));
          return;
        }
        throw error;
      }
      // The reset ended every session, this tab's included.
      if (session.user) await session.signOut();
      session.setFlash("Your password was changed. Sign in with your new password.");
      await navigate("/signin", { replace: true });
    },
    { messages: msg, fields: { password } },
  );

  return frame(...msg.nodes, body);
}

function frame(...children) {
  return pageFrame(
    { title: "Choose a new password", testid: "reset-password-page", narrow: true },
    ...children,
  );
}

function deadLink(text) {
  return linkError("reset-link-error", text, link("/forgot-password", "Ask for a new reset link", { "data-testid": "reset-new-link" }));
}
