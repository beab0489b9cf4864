// The app shell's navigation, kept in step with the session.
//
// Signed out: the header offers Sign in and Sign up. Signed in: the "Main" navigation in groups (Company data,
// Administration, Account), a sidebar on wide screens and, on narrow ones, a panel behind the header's Menu button
// (aria-expanded, aria-controls; closed by Escape and by moving to another page). The Account group is the user's
// menu: their name and company, the account page and Sign out. Only pages the account may use are offered (the
// /api/me `permissions`); while two-factor setup is required, only the account. An owner who has not put the first
// steps away (`show_welcome`) is offered them first. index.html carries the signed-out links so the page reads well
// before this runs.

import { h } from "./dom.js";
import { mustSetUpMfa, session } from "./session.js";

// Each page is /<name>, needs the permission <name> (protu.identity.rbac) and has the test id nav-<name>.
const TEXT = {
  roles: "Roles", candidates: "Candidates", employees: "Employees", teams: "Teams", assessments: "Assessments",
  users: "Users", audit: "Audit log", incidents: "Incidents", billing: "Billing", settings: "Settings",
};
const GROUPS = [
  ["Company data", ["roles", "candidates", "employees", "teams", "assessments"]],
  ["Administration", ["users", "audit", "incidents", "billing", "settings"]],
];

export function mountHeader({ publicNav, menu, menuButton, onSignOut }) {
  const shell = { publicNav, menu, menuButton, onSignOut, pending: true }; // pending: the start-up restore
  const render = () => renderShell(shell, session.user);

  menuButton.addEventListener("click", () => setOpen(shell, menuButton.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || menuButton.getAttribute("aria-expanded") !== "true") return;
    setOpen(shell, false);
    menuButton.focus();
  });
  // Moving to another page closes the menu; a page that finishes loading where the menu was opened does not (the
  // person opened it after that navigation began).
  window.addEventListener("protu:page", (event) => {
    if (event.detail?.path !== shell.openedAt) setOpen(shell, false); // the router marks the current link
  });

  session.subscribe(render);
  render();
  return {
    // Called once the start-up restore has settled: until then no account links rather than the wrong ones.
    ready() {
      shell.pending = false;
      render();
    },
  };
}

function setOpen(shell, open) {
  shell.openedAt = open ? window.location.pathname : null;
  shell.menuButton.setAttribute("aria-expanded", String(open));
  shell.menu.classList.toggle("site-menu--open", open);
}

function renderShell(shell, user) {
  const { publicNav, menu, menuButton } = shell;
  publicNav.hidden = Boolean(user) || shell.pending;
  menuButton.hidden = !user;
  menu.hidden = !user;
  if (!user) {
    setOpen(shell, false);
    shell.shown = null;
    menu.replaceChildren();
    return;
  }
  const allowed = mustSetUpMfa(user) ? new Set(["self"]) : new Set(user.permissions ?? []);
  const groups = GROUPS.map(([name, pages]) => [
    name,
    pages.filter((page) => allowed.has(page)).map((page) => [`/${page}`, TEXT[page], `nav-${page}`]),
  ]);
  const welcome = user.show_welcome && !mustSetUpMfa(user) ? [["/welcome", "First steps", "nav-welcome"]] : [];
  // The session is updated often (each /api/me): the menu is built again only when what it shows changed, so a
  // link being clicked is not swapped for a new one under the pointer.
  const shown = JSON.stringify([groups, welcome, user.name, user.email, user.company?.name]);
  if (shown === shell.shown && menu.childElementCount) return;
  shell.shown = shown;
  menu.replaceChildren(
    ...(welcome.length ? [linkList(welcome)] : []),
    ...groups.filter(([, links]) => links.length).map(([name, links]) => group(name, linkList(links))),
    group("Account", accountArea(shell, user)),
  );
  markCurrent(menu);
}

function group(name, content) {
  const id = `nav-group-${name.toLowerCase().replace(/\W+/g, "-")}`;
  return h(
    "div",
    { class: "site-menu__group", role: "group", "aria-labelledby": id },
    h("p", { class: "site-menu__heading", id }, name),
    content,
  );
}

function linkList(links) {
  return h(
    "ul",
    { class: "site-menu__links" },
    links.map(([href, text, testid]) => h("li", {}, h("a", { href, "data-link": true, "data-testid": testid }, text))),
  );
}

// The user's menu: who is signed in, for which company, their account page and Sign out.
function accountArea(shell, user) {
  const signOut = h("button", { type: "button", class: "button button--secondary button--small" }, "Sign out");
  signOut.classList.add("site-menu__sign-out");
  signOut.dataset.testid = "header-sign-out";
  signOut.addEventListener("click", async () => {
    signOut.disabled = true;
    try {
      await shell.onSignOut();
    } finally {
      signOut.disabled = false;
    }
  });
  return [
    h(
      "p",
      { class: "site-account__who", "data-testid": "site-account" },
      h("span", { class: "site-account__name", "data-testid": "header-user-name" }, user.name || user.email),
      " ", // read and copied as "Name Company", not "NameCompany"
      h("span", { class: "site-account__company", "data-testid": "header-company" }, user.company?.name ?? ""),
    ),
    linkList([["/account", "Your account", "nav-account"]]),
    signOut,
  ];
}

function markCurrent(menu) {
  for (const a of menu.querySelectorAll("a[data-link]")) {
    if (new URL(a.href).pathname === window.location.pathname) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}
