// Landing page of a sign-in link: <origin>/magic#token=... -> POST /api/auth/magic-link/verify, then signed in
// (or on to the two-factor step).

import { api } from "../api.js";
import { h } from "../dom.js";
import { finishSignIn } from "../session.js";
import { describeError, link, pageFrame, takeFragmentToken } from "../ui.js";

export const title = "Signing you in";

export function render({ navigate, signal }) {
  const token = takeFragmentToken();
  const result = h(
    "div",
    { class: "card", "aria-live": "polite", "aria-busy": "true", "data-testid": "magic-result" },
    h("p", { "data-testid": "magic-status" }, "Signing you in…"),
  );

  function failure(text) {
    result.setAttribute("aria-busy", "false");
    result.replaceChildren(
      h("p", { class: "notice notice--error", "data-testid": "magic-error" }, text),
      h(
        "p",
        {},
        link("/signin?method=link", "Email me a new link", { "data-testid": "magic-new-link" }),
        " or ",
        link("/signin", "sign in with your password", { "data-testid": "magic-signin" }),
        ".",
      ),
    );
  }

  if (!token) {
    failure("This sign-in link is incomplete. Open the link from the email again.");
  } else {
    api
      .post("/api/auth/magic-link/verify", { token }, { signal })
      .then((answer) => finishSignIn(answer, { next: null, navigate }))
      .catch((error) => {
        const text = describeError(error);
        if (text !== null) failure(text);
      });
  }

  return pageFrame({ title: "Signing you in", testid: "magic", narrow: true }, result);
}
