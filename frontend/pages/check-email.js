// "Check your email" after sign-up (?kind=signup), a sign-in link request (magic), a step-up after the right
// password (stepup) or a password reset (reset).
// The address is remembered in memory only (never put in the URL); without it the text stays general.

import { h } from "../dom.js";
import { session } from "../session.js";
import { link, pageFrame } from "../ui.js";

export const title = "Check your email";

// What was sent ({to}: the address), what to do with it, and where to ask again.
const KINDS = {
  signup: {
    sent: "We sent a link to confirm your email address to {to}.",
    then: "Open it to finish setting up your account. If this address already has an account, the email says how to sign in instead.",
    retry: ["/signup", "sign up again"],
  },
  magic: { sent: "If {to} has a Protu account, we sent it a sign-in link.", then: "Open it to sign in. The link works once, for 10 minutes.", retry: ["/signin?method=link", "send another link"] },
  stepup: {
    sent: "Your password was right. Because someone recently failed to sign in to your account several times, we sent a link to {to} to confirm it is you.",
    then: "Open it on this device to finish signing in. The link works once, for 10 minutes.",
    retry: ["/signin", "sign in again"],
  },
  reset: { sent: "If {to} has a Protu account, we sent it a link to choose a new password.", then: "Open it to set a new password. The link works once.", retry: ["/forgot-password", "send another link"] },
};

export function render({ query }) {
  const kind = KINDS[query.get("kind")] ?? KINDS.signup;
  const email = session.lastEmail;
  const to = email ? h("strong", { "data-testid": "check-email-address" }, email) : "your email address";
  return pageFrame(
    { title: "Check your email", testid: "check-email", narrow: true },
    h(
      "div",
      { class: "card" },
      h("p", { "data-testid": "check-email-message" }, ...kind.sent.split(/({to})/).map((part) => (part === "{to}" ? to : part))),
      h("p", {}, kind.then),
      h(
        "p",
        { class: "muted" },
        "Nothing after a few minutes? Check your spam folder, or ",
        link(kind.retry[0], kind.retry[1], { "data-testid": "check-email-retry" }),
        ".",
      ),
    ),
    h("p", {}, link("/signin", "Back to sign in", { "data-testid": "check-email-signin" })),
  );
}
