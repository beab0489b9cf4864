// Landing page of a sign-in link: <origin>/magic#token=... -> POST /api/auth/magic-link/verify, then signed in
// (or on to the two-factor step).

import { h } from "../dom.js";
import { finishSignIn } from "../session.js";
import { link, narrowPage, tokenResult } from "../ui.js";

export const title = "Signing you in";

export function render({ navigate, signal }) {
  const result = tokenResult({
    path: "/api/auth/magic-link/verify",
    signal,
    testid: "magic-result",
    waiting: h("p", { "data-testid": "magic-status" }, "Signing you in…"),
    incomplete: "This sign-in link is incomplete. Open the link from the email again.",
    done: (answer) => finishSignIn(answer, { next: null, navigate }).then(() => null),
    failure,
  });
  return narrowPage({ title: "Signing you in", testid: "magic" }, result);
}

function failure(text) {
  return [
    h("p", { class: "notice notice--error", "data-testid": "magic-error" }, text),
    h(
      "p",
      {},
      link("/signin?method=link", "Email me a new link", { "data-testid": "magic-new-link" }),
      " or ",
      link("/signin", "sign in with your password", { "data-testid": "magic-signin" }),
      ".",
    ),
  ];
}
