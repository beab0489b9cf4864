// The terms of service a sign-up accepts (POST /api/auth/signup records TERMS_VERSION with the time). Plain text;
// a new version changes TERMS_VERSION here and in layers/core/protu/identity/signup.py together (a test checks).

import { h } from "../dom.js";
import { link, pageFrame } from "../ui.js";

export const title = "Terms of service";

export const TERMS_VERSION = "2026-12-01";

export function render() {
  return pageFrame(
    { title: "Terms of service", lead: `Version ${TERMS_VERSION}. These terms and the privacy notice are what you accept when you sign up.`, testid: "terms-page" },
    h(
      "div",
      { class: "card" },
      h("h2", {}, "The service"),
      h("p", {}, "Protu helps your company assess candidates and employees. The person who signs up becomes the owner of the company's account and accepts these terms for the company."),
      h("h2", {}, "Your account"),
      h("ul", {}, [
        h("li", {}, "Keep your password to yourself, and turn on two-factor authentication."),
        h("li", {}, "You decide who in your company has access, and with which role."),
        h("li", {}, "Tell us at once if you think someone else used your account."),
      ]),
      h("h2", {}, "Your data"),
      h("p", {}, "The data you put into Protu stays your company's. We process it only to run the service for you, as the ", link("/privacy", "privacy notice"), " explains. You can export it, and erase the company with all its data, at any time."),
      h("h2", {}, "Fair use"),
      h("p", {}, "Use Protu lawfully, only for people you have a reason to assess, and do not try to break its security. Report a weakness through the ", link("/security/report", "security report page"), " instead."),
      h("h2", {}, "Changes"),
      h("p", {}, "If these terms change, a new version is published here with its date."),
    ),
  );
}
