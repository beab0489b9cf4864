// Report a security issue (public, no account): POST /api/security/reports {description, steps_to_reproduce?,
// impact?, contact, name?} -> 202 {id, status, acknowledgement}. On success the form gives way to the reference;
// the acknowledgement email carries it too. The report's text never goes into the URL (method="post").

import { api } from "../api.js";
import { h } from "../dom.js";
import { field, handleSubmit, link, messages, pageFrame } from "../ui.js";

export const title = "Report a security issue";

const SECURITY_EMAIL = "security@protu.io";

export function render({ signal }) {
  const msg = messages("security-report");
  const description = field({
    id: "report-description",
    tag: "textarea",
    rows: "6",
    label: "Description of the vulnerability",
    hint: "What is wrong, and where (a page, an endpoint, a feature).",
    name: "description",
    required: true,
    maxlength: "10000",
    testid: "report-description",
  });
  const steps = field({
    id: "report-steps",
    tag: "textarea",
    rows: "5",
    label: "Steps to reproduce (optional)",
    name: "steps_to_reproduce",
    maxlength: "5000",
    testid: "report-steps",
  });
  const impact = field({
    id: "report-impact",
    tag: "textarea",
    rows: "3",
    label: "Potential impact (optional)",
    hint: "What could an attacker do with it?",
    name: "impact",
    maxlength: "5000",
    testid: "report-impact",
  });
  const contact = field({
    id: "report-contact",
    label: "Your email address",
    hint: "We send the acknowledgement here, and keep you informed of what we find.",
    type: "email",
    name: "contact",
    autocomplete: "email",
    required: true,
    maxlength: "254",
    testid: "report-contact",
  });
  const name = field({
    id: "report-name",
    label: "Your name (optional)",
    hint: "How to credit you when it is fixed, if you wish.",
    name: "name",
    autocomplete: "name",
    maxlength: "200",
    testid: "report-name",
  });

  const form = h(
    "form",
    { class: "card form", method: "post", action: "/security/report", "aria-label": "Security report", "data-testid": "security-report-form" },
    description.node,
    steps.node,
    impact.node,
    contact.node,
    name.node,
    h("button", { type: "submit", class: "button", "data-testid": "security-report-submit" }, "Send report"),
  );
  const slot = h("div", {}, form);

  handleSubmit(
    form,
    async () => {
      const body = { description: description.input.value, contact: contact.input.value.trim() };
      for (const [key, f] of [
        ["steps_to_reproduce", steps],
        ["impact", impact],
        ["name", name],
      ]) {
        if (f.input.value.trim()) body[key] = f.input.value;
      }
      const answer = await api.post("/api/security/reports", body, { signal });
      slot.replaceChildren(received(answer, body.contact));
      slot.querySelector("[data-testid=security-report-received]")?.focus();
    },
    {
      messages: msg,
      fields: { description, steps_to_reproduce: steps, impact, contact, name },
    },
  );

  return pageFrame(
    {
      title: "Report a security issue",
      lead: "Found a vulnerability in Protu? Tell us here; you do not need an account.",
      testid: "security-report-page",
      narrow: true,
    },
    h(
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
    ),
    ...msg.nodes,
    slot,
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
