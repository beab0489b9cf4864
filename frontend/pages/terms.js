// The terms of service a sign-up accepts (POST /api/auth/signup records TERMS_VERSION with the time). Plain text;
// a new version changes TERMS_VERSION here and in layers/core/protu/identity/signup.py together (a test checks).

import { h } from "../dom.js";
import { pageFrame, prose } from "../ui.js";

export const title = "Terms of service";

export const TERMS_VERSION = "2026-12-01";

const TERMS = `
## The service
Protu helps your company assess candidates and employees. The person who signs up becomes the owner of the company's account and accepts these terms for the company.
## Your account
- Keep your password to yourself, and turn on two-factor authentication.
- You decide who in your company has access, and with which role.
- Tell us at once if you think someone else used your account.
## Your data
The data you put into Protu stays your company's. We process it only to run the service for you, as the [privacy notice](/privacy) explains. You can export it, and erase the company with all its data, at any time.
## Fair use
Use Protu lawfully, only for people you have a reason to assess, and do not try to break its security. Report a weakness through the [security report page](/security/report) instead.
## Changes
If these terms change, a new version is published here with its date.
`;

export function render() {
  return documentPage(
    { title: "Terms of service", lead: `Version ${TERMS_VERSION}. These terms and the privacy notice are what you accept when you sign up.`, testid: "terms-page" },
    TERMS,
  );
}

// A page of plain text (see prose() in ui.js) on a card.
export function documentPage(frame, text) {
  return pageFrame(frame, h("div", { class: "card" }, ...prose(text)));
}
