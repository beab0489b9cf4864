// The start page for visitors: what Protu is, for whom, how the data is kept, then sign up or sign in; links to
// the security and status pages. A signed-in person never sees it (app.js sends them to their own start page).

import { h } from "../dom.js";
import { link, pageFrame } from "../ui.js";

export const title = "HR assessments, kept safe";

export function render() {
  const lead =
    "Protu keeps your company's roles, candidates, employees and teams in one place, and lets you assess them " +
    "with questions you write.";
  return pageFrame(
    { title: "HR assessments, kept safe", lead, testid: "home" },
    h(
      "ul",
      { class: "home__points" },
      h("li", {}, "For HR teams and hiring managers of small and medium companies."),
      h("li", {}, "Each company's data is encrypted with a key of its own."),
      h("li", {}, "Every change is written to an audit log that cannot be rewritten, so you can show who did what."),
    ),
    h(
      "p",
      { class: "actions" },
      link("/signup", "Create an account", { class: "button", "data-testid": "home-signup" }),
      link("/signin", "Sign in", { class: "button button--secondary", "data-testid": "home-signin" }),
    ),
    h(
      "p",
      { class: "page__aside" },
      link("/status", "Service status", { "data-testid": "home-status" }),
      " · ",
      link("/security/report", "Security: report a weakness", { "data-testid": "home-security" }),
      " · ",
      link("/privacy", "Privacy notice"),
    ),
  );
}
