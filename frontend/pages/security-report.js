// Report a security issue (public, no account): POST /api/security/reports {description, steps_to_reproduce?,
// impact?, contact, name?} -> 202 {id, status, acknowledgement}. On success the form gives way to the reference;
// the acknowledgement email carries it too. The report's text never goes into the URL (method="post").

import { api } from "../api.js";
import { h } from "../dom.js";
import { cardForm, emailField, field, handleSubmit, link, messages, nameField, narrowPage, submitButton } from "../ui.js";

export const title = "Report a security issue";

const SECURITY_EMAIL = "security@protu.io";

export function render({ signal }) {
  const msg = messages("security-report");
  const fields = reportFields();
  const form = cardForm(
    { action: "/security/report", label: "Security report", testid: "security-report-form" },
    ...Object.values(fields).map((f) => f.node),
    submitButton("security-report-submit", "Send report"),
  );
  const slot = h("div", {}, form);
  const send = async () => {
    const body = { description: fields.description.input.value, contact: fields.contact.input.value.trim() };
    for (const key of ["steps_to_reproduce", "impact", "name"]) {
      if (fields[key].input.value.trim()) body[key] = fields[key].input.value;
    }
    const answer = await api.post("/api/security/reports", body, { signal });
    slot.replaceChildren(received(answer, body.contact));
    slot.querySelector("[data-testid=security-report-received]")?.focus();
  };
  handleSubmit(form, send, { messages: msg, fields });

  return narrowPage(
    {
      title: "Report a security issue",
      lead: "Found a vulnerability in Protu? Tell us here; you do not need an account.",
      testid: "security-report-page",
    },
    commitments(),
    ...msg.nodes,
    slot,
  );
}

// The report's fields, in order, keyed as the API names them.
function reportFields() {
  const text = (id, label, rows, more) => field({ id: `report-${id}`, tag: "textarea", rows, label, maxlength: "5000", testid: `report-${id}`, ...more });
  return {
    description: text("description", "Description of the vulnerability", "6", {
      hint: "What is wrong, and where (a page, an endpoint, a feature).",
      name: "description",
      required: true,
      maxlength: "10000",
    }),
    steps_to_reproduce: text("steps", "Steps to reproduce (optional)", "5", { name: "steps_to_reproduce" }),
    impact: text("impact", "Potential impact (optional)", "3", { hint: "What could an attacker do with it?", name: "impact" }),
    contact: emailField("report-contact", {
      label: "Your email address",
      hint: "We send the acknowledgement here, and keep you informed of what we find.",
      name: "contact",
      autocomplete: "email",
      maxlength: "254",
    }),
    name: nameField("report-name", {
      label: "Your name (optional)",
      hint: "How to credit you when it is fixed, if you wish.",
      required: false,
      maxlength: "200",
    }),
  };
}

function commitments() {
  return h(
    "div",
    { class: "card" },
    h("p", {}, "Please include a description of the vulnerability, the steps to reproduce it, its potential impact and your contact information."),
    h(
      "ul",
      { "data-testid": "security-report-commitments" },
      h("li", {}, "We acknowledge every report within 24 hours."),
      h("li", {}, "We keep you informed of our progress."),
      h("li", {}, "We credit you, if you wish, when it is fixed."),
      h("li", {}, "We take no legal action over good-faith reports."),
    ),
    h("p", { class: "muted" }, "Please keep the details private until we have fixed the issue. You can also email ", h("a", { href: `mailto:${SECURITY_EMAIL}` }, SECURITY_EMAIL), "."),
  );
}

function received(answer, to) {
  const sent = answer.acknowledgement === "sent";
  return h(
    "div",
    { class: "card", tabindex: "-1", "data-testid": "security-report-received" },
    h("p", { class: "notice" }, "Thank you. We received your report."),
    h("p", {}, "Your reference: ", h("strong", { "data-testid": "security-report-reference" }, answer.id)),
    h(
      "p",
      { "data-testid": "security-report-acknowledgement" },
      sent
        ? ["We emailed an acknowledgement to ", h("strong", {}, to), ". Quote the reference if you write to us."]
        : "We could not email the acknowledgement just now. A person will acknowledge your report within 24 hours; quote the reference if you write to us.",
    ),
    h("p", {}, link("/", "Go to the start page")),
  );
}
