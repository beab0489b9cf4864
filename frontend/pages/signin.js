// Sign in: email + password (POST /api/auth/login), or "email me a sign-in link" (POST /api/auth/magic-link),
// which switches the page to a one-field form (also reachable as /signin?method=link). A two-factor account
// continues on /two-factor; afterwards the user lands on ?next= (a path on this site) or the account page.
// Or with a passkey, no email typed (POST /api/auth/passkey/options, the browser's ceremony, POST /api/auth/passkey):
// from the "Sign in with a passkey" button, or from the email field's suggestions where the browser offers them
// (conditional mediation, waiting in the background until the page is left or the button is used).
// Or with single sign-on (/signin?method=sso): the email's company, when it has verified the domain, signs the person
// in at its identity provider (POST /api/auth/sso/start -> the provider -> back to /?signed_in=sso, signed in; a
// failure comes back as /signin?sso_error=<code>, said here). A password or link refused with 403 sso_required
// goes to the provider at once.

import { api } from "../api.js";
import { h } from "../dom.js";
import { autofillAvailable, passkeysSupported, usePasskey } from "../passkeys.js";
import { finishSignIn, session } from "../session.js";
import { busy, cardForm, currentPasswordField, emailField, emailLink, handleSubmit, link, messages, narrowPage, showError, submitButton } from "../ui.js";

export const title = "Sign in";

const FORMS = { link: linkForm, sso: ssoForm }; // by ?method= (the password form otherwise)

export function render({ query, navigate, signal }) {
  const page = { next: query.get("next"), msg: messages("signin"), navigate, signal, email: "" };
  const slot = h("div", {});
  const msg = page.msg;

  page.show = (mode, { focus = true } = {}) => {
    msg.clear();
    const view = (Object.hasOwn(FORMS, mode) ? FORMS[mode] : passwordForm)(page);
    slot.replaceChildren(view.form);
    if (focus) view.focus.focus();
  };

  const ssoError = query.get("sso_error");
  page.show(ssoError ? "sso" : (query.get("method") ?? "password"), { focus: false });
  const flash = session.takeFlash();
  if (flash) (flash.tone === "error" ? msg.error : msg.notice)(flash.text);
  if (ssoError) showSsoError(page, ssoError);
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
    ssoButton(page),
  );
  const signIn = async () => {
    const body = { email: email.input.value, password: password.input.value };
    try {
      const answer = await api.post("/api/auth/login", body, { signal: page.signal });
      session.lastEmail = email.input.value; // the step-up page names the address the link went to
      await finishSignIn(answer, { next: page.next, navigate: page.navigate });
    } catch (error) {
      if (error?.code === "sso_required") return ssoRequired(page, body.email);
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

// A form of one email field (`more`: its label, hint...): its button, then the other ways to sign in.
function emailOnlyForm(page, { prefix, label, testid, submit, more }, ...after) {
  const email = sharedEmail(page, `${prefix}-email`, more);
  const form = cardForm(
    { action: "/signin", label, testid },
    email.node,
    submit,
    ...otherWay(page, "password", `${prefix}-use-password`, "Sign in with a password"),
    passkeyButton(page),
    ...after,
  );
  return { email, form };
}

function linkForm(page) {
  const { email, form } = emailOnlyForm(
    page,
    {
      prefix: "magic",
      label: "Email me a sign-in link",
      testid: "magic-form",
      submit: submitButton("magic-submit", "Email me a link"),
      more: { hint: "We will email you a link that signs you in. It works once, for 10 minutes." },
    },
    ssoButton(page),
  );
  const { navigate, signal } = page;
  const send = async () => {
    try {
      await emailLink(email, { path: "/api/auth/magic-link", kind: "magic", navigate, signal });
    } catch (error) {
      if (error?.code !== "sso_required") throw error;
      await ssoRequired(page, email.input.value.trim());
    }
  };
  handleSubmit(form, send, {
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

// -------------------------------------------------------------------------------------------- single sign-on

function ssoButton(page) {
  return h("button", { type: "button", class: "button button--secondary", "data-testid": "signin-use-sso", onClick: () => page.show("sso") }, "Sign in with single sign-on");
}

function ssoForm(page) {
  const { email, form } = emailOnlyForm(page, {
    prefix: "sso",
    label: "Sign in with single sign-on",
    testid: "sso-signin-form",
    submit: submitButton("sso-continue", "Continue"),
    more: { label: "Work email", hint: "We take you to your company’s sign-in page." },
  });
  handleSubmit(form, () => startSso(page, email.input.value.trim()), { messages: page.msg, fields: { email } });
  return { form, focus: email.input };
}

// To the company's identity provider when the email's domain uses single sign-on; else the password form, the
// email kept, says so.
async function startSso(page, email) {
  const answer = await api.post("/api/auth/sso/start", { email }, { signal: page.signal });
  if (answer.sso) return window.location.assign(answer.redirect_url);
  page.email = email;
  page.show("password");
  page.msg.notice("This email’s company does not use single sign-on. Sign in with your password or an email link instead.");
}

// A password or link refused because the company signs in through its provider: straight there.
async function ssoRequired(page, email) {
  page.msg.notice("Your company signs in with single sign-on. Taking you to its sign-in page…");
  await startSso(page, email);
}

// What came back from the provider (/signin?sso_error=<code>, http/sso.py), in plain words; the code leaves the
// address bar, and the message takes the focus.
const SSO_ERRORS = {
  sso_provider_refused: "Your identity provider did not sign you in: the sign-in was cancelled or refused there.",
  sso_provider_error: "Your identity provider could not be reached or would not complete the sign-in. Try again in a moment.",
  sso_assertion_replayed: "That sign-in was already used. Start again.",
  sso_expired: "The sign-in took too long and expired. Start again.",
  sso_state_expired: "The sign-in took too long and expired. Start again.",
  sso_state_invalid: "This sign-in is not valid or was already used. Start again.",
  sso_browser_mismatch: "This sign-in was started in another browser. Start again in this one.",
  sso_email_unverified: "Your identity provider has not verified your email address, so it cannot sign you in here.",
  sso_email_invalid: "Your identity provider did not tell us your email address. Ask your IT team to send it.",
  sso_domain_not_verified: "Your identity provider signed you in with an address outside your company’s verified domains. Ask your IT team.",
  sso_not_configured: "Your company no longer uses single sign-on. Sign in with your password or an email link.",
  sso_account_inactive: "This account cannot sign in. Ask an owner of your company.",
  sso_mfa_required: "Your company requires two-factor at its identity provider, and this sign-in did not use it. Sign in there again with your second factor.",
  account_locked: "This account is locked after suspicious activity. Check your email for how to unlock it.",
  email_in_use: "This address already has a Protu account with another company, so it cannot sign in through this one.",
  seat_limit_reached: "Your company’s plan has no free seat for a new person. Ask an owner to add seats, then try again.",
};
const SSO_UNTRUSTED =
  "Your identity provider’s answer could not be trusted, so you are not signed in. Try again; if it happens again, ask your IT team to check the single sign-on setup.";

function showSsoError(page, code) {
  const untrusted = /^sso_(token|signature|audience|recipient|request|issuer|nonce|response)_/.test(code);
  const text = Object.hasOwn(SSO_ERRORS, code) ? SSO_ERRORS[code] : (untrusted ? SSO_UNTRUSTED : "Single sign-on did not sign you in. Try again, or sign in another way.");
  page.msg.error(text);
  const url = new URL(window.location.href);
  url.searchParams.delete("sso_error");
  window.history.replaceState(window.history.state, "", url.pathname + url.search);
  const shown = page.msg.nodes[1].firstElementChild; // the alert region's message (ui.js messages())
  shown.tabIndex = -1;
  setTimeout(() => shown.isConnected && shown.focus());
}
