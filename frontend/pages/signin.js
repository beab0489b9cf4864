// Sign-in page. Placeholder: the form is complete, the calls to POST /api/auth/login and to the magic-link
// endpoint arrive with the identity issues (replace `notYet` with the api call and show ApiError.message).

import { h } from "../dom.js";

export const title = "Sign in";

export function render() {
  const email = h("input", { id: "signin-email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", {
    id: "signin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  // The live region is on the page from the start (empty), so screen readers announce what appears in it.
  const status = h("div", { role: "status" });

  function show(text) {
    status.replaceChildren(h("p", { class: "notice", "data-testid": "signin-notice" }, text));
  }

  function notYet(what) {
    show(`${what} is not available yet. It is coming soon.`);
  }

  function onSubmit(event) {
    event.preventDefault();
    notYet("Signing in");
  }

  function onMagicLink() {
    if (email.reportValidity()) notYet("Signing in with an email link");
  }

  // method="post": should a script ever fail, the browser must not put the password in a URL.
  return h(
    "section",
    { class: "page page--narrow", "aria-labelledby": "page-title" },
    h("h1", { id: "page-title" }, "Sign in to Protu"),
    h("p", { class: "lead" }, "Use the email address your company signed you up with."),
    h(
      "form",
      { class: "card form", method: "post", action: "/signin", "aria-labelledby": "page-title", onSubmit },
      h("div", { class: "field" }, h("label", { for: "signin-email" }, "Email"), email),
      h("div", { class: "field" }, h("label", { for: "signin-password" }, "Password"), password),
      h("button", { type: "submit", class: "button" }, "Sign in"),
      h("div", { class: "form__divider" }, h("span", {}, "or")),
      h(
        "button",
        { type: "button", class: "button button--secondary", onClick: onMagicLink },
        "Email me a sign-in link",
      ),
      status,
    ),
  );
}
