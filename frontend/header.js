// The site header's navigation and account area, kept in step with the session.
//
// Signed out: Status · Sign in · Sign up. Signed in: Status · Roles · Candidates · Employees · Teams · Assessments
// (with the `assessments` permission) · Account · Users · Audit log · Incidents · Billing · Settings (each with its
// permission: owners only), then the user's name, company and a Sign out button. index.html carries the signed-out
// links so the page reads well before this runs.

import { h } from "./dom.js";
import { session } from "./session.js";

// What an admin may do besides their own account (protu.identity.rbac; an owner may do everything). /api/me names
// the user's role; a `permissions` list, when the answer carries one, is used as it is.
const ADMIN_PERMISSIONS = new Set(["roles", "teams", "employees", "candidates", "assessments"]);

function allows(user, permission) {
  if (Array.isArray(user.permissions)) return user.permissions.includes(permission);
  return user.role === "owner" || (user.role === "admin" && ADMIN_PERMISSIONS.has(permission));
}

export function mountHeader({ nav, account, onSignOut }) {
  let pending = true; // until the start-up restore is done, show no account links rather than the wrong ones

  function navLink(href, text, testid) {
    return h("li", {}, h("a", { href, "data-link": true, "data-testid": testid }, text));
  }

  function render(user) {
    const links = [navLink("/", "Status", "nav-status")];
    if (user) {
      links.push(
        navLink("/roles", "Roles", "nav-roles"),
        navLink("/candidates", "Candidates", "nav-candidates"),
        navLink("/employees", "Employees", "nav-employees"),
        navLink("/teams", "Teams", "nav-teams"),
      );
      if (allows(user, "assessments")) links.push(navLink("/assessments", "Assessments", "nav-assessments"));
      links.push(navLink("/account", "Account", "nav-account"));
      if (allows(user, "users")) links.push(navLink("/users", "Users", "nav-users"));
      if (allows(user, "audit")) links.push(navLink("/audit", "Audit log", "nav-audit"));
      if (allows(user, "incidents")) links.push(navLink("/incidents", "Incidents", "nav-incidents"));
      if (allows(user, "billing")) links.push(navLink("/billing", "Billing", "nav-billing"));
      if (allows(user, "settings")) links.push(navLink("/settings", "Settings", "nav-settings"));
    } else if (!pending) {
      links.push(navLink("/signin", "Sign in", "nav-signin"), navLink("/signup", "Sign up", "nav-signup"));
    }
    nav.replaceChildren(...links);
    markCurrent();

    if (!user) {
      account.replaceChildren();
      account.hidden = true;
      return;
    }
    const signOut = h(
      "button",
      {
        type: "button",
        class: "button button--secondary button--small",
        "data-testid": "header-sign-out",
        onClick: async () => {
          signOut.disabled = true;
          await onSignOut();
        },
      },
      "Sign out",
    );
    account.hidden = false;
    account.replaceChildren(
      h(
        "p",
        { class: "site-account__who" },
        h("span", { class: "site-account__name", "data-testid": "header-user-name" }, user.name || user.email),
        " ", // read and copied as "Name Company", not "NameCompany"
        h("span", { class: "site-account__company", "data-testid": "header-company" }, user.company?.name ?? ""),
      ),
      signOut,
    );
  }

  function markCurrent() {
    for (const a of nav.querySelectorAll("a[data-link]")) {
      if (new URL(a.href).pathname === window.location.pathname) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  session.subscribe(render);
  render(session.user);
  return {
    // Called once the start-up restore has settled.
    ready() {
      pending = false;
      render(session.user);
    },
  };
}
