// Sign up: a new company with you as its owner (POST /api/auth/signup), then "check your email". The server
// answers the same for an email that already has an account, so nothing here reveals who is registered.

import { api } from "../api.js";
import { h } from "../dom.js";
import { session } from "../session.js";
import { cardForm, checkbox, emailField, field, handleSubmit, link, messages, nameField, narrowPage, newPasswordField, submitButton } from "../ui.js";

export const title = "Sign up";

export function render({ navigate, signal }) {
  const msg = messages("signup");
  const fields = signupFields();
  const { company_name: company, name, email, password, accept_terms: terms } = fields;
  const form = cardForm(
    { action: "/signup", testid: "signup-form" },
    ...Object.values(fields).map((f) => f.node),
    submitButton("signup-submit", "Create account"),
  );
  const signUp = async () => {
    const body = {
      company_name: company.input.value.trim(),
      name: name.input.value.trim(),
      email: email.input.value.trim(),
      password: password.input.value,
      accept_terms: terms.input.checked,
    };
    await api.post("/api/auth/signup", body, { signal });
    session.lastEmail = body.email;
    await navigate("/check-email?kind=signup");
  };
  handleSubmit(form, signUp, { messages: msg, fields });

  return narrowPage(
    {
      title: "Create your Protu account",
      lead: "Set up your company. You will be its owner and can invite colleagues afterwards.",
      testid: "signup-page",
    },
    ...msg.nodes,
    form,
    h("p", {}, "Already have an account? ", link("/signin", "Sign in", { "data-testid": "signup-signin-link" })),
  );
}

// The form's fields, in order, keyed as the API names them.
function signupFields() {
  return {
    company_name: field({
      id: "signup-company",
      label: "Company name",
      name: "company_name",
      autocomplete: "organization",
      required: true,
      maxlength: "100",
      testid: "signup-company",
    }),
    name: nameField("signup-name"),
    email: emailField("signup-email", { label: "Work email", autocomplete: "email", maxlength: "254" }),
    password: newPasswordField("signup-password", { label: "Password" }),
    accept_terms: termsCheckbox(),
  };
}

// The API records the version of the terms accepted and the time (identity/signup.py TERMS_VERSION).
function termsCheckbox() {
  const opens = { target: "_blank", rel: "noopener" }; // a new tab: what is typed here stays
  return checkbox({
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
}
