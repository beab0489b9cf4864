// The company's settings, for its owners (GET/PATCH /api/settings): the company name, two-factor for everyone,
// the inactivity timeout, the email domains invitations may go to, and how long candidates are kept. A change
// sends the version it was loaded at; a stale one (409 version_conflict) is explained with an offer to load the
// latest settings. Admins get a short explanation instead of the form (the API answers them 403 anyway).

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { isConflict, textArea } from "../records.js";
import { mustSetUpMfa, session } from "../session.js";
import { busy, checkbox, describeError, field, handleSubmit, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Settings";

const FIELDS = ["company_name", "require_mfa", "session_idle_minutes", "allowed_email_domains", "candidate_retention_months"];

export function render({ signal }) {
  const view = h("div", { class: "settings" });
  let shown = null; // "owner" | "other"

  function show(user) {
    if (!user) return; // signed out: app.js takes the page away
    const kind = user.role === "owner" ? "owner" : "other";
    if (kind === shown) return;
    shown = kind;
    view.replaceChildren(...(kind === "owner" ? ownerView({ signal }) : notOwnerView(user)));
  }

  const stop = session.subscribe(show);
  signal.addEventListener("abort", stop);
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
      loading,
      form,
    ),
  ];
}
