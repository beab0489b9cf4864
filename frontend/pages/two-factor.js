// The two-factor step of signing in: POST /api/auth/mfa {mfa_token, code}. The mfa_token comes from the login or
// magic-link answer and lives in memory only, so a reload here means starting again (by design).

import { api } from "../api.js";
import { h } from "../dom.js";
import { landing, session } from "../session.js";
import { codeField, describeError, field, handleSubmit, link, messages, pageFrame } from "../ui.js";

export const title = "Two-factor authentication";

// Wrong codes (and a code just used: wait for the next) may be retried; anything else (too many tries, an expired
// step) means signing in again.
const RETRY = new Set(["invalid_code", "code_just_used", "network_error", "too_many_attempts", "rate_limited"]);

export function render({ navigate, signal }) {
  const pending = session.pendingMfa;
  if (!pending) {
    return pageFrame(
      { title: "Two-factor authentication", testid: "two-factor", narrow: true },
      h(
        "div",
        { class: "card" },
        h("p", { "data-testid": "two-factor-expired" }, "This sign-in step has expired. Sign in again to continue."),
        h("p", {}, link("/signin", "Sign in", { "data-testid": "two-factor-restart" })),
      ),
    );
  }

  const msg = messages("two-factor");
  let recovery = false;
  const code = codeField({
    id: "two-factor-code",
    label: "Authentication code",
    name: "code",
    hint: "The 6-digit code your authenticator app shows for Protu.",
    testid: "two-factor-code",
  });
  const recoveryCode = field({
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
  const slot = h("div", {}, code.node);
  const toggle = h(
    "button",
    { type: "button", class: "button--link", "data-testid": "two-factor-toggle", "aria-controls": "two-factor-slot" },
    "Use a recovery code instead",
  );
  slot.id = "two-factor-slot";
  toggle.addEventListener("click", () => {
    recovery = !recovery;
    msg.clear();
    slot.replaceChildren(recovery ? recoveryCode.node : code.node);
    toggle.textContent = recovery ? "Use your authenticator app instead" : "Use a recovery code instead";
    (recovery ? recoveryCode : code).input.focus();
  });

  const form = h(
    "form",
    { class: "card form", method: "post", action: "/two-factor", "aria-labelledby": "page-title", "data-testid": "two-factor-form" },
    slot,
    toggle,
    h("button", { type: "submit", class: "button", "data-testid": "two-factor-submit" }, "Verify"),
  );
  handleSubmit(form, async () => {
    const value = recovery ? recoveryCode.input.value.trim() : code.input.value.replace(/\s/g, "");
    try {
      const answer = await api.post("/api/auth/mfa", { mfa_token: pending.token, code: value }, { signal });
      const user = session.start(answer);
      await navigate(landing(user, pending.next), { replace: true });
    } catch (error) {
      const text = describeError(error);
      if (text === null) return;
      if (RETRY.has(error?.code)) {
        const target = recovery ? recoveryCode : code;
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
  }, { messages: msg, fields: { code, recoveryCode } });

  return pageFrame(
    {
      title: "Two-factor authentication",
      lead: "Enter the code from your authenticator app to finish signing in.",
      testid: "two-factor",
      narrow: true,
    },
    ...msg.nodes,
    form,
    h("p", {}, link("/signin", "Cancel and start again", { "data-testid": "two-factor-cancel" })),
  );
}
