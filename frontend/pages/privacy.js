// The privacy notice a sign-up accepts together with the terms of service (same version: pages/terms.js).

import { documentPage, TERMS_VERSION } from "./terms.js";

export const title = "Privacy notice";

const NOTICE = `
## Who is responsible
For the people your company records in Protu (candidates, employees, their answers) your company decides what is kept and why; Protu processes that data for it. For your own account (name, email address, sign-ins) Protu is responsible.
## What we keep, and why
- Your name, email address and password (only as a hash), to let you sign in.
- Your sessions (browser, network, times), so you can see and end them, and to notice misuse.
- An audit log of what happens in your company's account, so you can show who did what.
- Which version of these terms and this notice you accepted, and when.
## How it is protected
Data is encrypted when stored and when sent, with a key of its own for each company. Email is sent through our mail provider and payments are handled by our payment provider; neither receives your company's records.
## How long
Candidates' data is erased after the period your company sets. Erasing the company removes all its data; the audit log is kept sealed for seven years.
## Your rights
You can see, correct, export and erase your data: ask your company's owner. A security issue goes through the [security report page](/security/report). See also the [terms of service](/terms).
`;

export function render() {
  return documentPage(
    { title: "Privacy notice", lead: `Version ${TERMS_VERSION}. What Protu does with personal data, in plain words.`, testid: "privacy-page" },
    NOTICE,
  );
}
