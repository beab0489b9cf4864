// The settings page's "Single sign-on" section, for owners (permission `settings`):
//   Domains   GET/POST /api/settings/sso/domains, POST .../{domain}/verify, DELETE .../{domain}: a domain added waits
//             for its TXT record (name and value shown, each with a copy button); Verify says plainly what DNS
//             answered when it is refused (nothing yet, another value, no answer at all).
//   Provider  GET/PUT/DELETE /api/settings/sso: OIDC (issuer, client id, client secret: never shown back, "set" is
//             said instead, and leaving it empty keeps it) or SAML (metadata URL or the XML pasted), with the values
//             to give the provider (the API's answer names them); enforcing single sign-on at the verified domains,
//             with break-glass owners chosen among the owners who have two-factor on (GET /api/users).

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import { sessionEnded, textArea } from "../records.js";
import { busy, cardSection, checkbox, confirmThen, copyButton, field, handleSubmit, messages, rowButton, sectionForm, showError, submitButton } from "../ui.js";
import { groupError } from "./group-error.js";

export function ssoSection({ signal }) {
  const domainsPart = domainsView(signal);
  const provider = providerView(signal);
  return cardSection(
    { titleId: "sso-title", title: "Single sign-on", testid: "sso-section", focusable: true },
    h(
      "p",
      {},
      "Let people at your company’s email domains sign in through your own identity provider (such as Entra ID, Okta ",
      "or Google Workspace). Someone new at a verified domain gets an account, as an admin, the first time they sign in.",
    ),
    ...domainsPart,
    ...provider,
  );
}

// ------------------------------------------------------------------------------------------------ domains

function domainsView(signal) {
  const part = { signal, msg: messages("sso-domains") };
  part.list = h("ul", { class: "sessions", "data-testid": "sso-domains", "aria-busy": "true" });
  const domain = field({
    id: "sso-domain-new",
    label: "Domain",
    hint: "Your company’s email domain, such as example.com.",
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "none",
    required: true,
    maxlength: "253",
    testid: "sso-domain-new",
  });
  const form = sectionForm({ action: "/settings", label: "Add a domain", testid: "sso-domain-form" }, submitButton("sso-domain-add", "Add domain"), domain.node);
  part.load = async () => {
    part.list.setAttribute("aria-busy", "true");
    try {
      const rows = await api.get("/api/settings/sso/domains", { signal });
      part.list.replaceChildren(...rows.map((row) => domainRow(row, part)));
      if (rows.length === 0) part.list.append(h("li", { "data-testid": "sso-domains-none" }, "No domains yet."));
    } catch (error) {
      if (!sessionEnded(error)) showError(part.msg, error);
    } finally {
      part.list.setAttribute("aria-busy", "false");
    }
  };
  const add = async () => {
    const added = await api.post("/api/settings/sso/domains", { domain: domain.input.value.trim() }, { signal });
    domain.input.value = "";
    await part.load();
    part.msg.notice(`${added.domain} is added. Publish its TXT record, then choose Verify.`);
  };
  handleSubmit(form, add, { messages: part.msg, fields: { domain } });
  part.load();
  return [
    h("h3", { id: "sso-domains-title" }, "Your domains"),
    h("p", {}, "Prove each domain is your company’s with a DNS record. Only verified domains go to your identity provider."),
    part.list,
    form,
    ...part.msg.nodes,
  ];
}

function domainRow(item, part) {
  const verified = item.status === "verified";
  const badge = h(
    "span",
    { class: ["badge", verified ? "badge--ok" : "badge--warn"], "data-testid": "sso-domain-status" },
    verified ? "Verified" : "Waiting for its DNS record",
  );
  const remove = rowButton({ testid: "sso-domain-remove", label: `Remove ${item.domain}`, danger: true }, "Remove");
  confirmThen(remove, {
    question: {
      title: `Remove ${item.domain}?`,
      message: "Addresses at this domain will no longer sign in through your identity provider, and another company could verify it.",
      confirmLabel: "Remove domain",
    },
    msg: part.msg,
    action: async () => {
      await api.delete(path`/api/settings/sso/domains/${item.domain}`, { signal: part.signal });
      await part.load();
      part.msg.notice(`${item.domain} is removed.`);
    },
  });
  return h(
    "li",
    { "data-testid": "sso-domain", "data-domain": item.domain },
    h("p", {}, h("strong", {}, item.domain), " ", badge),
    verified ? null : txtRecord(item, part),
    h("div", { class: "actions" }, verified ? null : verifyButton(item, part), remove),
  );
}

// What to publish: the record's name and value, each with a copy button.
function txtRecord(item, part) {
  const name = h("code", { "data-testid": "sso-txt-name" }, item.txt_name);
  const value = h("code", { "data-testid": "sso-txt-value" }, item.txt_value);
  const copy = (text, node, what, testid) => copyButton({ text, node, msg: part.msg, what, label: `Copy ${what.toLowerCase()}`, testid });
  return [
    h("p", {}, "Publish this TXT record in your domain’s DNS, then choose Verify:"),
    h(
      "dl",
      { class: "details" },
      h("dt", {}, "Name"),
      h("dd", {}, name, " ", copy(item.txt_name, name, "Name", "sso-txt-name-copy")),
      h("dt", {}, "Value"),
      h("dd", {}, value, " ", copy(item.txt_value, value, "Value", "sso-txt-value-copy")),
    ),
  ];
}

function verifyButton(item, part) {
  const button = rowButton({ testid: "sso-domain-verify", label: `Verify ${item.domain}` }, "Verify");
  button.addEventListener("click", () =>
    busy(button, async () => {
      part.msg.clear();
      try {
        await api.post(path`/api/settings/sso/domains/${item.domain}/verify`, undefined, { signal: part.signal });
      } catch (error) {
        const said = verifyRefusal(item, error);
        if (said) part.msg.error(said);
        else if (!sessionEnded(error)) showError(part.msg, error);
        return;
      }
      await part.load();
      part.msg.notice(`${item.domain} is verified. Its addresses can now sign in through your identity provider.`);
    }),
  );
  return button;
}

// What DNS answered when a domain could not be verified, in plain words.
function verifyRefusal(item, error) {
  if (!(error instanceof ApiError)) return null;
  const found = (error.details?.found ?? []).map((value) => `“${value}”`).join(", ");
  const said = {
    domain_txt_not_found: `No TXT record was found at ${item.txt_name} yet. DNS changes can take a while to show: try again in a few minutes.`,
    domain_txt_mismatch: `The TXT record at ${item.txt_name} holds ${found || "another value"}, not the value shown. Change it, then verify again.`,
    dns_lookup_failed: "DNS did not answer for this domain just now. Try again in a few minutes.",
  };
  return said[error.code] ?? null;
}

// ----------------------------------------------------------------------------------------------- provider

function providerView(signal) {
  const fields = providerFields();
  const part = { signal, fields, msg: messages("sso"), connection: null };
  part.give = h("div", { "data-testid": "sso-give" });
  part.breakGlass = breakGlassGroup();
  part.remove = removeButton(part);
  const oidc = h("div", { "data-testid": "sso-oidc-fields" }, fields.issuer.node, fields.client_id.node, fields.client_secret.node);
  const saml = h("div", { "data-testid": "sso-saml-fields" }, fields.metadata_url.node, fields.metadata_xml.node);
  part.sync = () => {
    const isSaml = fields.protocol.input.value === "saml";
    oidc.hidden = isSaml;
    saml.hidden = !isSaml;
    part.give.replaceChildren(...giveToProvider(part, isSaml));
  };
  fields.protocol.input.addEventListener("change", part.sync);
  const form = h(
    "form",
    { class: "form", method: "post", action: "/settings", "aria-labelledby": "sso-provider-title", "data-testid": "sso-form" },
    fields.protocol.node,
    oidc,
    saml,
    part.give,
    fields.enforced.node,
    fields.require_provider_mfa.node,
    part.breakGlass.node,
    h("div", { class: "actions" }, submitButton("sso-save", "Save single sign-on"), part.remove),
    ...part.msg.nodes,
  );
  const named = { ...fields, break_glass_user_ids: part.breakGlass.error };
  handleSubmit(form, () => saveConnection(part), { messages: part.msg, fields: named });
  part.sync();
  loadConnection(part);
  return [h("h3", { id: "sso-provider-title" }, "Identity provider"), form];
}

// The form's fields, keyed as the API names them.
function providerFields() {
  const text = { autocomplete: "off", spellcheck: "false", autocapitalize: "none" };
  return {
    protocol: field({
      id: "sso-protocol",
      label: "Protocol",
      tag: "select",
      options: [
        ["oidc", "OpenID Connect (OIDC)"],
        ["saml", "SAML 2.0"],
      ],
      testid: "sso-protocol",
    }),
    issuer: field({ id: "sso-issuer", label: "Issuer URL", type: "url", maxlength: "2048", hint: "Such as https://login.example.com: your provider shows it with the app you register for Protu.", testid: "sso-issuer", ...text }),
    client_id: field({ id: "sso-client-id", label: "Client ID", maxlength: "255", testid: "sso-client-id", ...text }),
    client_secret: field({ id: "sso-client-secret", label: "Client secret", type: "password", maxlength: "1024", hint: " ", testid: "sso-client-secret", ...text }),
    metadata_url: field({ id: "sso-metadata-url", label: "Metadata URL", type: "url", maxlength: "2048", hint: "Your provider’s SAML metadata address. Or leave it empty and paste the XML below.", testid: "sso-metadata-url", ...text }),
    metadata_xml: textArea({ id: "sso-metadata-xml", label: "Metadata XML", rows: "5", maxlength: "60000", testid: "sso-metadata-xml", ...text }),
    enforced: checkbox({
      id: "sso-enforced",
      label: "Require single sign-on at the verified domains",
      hint: "Password and email-link sign-in are then refused for their addresses, except for the break-glass owners below.",
      testid: "sso-enforced",
    }),
    require_provider_mfa: checkbox({
      id: "sso-provider-mfa",
      label: "Require two-factor at the identity provider",
      hint: "Your provider answers for two-factor when people sign in through it. With this on, a sign-in it does not report as two-factor (OIDC amr, SAML authentication context) is refused.",
      testid: "sso-provider-mfa",
    }),
  };
}

// What to register at the provider: for OIDC the redirect URI; for SAML the ACS URL, the entity ID and Protu's
// metadata URL. From the API's answer, or built from this site's address before it came.
function giveToProvider(part, isSaml) {
  const c = part.connection ?? {};
  const origin = window.location.origin;
  const values = isSaml
    ? [
        ["ACS URL (reply URL)", c.acs_url || `${origin}/api/auth/sso/saml/acs`, "sso-acs-url"],
        ["Entity ID", c.sp_entity_id || `${origin}/api/auth/sso/saml/metadata`, "sso-entity-id"],
        ["Protu’s metadata URL", `${origin}/api/auth/sso/saml/metadata`, "sso-sp-metadata"],
      ]
    : [["Redirect URI", c.redirect_uri || `${origin}/api/auth/sso/oidc/callback`, "sso-redirect-uri"]];
  const rows = values.flatMap(([label, value, testid]) => {
    const node = h("code", { "data-testid": testid }, value);
    const copy = copyButton({ text: value, node, msg: part.msg, what: label, label: `Copy ${label}`, testid: `${testid}-copy` });
    return [h("dt", {}, label), h("dd", {}, node, " ", copy)];
  });
  return [h("p", { class: "field__hint" }, "Give your identity provider these values when you register Protu there:"), h("dl", { class: "details" }, ...rows)];
}

function breakGlassGroup() {
  const box = h("div", { class: "question-group", "data-testid": "sso-break-glass-owners" });
  const error = groupError({ id: "sso-break-glass-error", testid: "sso-break-glass-error", focus: () => box.querySelector("input:not([disabled])") ?? document.getElementById("sso-enforced") });
  const node = h(
    "fieldset",
    { class: "question-group", "aria-describedby": "sso-break-glass-hint sso-break-glass-error", "data-testid": "sso-break-glass" },
    h("legend", {}, "Break-glass owners"),
    h(
      "p",
      { id: "sso-break-glass-hint", class: "field__hint" },
      "They may still sign in with their password if your identity provider is down. While single sign-on is required, ",
      "choose at least one; only owners with two-factor authentication on can be chosen.",
    ),
    box,
    error.node,
  );
  return { node, box, error, chosen: () => [...box.querySelectorAll("input:checked")].map((input) => input.value) };
}

// An owner counts when they have a second factor: the authenticator app or a passkey (`second_factor`).
function ownerChoice(owner, chosen) {
  const off = !(owner.second_factor ?? owner.mfa_enabled);
  return checkbox({
    id: `sso-break-glass-${owner.id}`,
    label: `${owner.name || owner.email} (${owner.email})`,
    testid: `sso-break-glass-${owner.id}`,
    value: owner.id,
    checked: chosen.includes(owner.id),
    disabled: off && !chosen.includes(owner.id),
    hint: off ? "This owner has no second step at sign-in (an authenticator app or a passkey) yet: they can be chosen once they add one." : undefined,
  }).node;
}

async function loadConnection(part) {
  try {
    const [connection, users] = await Promise.all([
      api.get("/api/settings/sso", { signal: part.signal }),
      api.get("/api/users", { signal: part.signal }),
    ]);
    part.owners = users.filter((user) => user.role === "owner" && user.status === "active");
    fillConnection(part, connection);
  } catch (error) {
    if (!sessionEnded(error)) showError(part.msg, error);
  }
}

function fillConnection(part, connection) {
  const { fields } = part;
  part.connection = connection;
  fields.protocol.input.value = connection.protocol ?? "oidc";
  fields.issuer.input.value = connection.issuer ?? "";
  fields.client_id.input.value = connection.client_id ?? "";
  fields.client_secret.input.value = "";
  fields.client_secret.input.required = false;
  fields.client_secret.node.querySelector(".field__hint").textContent = connection.client_secret_set
    ? "A secret is set (it is never shown). Leave this empty to keep it, or enter a new one."
    : "From the app you register for Protu at your provider.";
  fields.metadata_url.input.value = connection.metadata_url ?? "";
  fields.metadata_xml.input.value = "";
  fields.enforced.input.checked = Boolean(connection.enforced);
  fields.require_provider_mfa.input.checked = Boolean(connection.require_provider_mfa);
  const chosen = connection.break_glass_user_ids ?? [];
  part.breakGlass.box.replaceChildren(...(part.owners ?? []).map((owner) => ownerChoice(owner, chosen)));
  part.remove.hidden = !connection.configured;
  for (const f of Object.values(fields)) f.clear();
  part.sync();
}

// What the form sends: only the fields of the chosen protocol; an empty secret is left out (the saved one is kept).
function connectionBody({ fields, breakGlass }) {
  const value = (key) => fields[key].input.value.trim();
  const body = {
    protocol: fields.protocol.input.value,
    enforced: fields.enforced.input.checked,
    require_provider_mfa: fields.require_provider_mfa.input.checked,
    break_glass_user_ids: breakGlass.chosen(),
  };
  const keys = body.protocol === "saml" ? ["metadata_url", "metadata_xml"] : ["issuer", "client_id", "client_secret"];
  for (const key of keys) if (value(key)) body[key] = value(key);
  return body;
}

async function saveConnection(part) {
  const saved = await api.put("/api/settings/sso", connectionBody(part), { signal: part.signal });
  fillConnection(part, saved);
  part.msg.notice(
    saved.enforced
      ? "Single sign-on is saved and now required at your verified domains."
      : "Single sign-on is saved. People at your verified domains can now use it to sign in.",
  );
}

function removeButton(part) {
  const button = h("button", { type: "button", class: "button button--danger", "data-testid": "sso-remove", hidden: true }, "Remove connection");
  return confirmThen(button, {
    question: {
      title: "Remove single sign-on?",
      message: "Everyone signs in with a password or an email link again. Your domains stay in the list.",
      confirmLabel: "Remove connection",
    },
    msg: part.msg,
    action: async () => {
      await api.delete("/api/settings/sso", { signal: part.signal });
      fillConnection(part, { configured: false });
      part.msg.notice("Single sign-on is removed.");
    },
  });
}
