// The company's settings, for its owners (GET/PATCH /api/settings): the company name, two-factor for everyone,
// the inactivity timeout, the email domains invitations may go to, and how long candidates are kept. A change
// sends the version it was loaded at; a stale one (409 version_conflict) is explained with an offer to load the
// latest settings. Admins get a short explanation instead of the form (the API answers them 403 anyway).
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
import { allows, isConflict, none, recordTable, sessionEnded, textArea } from "../records.js";
import { mustSetUpMfa, session } from "../session.js";
import {
  busy,
  Cancelled,
  checkbox,
  describeError,
  dialog,
  field,
  handleSubmit,
  link,
  messages,
  pageFrame,
  proofField,
  showError,
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
    view.replaceChildren(...ownerView({ signal }), ...rights);
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
  return [
    h(
      "div",
      { class: "card" },
      h(
        "p",
        { "data-testid": "settings-not-owner" },
        "Only owners can manage the company’s settings. Ask an owner of ",
        user.company?.name ?? "your company",
        " to change them.",
      ),
      h("p", {}, link("/account", "Go to your account", { "data-testid": "settings-account-link" })),
    ),
  ];
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

function ownerView({ signal }) {
  const msg = messages("settings");
  const loading = h("p", { "data-testid": "settings-loading" }, "Loading the settings…");
  let settings = null;
  let sentDomains = [];

  const name = field({
    id: "settings-company-name",
    label: "Company name",
    type: "text",
    required: true,
    maxlength: "120",
    autocomplete: "organization",
    hint: "Shown to everyone in your company and in the invitations you send.",
    testid: "settings-company-name",
  });
  const requireMfa = checkbox({
    id: "settings-require-mfa",
    label: "Require two-factor authentication for everyone",
    testid: "settings-require-mfa",
    hint:
      "Anyone without it, you included, is sent to set it up and can use only their own account page until they do. " +
      "If yours is off, you set it up right after saving, then carry on.",
  });
  const idle = field({
    id: "settings-idle",
    label: "Sign out after inactivity (minutes)",
    type: "number",
    inputmode: "numeric",
    min: "5",
    max: "60",
    step: "1",
    required: true,
    class: "settings__number",
    hint: "5 to 60 minutes. A shorter time applies to everyone signed in at once; a longer one from their next sign-in.",
    testid: "settings-idle",
  });
  const domains = textArea({
    id: "settings-domains",
    label: "Allowed email domains for invitations",
    rows: "4",
    spellcheck: "false",
    autocapitalize: "none",
    hint:
      "One domain per line, such as example.com (up to 20). Invitations go only to addresses at exactly these " +
      "domains: list a subdomain such as eu.example.com separately. Leave empty to allow any address.",
    testid: "settings-domains",
  });
  const retention = field({
    id: "settings-retention",
    label: "Keep candidates for (months)",
    type: "number",
    inputmode: "numeric",
    min: "1",
    max: "120",
    step: "1",
    required: true,
    class: "settings__number",
    hint: "1 to 120 months after a candidate’s last activity (24 unless you change it).",
    testid: "settings-retention",
  });
  const fields = {
    company_name: name,
    session_idle_minutes: idle,
    allowed_email_domains: domains,
    candidate_retention_months: retention,
  };
  const updated = h("p", { class: "muted settings__updated", "data-testid": "settings-updated" });
  const dataKey = h("p", { class: "muted", "data-testid": "settings-data-key" });

  const form = h(
    "form",
    { class: "form", method: "post", action: "/settings", "aria-labelledby": "settings-form-title", "data-testid": "settings-form", hidden: true },
    name.node,
    requireMfa.node,
    h("div", { class: "form__pair" }, idle.node, retention.node),
    domains.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "settings-save" }, "Save settings")),
    ...msg.nodes,
  );

  function fill(current) {
    settings = current;
    name.input.value = current.company_name;
    requireMfa.input.checked = current.require_mfa;
    idle.input.value = String(current.session_idle_minutes);
    domains.input.value = current.allowed_email_domains.join("\n");
    retention.input.value = String(current.candidate_retention_months);
    for (const f of Object.values(fields)) f.clear();
    updated.replaceChildren("Last changed ", timeNode(current.updated_at, { testid: "settings-updated-at" }), ".");
    showKey(current.data_key);
  }

  // The company's own encryption key (rotated on a schedule; older versions only open what they sealed).
  function showKey(key) {
    if (!key) {
      dataKey.replaceChildren("Your company’s own encryption key is made when you first store people’s details.");
      return;
    }
    dataKey.replaceChildren(
      "Your company’s data is encrypted with its own key, version ",
      h("strong", { "data-testid": "settings-data-key-version" }, String(key.version)),
      ", last rotated ",
      timeNode(key.rotated_at, { relative: false, testid: "settings-data-key-rotated" }),
      `. It is replaced every ${key.rotation_days} days; the next time is `,
      timeNode(key.next_rotation_at, { relative: false, testid: "settings-data-key-next" }),
      ".",
    );
  }

  // What the form asks to change, or the first problem found at a field (no round trip needed for those).
  function wanted() {
    const values = {
      company_name: name.input.value.trim(),
      require_mfa: requireMfa.input.checked,
      session_idle_minutes: Number(idle.input.value),
      allowed_email_domains: parseDomains(domains.input.value),
      candidate_retention_months: Number(retention.input.value),
    };
    if (!values.company_name) return { problem: [name, "Enter the company’s name."] };
    for (const [f, low, high, key] of [
      [idle, 5, 60, "session_idle_minutes"],
      [retention, 1, 120, "candidate_retention_months"],
    ]) {
      const value = values[key];
      if (f.input.value.trim() === "" || !Number.isInteger(value) || value < low || value > high) {
        return { problem: [f, `Enter a whole number from ${low} to ${high}.`] };
      }
    }
    const changed = {};
    for (const key of FIELDS) {
      const same = key === "allowed_email_domains" ? sameList(values[key], settings[key]) : values[key] === settings[key];
      if (!same) changed[key] = values[key];
    }
    return { changed };
  }

  async function load({ latest = false } = {}) {
    try {
      fill(await api.get("/api/settings", { signal }));
    } catch (error) {
      if (error?.name === "AbortError") return;
      loading.replaceChildren();
      if (error instanceof ApiError && error.code === "mfa_setup_required") return mfaFirst();
      if (error instanceof ApiError && error.status === 403) return recheckRole();
      return showError(msg, error);
    }
    loading.remove();
    form.hidden = false;
    if (latest) {
      msg.notice("These are the latest settings. Make your change again.");
      name.input.focus();
    }
  }

  // Two-factor is required and this owner has not set it up: the API opens only their account to them.
  function mfaFirst() {
    form.replaceWith(
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
  async function recheckRole() {
    try {
      session.update(await api.get("/api/me", { signal }));
    } catch {
      // Nothing more to say than the page already does.
    }
  }

  function showConflict() {
    const button = h(
      "button",
      { type: "button", class: "button button--secondary button--small notice__action", "data-testid": "settings-reload" },
      "Load the latest settings",
    );
    button.addEventListener("click", () => busy(button, () => load({ latest: true })));
    msg.error(
      "Someone else changed the settings after you opened them, so your changes were not saved. ",
      "Load the latest settings, then make your change again.",
      " ",
      button,
    );
    button.focus();
  }

  // A 422 names the field; for a domain it names the entry (allowed_email_domains[2]): quote it at the list.
  function showInvalid(error) {
    const named = String(error.details?.field ?? "");
    const [key, index] = named.match(/^([a-z_]+)(?:\[(\d+)\])?$/)?.slice(1) ?? [];
    const target = fields[key];
    const text = describeError(error);
    if (!target) return msg.error(text);
    const entry = index !== undefined ? sentDomains[Number(index)] : undefined;
    const said = entry !== undefined ? `“${entry}”: ${text}` : text;
    msg.error(said);
    target.error(said);
    target.input.focus();
  }

  handleSubmit(
    form,
    async () => {
      const { problem, changed } = wanted();
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
      sentDomains = changed.allowed_email_domains ?? [];
      let saved;
      try {
        saved = await api.patch("/api/settings", { version: settings.version, ...changed }, { signal });
      } catch (error) {
        if (isConflict(error, "version_conflict")) return showConflict();
        if (error instanceof ApiError && error.status === 422) return showInvalid(error);
        if (error instanceof ApiError && error.code === "mfa_setup_required") return mfaFirst();
        throw error;
      }
      fill(saved);
      await afterSave(saved, changed);
    },
    { messages: msg },
  );

  // The header shows the company's name; two-factor may now be required of this owner too.
  async function afterSave(saved, changed) {
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

  load();
  return [
    h(
      "section",
      { class: "card", "aria-labelledby": "settings-form-title", "data-testid": "settings-section" },
      h("h2", { id: "settings-form-title" }, "Company settings"),
      updated,
      dataKey,
      loading,
      form,
    ),
  ];
}

// ------------------------------------------------------------------------------------------------- your data

const POLL_MS = 2000;
const WORKING = new Set(["pending", "running"]);
const EXPORT_STATUS = {
  pending: ["Waiting to start", null],
  running: ["Being prepared", null],
  ready: ["Ready", "badge--ok"],
  failed: ["Failed", "badge--bad"],
};
const BYTES = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${BYTES.format(bytes / 1024)} KB`;
  return `${BYTES.format(bytes / (1024 * 1024))} MB`;
}

function exportsView({ signal }) {
  const msg = messages("exports");
  const heading = h("h2", { id: "exports-title", tabindex: "-1" }, "Your data");
  const request = h("button", { type: "button", class: "button", "data-testid": "exports-request" }, "Export all company data");
  const { table, body, node } = recordTable({
    caption: "Your company's exports of the last 7 days, newest first",
    columns: ["Requested", "Status", "Size", "Download"],
    testid: "exports-table",
    labelledBy: "exports-title",
  });
  let items = []; // newest first, as the API lists them
  let timer = null;

  function statusBadge(item) {
    const [text, tone] = EXPORT_STATUS[item.status] ?? [item.status, null];
    return h("span", { class: ["badge", tone], "data-testid": "export-status", "data-status": item.status }, text);
  }

  function row(item) {
    let action = none();
    if (item.status === "ready") {
      action = h(
        "button",
        { type: "button", class: "button button--secondary button--small", "data-testid": "export-download" },
        "Download",
      );
      action.addEventListener("click", () => busy(action, () => download(item)));
    } else if (item.status === "failed") {
      action = h("span", { class: "muted" }, "Ask for a new one");
    }
    return h(
      "tr",
      { class: "records-table__row", "data-testid": "export-row", "data-export-id": item.id, "data-status": item.status },
      h("th", { scope: "row", class: "records-table__name" }, timeNode(item.requested_at, { testid: "export-requested" })),
      h("td", {}, statusBadge(item)),
      h("td", { "data-testid": "export-size" }, typeof item.size_bytes === "number" ? size(item.size_bytes) : none()),
      h("td", {}, action),
    );
  }

  function show(list) {
    const before = new Map(items.map((item) => [item.id, item.status]));
    items = list;
    body.replaceChildren(...items.map(row));
    if (items.length === 0) {
      body.append(
        h(
          "tr",
          { "data-testid": "exports-empty" },
          h("td", { colspan: "4", class: "records-table__empty" }, "No exports in the last 7 days."),
        ),
      );
    }
    table.setAttribute("aria-busy", "false");
    // Say when one we watched is done (the status region reads it out).
    for (const item of items) {
      if (!WORKING.has(before.get(item.id)) || WORKING.has(item.status)) continue;
      if (item.status === "ready") msg.notice("Your export is ready. Download it from the list below.");
      else msg.error("The export failed. Ask for a new one; if it fails again, contact support.");
    }
    schedule();
  }

  // While an export is pending or running, ask for the list again in a moment (the list never carries download
  // URLs, so watching it records no download in the audit log). Stops when the page is left.
  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (signal.aborted || !items.some((item) => WORKING.has(item.status))) return;
    timer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    timer = null;
    try {
      show((await api.get("/api/exports", { signal })).items);
    } catch (error) {
      if (error?.name === "AbortError" || sessionEnded(error)) return;
      showError(msg, error);
      schedule(); // a passing failure: keep watching
    }
  }

  async function load() {
    try {
      show((await api.get("/api/exports", { signal })).items);
    } catch (error) {
      if (error?.name === "AbortError" || sessionEnded(error)) return;
      table.setAttribute("aria-busy", "false");
      showError(msg, error);
    }
  }

  async function download(item) {
    msg.clear();
    let found;
    try {
      found = await api.get(path`/api/exports/${item.id}`, { signal });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        msg.error("This export is no longer kept (exports are kept for 7 days). Ask for a new one.");
        return load();
      }
      if (sessionEnded(error)) return;
      return showError(msg, error);
    }
    if (!found.download_url) {
      show(items.map((other) => (other.id === found.id ? found : other)));
      return msg.error("This export cannot be downloaded yet.");
    }
    // The archive comes as an attachment, so the browser saves it and stays on this page.
    window.location.assign(found.download_url);
    msg.notice("Your download is starting. The link works for 5 minutes; choose Download again for a new one.");
  }

  request.addEventListener("click", () =>
    busy(request, async () => {
      msg.clear();
      let item;
      try {
        item = await api.post("/api/exports", undefined, { signal });
      } catch (error) {
        if (sessionEnded(error)) return;
        return showError(msg, error);
      }
      const known = items.some((other) => other.id === item.id);
      show([item, ...items.filter((other) => other.id !== item.id)]);
      msg.notice(
        known
          ? "An export is already being prepared: it is the first one in the list."
          : "Your export is being prepared. It usually takes a minute; this list shows when it is ready.",
      );
    }),
  );

  signal.addEventListener("abort", () => clearTimeout(timer));
  load();

  return [
    h(
      "section",
      { class: "card", "aria-labelledby": "exports-title", "data-testid": "exports-section" },
      heading,
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
      node,
    ),
  ];
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
  const erase = h(
    "button",
    { type: "submit", class: "button button--danger", "data-testid": "erase-submit", disabled: true },
    "Erase this company",
  );
  let working = false;

  const matches = () => companyName().trim() !== "" && confirmation.input.value.trim() === companyName().trim();
  function sync() {
    named.textContent = companyName();
    erase.disabled = working || !matches() || !proof.value();
  }
  confirmation.input.addEventListener("input", sync);
  proof.node.addEventListener("input", sync);
  proof.node.addEventListener("toggle-proof", sync);
  const stop = session.subscribe((user) => user && sync()); // the name may change (above, or elsewhere)
  signal.addEventListener("abort", stop);

  const form = h(
    "form",
    { class: "form", method: "post", action: "/settings", "aria-labelledby": "erase-title", "data-testid": "erase-form" },
    confirmation.node,
    proof.node,
    h("div", {}, erase),
    ...msg.nodes,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (working || !matches() || !proof.value()) return;
    working = true;
    sync();
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
      working = false;
      form.setAttribute("aria-busy", "false");
      sync();
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
    // Erased: every session of the company is gone, this one too. Stop asking the API (an export being watched
    // would meet a 401), forget the session here and in the other tabs, and say what happened on the sign-in page.
    quiet();
    await session.signOut();
    session.setFlash("Your company was erased. Everyone in it has been signed out.");
    await navigate("/signin", { replace: true });
  });

  return [
    h(
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
    ),
  ];
}

// The password field, or (with two-factor on) a code from the authenticator app instead: what the erasure sends
// as proof that it is you, every time, however recently you signed in.
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
