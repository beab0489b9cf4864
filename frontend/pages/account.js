// Your account: profile (GET /api/me), change password (POST /api/me/password), two-factor authentication
// (POST /api/me/mfa/totp, .../confirm, DELETE /api/me/mfa/totp), your passkeys (widgets/passkey-list.js) and your
// sessions (GET/DELETE /api/me/sessions).
// Password and two-factor changes may need recent authentication: withReauth asks for the password and retries.
// When the company requires two-factor and it is off (user.mfa_setup_required), this is the only page open to the
// user: the two-factor section says so and, once it is on, that the rest of Protu is open again.

import { ApiError, api, path } from "../api.js";
import { h, imageFromData } from "../dom.js";
import { mustSetUpMfa, session } from "../session.js";
import {
  alternatives,
  busy,
  cardSection,
  codeField,
  copyButton,
  currentPasswordField,
  describeError,
  endOthersCheckbox,
  handleSubmit,
  link,
  messages,
  newPasswordField,
  pageFrame,
  showError,
  submitButton,
  timeNode,
  withReauth,
} from "../ui.js";
import { passkeysSection } from "../widgets/passkey-list.js";
import { recoveryCodesPanel } from "../widgets/recovery-codes.js";

export const title = "Your account";

const ROLES = { owner: "Owner", admin: "Admin" };
const HOME_AFTER_SETUP = "/candidates"; // where to carry on once two-factor, required by the company, is on

export function render({ signal }) {
  const flash = session.takeFlash();
  const pageMsg = messages("account");
  if (flash) (flash.tone === "error" ? pageMsg.error : pageMsg.notice)(flash.text);

  const profile = profileSection();
  const twoFactor = twoFactorSection(signal, () => sessions.load());
  const sessions = sessionsSection(signal);
  const passkeys = passkeysSection(signal, { onChanged: () => api.get("/api/me", { signal }).then((me) => session.update(me), () => {}) });
  const password = passwordSection(signal, () => sessions.load());

  // Fresh details from the server (the session's copy may be minutes old); the header follows along.
  const stop = session.subscribe((user) => {
    if (user) {
      profile.show(user);
      twoFactor.show(user);
    }
  });
  signal.addEventListener("abort", stop);
  profile.show(session.user);
  twoFactor.show(session.user);
  api
    .get("/api/me", { signal })
    .then((me) => session.update(me))
    .catch((error) => {
      const text = describeError(error);
      if (text !== null && !(error instanceof ApiError && error.status === 401)) pageMsg.error(text);
    });
  sessions.load();

  // Two-factor required and not set up: its section comes first, it is what this visit is for.
  const sections = mustSetUpMfa(session.user)
    ? [profile.node, twoFactor.node, passkeys, password.node, sessions.node]
    : [profile.node, password.node, twoFactor.node, passkeys, sessions.node];
  return pageFrame({ title: "Your account", testid: "account-page" }, ...pageMsg.nodes, ...sections);
}

function section(id, heading, ...children) {
  return cardSection({ titleId: `${id}-title`, title: heading, tone: "account-section", testid: id }, ...children);
}

// --------------------------------------------------------------------------------------------- profile

function profileSection() {
  const list = h("dl", { class: "details" });
  return {
    node: section("profile-section", "Profile", list),
    show(user) {
      if (!user) return;
      list.replaceChildren(
        h("dt", {}, "Name"),
        h("dd", { "data-testid": "profile-name" }, user.name),
        h("dt", {}, "Email"),
        h(
          "dd",
          {},
          h("span", { "data-testid": "profile-email" }, user.email),
          " ",
          user.email_verified
            ? h("span", { class: "badge badge--ok", "data-testid": "profile-email-status" }, "Confirmed")
            : h("span", { class: "badge badge--bad", "data-testid": "profile-email-status" }, "Not confirmed yet"),
        ),
        h("dt", {}, "Role"),
        h("dd", { "data-testid": "profile-role" }, ROLES[user.role] ?? user.role),
        h("dt", {}, "Company"),
        h("dd", { "data-testid": "profile-company" }, user.company?.name ?? ""),
      );
    },
  };
}

// -------------------------------------------------------------------------------------------- password

function passwordSection(signal, onSessionsChanged) {
  const msg = messages("password");
  const current = currentPasswordField("password-current", { label: "Current password" });
  const next = newPasswordField("password-new", { name: null });
  const endOthers = endOthersCheckbox("password-end-others", { hint: "Recommended if you think someone else may know your password." });
  const form = h(
    "form",
    { class: "form", method: "post", action: "/account", "aria-labelledby": "password-section-title", "data-testid": "password-form" },
    current.node,
    next.node,
    endOthers.node,
    h("div", {}, submitButton("password-submit", "Change password")),
  );
  const change = async () => {
    const body = { current_password: current.input.value, new_password: next.input.value, end_other_sessions: endOthers.input.checked };
    const answer = await provenOrSaid(
      () => withReauth(() => api.post("/api/me/password", body, { signal }), { allowCode: session.user?.mfa_enabled }),
      { msg, target: current },
    );
    if (answer === undefined) return;
    form.reset();
    const ended = Number(answer?.sessions_ended ?? 0);
    msg.notice("Your password was changed.", ended > 0 ? ` ${ended} other session${ended === 1 ? " was" : "s were"} signed out.` : "");
    onSessionsChanged();
  };
  // The policy's errors name the field "password": here that is the new one.
  handleSubmit(form, change, { messages: msg, fields: { password: next, new_password: next, current_password: current } });
  return { node: section("password-section", "Change password", form, ...msg.nodes) };
}

// Run `call`; a wrong password (403 invalid_password) is said in `msg` and at `target`, and answers undefined.
async function provenOrSaid(call, { msg, target }) {
  try {
    return (await call()) ?? null;
  } catch (error) {
    if (!(error instanceof ApiError && error.code === "invalid_password")) throw error;
    msg.error(error.message);
    target.error(error.message);
    target.input.focus();
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------ two-factor
//
// The section shows one view at a time (mfa.go(name, ...)): "off", "setup", "codes", "on" or "disable". While
// setting up, updates of the user do not redraw it.

function twoFactorSection(signal, onSessionsChanged) {
  const status = h("span", { class: "badge", "data-testid": "mfa-status" });
  const required = h(
    "p",
    { class: "notice mfa-required", role: "status", "data-testid": "mfa-required-notice", hidden: true },
    h("strong", {}, "Your company requires two-factor authentication."),
    " Set it up below to continue: until you do, only this page is open to you.",
  );
  const viaProvider = h(
    "p",
    { class: "field__hint", "data-testid": "mfa-via-provider", hidden: true },
    "You signed in through your company’s identity provider: it handles two-factor for those sign-ins. What you set up here is asked when you sign in with a password or an email link.",
  );
  const mfa = {
    signal,
    onSessionsChanged,
    msg: messages("mfa"),
    body: h("div", { class: "mfa" }),
    mode: null,
    wasRequired: false, // two-factor was required and off when this page was shown: say when the rest opens
    go(mode, ...args) {
      mfa.mode = mode;
      MFA_VIEWS[mode](mfa, ...args);
    },
  };

  function show(user) {
    if (!user) return;
    status.textContent = user.mfa_enabled ? "On" : "Off";
    status.className = `badge ${user.mfa_enabled ? "badge--ok" : ""}`;
    required.hidden = !mustSetUpMfa(user);
    viaProvider.hidden = user.sign_in_method !== "sso";
    mfa.wasRequired ||= mustSetUpMfa(user);
    if (mfa.mode === null || mfa.mode === "on" || mfa.mode === "off") mfa.go(user.mfa_enabled ? "on" : "off");
  }

  return {
    node: section(
      "mfa-section",
      "Two-factor authentication",
      required,
      h("p", { class: "section-status" }, "Status: ", status),
      viaProvider,
      mfa.body,
      ...mfa.msg.nodes,
    ),
    show,
  };
}

// The session's copy follows at once (the header, the route guards), then the server's own answer: whether the
// company requires two-factor is the server's to say.
function setMfaEnabled(enabled, signal) {
  if (session.user) {
    const requiredNow = enabled ? false : session.user.mfa_setup_required;
    session.update({ ...session.user, mfa_enabled: enabled, mfa_setup_required: requiredNow });
  }
  api
    .get("/api/me", { signal })
    .then((me) => session.update(me))
    .catch(() => {
      // The page's own calls report problems; this is only a refresh of who we are.
    });
}

// A button that runs `action` while busy, with the section's messages cleared first and a failure shown there.
function mfaButton(mfa, { testid, text, secondary = false, action }) {
  const button = h("button", { type: "button", class: ["button", secondary && "button--secondary"], "data-testid": testid }, text);
  button.addEventListener("click", () =>
    busy(button, async () => {
      mfa.msg.clear();
      try {
        await action();
      } catch (error) {
        showError(mfa.msg, error);
      }
    }),
  );
  return button;
}

function plainButton(testid, text, onClick, { secondary = true } = {}) {
  return h("button", { type: "button", class: ["button", secondary && "button--secondary"], "data-testid": testid, onClick }, text);
}

function showOff(mfa) {
  const start = mfaButton(mfa, {
    testid: "mfa-setup-start",
    text: "Set up two-factor authentication",
    action: async () => mfa.go("setup", await withReauth(() => api.post("/api/me/mfa/totp", undefined, { signal: mfa.signal }))),
  });
  mfa.body.replaceChildren(
    h("p", {}, "Protect your account with a second step when you sign in: a 6-digit code from an authenticator app on your phone."),
    start,
  );
}

function showSetup(mfa, setup) {
  const { msg, signal } = mfa;
  const secret = h("code", { class: "secret", "data-testid": "mfa-secret", "data-secret": setup.secret }, group(setup.secret));
  const copy = copyButton({ text: setup.secret, node: secret, msg, what: "Key", label: "Copy key", testid: "mfa-secret-copy" });
  const code = codeField({ id: "mfa-confirm-code", label: "Code from the app", testid: "mfa-confirm-code" });
  const endOthers = endOthersCheckbox("mfa-enable-end-others", { hint: "They will need a code from your app to sign in again." });
  const form = mfaForm(mfa, {
    label: "Confirm two-factor authentication",
    testid: "mfa-confirm-form",
    children: [code.node, endOthers.node],
    submit: submitButton("mfa-confirm-submit", "Turn on"),
    cancel: ["mfa-setup-cancel", "off"],
  });
  const confirm = async () => {
    const body = { code: code.input.value.replace(/\s/g, ""), end_other_sessions: endOthers.input.checked };
    const answer = await withReauth(() => api.post("/api/me/mfa/totp/confirm", body, { signal }));
    setMfaEnabled(true, signal);
    if (answer.sessions_ended) mfa.onSessionsChanged();
    mfa.go("codes", answer.recovery_codes ?? []);
  };
  handleSubmit(form, confirm, { messages: msg, fields: { code } });
  mfa.body.replaceChildren(
    h(
      "ol",
      { class: "steps", "data-testid": "mfa-setup" },
      h(
        "li",
        {},
        h("p", {}, "Open an authenticator app on your phone (for example Google Authenticator, Microsoft Authenticator, 1Password or Aegis) and scan this QR code:"),
        qrCode(setup.qr_data_uri),
        h("p", { id: "mfa-secret-label" }, "Can’t scan it? Enter this key in the app instead:"),
        h("div", { class: "secret-row", role: "group", "aria-labelledby": "mfa-secret-label" }, secret, copy),
      ),
      h("li", {}, h("p", {}, "Enter the 6-digit code the app shows for Protu:"), form),
    ),
  );
  code.input.focus();
}

// The form of a step of the section: its fields, then the submit button and a Cancel that goes back to a view.
function mfaForm(mfa, { label, testid, children, submit, cancel: [cancelTestid, back] }) {
  const cancel = plainButton(cancelTestid, "Cancel", () => {
    mfa.msg.clear();
    mfa.go(back);
  });
  return h(
    "form",
    { class: "form", method: "post", action: "/account", "aria-label": label, "data-testid": testid },
    ...children,
    h("div", { class: "actions" }, submit, cancel),
  );
}

function qrCode(dataUri) {
  try {
    return imageFromData(dataUri, {
      class: "mfa__qr",
      width: "200",
      height: "200",
      alt: "QR code that adds Protu to your authenticator app",
      "data-testid": "mfa-qr",
    });
  } catch {
    return h("p", { "data-testid": "mfa-qr-missing" }, "The QR code could not be shown: enter the key below instead.");
  }
}

// After turning two-factor on, or making a new set (`fresh`): the codes, shown this once.
function showCodes(mfa, codes, { fresh = false } = {}) {
  const intro = [
    fresh ? "Your earlier recovery codes no longer work. " : "Two-factor authentication is on. ",
    "If you lose your phone, each of these codes lets you sign in once. ",
  ];
  mfa.body.replaceChildren(
    recoveryCodesPanel({
      codes,
      msg: mfa.msg,
      title: fresh ? "Save your new recovery codes" : "Save your recovery codes",
      intro,
      instead: "a code from your authenticator app",
      onDone: () => codesSaved(mfa, fresh),
    }),
  );
  mfa.body.querySelector("#mfa-recovery-title").focus();
}

function codesSaved(mfa, fresh) {
  const { msg } = mfa;
  msg.clear();
  mfa.go("on");
  if (fresh) msg.notice("Your new recovery codes are ready. The earlier ones no longer work.");
  else if (mfa.wasRequired) {
    mfa.wasRequired = false;
    msg.notice(
      "Two-factor authentication is on. The rest of Protu is open to you again: ",
      link(HOME_AFTER_SETUP, "go to the candidates", { "data-testid": "mfa-continue" }),
      ".",
    );
  } else msg.notice("Two-factor authentication is on.");
}

function showOn(mfa) {
  const start = plainButton("mfa-disable-start", "Turn off two-factor authentication", () => mfa.go("disable"));
  mfa.body.replaceChildren(
    h("p", {}, "When you sign in, Protu asks for a code from your authenticator app after your password."),
    ...recoveryCodes(mfa, start),
  );
}

// "N recovery codes left" (GET /api/me/mfa/recovery-codes) and a new set (POST, after a recent sign-in), beside
// the section's other `actions`.
function recoveryCodes(mfa, ...actions) {
  const { msg, signal } = mfa;
  const left = h("p", { "data-testid": "mfa-recovery-left", "aria-live": "polite" }, "Counting your recovery codes…");
  const make = mfaButton(mfa, {
    testid: "mfa-recovery-new",
    text: "Make new codes",
    secondary: true,
    action: async () => {
      const answer = await withReauth(() => api.post("/api/me/mfa/recovery-codes", undefined, { signal }), { allowCode: true });
      mfa.go("codes", answer.recovery_codes ?? [], { fresh: true });
    },
  });
  api
    .get("/api/me/mfa/recovery-codes", { signal })
    .then(({ remaining }) => {
      left.textContent =
        remaining === 0
          ? "You have no recovery codes left. Make new ones, so you can still sign in without your phone."
          : `${remaining} recovery code${remaining === 1 ? "" : "s"} left. Making new ones stops the current ones from working.`;
      left.classList.toggle("notice", remaining <= 2);
    })
    .catch((error) => {
      left.textContent = "";
      showError(msg, error);
    });
  return [left, h("div", { class: "actions" }, make, ...actions)];
}

function showDisable(mfa) {
  const { msg, signal } = mfa;
  msg.clear();
  const password = currentPasswordField("mfa-disable-password");
  const code = codeField({
    id: "mfa-disable-code",
    pattern: null,
    maxlength: "32",
    hint: "A 6-digit code, or one of your recovery codes.",
    testid: "mfa-disable-code",
  });
  const proof = alternatives("mfa-disable", [password, code], ["Use a code instead", "Use your password instead"]);
  const endOthers = endOthersCheckbox("mfa-disable-end-others", { checked: false });
  const form = mfaForm(mfa, {
    label: "Turn off two-factor authentication",
    testid: "mfa-disable-form",
    children: [
      h("p", {}, "Your account will be protected by your password alone. Confirm to turn two-factor authentication off."),
      proof.slot,
      proof.toggle,
      endOthers.node,
    ],
    submit: submitButton("mfa-disable-submit", "Turn off", { danger: true }),
    cancel: ["mfa-disable-cancel", "on"],
  });
  const turnOff = async () => {
    const body = proof.usingOther() ? { code: code.input.value.trim() } : { password: password.input.value };
    body.end_other_sessions = endOthers.input.checked;
    const call = () => withReauth(() => api.delete("/api/me/mfa/totp", { body, signal }));
    if ((await provenOrSaid(call, { msg, target: proof.current() })) === undefined) return;
    setMfaEnabled(false, signal);
    if (body.end_other_sessions) mfa.onSessionsChanged();
    mfa.go("off");
    msg.notice("Two-factor authentication is off.");
  };
  handleSubmit(form, turnOff, { messages: msg, fields: { password, code } });
  mfa.body.replaceChildren(form);
  password.input.focus();
}

const MFA_VIEWS = { off: showOff, setup: showSetup, codes: showCodes, on: showOn, disable: showDisable };

// "JBSWY3DPEHPK3PXP" -> "JBSW Y3DP EHPK 3PXP" (easier to type; authenticator apps ignore the spaces).
function group(secret) {
  return String(secret).replace(/(.{4})(?=.)/g, "$1 ");
}

// -------------------------------------------------------------------------------------------- sessions

// How a session was started (GET /api/me/sessions, sign_in_method); sessions from before it was recorded have none.
const METHODS = {
  password: "Signed in with password",
  "password+mfa": "Signed in with password and two-factor code",
  magic_link: "Signed in with email link",
  "magic_link+mfa": "Signed in with email link and two-factor code",
  mfa: "Signed in with two-factor code",
  passkey: "Signed in with a passkey",
  "password+passkey": "Signed in with password and passkey",
  "magic_link+passkey": "Signed in with email link and passkey",
  invitation: "Joined with an invitation",
  sso: "Signed in with single sign-on",
};

// "Firefox 128 on Windows", from what the server read in the session's user agent.
function deviceName(s) {
  const browser = s.browser ? [s.browser, s.browser_version].filter(Boolean).join(" ") : null;
  if (browser && s.system) return `${browser} on ${s.system}`;
  return browser ?? s.system ?? (s.user_agent ? "Unknown browser" : "Unknown device");
}

function sessionsSection(signal) {
  const msg = messages("sessions");
  const list = h("ul", { class: "sessions", "data-testid": "sessions-list", "aria-busy": "true" });
  const act = (button, call, done) => sessionAction(button, { msg, call: () => call(signal), done, reload: load });
  const others = h(
    "button",
    { type: "button", class: "button button--secondary", "data-testid": "sessions-revoke-others", hidden: true },
    "Sign out all other sessions",
  );
  act(others, (s) => api.delete("/api/me/sessions", { signal: s }), "All your other sessions were signed out.");

  async function load() {
    list.setAttribute("aria-busy", "true");
    try {
      const rows = await api.get("/api/me/sessions", { signal });
      list.replaceChildren(...rows.map((row) => sessionRow(row, act)));
      if (rows.length === 0) list.append(h("li", {}, "No active sessions."));
      others.hidden = !rows.some((row) => !row.current);
    } catch (error) {
      showError(msg, error);
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  return {
    node: section(
      "sessions-section",
      "Where you are signed in",
      h("p", {}, "Sign out any session you do not recognise, then change your password."),
      list,
      h("div", { class: "actions" }, others),
      ...msg.nodes,
    ),
    load,
  };
}

// On a click, `call` (after a recent sign-in if the API wants one), then `done` is said and the list reloaded.
function sessionAction(button, { msg, call, done, reload }) {
  button.addEventListener("click", () =>
    busy(button, async () => {
      msg.clear();
      try {
        await withReauth(call);
        msg.notice(done);
        await reload();
      } catch (error) {
        showError(msg, error);
      }
    }),
  );
}

function sessionRow(s, act) {
  const device = deviceName(s);
  const network = s.network ?? "an unknown network";
  let revoke = null;
  if (!s.current) {
    revoke = h(
      "button",
      { type: "button", class: "button button--secondary button--small", "data-testid": "session-revoke", "aria-label": `Sign out ${device}, ${network}` },
      "Sign out",
    );
    act(revoke, (signal) => api.delete(path`/api/me/sessions/${s.id}`, { signal }), `Signed out ${device}.`);
  }
  return h(
    "li",
    { class: "sessions__row", "data-testid": "session-row", "data-session-id": s.id, "data-current": s.current ? "true" : "false" },
    h(
      "div",
      { class: "sessions__info" },
      h(
        "p",
        { class: "sessions__device" },
        h("span", { "data-testid": "session-device", title: s.user_agent || "" }, device),
        s.current ? [" ", h("span", { class: "badge badge--ok", "data-testid": "session-current" }, "This device")] : null,
      ),
      h(
        "p",
        { class: "sessions__meta" },
        h("span", { "data-testid": "session-network", title: s.ip || "" }, `Network ${network}`),
        METHODS[s.sign_in_method] ? [" · ", h("span", { "data-testid": "session-method" }, METHODS[s.sign_in_method])] : null,
      ),
      h(
        "p",
        { class: "sessions__meta" },
        "Started ",
        timeNode(s.created_at, { testid: "session-created" }),
        " · last active ",
        timeNode(s.last_seen_at, { testid: "session-last-seen" }),
      ),
    ),
    revoke,
  );
}
