// The two-factor step of signing in: POST /api/auth/mfa {mfa_token, code}, or, when the step's `methods` include
// "passkey", "Use a passkey" (POST /api/auth/mfa/passkey/options, the browser's ceremony, POST /api/auth/mfa/passkey).
// The mfa_token comes from the login or magic-link answer and lives in memory only, so a reload here means starting
// again (by design).

import { api } from "../api.js";
import { h } from "../dom.js";
import { usePasskey } from "../passkeys.js";
import { landing, session } from "../session.js";
import { alternatives, busy, cardForm, codeField, describeError, field, handleSubmit, link, messages, narrowPage, showError, submitButton } from "../ui.js";

export const title = "Two-factor authentication";

// Wrong codes (and a code just used: wait for the next) may be retried; anything else (too many tries, an expired
// step) means signing in again.
const RETRY = new Set(["invalid_code", "code_just_used", "network_error", "too_many_attempts", "rate_limited"]);

// The step's `methods` (from the login answer) say what it takes: a code from the authenticator app (or a recovery
// code), a passkey, or either. An answer without them is a code.
export function render({ navigate, signal }) {
  const pending = session.pendingMfa;
  if (!pending) return expired();

  const msg = messages("two-factor");
  const methods = pending.methods?.length ? pending.methods : ["totp"];
  const totp = methods.includes("totp");
  const codes = totp || methods.includes("recovery_code"); // a first passkey brings recovery codes too
  const passkey = methods.includes("passkey");
  const done = (answer) => navigate(landing(session.start(answer), pending.next), { replace: true });
  const form = codes ? codeForm({ pending, signal, msg, done, totp }) : cardForm({ action: "/two-factor", testid: "two-factor-form" });
  if (passkey) form.append(...passkeyWay({ pending, signal, msg, form, done, divider: codes }));
  const lead = !passkey
    ? "Enter the code from your authenticator app to finish signing in."
    : totp
      ? "Enter the code from your authenticator app, or use a passkey, to finish signing in."
      : codes
        ? "Use your passkey to finish signing in, or one of your recovery codes if you lost it."
        : "Use your passkey to finish signing in.";

  return narrowPage(
    { title: "Two-factor authentication", lead, testid: "two-factor" },
    ...msg.nodes,
    form,
    h("p", {}, link("/signin", "Cancel and start again", { "data-testid": "two-factor-cancel" })),
  );
}

// A code from the authenticator app, or a recovery code (alone, without the app): POST /api/auth/mfa.
function codeForm({ pending, signal, msg, done, totp }) {
  if (!totp) return recoveryForm({ pending, signal, msg, done });
  const code = codeField({
    id: "two-factor-code",
    label: "Authentication code",
    name: "code",
    hint: "The 6-digit code your authenticator app shows for Protu.",
    testid: "two-factor-code",
  });
  const recoveryCode = recoveryField();
  const labels = ["Use a recovery code instead", "Use your authenticator app instead"];
  const proof = alternatives("two-factor", [code, recoveryCode], labels, () => msg.clear());
  const form = cardForm({ action: "/two-factor", testid: "two-factor-form" }, proof.slot, proof.toggle, submitButton("two-factor-submit", "Verify"));
  const verify = async () => {
    const value = proof.usingOther() ? recoveryCode.input.value.trim() : code.input.value.replace(/\s/g, "");
    try {
      await done(await api.post("/api/auth/mfa", { mfa_token: pending.token, code: value }, { signal }));
    } catch (error) {
      failed(error, { msg, form, target: proof.current() });
    }
  };
  handleSubmit(form, verify, { messages: msg, fields: { code, recoveryCode } });
  return form;
}

function recoveryForm({ pending, signal, msg, done }) {
  const recoveryCode = recoveryField();
  const form = cardForm({ action: "/two-factor", testid: "two-factor-form" }, recoveryCode.node, submitButton("two-factor-submit", "Verify"));
  const verify = async () => {
    try {
      await done(await api.post("/api/auth/mfa", { mfa_token: pending.token, code: recoveryCode.input.value.trim() }, { signal }));
    } catch (error) {
      failed(error, { msg, form, target: recoveryCode });
    }
  };
  handleSubmit(form, verify, { messages: msg, fields: { recoveryCode } });
  return form;
}

function expired() {
  return narrowPage(
    { title: "Two-factor authentication", testid: "two-factor" },
    h(
      "div",
      { class: "card" },
      h("p", { "data-testid": "two-factor-expired" }, "This sign-in step has expired. Sign in again to continue."),
      h("p", {}, link("/signin", "Sign in", { "data-testid": "two-factor-restart" })),
    ),
  );
}

function recoveryField() {
  return field({
    id: "two-factor-recovery",
    label: "Recovery code",
    name: "recovery_code",
    type: "text",
    inputmode: "text",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    placeholder: "abcd-efgh-ijkl",
    maxlength: "32",
    required: true,
    hint: "One of the recovery codes you saved when you turned on two-factor authentication or added a first passkey. Each works once.",
    testid: "two-factor-recovery",
  });
}

// ("or" and) "Use a passkey": a passkey refused or not used may be tried again (or a code used instead).
function passkeyWay({ pending, signal, msg, form, done, divider }) {
  const tone = ["button", divider && "button--secondary"]; // the main way when there is no code to enter
  const button = h("button", { type: "button", class: tone, "data-testid": "two-factor-passkey" }, "Use a passkey");
  button.addEventListener("click", () =>
    busy(button, async () => {
      msg.clear();
      try {
        const body = { mfa_token: pending.token };
        const { ceremony, options } = await api.post("/api/auth/mfa/passkey/options", body, { signal });
        const credential = await usePasskey(options, { signal });
        await done(await api.post("/api/auth/mfa/passkey", { ...body, ceremony, credential }, { signal }));
      } catch (error) {
        if (error?.code?.startsWith("passkey_") || error?.code === "ceremony_expired" || RETRY.has(error?.code)) showError(msg, error);
        else failed(error, { msg, form });
      }
    }),
  );
  return divider ? [h("div", { class: "form__divider" }, h("span", {}, "or")), button] : [button];
}

// A wrong code may be tried again; anything else ends this sign-in attempt.
function failed(error, { msg, form, target }) {
  const text = describeError(error);
  if (text === null) return;
  if (RETRY.has(error?.code)) {
    msg.error(text);
    target.error(text);
    target.input.select();
    target.input.focus();
    return;
  }
  session.clearPendingMfa();
  msg.error(text, " ", link("/signin", "Sign in again", { "data-testid": "two-factor-restart" }));
  form.replaceChildren(h("p", {}, "This sign-in attempt has ended."));
}
