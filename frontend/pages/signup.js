// Sign up: a new company with you as its owner (POST /api/auth/signup), then "check your email". The server
// answers the same for an email that already has an account, so nothing here reveals who is registered.

import { api } from "../api.js";
import { h } from "../dom.js";
import { session } from "../session.js";
import { checkbox, field, handleSubmit, link, messages, pageFrame, passwordRules } from "../ui.js";

export const title = "Sign up";

export function render({ navigate, signal }) {
  const msg = messages("signup");
  const company = field({
    id: "signup-company",
    label: "Company name",
    name: "company_name",
    autocomplete: "organization",
    required: true,
    maxlength: "100",
    testid: "signup-company",
  });
  const name = field({
    id: "signup-name",
    label: "Your name",
    name: "name",
    autocomplete: "name",
    required: true,
    maxlength: "100",
    testid: "signup-name",
  });
  const email = field({
    id: "signup-email",
    label: "Work email",
    type: "email",
    name: "email",
    autocomplete: "email",
    required: true,
    maxlength: "254",
    testid: "signup-email",
  });
  const password = field({
    id: "signup-password",
    label: "Password",
    type: "password",
    name: "password",
    autocomplete: "new-password",
    required: true,
    minlength: "8",
    maxlength: "128",
    hint: passwordRules("signup-password-hint"),
    testid: "signup-password",
  });
  // The API records the version of the terms accepted and the time (identity/signup.py TERMS_VERSION).
  const opens = { target: "_blank", rel: "noopener" }; // a new tab: what is typed here stays
  const terms = checkbox({
    id: "signup-terms",
    label: "I accept the terms of service and the privacy notice",
    required: true,
    testid: "signup-terms",
    hint: [
      "Read the ",
      h("a", { href: "/terms", ...opens, "data-testid": "signup-terms-link" }, "terms of service"),
      " and the ",
      h("a", { href: "/privacy", ...opens, "data-testid": "signup-privacy-link" }, "privacy notice"),
      " (each opens in a new tab).",
    ],
  });

  const form = h(
    "form",
    { class: "card form", method: "post", action: "/signup", "aria-labelledby": "page-title", "data-testid": "signup-form" },
    company.node,
    name.node,
    email.node,
    password.node,
    terms.node,
    h("button", { type: "submit", class: "button", "data-testid": "signup-submit" }, "Create account"),
  );
  handleSubmit(
    form,
    async () => {
      await api.post(
        "/api/auth/signup",
        {
          company_name: company.input.value.trim(),
          name: name.input.value.trim(),
          email: email.input.value.trim(),
          password: password.input.value,
          accept_terms: terms.input.checked,
        },
        { signal },
      );
      session.lastEmail = email.input.value.trim();
      await navigate("/check-email?kind=signup");
    },
    { messages: msg, fields: { company_name: company, name, email, password, accept_terms: terms } },
  );

  return pageFrame(
    {
      title: "Create your Protu account",
      lead: "Set up your company. You will be its owner and can invite colleagues afterwards.",
      testid: "signup-page",
      narrow: true,
    },
    ...msg.nodes,
    form,
    h("p", {}, "Already have an account? ", link("/signin", "Sign in", { "data-testid": "signup-signin-link" })),
  );
}
