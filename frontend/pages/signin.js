// Sign in: email + password (POST /api/auth/login), or "email me a sign-in link" (POST /api/auth/magic-link),
// which switches the page to a one-field form (also reachable as /signin?method=link). A two-factor account
// continues on /two-factor; afterwards the user lands on ?next= (a path on this site) or the account page.

import { api } from "../api.js";
import { h } from "../dom.js";
import { finishSignIn, session } from "../session.js";
import { field, handleSubmit, link, messages, pageFrame } from "../ui.js";

export const title = "Sign in";

export function render({ query, navigate, signal }) {
  const next = query.get("next");
  const msg = messages("signin");
  const slot = h("div", {});
  let emailValue = "";

  function passwordForm() {
    const email = field({
      id: "signin-email",
      label: "Email",
      type: "email",
      name: "email",
      autocomplete: "username",
      required: true,
      testid: "signin-email",
    });
    const password = field({
      id: "signin-password",
      label: "Password",
      type: "password",
      name: "password",
      autocomplete: "current-password",
      required: true,
      testid: "signin-password",
    });
    email.input.value = emailValue;
    email.input.addEventListener("input", () => {
      emailValue = email.input.value;
    });

    // method="post": should a script ever fail, the browser must not put the password in a URL.
    const form = h(
      "form",
      { class: "card form", method: "post", action: "/signin", "aria-labelledby": "page-title", "data-testid": "signin-form" },
      email.node,
      password.node,
      h("p", { class: "form__aside" }, link("/forgot-password", "Forgot your password?", { "data-testid": "signin-forgot" })),
      h("button", { type: "submit", class: "button", "data-testid": "signin-submit" }, "Sign in"),
      h("div", { class: "form__divider" }, h("span", {}, "or")),
      h(
        "button",
        { type: "button", class: "button button--secondary", "data-testid": "signin-use-link", onClick: () => show("link") },
        "Email me a sign-in link",
      ),
    );
    handleSubmit(
      form,
      async () => {
        try {
          const answer = await api.post("/api/auth/login", { email: email.input.value, password: password.input.value }, { signal });
          session.lastEmail = email.input.value; // the step-up page names the address the link went to
          await finishSignIn(answer, { next, navigate });
        } catch (error) {
          if (error?.code === "invalid_credentials") {
            password.input.value = "";
            password.input.focus();
          }
          throw error;
        }
      },
      { messages: msg, fields: { email, password } },
    );
    return { form, focus: email.input.value ? password.input : email.input };
  }

  function linkForm() {
    const email = field({
      id: "magic-email",
      label: "Email",
      type: "email",
      name: "email",
      autocomplete: "username",
      required: true,
      hint: "We will email you a link that signs you in. It works once, for 10 minutes.",
      testid: "magic-email",
    });
    email.input.value = emailValue;
    email.input.addEventListener("input", () => {
      emailValue = email.input.value;
    });
    const form = h(
      "form",
      { class: "card form", method: "post", action: "/signin", "aria-label": "Email me a sign-in link", "data-testid": "magic-form" },
      email.node,
      h("button", { type: "submit", class: "button", "data-testid": "magic-submit" }, "Email me a link"),
      h("div", { class: "form__divider" }, h("span", {}, "or")),
      h(
        "button",
        { type: "button", class: "button button--secondary", "data-testid": "magic-use-password", onClick: () => show("password") },
        "Sign in with a password",
      ),
    );
    handleSubmit(
      form,
      async () => {
        await api.post("/api/auth/magic-link", { email: email.input.value }, { signal });
        session.lastEmail = email.input.value;
        await navigate("/check-email?kind=magic");
      },
      { messages: msg, fields: { email } },
    );
    return { form, focus: email.input };
  }

  function show(mode, { focus = true } = {}) {
    msg.clear();
    const view = mode === "link" ? linkForm() : passwordForm();
    slot.replaceChildren(view.form);
    if (focus) view.focus.focus();
  }

  show(query.get("method") === "link" ? "link" : "password", { focus: false });
  const flash = session.takeFlash();
  if (flash) (flash.tone === "error" ? msg.error : msg.notice)(flash.text);

  return pageFrame(
    {
      title: "Sign in to Protu",
      lead: "Use the email address your company signed you up with.",
      testid: "signin-page",
      narrow: true,
    },
    ...msg.nodes,
    slot,
    h("p", {}, "New to Protu? ", link("/signup", "Create an account for your company", { "data-testid": "signin-signup-link" })),
    h("p", { class: "page__aside" }, link("/security/report", "Report a security issue", { "data-testid": "signin-security-report" })),
  );
}
