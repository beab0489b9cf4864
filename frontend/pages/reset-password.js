// Landing page of the reset email: <origin>/reset-password#token=... -> a new password,
// POST /api/auth/password/reset {token, password}; every session ends, so on to sign in (with two-factor, the
// sign-in asks for a code as usual).

import { api } from "../api.js";
import { session } from "../session.js";
import { cardForm, emailedLinkPage, link, linkError, messages, narrowPage, newPasswordField, submitButton } from "../ui.js";

export const title = "Choose a new password";

export function render({ navigate, signal }) {
  const page = {
    frame: (...children) => narrowPage({ title: "Choose a new password", testid: "reset-password-page" }, ...children),
    msg: messages("reset"),
    incomplete: "This reset link is incomplete. Open the link from the email again, or ask for a new one.",
    deadLink,
  };
  return emailedLinkPage(page, (token) => {
    const password = newPasswordField("reset-password");
    return {
      form: cardForm({ action: "/reset-password", testid: "reset-form" }, password.node, submitButton("reset-submit", "Set new password")),
      fields: { password },
      send: () => api.post("/api/auth/password/reset", { token, password: password.input.value }, { signal }),
      async done() {
        // The reset ended every session, this tab's included.
        if (session.user) await session.signOut();
        session.setFlash("Your password was changed. Sign in with your new password.");
        await navigate("/signin", { replace: true });
      },
    };
  });
}

function deadLink(text) {
  return linkError("reset-link-error", text, link("/forgot-password", "Ask for a new reset link", { "data-testid": "reset-new-link" }));
}
