// Sign in: email + password (POST /api/auth/login), or "email me a sign-in link" (POST /api/auth/magic-link),
// which switches the page to a one-field form (also reachable as /signin?method=link). A two-factor account
// continues on /two-factor; afterwards the user lands on ?next= (a path on this site) or the account page.

import { api } from "../api.js";
import { h } from "../dom.js";
import { finishSignIn, session } from "../session.js";
import { cardForm, currentPasswordField, emailField, emailLink, handleSubmit, link, messages, narrowPage, submitButton } from "../ui.js";

export const title = "Sign in";

export function render({ query, navigate, signal }) {
  const page = { next: query.get("next"), msg: messages("signin"), navigate, signal, email: "" };
  const slot = h("div", {});
  const msg = page.msg;

  page.show = (mode, { focus = true } = {}) => {
    msg.clear();
    const view = mode === "link" ? linkForm(page) : passwordForm(page);
    slot.replaceChildren(view.form);
    if (focus) view.focus.focus();
  };

  page.show(query.get("method") === "link" ? "link" : "password", { focus: false });
  const flash = session.takeFlash();
  if (flash) (flash.tone === "error" ? msg.error : msg.notice)(flash.text);

  return narrowPage(
    { title: "Sign in to Protu", lead: "Use the email address your company signed you up with.", testid: "signin-page" },
    ...msg.nodes,
    slot,
    h("p", {}, "New to Protu? ", link("/signup", "Create an account for your company", { "data-testid": "signin-signup-link" })),
    h("p", { class: "page__aside" }, link("/security/report", "Report a security issue", { "data-testid": "signin-security-report" })),
  );
}

// The email typed stays when switching between the two forms.
function sharedEmail(page, id, more) {
  const email = emailField(id, more);
  email.input.value = page.email;
  email.input.addEventListener("input", () => {
    page.email = email.input.value;
  });
  return email;
}

// "or" and a button to the other way of signing in.
function otherWay(page, mode, testid, text) {
  return [
    h("div", { class: "form__divider" }, h("span", {}, "or")),
    h("button", { type: "button", class: "button button--secondary", "data-testid": testid, onClick: () => page.show(mode) }, text),
  ];
}

function passwordForm(page) {
  const email = sharedEmail(page, "signin-email");
  const password = currentPasswordField("signin-password", { label: "Password", name: "password" });
  const form = cardForm(
    { action: "/signin", testid: "signin-form" },
    email.node,
    password.node,
    h("p", { class: "form__aside" }, link("/forgot-password", "Forgot your password?", { "data-testid": "signin-forgot" })),
    submitButton("signin-submit", "Sign in"),
    ...otherWay(page, "link", "signin-use-link", "Email me a sign-in link"),
  );
  const signIn = async () => {
    try {
      const body = { email: email.input.value, password: password.input.value };
      const answer = await api.post("/api/auth/login", body, { signal: page.signal });
      session.lastEmail = email.input.value; // the step-up page names the address the link went to
      await finishSignIn(answer, { next: page.next, navigate: page.navigate });
    } catch (error) {
      if (error?.code === "invalid_credentials") {
        password.input.value = "";
        password.input.focus();
      }
      throw error;
    }
  };
  handleSubmit(form, signIn, { messages: page.msg, fields: { email, password } });
  return { form, focus: email.input.value ? password.input : email.input };
}

function linkForm(page) {
  const email = sharedEmail(page, "magic-email", { hint: "We will email you a link that signs you in. It works once, for 10 minutes." });
  const form = cardForm(
    { action: "/signin", label: "Email me a sign-in link", testid: "magic-form" },
    email.node,
    submitButton("magic-submit", "Email me a link"),
    ...otherWay(page, "password", "magic-use-password", "Sign in with a password"),
  );
  const { navigate, signal } = page;
  handleSubmit(form, () => emailLink(email, { path: "/api/auth/magic-link", kind: "magic", navigate, signal }), {
    messages: page.msg,
    fields: { email },
  });
  return { form, focus: email.input };
}
