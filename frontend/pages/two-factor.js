// The two-factor step of signing in: POST /api/auth/mfa {mfa_token, code}. The mfa_token comes from the login or
// magic-link answer and lives in memory only, so a reload here means starting again (by design).

import { api } from "../api.js";
import { h } from "../dom.js";
import { landing, session } from "../session.js";
import { alternatives, cardForm, codeField, describeError, field, handleSubmit, link, messages, narrowPage, submitButton } from "../ui.js";

export const title = "Two-factor authentication";

// Wrong codes (and a code just used: wait for the next) may be retried; anything else (too many tries, an expired
// step) means signing in again.
const RETRY = new Set(["invalid_code", "code_just_used", "network_error", "too_many_attempts", "rate_limited"]);

export function render({ navigate, signal }) {
  const pending = session.pendingMfa;
  if (!pending) return expired();

  const msg = messages("two-factor");
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
      const answer = await api.post("/api/auth/mfa", { mfa_token: pending.token, code: value }, { signal });
      const user = session.start(answer);
      await navigate(landing(user, pending.next), { replace: true });
    } catch (error) {
      failed(error, { msg, form, target: proof.current() });
    }
  };
  handleSubmit(form, verify, { messages: msg, fields: { code, recoveryCode } });

  return narrowPage(
    { title: "Two-factor authentication", lead: "Enter the code from your authenticator app to finish signing in.", testid: "two-factor" },
    ...msg.nodes,
    form,
    h("p", {}, link("/signin", "Cancel and start again", { "data-testid": "two-factor-cancel" })),
  );
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
    hint: "One of the recovery codes you saved when you turned on two-factor authentication. Each works once.",
    testid: "two-factor-recovery",
  });
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
