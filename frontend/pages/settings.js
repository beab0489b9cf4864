// The company's settings, for its owners (GET/PATCH /api/settings): the company name, two-factor for everyone,
// the inactivity timeout, the email domains invitations may go to, and how long candidates are kept. A change
// sends the version it was loaded at; a stale one (409 version_conflict) is explained with an offer to load the
// latest settings. Admins get a short explanation instead of the form (the API answers them 403 anyway).
// With the `settings` permission, "Single sign-on" follows (widgets/sso-settings.js: domains, provider, enforcement).
//
// With the `exports` permission (owners), the company's data-protection rights follow:
//   "Your data"    POST /api/exports asks for an archive of everything (a job builds it; while one is pending or
//                  running the same one is answered). GET /api/exports lists the last 7 days' exports, newest first;
//                  the list is asked again every 2 s while one is pending or running, until the page is left. A
//                  ready one offers "Download": only then is GET /api/exports/{id} called, as each answer with a
//                  download URL (S3, valid 5 minutes) is recorded in the audit log, and the browser goes to it.
//   "Danger zone"  POST /api/company/erase with the company's name typed exactly and the password (or, with
//                  two-factor on, a code) in the request itself, every time (the button stays disabled until the name
//                  matches and a password is given). Before sending, GET /api/company/erase counts what will be lost
//                  and a last dialog names it. 403 invalid_password is said at the password field (a wrong one
//                  counts as a failed sign-in; five sign the session out); 422 confirmation_mismatch at the name;
//                  503 billing_unavailable means nothing was erased. On 202 everyone is signed out (and every owner
//                  emailed): this tab forgets its session and goes to the sign-in page, which says the company was
//                  erased.

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import { allows, isConflict, none, sessionEnded, textArea } from "../records.js";
import { mustSetUpMfa, session } from "../session.js";
import { downloadButton, exportList, exportStatus } from "../widgets/export-list.js";
import { ssoSection } from "../widgets/sso-settings.js";
import {
  busy,
  Cancelled,
  cardSection,
  checkbox,
  describeError,
  dialog,
  field,
  handleSubmit,
  link,
  messages,
  ownersOnlyCard,
  pageFrame,
  proofField,
  showError,
  submitButton,
  timeNode,
} from "../ui.js";

export const title = "Settings";

const FIELDS = ["company_name", "require_mfa", "session_idle_minutes", "allowed_email_domains", "candidate_retention_months"];

export function render({ signal, navigate }) {
  const view = h("div", { class: "settings" });
  let shown = null; // "owner" | "other"
  let ownerSignal = null; // aborted when the owner's view goes (the page is left, or the owner became an admin)

  function show(user) {
    if (!user) return; // signed out: app.js takes the page away
    const kind = user.role === "owner" ? "owner" : "other";
    if (kind === shown) return;
    shown = kind;
    ownerSignal?.abort();
    if (kind !== "owner") return view.replaceChildren(...notOwnerView(user));
    const controller = new AbortController();
    ownerSignal = controller;
    const mine = controller.signal;
    const quiet = () => controller.abort(); // after an erasure: no more calls from this view
    const rights = allows(user, "exports")
      ? [...exportsView({ signal: mine }), ...erasureView({ signal: mine, navigate, quiet })]
      : [];
    const sso = allows(user, "settings") ? [ssoSection({ signal: mine })] : [];
    view.replaceChildren(...ownerView({ signal }), ...sso, ...rights);
  }

  const stop = session.subscribe(show);
  signal.addEventListener("abort", () => {
    stop();
    ownerSignal?.abort();
  });
  show(session.user);

  return pageFrame({ title: "Settings", lead: "How your company uses Protu.", testid: "settings-page" }, view);
}

function notOwnerView(user) {
  const company = user.company?.name ?? "your company";
  const text = ["Only owners can manage the company’s settings. Ask an owner of ", company, " to change them."];
  return [ownersOnlyCard({ testid: "settings-not-owner", linkTestid: "settings-account-link" }, ...text)];
}

// One domain per line (commas work too); blank lines and surrounding spaces do not count.
function parseDomains(text) {
  return text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter(Boolean);
}

function sameList(a, b) {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

// `view`: the form's fields and messages, the settings as last loaded (`settings`, with its version) and the
// domains last sent (a 422 names one by its index).
function ownerView({ signal }) {
  const fields = settingsFields();
  const view = {
    signal,
    fields,
    msg: messages("settings"),
    loading: h("p", { "data-testid": "settings-loading" }, "Loading the settings…"),
    updated: h("p", { class: "muted settings__updated", "data-testid": "settings-updated" }),
    dataKey: h("p", { class: "muted", "data-testid": "settings-data-key" }),
    settings: null,
    sentDomains: [],
  };
  view.form = h(
    "form",
    { class: "form", method: "post", action: "/settings", "aria-labelledby": "settings-form-title", "data-testid": "settings-form", hidden: true },
    fields.company_name.node,
    fields.require_mfa.node,
    h("div", { class: "form__pair" }, fields.session_idle_minutes.node, fields.candidate_retention_months.node),
    fields.allowed_email_domains.node,
    h("div", {}, submitButton("settings-save", "Save settings")),
    ...view.msg.nodes,
  );
  handleSubmit(view.form, () => saveSettings(view), { messages: view.msg });
  loadSettings(view);
  return [
    cardSection(
      { titleId: "settings-form-title", title: "Company settings", testid: "settings-section" },
      view.updated,
      view.dataKey,
      view.loading,
      view.form,
    ),
  ];
}

// The form's fields, keyed as the API names them.
function settingsFields() {
  const number = (id, label, [min, max], hint) =>
    field({ id, label, type: "number", inputmode: "numeric", min, max, step: "1", required: true, class: "settings__number", hint, testid: id });
  return {
    company_name: field({
      id: "settings-company-name",
      label: "Company name",
      type: "text",
      required: true,
      maxlength: "120",
      autocomplete: "organization",
      hint: "Shown to everyone in your company and in the invitations you send.",
      testid: "settings-company-name",
    }),
    require_mfa: checkbox({
      id: "settings-require-mfa",
      label: "Require two-factor authentication for everyone",
      testid: "settings-require-mfa",
      hint:
        "Anyone without it, you included, is sent to set it up and can use only their own account page until they do. " +
        "If yours is off, you set it up right after saving, then carry on.",
    }),
    session_idle_minutes: number(
      "settings-idle",
      "Sign out after inactivity (minutes)",
      ["5", "60"],
      "5 to 60 minutes. A shorter time applies to everyone signed in at once; a longer one from their next sign-in.",
    ),
    allowed_email_domains: textArea({
      id: "settings-domains",
      label: "Allowed email domains for invitations",
      rows: "4",
      spellcheck: "false",
      autocapitalize: "none",
      hint:
        "One domain per line, such as example.com (up to 20). Invitations go only to addresses at exactly these " +
        "domains: list a subdomain such as eu.example.com separately. Leave empty to allow any address.",
      testid: "settings-domains",
    }),
    candidate_retention_months: number(
      "settings-retention",
      "Keep candidates for (months)",
      ["1", "120"],
      "1 to 120 months after a candidate’s last activity (24 unless you change it).",
    ),
  };
}

function fillSettings(view, current) {
  const { fields } = view;
  view.settings = current;
  fields.company_name.input.value = current.company_name;
  fields.require_mfa.input.checked = current.require_mfa;
  fields.session_idle_minutes.input.value = String(current.session_idle_minutes);
  fields.allowed_email_domains.input.value = current.allowed_email_domains.join("\n");
  fields.candidate_retention_months.input.value = String(current.candidate_retention_months);
  for (const f of Object.values(fields)) f.clear();
  view.updated.replaceChildren("Last changed ", timeNode(current.updated_at, { testid: "settings-updated-at" }), ".");
  view.dataKey.replaceChildren(...keyText(current.data_key));
}

// The company's own encryption key (rotated on a schedule; older versions only open what they sealed).
function keyText(key) {
  if (!key) return ["Your company’s own encryption key is made when you first store people’s details."];
  return [
    "Your company’s data is encrypted with its own key, version ",
    h("strong", { "data-testid": "settings-data-key-version" }, String(key.version)),
    ", last rotated ",
    timeNode(key.rotated_at, { relative: false, testid: "settings-data-key-rotated" }),
    `. It is replaced every ${key.rotation_days} days; the next time is `,
    timeNode(key.next_rotation_at, { relative: false, testid: "settings-data-key-next" }),
    ".",
  ];
}

// What the form asks to change, or the first problem found at a field (no round trip needed for those).
function wanted({ fields, settings }) {
  const values = {
    company_name: fields.company_name.input.value.trim(),
    require_mfa: fields.require_mfa.input.checked,
    session_idle_minutes: Number(fields.session_idle_minutes.input.value),
    allowed_email_domains: parseDomains(fields.allowed_email_domains.input.value),
    candidate_retention_months: Number(fields.candidate_retention_months.input.value),
  };
  if (!values.company_name) return { problem: [fields.company_name, "Enter the company’s name."] };
  for (const [key, low, high] of [
    ["session_idle_minutes", 5, 60],
    ["candidate_retention_months", 1, 120],
  ]) {
    const value = values[key];
    if (fields[key].input.value.trim() === "" || !Number.isInteger(value) || value < low || value > high) {
      return { problem: [fields[key], `Enter a whole number from ${low} to ${high}.`] };
    }
  }
  const changed = {};
  for (const key of FIELDS) {
    const same = key === "allowed_email_domains" ? sameList(values[key], settings[key]) : values[key] === settings[key];
    if (!same) changed[key] = values[key];
  }
  return { changed };
}

async function loadSettings(view, { latest = false } = {}) {
  try {
    fillSettings(view, await api.get("/api/settings", { signal: view.signal }));
  } catch (error) {
    if (error?.name === "AbortError") return;
    view.loading.replaceChildren();
    if (error instanceof ApiError && error.code === "mfa_setup_required") return mfaFirst(view);
    if (error instanceof ApiError && error.status === 403) return recheckRole(view.signal);
    return showError(view.msg, error);
  }
  view.loading.remove();
  view.form.hidden = false;
  if (latest) {
    view.msg.notice("These are the latest settings. Make your change again.");
    view.fields.company_name.input.focus();
  }
}

// Two-factor is required and this owner has not set it up: the API opens only their account to them.
function mfaFirst(view) {
  view.form.replaceWith(
    h(
      "div",
      { class: "card" },
      h(
        "p",
        { "data-testid": "settings-mfa-first" },
        "Your company requires two-factor authentication. Set it up on your account page first, then come back to change the settings.",
      ),
      h("p", {}, link("/account", "Set up two-factor authentication", { "data-testid": "settings-mfa-link" })),
    ),
  );
}

// An owner made us an admin meanwhile: ask who we are, the view follows session.update.
async function recheckRole(signal) {
  try {
    session.update(await api.get("/api/me", { signal }));
  } catch {
    // Nothing more to say than the page already does.
  }
}

function showConflict(view) {
  const button = h(
    "button",
    { type: "button", class: "button button--secondary button--small notice__action", "data-testid": "settings-reload" },
    "Load the latest settings",
  );
  button.addEventListener("click", () => busy(button, () => loadSettings(view, { latest: true })));
  view.msg.error(
    "Someone else changed the settings after you opened them, so your changes were not saved. ",
    "Load the latest settings, then make your change again.",
    " ",
    button,
  );
  button.focus();
}

// A 422 names the field; for a domain it names the entry (allowed_email_domains[2]): quote it at the list.
function showInvalid(view, error) {
  const named = String(error.details?.field ?? "");
  const [key, index] = named.match(/^([a-z_]+)(?:\[(\d+)\])?$/)?.slice(1) ?? [];
  const target = key === "require_mfa" ? undefined : view.fields[key];
  const text = describeError(error);
  if (!target) return view.msg.error(text);
  const entry = index !== undefined ? view.sentDomains[Number(index)] : undefined;
  const said = entry !== undefined ? `“${entry}”: ${text}` : text;
  view.msg.error(said);
  target.error(said);
  target.input.focus();
}

async function saveSettings(view) {
  const { msg, signal } = view;
  const { problem, changed } = wanted(view);
  if (problem) {
    const [f, text] = problem;
    f.error(text);
    msg.error(text);
    f.input.focus();
    return;
  }
  if (Object.keys(changed).length === 0) {
    msg.notice("Nothing to save: the settings are unchanged.");
    return;
  }
  view.sentDomains = changed.allowed_email_domains ?? [];
  let saved;
  try {
    saved = await api.patch("/api/settings", { version: view.settings.version, ...changed }, { signal });
  } catch (error) {
    if (isConflict(error, "version_conflict")) return showConflict(view);
    if (error instanceof ApiError && error.status === 422) return showInvalid(view, error);
    if (error instanceof ApiError && error.code === "mfa_setup_required") return mfaFirst(view);
    throw error;
  }
  fillSettings(view, saved);
  await afterSave(view, saved, changed);
}

// The header shows the company's name; two-factor may now be required of this owner too.
async function afterSave({ msg, signal }, saved, changed) {
  const user = session.user;
  if (user && "company_name" in changed) session.update({ ...user, company: { ...user.company, name: saved.company_name } });
  if (saved.require_mfa && session.user && !session.user.mfa_enabled) {
    try {
      session.update(await api.get("/api/me", { signal }));
    } catch {
      // The route guards and the API still hold; the notice below says what to do.
    }
  }
  if (mustSetUpMfa(session.user)) {
    msg.notice(
      "Your settings are saved. Two-factor authentication is now required, of you too: ",
      link("/account", "set it up on your account page", { "data-testid": "settings-mfa-link" }),
      " to carry on.",
    );
    return;
  }
  msg.notice("Your settings are saved.");
}

// ------------------------------------------------------------------------------------------------- your data

const POLL_MS = 2000;
const BYTES = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${BYTES.format(bytes / 1024)} KB`;
  return `${BYTES.format(bytes / (1024 * 1024))} MB`;
}

function exportsView({ signal }) {
  const msg = messages("exports");
  const request = h("button", { type: "button", class: "button", "data-testid": "exports-request" }, "Export all company data");
  const list = exportList({
    signal,
    msg,
    path: "/api/exports",
    table: { caption: "Your company's exports of the last 7 days, newest first", columns: ["Requested", "Status", "Size", "Download"], testid: "exports-table" },
    row: exportRow,
    watchMs: POLL_MS,
    readyText: "Your export is ready. Download it from the list below.",
  });
  request.addEventListener("click", () =>
    busy(request, async () => {
      msg.clear();
      try {
        list.requested(await api.post("/api/exports", undefined, { signal }));
      } catch (error) {
        if (!sessionEnded(error)) showError(msg, error);
      }
    }),
  );
  return [
    cardSection(
      { titleId: "exports-title", title: "Your data", focusable: true, testid: "exports-section" },
      h(
        "p",
        {},
        "Download everything Protu holds for your company: the settings, the people who can sign in (without their ",
        "passwords or two-factor secrets), every record with its confidential fields opened, and the audit log, as ",
        "JSON files in a ZIP archive.",
      ),
      h(
        "p",
        { class: "field__hint" },
        "Exports are kept for 7 days. A download link works for 5 minutes, and each one is recorded in the audit log.",
      ),
      h("div", { class: "actions" }, request),
      ...msg.nodes,
      list.node,
    ),
  ];
}

function exportRow(item, download) {
  const failed = item.status === "failed" ? h("span", { class: "muted" }, "Ask for a new one") : none();
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "export-row", "data-export-id": item.id, "data-status": item.status },
    h("th", { scope: "row", class: "records-table__name" }, timeNode(item.requested_at, { testid: "export-requested" })),
    h("td", { "data-label": "Status" }, exportStatus(item, "export-status")),
    h("td", { "data-label": "Size", "data-testid": "export-size" }, typeof item.size_bytes === "number" ? size(item.size_bytes) : none()),
    h("td", {}, downloadButton(item, download, "export-download", failed)),
  );
}

// ----------------------------------------------------------------------------------------------- danger zone

function erasureView({ signal, navigate, quiet }) {
  const msg = messages("erase");
  const companyName = () => session.user?.company?.name ?? "";
  const named = h("strong", { "data-testid": "erase-company-name" }, companyName());
  const confirmation = field({
    id: "erase-confirmation",
    label: h("span", {}, "Type the company’s name, ", named, ", to confirm"),
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "none",
    required: true,
    maxlength: "200",
    testid: "erase-confirmation",
  });
  const proof = proofField({ prefix: "erase", allowCode: Boolean(session.user?.mfa_enabled) });
  const erase = submitButton("erase-submit", "Erase this company", { danger: true });
  const state = { working: false, ready: () => companyName().trim() !== "" && confirmation.input.value.trim() === companyName().trim() && proof.value() };
  state.sync = () => {
    named.textContent = companyName();
    erase.disabled = state.working || !state.ready();
  };
  state.sync();
  confirmation.input.addEventListener("input", state.sync);
  proof.node.addEventListener("input", state.sync);
  proof.node.addEventListener("toggle-proof", state.sync);
  const stop = session.subscribe((user) => user && state.sync()); // the name may change (above, or elsewhere)
  signal.addEventListener("abort", stop);

  const form = h(
    "form",
    { class: "form", method: "post", action: "/settings", "aria-labelledby": "erase-title", "data-testid": "erase-form" },
    confirmation.node,
    proof.node,
    h("div", {}, erase),
    ...msg.nodes,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    eraseCompany({ form, msg, confirmation, proof, state, signal, navigate, quiet });
  });
  return [dangerZone(form)];
}

async function eraseCompany({ form, msg, confirmation, proof, state, signal, navigate, quiet }) {
  if (state.working || !state.ready()) return;
  state.working = true;
  state.sync();
  form.setAttribute("aria-busy", "true");
  msg.clear();
  confirmation.clear();
  proof.clear();
  try {
    const preview = await api.get("/api/company/erase", { signal });
    if (!(await confirmErasure(preview))) throw new Cancelled();
    const body = { confirmation: confirmation.input.value.trim(), ...proof.body() };
    await session.ending(() => api.post("/api/company/erase", body, { signal }));
  } catch (error) {
    state.working = false;
    form.setAttribute("aria-busy", "false");
    state.sync();
    return erasureFailed(error, { msg, proof, confirmation });
  }
  // Erased: every session of the company is gone, this one too. Stop asking the API (an export being watched
  // would meet a 401), forget the session here and in the other tabs, and say what happened on the sign-in page.
  quiet();
  await session.signOut();
  session.setFlash("Your company was erased. Everyone in it has been signed out.");
  await navigate("/signin", { replace: true });
}

function erasureFailed(error, { msg, proof, confirmation }) {
  if (sessionEnded(error)) return;
  if (error instanceof ApiError && error.code === "billing_unavailable") {
    return msg.error("Our payment provider could not be reached, so nothing was erased. Try again in a moment.");
  }
  if (error instanceof ApiError && error.code === "code_just_used") return proof.error(error.message);
  if (error instanceof ApiError && ["invalid_password", "password_or_code_required"].includes(error.code)) {
    return proof.error(proof.usingCode() ? "That code is not correct." : "That password is not correct.");
  }
  return showError(msg, error, { confirmation });
}

function dangerZone(form) {
  return h(
    "section",
    { class: "card card--danger", "aria-labelledby": "danger-title", "data-testid": "danger-zone" },
    h("h2", { id: "danger-title" }, "Danger zone"),
    h("h3", { id: "erase-title" }, "Erase this company"),
    h("p", {}, "Erasing the company cannot be undone. At once:"),
    h(
      "ul",
      { class: "danger-list" },
      h(
        "li",
        {},
        "The company’s key is destroyed, so its data can no longer be read anywhere, backups included. ",
        "The rest is deleted in the next moments.",
      ),
      h("li", {}, "The subscription is cancelled, so nothing more is charged."),
      h("li", {}, "Everyone in the company, you included, is signed out and can no longer sign in."),
    ),
    h(
      "p",
      {},
      "The audit log keeps a record that the company was erased, and every owner is emailed. Export your data first ",
      "if you need a copy. You are asked for your password (or a code) and to confirm once more before anything happens.",
    ),
    form,
  );
}

// What an erasure counts (GET /api/company/erase), in the words the last question uses.
const LOST = [
  ["candidates", "candidate"],
  ["employees", "employee"],
  ["roles", "role"],
  ["teams", "team"],
  ["assessments", "assessment"],
  ["responses", "assessment response"],
  ["users", "user"],
];

// The last question before an erasure: what exactly will be lost (GET /api/company/erase counts it), what is kept.
// true to erase.
async function confirmErasure({ company, counts }) {
  const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const answer = await dialog({
    title: `Erase ${company} for good?`,
    testid: "erase-dialog",
    describedBy: "erase-dialog-lost",
    build: (close) => [
      h("p", { class: "dialog__text", id: "erase-dialog-lost" }, "This deletes, and nobody can bring back:"),
      h(
        "ul",
        { class: "danger-list", "data-testid": "erase-dialog-counts" },
        LOST.filter(([key]) => key in counts).map(([key, word]) => h("li", { "data-count": key }, count(counts[key] ?? 0, word))),
        h("li", {}, "the company’s settings, and everyone’s sign-in"),
      ),
      h(
        "p",
        { class: "dialog__text" },
        "The subscription is cancelled at once. The audit log keeps a record that the company was erased, and every owner is emailed.",
      ),
      h(
        "div",
        { class: "dialog__actions" },
        h(
          "button",
          { type: "button", class: "button button--secondary", "data-testid": "erase-dialog-cancel", autofocus: true, onClick: () => close(false) },
          "Keep the company",
        ),
        h(
          "button",
          { type: "button", class: "button button--danger", "data-testid": "erase-dialog-ok", onClick: () => close(true) },
          "Erase everything",
        ),
      ),
    ],
  });
  return answer === true;
}
