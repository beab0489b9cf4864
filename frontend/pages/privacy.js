// The privacy notice a sign-up accepts together with the terms of service (same version: pages/terms.js).

import { h } from "../dom.js";
import { link, pageFrame } from "../ui.js";
import { TERMS_VERSION } from "./terms.js";

export const title = "Privacy notice";

export function render() {
  return pageFrame(
    { title: "Privacy notice", lead: `Version ${TERMS_VERSION}. What Protu does with personal data, in plain words.`, testid: "privacy-page" },
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Who is responsible"),
      h("p", {}, "For the people your company records in Protu (candidates, employees, their answers) your company decides what is kept and why; Protu processes that data for it. For your own account (name, email address, sign-ins) Protu is responsible."),
      h("h2", {}, "What we keep, and why"),
      h("ul", {}, [
        h("li", {}, "Your name, email address and password (only as a hash), to let you sign in."),
        h("li", {}, "Your sessions (browser, network, times), so you can see and end them, and to notice misuse."),
        h("li", {}, "An audit log of what happens in your company's account, so you can show who did what."),
        h("li", {}, "Which version of these terms and this notice you accepted, and when."),
      ]),
      h("h2", {}, "How it is protected"),
      h("p", {}, "Data is encrypted when stored and when sent, with a key of its own for each company. Email is sent through our mail provider and payments are handled by our payment provider; neither receives your company's records."),
      h("h2", {}, "How long"),
      h("p", {}, "Candidates' data is erased after the period your company sets. Erasing the company removes all its data; the audit log is kept sealed for seven years."),
      h("h2", {}, "Your rights"),
      h("p", {}, "You can see, correct, export and erase your data: ask your company's owner. A security issue goes through the ", link("/security/report", "security report page"), ". See also the ", link("/terms", "terms of service"), "."),
    ),
  );
}
