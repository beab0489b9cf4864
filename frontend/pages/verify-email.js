// Landing page of the verification email: <origin>/verify-email#token=... -> POST /api/auth/verify-email.

import { api } from "../api.js";
import { h } from "../dom.js";
import { session } from "../session.js";
import { describeError, link, pageFrame, takeFragmentToken } from "../ui.js";

export const title = "Confirm your email";

export function render({ signal }) {
  const token = takeFragmentToken();
  const result = h("div", { class: "card", "aria-live": "polite", "aria-busy": "true", "data-testid": "verify-email-result" }, h("p", {}, "Confirming your email address…"));

  async function verify() {
    try {
      await api.post("/api/auth/verify-email", { token }, { signal });
      if (session.user) session.update({ ...session.user, email_verified: true });
      result.replaceChildren(
        h("p", { class: "notice", "data-testid": "verify-email-success" }, "Your email address is confirmed."),
        h(
          "p",
          {},
          session.user
            ? link("/account", "Go to your account", { "data-testid": "verify-email-continue" })
            : link("/signin", "Sign in", { "data-testid": "verify-email-continue" }),
        ),
      );
    } catch (error) {
      const text = describeError(error);
      if (text === null) return;
      result.replaceChildren(failure(text));
    } finally {
      result.setAttribute("aria-busy", "false");
    }
  }

  if (token) verify();
  else {
    result.setAttribute("aria-busy", "false");
    result.replaceChildren(failure("This link is incomplete. Open the link from the email again, or copy the whole address into your browser."));
  }

  return pageFrame({ title: "Confirm your email", testid: "verify-email", narrow: true }, result);
}

function failure(text) {
  return h(
    "div",
    {},
    h("p", { class: "notice notice--error", "data-testid": "verify-email-error" }, text),
    h("p", {}, link("/signin", "Go to sign in", { "data-testid": "verify-email-signin" })),
  );
}
