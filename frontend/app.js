// Entry point: the page registry, the header and the router. Add a page by adding a route here and a module in
// pages/. `guard: requireSignIn` protects a page (-> /signin?next=<page>); `guestOnly` sends signed-in users on.

import { mountHeader } from "./header.js";
import { mountIdleWatch } from "./idle.js";
import { mountNotices } from "./notices.js";
import { createRouter } from "./router.js";
import { arrivedFromSso, guestOnly, landing, requireSignIn, session } from "./session.js";

// `/` explains Protu to visitors; a signed-in person goes on to their own start page.
async function startPage() {
  const user = await session.restore();
  return user ? landing(user) : undefined;
}

const routes = [
  { path: "/", page: () => import("./pages/home.js"), guard: startPage },
  { path: "/status", page: () => import("./pages/status.js") },
  { path: "/signin", page: () => import("./pages/signin.js"), guard: guestOnly },
  { path: "/signup", page: () => import("./pages/signup.js"), guard: guestOnly },
  { path: "/check-email", page: () => import("./pages/check-email.js") },
  { path: "/verify-email", page: () => import("./pages/verify-email.js") },
  { path: "/two-factor", page: () => import("./pages/two-factor.js") },
  { path: "/magic", page: () => import("./pages/magic.js") },
  { path: "/forgot-password", page: () => import("./pages/forgot-password.js"), guard: guestOnly },
  { path: "/reset-password", page: () => import("./pages/reset-password.js") },
  { path: "/accept-invitation", page: () => import("./pages/accept-invitation.js") },
  { path: "/refuse-invitation", page: () => import("./pages/refuse-invitation.js") },
  { path: "/terms", page: () => import("./pages/terms.js") },
  { path: "/privacy", page: () => import("./pages/privacy.js") },
  { path: "/security/report", page: () => import("./pages/security-report.js") },
  { path: "/security/thanks", page: () => import("./pages/security-thanks.js") },
  { path: "/security/thanks/confirm", page: () => import("./pages/security-thanks-confirm.js") },
  { path: "/account", page: () => import("./pages/account.js"), guard: requireSignIn },
  { path: "/welcome", page: () => import("./pages/welcome.js"), guard: requireSignIn },
  { path: "/users", page: () => import("./pages/users.js"), guard: requireSignIn },
  { path: "/audit", page: () => import("./pages/audit.js"), guard: requireSignIn },
  { path: "/incidents", page: () => import("./pages/incidents.js"), guard: requireSignIn },
  { path: "/incidents/:id", page: () => import("./pages/incident.js"), guard: requireSignIn },
  { path: "/roles", page: () => import("./pages/roles.js"), guard: requireSignIn },
  { path: "/roles/:id", page: () => import("./pages/role.js"), guard: requireSignIn },
  { path: "/candidates", page: () => import("./pages/candidates.js"), guard: requireSignIn },
  { path: "/candidates/:id", page: () => import("./pages/candidate.js"), guard: requireSignIn },
  { path: "/employees", page: () => import("./pages/employees.js"), guard: requireSignIn },
  { path: "/employees/:id", page: () => import("./pages/employee.js"), guard: requireSignIn },
  { path: "/teams", page: () => import("./pages/teams.js"), guard: requireSignIn },
  { path: "/teams/:id", page: () => import("./pages/team.js"), guard: requireSignIn },
  { path: "/assessments", page: () => import("./pages/assessments.js"), guard: requireSignIn },
  { path: "/assessments/:id", page: () => import("./pages/assessment.js"), guard: requireSignIn },
  { path: "/billing", page: () => import("./pages/billing.js"), guard: requireSignIn },
  { path: "/settings", page: () => import("./pages/settings.js"), guard: requireSignIn },
];

export const router = createRouter({
  outlet: document.getElementById("app"),
  routes,
  notFound: () => import("./pages/notfound.js"),
});

const header = mountHeader({
  publicNav: document.getElementById("site-public-nav"),
  menu: document.getElementById("site-menu"),
  menuButton: document.getElementById("site-menu-button"),
  onSignOut: async () => {
    await session.signOut();
    session.setFlash("You are signed out.");
    await router.navigate("/signin");
  },
});

// The server ended this tab's session (revoked, expired, signed out in another tab): off a protected page, to
// the sign-in page with the reason, coming back here afterwards.
session.onEnded((error) => {
  if (router.current()?.guard !== requireSignIn) return;
  session.setFlash(error.message || "Your session ended. Sign in again.", "error");
  const here = window.location.pathname + window.location.search;
  router.navigate(`/signin?next=${encodeURIComponent(here)}`, { replace: true });
});

// A minute's warning before the idle sign-out; at the end, the page's data leaves the screen (idle.js).
mountIdleWatch({
  outlet: document.getElementById("app"),
  resume: () => router.navigate(window.location.pathname + window.location.search, { replace: true }),
  signOut: async () => {
    await session.signOut();
    session.setFlash("You are signed out.");
    await router.navigate("/signin");
  },
});

// Notices only on the signed-in pages: a public page (status, sign-in) must not be where a session's end is found.
mountNotices(document.getElementById("site-notices"), { when: () => router.current()?.guard === requireSignIn });

arrivedFromSso();
session.restore().finally(() => header.ready());
router.start();
