// Your account: profile (GET /api/me), change password (POST /api/me/password), two-factor authentication
// (POST /api/me/mfa/totp, .../confirm, DELETE /api/me/mfa/totp) and your sessions (GET/DELETE /api/me/sessions).
// Password and two-factor changes may need recent authentication: withReauth asks for the password and retries.
// When the company requires two-factor and it is off (user.mfa_setup_required), this is the only page open to the
// user: the two-factor section says so and, once it is on, that the rest of Protu is open again.

import { ApiError, api, path } from "../api.js";
import { h, imageFromData } from "../dom.js";
import { mustSetUpMfa, session } from "../session.js";
import {
  busy,
  checkbox,
  codeField,
  copyText,
  describeError,
  downloadText,
  field,
  handleSubmit,
  link,
  messages,
  pageFrame,
  passwordRules,
  selectText,
  showError,
  timeNode,
  withReauth,
} from "../ui.js";

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
    ? [profile.node, twoFactor.node, password.node, sessions.node]
    : [profile.node, password.node, twoFactor.node, sessions.node];
  return pageFrame({ title: "Your account", testid: "account-page" }, ...pageMsg.nodes, ...sections);
}

function section(id, heading, ...children) {
  return h(
    "section",
    { class: "card account-section", "aria-labelledby": `${id}-title`, "data-testid": id },
    h("h2", { id: `${id}-title` }, heading),
    ...children,
  );
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
  const current = field({
    id: "password-current",
    label: "Current password",
    type: "password",
    autocomplete: "current-password",
    required: true,
    testid: "password-current",
  });
  const next = field({
    id: "password-new",
    label: "New password",
    type: "password",
    autocomplete: "new-password",
    required: true,
    minlength: "8",
    maxlength: "128",
    hint: passwordRules("password-new-hint"),
    testid: "password-new",
  });
  const endOthers = checkbox({
    id: "password-end-others",
    label: "Sign out my other sessions",
    checked: true,
    testid: "password-end-others",
    hint: "Recommended if you think someone else may know your password.",
  });
  const form = h(
    "form",
    { class: "form", method: "post", action: "/account", "aria-labelledby": "password-section-title", "data-testid": "password-form" },
    current.node,
    next.node,
    endOthers.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "password-submit" }, "Change password")),
  );
  handleSubmit(
    form,
    async () => {
      let answer;
      try {
        answer = await withReauth(
          () =>
            api.post(
              "/api/me/password",
              {
                current_password: current.input.value,
                new_password: next.input.value,
                end_other_sessions: endOthers.input.checked,
              },
              { signal },
            ),
          { allowCode: session.user?.mfa_enabled },
        );
      } catch (error) {
        if (error instanceof ApiError && error.code === "invalid_password") {
          msg.error(error.message);
          current.error(error.message);
          current.input.focus();
          return;
        }
        throw error;
      }
      form.reset();
      const ended = Number(answer?.sessions_ended ?? 0);
      msg.notice(
        "Your password was changed.",
        ended > 0 ? ` ${ended} other session${ended === 1 ? " was" : "s were"} signed out.` : "",
      );
      onSessionsChanged();
    },
    // The policy's errors name the field "password": here that is the new one.
    { messages: msg, fields: { password: next, new_password: next, current_password: current } },
  );
  return { node: section("password-section", "Change password", form, ...msg.nodes) };
}

// ------------------------------------------------------------------------------------------ two-factor

function twoFactorSection(signal, onSessionsChanged) {
  const msg = messages("mfa");
  const status = h("span", { class: "badge", "data-testid": "mfa-status" });
  const body = h("div", { class: "mfa" });
  const required = h(
    "p",
    { class: "notice mfa-required", role: "status", "data-testid": "mfa-required-notice", hidden: true },
    h("strong", {}, "Your company requires two-factor authentication."),
    " Set it up below to continue: until you do, only this page is open to you.",
  );
  let mode = null; // "off" | "on" | "setup" | "codes" | "disable": while setting up, user updates do not redraw
  let wasRequired = false; // two-factor was required and off when this page was shown: say when the rest opens

  function show(user) {
    if (!user) return;
    status.textContent = user.mfa_enabled ? "On" : "Off";
    status.className = `badge ${user.mfa_enabled ? "badge--ok" : ""}`;
    required.hidden = !mustSetUpMfa(user);
    wasRequired ||= mustSetUpMfa(user);
    if (mode === null || mode === "on" || mode === "off") (user.mfa_enabled ? showOn : showOff)();
  }

  // The session's copy follows at once (the header, the route guards), then the server's own answer: whether the
  // company requires two-factor is the server's to say.
  function setEnabled(enabled) {
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

  function showOff() {
    mode = "off";
    const start = h(
      "button",
      { type: "button", class: "button", "data-testid": "mfa-setup-start" },
      "Set up two-factor authentication",
    );
    start.addEventListener("click", () =>
      busy(start, async () => {
        msg.clear();
        try {
          const setup = await withReauth(() => api.post("/api/me/mfa/totp", undefined, { signal }));
          showSetup(setup);
        } catch (error) {
          showError(msg, error);
        }
      }),
    );
    body.replaceChildren(
      h(
        "p",
        {},
        "Protect your account with a second step when you sign in: a 6-digit code from an authenticator app on your phone.",
      ),
      start,
    );
  }

  function showSetup(setup) {
    mode = "setup";
    const secret = h("code", { class: "secret", "data-testid": "mfa-secret", "data-secret": setup.secret }, group(setup.secret));
    const copy = h("button", { type: "button", class: "button button--secondary button--small", "data-testid": "mfa-secret-copy" }, "Copy key");
    copy.addEventListener("click", async () => {
      if (await copyText(setup.secret)) msg.notice("Key copied.");
      else {
        selectText(secret);
        msg.notice("Press Ctrl+C (or ⌘C) to copy the selected key.");
      }
    });
    const code = codeField({ id: "mfa-confirm-code", label: "Code from the app", testid: "mfa-confirm-code" });
    const cancel = h("button", { type: "button", class: "button button--secondary", "data-testid": "mfa-setup-cancel" }, "Cancel");
    cancel.addEventListener("click", () => {
      msg.clear();
      showOff();
    });
    const endOthers = checkbox({
      id: "mfa-enable-end-others",
      label: "Sign out my other sessions",
      checked: true,
      testid: "mfa-enable-end-others",
      hint: "They will need a code from your app to sign in again.",
    });
    const form = h(
      "form",
      { class: "form", method: "post", action: "/account", "aria-label": "Confirm two-factor authentication", "data-testid": "mfa-confirm-form" },
      code.node,
      endOthers.node,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "button", "data-testid": "mfa-confirm-submit" }, "Turn on"),
        cancel,
      ),
    );
    handleSubmit(
      form,
      async () => {
        const answer = await withReauth(() =>
          api.post(
            "/api/me/mfa/totp/confirm",
            { code: code.input.value.replace(/\s/g, ""), end_other_sessions: endOthers.input.checked },
            { signal },
          ),
        );
        setEnabled(true);
        if (answer.sessions_ended) onSessionsChanged();
        showCodes(answer.recovery_codes ?? []);
      },
      { messages: msg, fields: { code } },
    );

    let qr = null;
    try {
      qr = imageFromData(setup.qr_data_uri, {
        class: "mfa__qr",
        width: "200",
        height: "200",
        alt: "QR code that adds Protu to your authenticator app",
        "data-testid": "mfa-qr",
      });
    } catch {
      qr = h("p", { "data-testid": "mfa-qr-missing" }, "The QR code could not be shown: enter the key below instead.");
    }

    body.replaceChildren(
      h(
        "ol",
        { class: "steps", "data-testid": "mfa-setup" },
        h(
          "li",
          {},
          h("p", {}, "Open an authenticator app on your phone (for example Google Authenticator, Microsoft Authenticator, 1Password or Aegis) and scan this QR code:"),
          qr,
          h("p", { id: "mfa-secret-label" }, "Can’t scan it? Enter this key in the app instead:"),
          h("div", { class: "secret-row", role: "group", "aria-labelledby": "mfa-secret-label" }, secret, copy),
        ),
        h("li", {}, h("p", {}, "Enter the 6-digit code the app shows for Protu:"), form),
      ),
    );
    code.input.focus();
  }

  // After turning two-factor on, or making a new set (`fresh`): the codes, shown this once.
  function showCodes(codes, { fresh = false } = {}) {
    mode = "codes";
    const text = `Protu recovery codes for ${session.user?.email ?? "your account"}\n` +
      "Each code works once, in place of a code from your authenticator app.\n\n" +
      codes.join("\n") + "\n";
    const list = h(
      "ol",
      { class: "recovery-codes__list", "data-testid": "mfa-recovery-codes" },
      codes.map((c) => h("li", { "data-testid": "mfa-recovery-code" }, h("code", {}, c))),
    );
    const copy = h("button", { type: "button", class: "button button--secondary", "data-testid": "mfa-recovery-copy" }, "Copy");
    copy.addEventListener("click", async () => {
      if (await copyText(codes.join("\n"))) msg.notice("Recovery codes copied.");
      else {
        selectText(list);
        msg.notice("Press Ctrl+C (or ⌘C) to copy the selected codes.");
      }
    });
    const download = h(
      "button",
      { type: "button", class: "button button--secondary", "data-testid": "mfa-recovery-download" },
      "Download as .txt",
    );
    download.addEventListener("click", () => downloadText("protu-recovery-codes.txt", text));
    const print = h("button", { type: "button", class: "button button--secondary", "data-testid": "mfa-recovery-print" }, "Print");
    print.addEventListener("click", () => {
      const root = document.documentElement;
      root.classList.add("printing-codes");
      window.addEventListener("afterprint", () => root.classList.remove("printing-codes"), { once: true });
      window.print();
    });
    const done = h("button", { type: "button", class: "button", "data-testid": "mfa-recovery-done" }, "I have saved my codes");
    done.addEventListener("click", () => {
      msg.clear();
      showOn();
      if (fresh) msg.notice("Your new recovery codes are ready. The earlier ones no longer work.");
      else if (wasRequired) {
        wasRequired = false;
        msg.notice(
          "Two-factor authentication is on. The rest of Protu is open to you again: ",
          link(HOME_AFTER_SETUP, "go to the candidates", { "data-testid": "mfa-continue" }),
          ".",
        );
      } else msg.notice("Two-factor authentication is on.");
    });
    body.replaceChildren(
      h(
        "div",
        { class: "recovery-codes", "data-testid": "mfa-recovery" },
        h("h3", { id: "mfa-recovery-title", tabindex: "-1" }, fresh ? "Save your new recovery codes" : "Save your recovery codes"),
        h(
          "p",
          {},
          fresh ? "Your earlier recovery codes no longer work. " : "Two-factor authentication is on. ",
          "If you lose your phone, each of these codes lets you sign in once. ",
          h("strong", {}, "They are shown only now:"),
          " keep them somewhere safe, such as your password manager.",
        ),
        list,
        h("div", { class: "actions" }, copy, download, print),
        h("div", { class: "actions" }, done),
      ),
    );
    body.querySelector("#mfa-recovery-title").focus();
  }

  function showOn() {
    mode = "on";
    const start = h(
      "button",
      { type: "button", class: "button button--secondary", "data-testid": "mfa-disable-start" },
      "Turn off two-factor authentication",
    );
    start.addEventListener("click", () => showDisable());
    body.replaceChildren(
      h("p", {}, "When you sign in, Protu asks for a code from your authenticator app after your password."),
      ...recoveryCodes(start),
    );
  }

  // "N recovery codes left" (GET /api/me/mfa/recovery-codes) and a new set (POST, after a recent sign-in), beside
  // the section's other `actions`.
  function recoveryCodes(...actions) {
    const left = h("p", { "data-testid": "mfa-recovery-left", "aria-live": "polite" }, "Counting your recovery codes…");
    const make = h(
      "button",
      { type: "button", class: "button button--secondary", "data-testid": "mfa-recovery-new" },
      "Make new codes",
    );
    make.addEventListener("click", () =>
      busy(make, async () => {
        msg.clear();
        try {
          const answer = await withReauth(() => api.post("/api/me/mfa/recovery-codes", undefined, { signal }), {
            allowCode: true,
          });
          showCodes(answer.recovery_codes ?? [], { fresh: true });
        } catch (error) {
          showError(msg, error);
        }
      }),
    );
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

  function showDisable() {
    mode = "disable";
    msg.clear();
    let useCode = false;
    const password = field({
      id: "mfa-disable-password",
      label: "Your password",
      type: "password",
      autocomplete: "current-password",
      required: true,
      testid: "mfa-disable-password",
    });
    const code = field({
      id: "mfa-disable-code",
      label: "Code from your authenticator app",
      type: "text",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      required: true,
      maxlength: "32",
      hint: "A 6-digit code, or one of your recovery codes.",
      testid: "mfa-disable-code",
    });
    const slot = h("div", { id: "mfa-disable-slot" }, password.node);
    const toggle = h(
      "button",
      { type: "button", class: "button--link", "data-testid": "mfa-disable-toggle", "aria-controls": "mfa-disable-slot" },
      "Use a code instead",
    );
    toggle.addEventListener("click", () => {
      useCode = !useCode;
      slot.replaceChildren(useCode ? code.node : password.node);
      toggle.textContent = useCode ? "Use your password instead" : "Use a code instead";
      (useCode ? code : password).input.focus();
    });
    const cancel = h("button", { type: "button", class: "button button--secondary", "data-testid": "mfa-disable-cancel" }, "Cancel");
    cancel.addEventListener("click", () => {
      msg.clear();
      showOn();
    });
    const endOthers = checkbox({
      id: "mfa-disable-end-others",
      label: "Sign out my other sessions",
      checked: false,
      testid: "mfa-disable-end-others",
    });
    const form = h(
      "form",
      { class: "form", method: "post", action: "/account", "aria-label": "Turn off two-factor authentication", "data-testid": "mfa-disable-form" },
      h("p", {}, "Your account will be protected by your password alone. Confirm to turn two-factor authentication off."),
      slot,
      toggle,
      endOthers.node,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "button button--danger", "data-testid": "mfa-disable-submit" }, "Turn off"),
        cancel,
      ),
    );
    handleSubmit(
      form,
      async () => {
        const proof = useCode ? { code: code.input.value.trim() } : { password: password.input.value };
        proof.end_other_sessions = endOthers.input.checked;
        try {
          await withReauth(() => api.delete("/api/me/mfa/totp", { body: proof, signal }));
        } catch (error) {
          if (error instanceof ApiError && error.code === "invalid_password") {
            const target = useCode ? code : password;
            msg.error(error.message);
            target.error(error.message);
            target.input.focus();
            return;
          }
          throw error;
        }
        setEnabled(false);
        if (proof.end_other_sessions) onSessionsChanged();
        showOff();
        msg.notice("Two-factor authentication is off.");
      },
      { messages: msg, fields: { password, code } },
    );
    body.replaceChildren(form);
    password.input.focus();
  }

  return {
    node: section(
      "mfa-section",
      "Two-factor authentication",
      required,
      h("p", { class: "section-status" }, "Status: ", status),
      body,
      ...msg.nodes,
    ),
    show,
  };
}

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
  invitation: "Joined with an invitation",
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
  const others = h(
    "button",
    { type: "button", class: "button button--secondary", "data-testid": "sessions-revoke-others", hidden: true },
    "Sign out all other sessions",
  );
  others.addEventListener("click", () =>
    busy(others, async () => {
      msg.clear();
      try {
        await withReauth(() => api.delete("/api/me/sessions", { signal }));
        msg.notice("All your other sessions were signed out.");
        await load();
      } catch (error) {
        showError(msg, error);
      }
    }),
  );

  async function load() {
    list.setAttribute("aria-busy", "true");
    try {
      const rows = await api.get("/api/me/sessions", { signal });
      list.replaceChildren(...rows.map(row));
      if (rows.length === 0) list.append(h("li", {}, "No active sessions."));
      others.hidden = !rows.some((s) => !s.current);
    } catch (error) {
      showError(msg, error);
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  function row(s) {
    const device = deviceName(s);
    const network = s.network ?? "an unknown network";
    const revoke = s.current
      ? null
      : h(
          "button",
          {
            type: "button",
            class: "button button--secondary button--small",
            "data-testid": "session-revoke",
            "aria-label": `Sign out ${device}, ${network}`,
          },
          "Sign out",
        );
    revoke?.addEventListener("click", () =>
      busy(revoke, async () => {
        msg.clear();
        try {
          await withReauth(() => api.delete(path`/api/me/sessions/${s.id}`, { signal }));
          msg.notice(`Signed out ${device}.`);
          await load();
        } catch (error) {
          showError(msg, error);
        }
      }),
    );
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
          METHODS[s.sign_in_method]
            ? [" · ", h("span", { "data-testid": "session-method" }, METHODS[s.sign_in_method])]
            : null,
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
