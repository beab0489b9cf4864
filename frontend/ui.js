// Building blocks shared by the pages: page frame, form fields, live messages, busy forms, dialogs, formatting.
//
//   const msg = messages("signin");              // two live regions: msg.notice(text), msg.error(text)
//   const email = field({ id: "signin-email", label: "Email", type: "email", testid: "signin-email" });
//   const form = h("form", {...}, email.node, submit, ...msg.nodes);
//   handleSubmit(form, async () => { ... }, { messages: msg, fields: { email } });
//
// Errors: `handleSubmit` shows an ApiError's message in the alert region and, when the server names a field
// (details.field, e.g. "password"), next to that field too (aria-invalid + aria-describedby) and focuses it.

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { passkeysSupported, usePasskey } from "./passkeys.js";
import { session } from "./session.js";

// -------------------------------------------------------------------------------------------------- page

export function pageFrame({ title, lead, testid, narrow = false }, ...children) {
  return h(
    "section",
    { class: ["page", narrow && "page--narrow"], "aria-labelledby": "page-title", "data-testid": testid },
    h("h1", { id: "page-title" }, title),
    lead ? h("p", { class: "lead" }, lead) : null,
    ...children,
  );
}

// What a page for owners shows anyone else: why (`text`), and the way to their own account.
export function ownersOnlyCard({ testid, linkTestid }, ...text) {
  return h(
    "div",
    { class: "card" },
    h("p", { "data-testid": testid }, ...text),
    h("p", {}, link("/account", "Go to your account", { "data-testid": linkTestid })),
  );
}

// A card <section> named by its heading: an <h2 id=`titleId`> with `title` (focusable: a page may move the focus
// there), or the `heading` given.
export function cardSection({ titleId, title, testid, tone, focusable = false, heading }, ...children) {
  return h(
    "section",
    { class: ["card", tone], "aria-labelledby": titleId, "data-testid": testid },
    heading ?? h("h2", { id: titleId, tabindex: focusable ? "-1" : null }, title),
    ...children,
  );
}

export function link(href, text, props = {}) {
  return h("a", { href, "data-link": true, ...props }, text);
}

// Plain text with a little structure, as nodes: "## " starts a heading, "- " an item of a list, any other line is a
// paragraph; "[words](/path)" is a link within the site. Text only: nothing in it becomes markup.
export function prose(text) {
  const nodes = [];
  let list = null;
  for (const line of text.split("\n").map((each) => each.trim())) {
    if (line.startsWith("- ")) {
      if (!list) nodes.push((list = h("ul", {})));
      list.append(h("li", {}, ...withLinks(line.slice(2))));
      continue;
    }
    list = null;
    if (line.startsWith("## ")) nodes.push(h("h2", {}, line.slice(3)));
    else if (line) nodes.push(h("p", {}, ...withLinks(line)));
  }
  return nodes;
}

const INLINE_LINK = /\[([^\]]+)\]\((\/[^)\s]*)\)/;

function withLinks(text) {
  return text.split(new RegExp(`(${INLINE_LINK.source})`)).reduce((parts, part, i, all) => {
    // split() answers: text, the whole link, its words, its path, text, ...
    if (i % 4 === 0) parts.push(part);
    else if (i % 4 === 1) parts.push(link(all[i + 2], all[i + 1]));
    return parts;
  }, []);
}

// ---------------------------------------------------------------------------------------------- messages

// A polite status region for notices and an alert region for errors, both on the page from the start (empty) so
// screen readers announce what appears in them. Test ids: <prefix>-notice and <prefix>-error.
export function messages(prefix) {
  const status = h("div", { class: "messages", role: "status" });
  const alert = h("div", { class: "messages", role: "alert" });
  return {
    nodes: [status, alert],
    notice(...content) {
      alert.replaceChildren();
      status.replaceChildren(h("p", { class: "notice", "data-testid": `${prefix}-notice` }, ...content));
    },
    error(...content) {
      status.replaceChildren();
      alert.replaceChildren(h("p", { class: "notice notice--error", "data-testid": `${prefix}-error` }, ...content));
    },
    clear() {
      status.replaceChildren();
      alert.replaceChildren();
    },
  };
}

// ------------------------------------------------------------------------------------------------ fields

// A labelled <input> (or `tag: "select"` with `options: [[value, label], ...]`) with an optional hint (a string
// or a node) and room for an error message. Returns { node, input, error(text), clear() }. A password field gets a
// "Show password" toggle beside it.
export function field({ id, label, hint, testid, tag = "input", options = [], ...props }) {
  const hintId = hint ? `${id}-hint` : null;
  const control =
    tag === "select"
      ? h(
          "select",
          { id, "data-testid": testid, "aria-describedby": hintId, ...props },
          options.map(([value, text]) => h("option", { value }, text)),
        )
      : h(tag, { id, "data-testid": testid, "aria-describedby": hintId, ...props });
  const hintNode = hint ? (typeof hint === "string" ? h("p", { id: hintId, class: "field__hint" }, hint) : hint) : null;
  if (hintNode && !hintNode.id) hintNode.id = hintId;
  const { message, error, clear } = fieldError(control, { id, hintId, testid });
  const row = props.type === "password" ? h("div", { class: "field__row" }, control, revealToggle(control, testid)) : control;
  return {
    node: h("div", { class: "field" }, h("label", { for: id }, label), hintNode, row, message),
    input: control,
    error,
    clear,
  };
}

// The error message under a control: error(text) shows it (aria-invalid, aria-describedby), clear() hides it, and
// so does changing the value.
function fieldError(control, { id, hintId, testid }) {
  const errorId = `${id}-error`;
  const message = h("p", { id: errorId, class: "field__error", "data-testid": testid && `${testid}-error`, hidden: true });

  function error(text) {
    message.textContent = text;
    message.hidden = false;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  }

  function clear() {
    message.textContent = "";
    message.hidden = true;
    control.removeAttribute("aria-invalid");
    if (hintId) control.setAttribute("aria-describedby", hintId);
    else control.removeAttribute("aria-describedby");
  }

  for (const type of ["input", "change"]) {
    control.addEventListener(type, () => {
      if (control.hasAttribute("aria-invalid")) clear();
    });
  }
  return { message, error, clear };
}

// A toggle button that shows the password typed (aria-pressed="true") or hides it again. Its name stays "Show
// password" in both states, as a toggle button's must (the pressed state says which).
function revealToggle(control, testid) {
  const button = h(
    "button",
    {
      type: "button",
      class: "button button--secondary button--small field__reveal",
      "aria-pressed": "false",
      "aria-controls": control.id,
      "data-testid": testid && `${testid}-reveal`,
    },
    "Show password",
  );
  button.addEventListener("click", () => {
    const show = control.type === "password";
    control.type = show ? "text" : "password";
    button.setAttribute("aria-pressed", String(show));
  });
  return button;
}

export function checkbox({ id, label, testid, checked = false, hint, ...props }) {
  const hintId = hint ? `${id}-hint` : null;
  const input = h("input", { id, type: "checkbox", "data-testid": testid, checked, "aria-describedby": hintId, ...props });
  const { message, error, clear } = fieldError(input, { id, hintId, testid });
  return {
    node: h(
      "div",
      { class: "field field--check" },
      input,
      h("label", { for: id }, label),
      hint ? h("p", { id: hintId, class: "field__hint" }, hint) : null,
      message,
    ),
    input,
    error,
    clear,
  };
}

// The password policy the server enforces (protu.identity.passwords), shown before anyone types.
export function passwordRules(id) {
  return h(
    "div",
    { id, class: "field__hint password-rules", "data-testid": "password-rules" },
    h("span", {}, "Your password must be:"),
    h(
      "ul",
      {},
      h("li", {}, "8 to 128 characters long (a long phrase is easiest: 15 or more is best)"),
      h("li", {}, "not a common password"),
      h("li", {}, "not based on your name, email address or company name"),
    ),
  );
}

// The fields the sign-in, sign-up and account forms share: `id` is also the test id; `more` adds or overrides
// attributes (a hint, a label, maxlength...).
export function emailField(id, more = {}) {
  return field({ id, label: "Email", type: "email", name: "email", autocomplete: "username", required: true, testid: id, ...more });
}

export function nameField(id, more = {}) {
  return field({ id, label: "Your name", name: "name", autocomplete: "name", required: true, maxlength: "100", testid: id, ...more });
}

// A password the person has (to sign in, or to prove it is them).
export function currentPasswordField(id, more = {}) {
  return field({ id, label: "Your password", type: "password", autocomplete: "current-password", required: true, testid: id, ...more });
}

// A new password, with the policy shown under it.
export function newPasswordField(id, more = {}) {
  const rules = { minlength: "8", maxlength: "128", hint: passwordRules(`${id}-hint`) };
  return field({ id, label: "New password", type: "password", name: "password", autocomplete: "new-password", required: true, ...rules, testid: id, ...more });
}

// "Sign out my other sessions", ticked unless said otherwise.
export function endOthersCheckbox(id, { checked = true, hint } = {}) {
  return checkbox({ id, label: "Sign out my other sessions", checked, testid: id, hint });
}

// A page's own form on a card, named by the page's title (or `label`). method="post": should a script ever fail,
// the browser must not put what was typed in a URL.
export function cardForm({ action, testid, label }, ...children) {
  const name = label ? { "aria-label": label } : { "aria-labelledby": "page-title" };
  return h("form", { class: "card form", method: "post", action, ...name, "data-testid": testid }, ...children);
}

// A small form within a page's section (add a passkey, add a domain): its fields, then `submit`, named by `label`.
export function sectionForm({ action, label, testid }, submit, ...nodes) {
  return h("form", { class: "form", method: "post", action, "aria-label": label, "data-testid": testid }, ...nodes, h("div", {}, submit));
}

export function submitButton(testid, text, { danger = false } = {}) {
  return h("button", { type: "submit", class: ["button", danger && "button--danger"], "data-testid": testid }, text);
}

// The frame of a narrow page (the signed-out pages): pageFrame with narrow on.
export function narrowPage({ title, lead, testid }, ...children) {
  return pageFrame({ title, lead, testid, narrow: true }, ...children);
}

// The card a page shows for an emailed link that cannot be used: what is wrong, and what to do (text or a node).
export function linkError(testid, text, next) {
  return h(
    "div",
    { class: "card" },
    h("p", { class: "notice notice--error", role: "alert", "data-testid": testid }, text),
    h("p", {}, next),
  );
}

// Ask the API (`path`) to email a link to the address typed in `email`, then on to "check your email" (?kind=), which
// names the address (kept in memory only).
export async function emailLink(email, { path, kind, navigate, signal }) {
  const address = email.input.value.trim();
  await api.post(path, { email: address }, { signal });
  session.lastEmail = address;
  await navigate(`/check-email?kind=${kind}`);
}

// A card that POSTs an emailed link's token (<origin>/<page>#token=..., read and hidden at once) to `path` as soon as
// the page opens, and shows what came of it (aria-live): `waiting` meanwhile, then the nodes `done(answer)` answers
// (none: the card stays as it is, e.g. when signing in moves on), or `failure(text)` (an incomplete link, or the error).
export function tokenResult({ path, signal, testid, waiting, incomplete, done, failure }) {
  const token = takeFragmentToken();
  const result = h("div", { class: "card", "aria-live": "polite", "aria-busy": "true", "data-testid": testid }, waiting);
  const show = (nodes) => {
    result.setAttribute("aria-busy", "false");
    if (nodes) result.replaceChildren(...[nodes].flat());
  };
  if (!token) show(failure(incomplete));
  else {
    (async () => {
      try {
        show(await done(await api.post(path, { token }, { signal })));
      } catch (error) {
        const text = describeError(error);
        show(text === null ? null : failure(text));
      }
    })();
  }
  return result;
}

// A page behind an emailed one-time link (<origin>/<page>#token=...), which the page reads and hides at once.
// Without a token, `deadLink(incomplete)` is all it shows; else `build(token)` answers { form, fields, send, done }: on
// submit, `send()` makes the request and `done(answer, body)` follows. When the server says the link cannot be
// used (invalid_token, token_expired), or `refused(error)` answers a node, that takes the form's place.
export function emailedLinkPage({ frame, msg, incomplete, deadLink, refused = () => null }, build) {
  const token = takeFragmentToken();
  if (!token) return frame(deadLink(incomplete));
  const { form, fields, send, done } = build(token);
  const body = h("div", {}, form);
  const handler = async () => {
    let answer;
    try {
      answer = await send();
    } catch (error) {
      const instead = DEAD_LINK.has(error?.code) && error instanceof ApiError ? deadLink(describeError(error)) : refused(error);
      if (!instead) throw error;
      return body.replaceChildren(instead);
    }
    await done(answer, body);
  };
  handleSubmit(form, handler, { messages: msg, fields });
  return frame(...msg.nodes, body);
}

const DEAD_LINK = new Set(["invalid_token", "token_expired"]);

// ------------------------------------------------------------------------------------------- submitting

export class Cancelled extends Error {
  constructor() {
    super("Cancelled");
    this.name = "Cancelled";
  }
}

// The text to show for a failure, or null when there is nothing to say (aborted, cancelled by the user).
export function describeError(error) {
  if (error?.name === "AbortError" || error instanceof Cancelled) return null;
  if (error instanceof ApiError) {
    if (error.status === 429 && error.retryAfter) return `${error.message} Try again in ${duration(error.retryAfter)}.`;
    return error.message;
  }
  console.error(error);
  return "Something went wrong. Try again in a moment.";
}

// Show `error` in `msg` and, when the server names one of `fields`, next to that field (which gets the focus).
export function showError(msg, error, fields = {}) {
  const text = describeError(error);
  if (text === null) return;
  msg.error(text);
  const target = fields[error?.details?.field];
  if (target) {
    target.error(text);
    target.input.focus();
  }
}

// Submit `form` through `handler` (no page load): one submission at a time, buttons disabled meanwhile,
// messages cleared first, failures shown with showError.
export function handleSubmit(form, handler, { messages: msg, fields = {} } = {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    msg?.clear();
    for (const f of Object.values(fields)) f.clear();
    const buttons = [...form.querySelectorAll("button")];
    form.setAttribute("aria-busy", "true");
    for (const button of buttons) button.disabled = true;
    try {
      await handler(event);
    } catch (error) {
      if (msg) showError(msg, error, fields);
      else if (describeError(error) !== null) throw error;
    } finally {
      form.setAttribute("aria-busy", "false");
      for (const button of buttons) button.disabled = false;
    }
  });
  return form;
}

// Run `action` while `button` is disabled (for buttons outside forms).
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

// ------------------------------------------------------------------------------------------------ dialogs

// A modal <dialog> (focus is kept inside, Escape cancels). `build(close)` returns its content; the promise
// resolves with what close(value) was given (undefined on Escape).
export function dialog({ title, testid, build, describedBy }) {
  return new Promise((resolve) => {
    const titleId = `${testid}-title`;
    const box = h("dialog", { class: "dialog", "aria-labelledby": titleId, "aria-describedby": describedBy, "data-testid": testid });
    let result;
    const close = (value) => {
      result = value;
      box.close();
    };
    box.append(h("h2", { id: titleId, class: "dialog__title" }, title), ...[build(close)].flat());
    box.addEventListener("close", () => {
      box.remove();
      resolve(result);
    });
    document.body.append(box);
    box.showModal();
  });
}

// "Are you sure?" -> true / false.
export async function confirmDialog({ title, message, confirmLabel, danger = false }) {
  const answer = await dialog({
    title,
    testid: "confirm-dialog",
    describedBy: "confirm-dialog-message",
    build: (close) => [
      h("p", { id: "confirm-dialog-message", "data-testid": "confirm-message" }, message),
      h(
        "div",
        { class: "dialog__actions" },
        h(
          "button",
          { type: "button", class: "button button--secondary", "data-testid": "confirm-cancel", autofocus: true, onClick: () => close(false) },
          "Cancel",
        ),
        h(
          "button",
          { type: "button", class: ["button", danger && "button--danger"], "data-testid": "confirm-ok", onClick: () => close(true) },
          confirmLabel,
        ),
      ),
    ],
  });
  return answer === true;
}

// On a click of `button`: ask `question` (confirmDialog's options, `danger` unless said otherwise), then run `action`
// while the button is busy, `msg` cleared first. A failure goes to `failed(error)` (by default: said in `msg`). The
// focus comes back to the button while it is still on the page.
export function confirmThen(button, { question, msg, action, failed = (error) => showError(msg, error) }) {
  button.addEventListener("click", async () => {
    if (await confirmDialog({ danger: true, ...question })) {
      await busy(button, async () => {
        msg.clear();
        try {
          await action();
        } catch (error) {
          await failed(error);
        }
      });
    }
    if (button.isConnected) button.focus();
  });
  return button;
}

// A small button of a table row, named for the row (`label`: "Remove Ada").
export function rowButton({ testid, label, danger = false }, text) {
  const tone = danger ? "button--danger" : "button--secondary";
  return h("button", { type: "button", class: ["button", tone, "button--small"], "data-testid": testid, "aria-label": label }, text);
}

// Ask for the password (or, with two-factor on, a code) and POST /api/auth/reauthenticate; or one of the person's
// passkeys (POST /api/auth/reauthenticate/passkey); or, signed in through the company's identity provider, a new
// sign-in there. true when confirmed.
export async function reauthenticate({ reason, allowCode = false } = {}) {
  const answer = await dialog({
    title: "Confirm it is you",
    testid: "reauth-dialog",
    build: (close) => {
      const msg = messages("reauth");
      const proof = proofField({ prefix: "reauth", allowCode });
      const form = h(
        "form",
        { class: "form", method: "post", novalidate: false },
        h("p", { class: "dialog__text" }, reason ?? "For your security, confirm your password to continue."),
        ssoConfirmation(msg),
        proof.node,
        passkeyConfirmation(msg, close),
        ...msg.nodes,
        h(
          "div",
          { class: "dialog__actions" },
          h("button", { type: "button", class: "button button--secondary", "data-testid": "reauth-cancel", onClick: () => close(false) }, "Cancel"),
          h("button", { type: "submit", class: "button", "data-testid": "reauth-submit" }, "Confirm"),
        ),
      );
      handleSubmit(
        form,
        async () => {
          await api.post("/api/auth/reauthenticate", proof.body());
          close(true);
        },
        { messages: msg, fields: proof.fields },
      );
      queueMicrotask(() => proof.focus());
      return form;
    },
  });
  return answer === true;
}

// "Use a passkey" in the reauthentication dialog: shown when this browser can use one and the person has one.
function passkeyConfirmation(msg, close) {
  const button = h("button", { type: "button", class: "button button--secondary", "data-testid": "reauth-passkey", hidden: true }, "Use a passkey instead");
  if (passkeysSupported()) api.get("/api/me/passkeys").then((found) => (button.hidden = !found.length), () => {});
  button.addEventListener("click", async () => {
    msg.clear();
    button.disabled = true;
    try {
      const { ceremony, options } = await api.post("/api/auth/reauthenticate/passkey/options", {});
      const credential = await usePasskey(options);
      await api.post("/api/auth/reauthenticate/passkey", { ceremony, credential });
      close(true);
    } catch (error) {
      showError(msg, error);
    } finally {
      button.disabled = false;
    }
  });
  return h("p", {}, button);
}

// Signed in through the company's identity provider: confirming is signing in there again (a new session; this one
// ends), after which the person does what they were doing once more.
function ssoConfirmation(msg) {
  if (session.user?.sign_in_method !== "sso") return null;
  const button = h("button", { type: "button", class: "button", "data-testid": "reauth-sso" }, "Sign in again with your identity provider");
  button.addEventListener("click", async () => {
    msg.clear();
    button.disabled = true;
    try {
      const started = await api.post("/api/auth/sso/start", { email: session.user.email });
      if (!started.sso) throw new ApiError(0, "sso_not_configured", "Your company no longer uses single sign-on: confirm with your password.");
      await session.signOut();
      window.location.assign(started.redirect_url);
    } catch (error) {
      button.disabled = false;
      showError(msg, error);
    }
  });
  return h(
    "div",
    {},
    h("p", { class: "field__hint" }, "You signed in through your company’s identity provider. Sign in there again to confirm it is you, then do this once more."),
    h("p", {}, button),
  );
}

// A field for a 6-digit code from an authenticator app (spaces allowed, as apps show "123 456").
export function codeField({ id, testid, label = "Code from your authenticator app", ...more }) {
  return field({
    id,
    label,
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9 ]{6,7}",
    maxlength: "7",
    required: true,
    testid,
    ...more,
  });
}

// The password, or (with `allowCode`) a code from the authenticator app instead: ids and test ids
// <prefix>-password, <prefix>-code and <prefix>-toggle. `body()` is what the API takes ({password} or {code});
// the node dispatches "toggle-proof" when the person switches.
export function proofField({ prefix, allowCode = false }) {
  const password = currentPasswordField(`${prefix}-password`);
  const code = codeField({ id: `${prefix}-code`, testid: `${prefix}-code` });
  const node = h("div", {});
  const labels = ["Use a code from your authenticator app", "Use your password instead"];
  const choice = alternatives(prefix, [password, code], labels, () => node.dispatchEvent(new Event("toggle-proof")));
  node.append(choice.slot, allowCode ? choice.toggle : null);
  const useCode = choice.usingOther;
  return {
    node,
    fields: { password, code },
    focus: () => choice.current().input.focus(),
    usingCode: useCode,
    value: () => (useCode() ? code.input.value.replace(/\s/g, "") : password.input.value),
    body: () => (useCode() ? { code: code.input.value.replace(/\s/g, "") } : { password: password.input.value }),
    error(text) {
      choice.current().error(text);
      choice.current().input.focus();
    },
    clear() {
      password.clear();
      code.clear();
    },
  };
}

// One of two fields in one place (a slot, id <prefix>-slot), and a link-style button (test id <prefix>-toggle) that
// switches to the other: `labels` are its words while `main` shows and while `other` does. `onSwitch` runs after
// each switch.
export function alternatives(prefix, [main, other], [toOther, toMain], onSwitch) {
  const id = `${prefix}-slot`;
  let useOther = false;
  const current = () => (useOther ? other : main);
  const slot = h("div", { id }, main.node);
  const toggle = h("button", { type: "button", class: "button--link", "data-testid": `${prefix}-toggle`, "aria-controls": id }, toOther);
  toggle.addEventListener("click", () => {
    useOther = !useOther;
    slot.replaceChildren(current().node);
    toggle.textContent = useOther ? toMain : toOther;
    current().input.focus();
    onSwitch?.();
  });
  return { slot, toggle, current, usingOther: () => useOther };
}

// Run `call`; when the server wants recent authentication (403 reauthentication_required), ask for it and run
// `call` once more. Throws Cancelled when the user closes the dialog.
export async function withReauth(call, options = {}) {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 403 && error.code === "reauthentication_required")) throw error;
    if (!(await reauthenticate({ reason: error.message, ...options }))) throw new Cancelled();
    return await call();
  }
}

// ---------------------------------------------------------------------------------------------- formatting

// API times are Unix seconds (ISO strings are accepted too).
export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const date = typeof value === "number" ? new Date(value < 1e12 ? value * 1000 : value) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

// <time datetime="..." title="full date">5 minutes ago</time>, or "Never".
export function timeNode(value, { relative = true, testid } = {}) {
  const date = toDate(value);
  if (!date) return h("span", { "data-testid": testid }, "Never");
  const full = DATE_TIME.format(date);
  return h("time", { datetime: date.toISOString(), title: full, "data-testid": testid }, relative ? ago(date) : full);
}

function ago(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return RELATIVE.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return RELATIVE.format(Math.round(seconds / 3600), "hour");
  if (abs < 30 * 86400) return RELATIVE.format(Math.round(seconds / 86400), "day");
  return DATE_TIME.format(date);
}

export function duration(seconds) {
  if (seconds < 60) return plural(seconds, "second");
  if (seconds < 3600) return plural(Math.ceil(seconds / 60), "minute");
  return plural(Math.ceil(seconds / 3600), "hour");
}

function plural(n, unit) {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------------------------------------- clipboard

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

// Select the text of `node` so the user can copy it by hand (the fallback when the clipboard is refused).
export function selectText(node) {
  const range = document.createRange();
  range.selectNodeContents(node);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

// A "Copy" button for `text`; when the clipboard is refused, `node` (an element or a text field) is selected for
// Ctrl+C instead. What happened is said in `msg` ("<what> copied.").
export function copyButton({ text, node, msg, what, label = "Copy", testid }) {
  const button = h("button", { type: "button", class: "button button--secondary button--small", "data-testid": testid }, label);
  button.addEventListener("click", async () => {
    if (await copyText(text)) return msg.notice(`${what} copied.`);
    if (typeof node.select === "function") node.select();
    else selectText(node);
    msg.notice(`Press Ctrl+C (or ⌘C) to copy the selected ${what.toLowerCase()}.`);
  });
  return button;
}

// Save `text` as a file (`type`: its media type). A blob: link with `download` saves without navigating; the CSP
// does not govern it.
export function downloadText(filename, text, type = "text/plain;charset=utf-8") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const anchor = document.createElement("a");
  anchor.href = url; // our own blob: URL, which h() (rightly) refuses for data-driven values
  anchor.download = filename;
  anchor.hidden = true;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ----------------------------------------------------------------------------------------------- tokens

// The one-time token of an emailed link (<origin>/verify-email#token=...). It is read once and removed from the
// address bar and history at once, so it does not linger where others could see or reuse it.
export function takeFragmentToken() {
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (window.location.hash) {
    window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search);
  }
  return token || null;
}
