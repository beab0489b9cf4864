// Sign in: email + password (POST /api/auth/login), or "email me a sign-in link" (POST /api/auth/magic-link),
// which switches the page to a one-field form (also reachable as /signin?method=link). A two-factor account
// continues on /two-factor; afterwards the user lands on ?next= (a path on this site) or the account page.
// Or with a passkey, no email typed (POST /api/auth/passkey/options, the browser's ceremony, POST /api/auth/passkey):
// from the "Sign in with a passkey" button, or from the email field's suggestions where the browser offers them
// (conditional mediation, waiting in the background until the page is left or the button is used).

import { api } from "../api.js";
import { h } from "../dom.js";
import { autofillAvailable, passkeysSupported, usePasskey } from "../passkeys.js";
import { finishSignIn, session } from "../session.js";
import { busy, cardForm, currentPasswordField, emailField, emailLink, handleSubmit, link, messages, narrowPage, showError, submitButton } from "../ui.js";

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
  offerInAutofill(page);

  return narrowPage(
    { title: "Sign in to Protu", lead: "Use the email address your company signed you up with.", testid: "signin-page" },
    ...msg.nodes,
    slot,
    h("p", {}, "New to Protu? ", link("/signup", "Create an account for your company", { "data-testid": "signin-signup-link" })),
    h("p", { class: "page__aside" }, link("/security/report", "Report a security issue", { "data-testid": "signin-security-report" })),
  );
}

// The email typed stays when switching between the two forms. The browser may suggest passkeys there too.
function sharedEmail(page, id, more) {
  const email = emailField(id, { autocomplete: "username webauthn", ...more });
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
    passkeyButton(page),
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
    passkeyButton(page),
  );
  const { navigate, signal } = page;
  handleSubmit(form, () => emailLink(email, { path: "/api/auth/magic-link", kind: "magic", navigate, signal }), {
    messages: page.msg,
    fields: { email },
  });
  return { form, focus: email.input };
}

// -------------------------------------------------------------------------------------------- passkeys

// A passkey's ceremony from start to signed in; `mediation: "conditional"` waits for a pick among the suggestions
// (`progress.picked` says when one was).
async function passkeySignIn(page, { signal, mediation, progress = {} }) {
  const { ceremony, options } = await api.post("/api/auth/passkey/options", {}, { signal });
  const credential = await usePasskey(options, { signal, mediation });
  progress.picked = true;
  const answer = await api.post("/api/auth/passkey", { ceremony, credential }, { signal });
  await finishSignIn(answer, { next: page.next, navigate: page.navigate });
}

// Offered where the browser can use passkeys at all.
function passkeyButton(page) {
  if (!passkeysSupported()) return null;
  const button = h("button", { type: "button", class: "button button--secondary", "data-testid": "signin-passkey" }, "Sign in with a passkey");
  button.addEventListener("click", () =>
    busy(button, async () => {
      await page.autofill?.stop(); // one request at a time: the browser refuses a second
      page.msg.clear();
      try {
        await passkeySignIn(page, { signal: page.signal });
      } catch (error) {
        showError(page.msg, error);
        if (!page.signal.aborted) offerInAutofill(page);
      }
    }),
  );
  return button;
}

// Conditional mediation, where the browser has it: never in the way of the form. Until a passkey is picked, a
// failure says nothing (the button and the form are still there); after, it is said like any other.
async function offerInAutofill(page) {
  if (!(await autofillAvailable()) || page.signal.aborted) return;
  const controller = new AbortController();
  page.signal.addEventListener("abort", () => controller.abort(), { once: true });
  const progress = {};
  const running = passkeySignIn(page, { signal: controller.signal, mediation: "conditional", progress });
  // Stopped: aborted, and over (the browser has let go of it) before anything else asks for a passkey.
  page.autofill = {
    stop() {
      controller.abort();
      return running.catch(() => {});
    },
  };
  try {
    await running;
  } catch (error) {
    if (progress.picked && !controller.signal.aborted) showError(page.msg, error);
  }
}
