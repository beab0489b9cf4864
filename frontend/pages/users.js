// The company's users, for its owners: everyone who can sign in or was invited (GET /api/users), inviting someone
// (POST /api/users/invitations, which also re-sends a pending invitation), changing a role (PATCH /api/users/{id}),
// ending all of someone's sessions (POST /api/users/{id}/sign-out) and removing someone (DELETE /api/users/{id}).
// Making someone an owner (a role change or an invitation) asks first (owners can erase the company) and sends
// confirm_owner: true; the API also wants a recent sign-in for it (403 reauthentication_required: the password, or
// a code, is asked and the request sent again). Admins get a short explanation instead of the controls (the API answers them 403 anyway).
//
// The API keeps at least one active owner (409 last_owner): your own row offers a role change and removal only
// while another active owner remains. Demoting yourself switches this page to the admin view; removing yourself
// ends your session.

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import { session } from "../session.js";
import {
  busy,
  Cancelled,
  cardSection,
  confirmDialog,
  confirmThen,
  describeError,
  emailField,
  field,
  handleSubmit,
  messages,
  ownersOnlyCard,
  pageFrame,
  rowButton,
  showError,
  submitButton,
  timeNode,
  withReauth,
} from "../ui.js";

export const title = "Users";

const ROLES = [
  ["admin", "Admin"],
  ["owner", "Owner"],
];
const ROLE_NAMES = Object.fromEntries(ROLES);
const GIVE_UP_OWNER = {
  title: "Give up the owner role?",
  message: "As an admin you can no longer manage users, billing or settings. Another owner can make you an owner again.",
  confirmLabel: "Make me an admin",
  danger: true,
};

function makeOwnerQuestion(label) {
  return {
    title: `Make ${label} an owner?`,
    message:
      `${label} will be able to do everything you can: manage users, billing and settings, and erase the company ` +
      "with all its data. Only make owners of people you trust with that.",
    confirmLabel: "Make them an owner",
    danger: true,
  };
}

function ownerReauth() {
  return {
    reason: "Making someone an owner needs a recent sign-in. Confirm it is you to continue.",
    allowCode: Boolean(session.user?.mfa_enabled),
  };
}

// POST an invitation (or send it again). An owner's says so explicitly (asked before a new one) and may need the
// password first: the API wants both.
function sendInvitation(asked, signal) {
  if (asked.role !== "owner") return api.post("/api/users/invitations", asked, { signal });
  return withReauth(() => api.post("/api/users/invitations", { ...asked, confirm_owner: true }, { signal }), ownerReauth());
}

const ROLE_HINT = "Admins manage people data (roles, teams, employees, candidates, assessments). Owners can also manage billing, settings and users.";

export function render({ signal, navigate }) {
  const view = h("div", { class: "users" });
  let shown = null; // "owner" | "other": which view is on screen

  function show(user) {
    if (!user) return; // signed out: app.js takes the page away
    const kind = user.role === "owner" ? "owner" : "other";
    if (kind === shown) return;
    shown = kind;
    view.replaceChildren(...(kind === "owner" ? ownerView({ signal, navigate }) : notOwnerView(user)));
  }

  const stop = session.subscribe(show);
  signal.addEventListener("abort", stop);
  show(session.user);

  return pageFrame({ title: "Users", lead: leadText(session.user), testid: "users-page" }, view);
}

function leadText(user) {
  const company = user?.company?.name;
  return company ? `Who can sign in to ${company} on Protu.` : "Who can sign in to your company on Protu.";
}

function notOwnerView(user) {
  const company = user.company?.name ?? "your company";
  const text = ["Only owners can manage users. Ask an owner of ", company, " to invite, change or remove someone."];
  return [ownersOnlyCard({ testid: "users-not-owner", linkTestid: "users-account-link" }, ...text)];
}

// The session may say "owner" after an owner made us an admin: ask who we are, the view follows session.update.
async function recheckRole(signal) {
  try {
    session.update(await api.get("/api/me", { signal }));
  } catch {
    // The error itself is already on screen.
  }
}

// `page`: what the owner's view shares (the list's rows and messages, load() to ask for them again).
function ownerView({ signal, navigate }) {
  const page = {
    signal,
    navigate,
    msg: messages("users"),
    rows: [],
    body: h("tbody", { "data-testid": "users-rows" }),
    listTitle: h("h2", { id: "users-list-title", tabindex: "-1" }, "People"),
  };
  const table = usersTable(page.body);
  page.load = () => loadUsers(page, table);
  page.load();

  return [
    ...page.msg.nodes,
    cardSection(
      { titleId: "users-list-title", heading: page.listTitle, testid: "users-list" },
      // Scrolls sideways on narrow screens: focusable so keyboard users can scroll it too.
      h("div", { class: "users-table__scroll", tabindex: "0", role: "region", "aria-labelledby": "users-table-caption" }, table),
    ),
    inviteSection(page),
  ];
}

function usersTable(body) {
  const columns = ["Name", "Email", "Role", "Status", "Two-factor", "Last sign-in"];
  return h(
    "table",
    { class: "users-table", "data-testid": "users-table", "aria-busy": "true" },
    h("caption", { class: "users-sr-only", id: "users-table-caption" }, "Users of your company"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        columns.map((text) => h("th", { scope: "col" }, text)),
        h("th", { scope: "col" }, h("span", { class: "users-sr-only" }, "Actions")),
      ),
    ),
    body,
  );
}

async function loadUsers(page, table) {
  table.setAttribute("aria-busy", "true");
  try {
    page.rows = await api.get("/api/users", { signal: page.signal });
    page.body.replaceChildren(...page.rows.map((user) => userRow(page, user)));
    if (page.rows.length === 0) page.body.append(h("tr", {}, h("td", { colspan: "7" }, "No users yet.")));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // the session ended: app.js moves on
    showError(page.msg, error);
    if (error instanceof ApiError && error.status === 403) await recheckRole(page.signal);
  } finally {
    table.setAttribute("aria-busy", "false");
  }
}

// ------------------------------------------------------------------------------------------ invite form

function inviteSection(page) {
  const { signal } = page;
  const inviteMsg = messages("invite");
  const email = emailField("invite-email", { autocomplete: "off", maxlength: "254" });
  const role = field({ id: "invite-role", label: "Role", tag: "select", name: "role", class: "select", options: ROLES, hint: ROLE_HINT, testid: "invite-role" });
  const form = h(
    "form",
    { class: "form users-invite", method: "post", action: "/users", "aria-labelledby": "invite-title", "data-testid": "invite-form" },
    email.node,
    role.node,
    h("div", {}, submitButton("invite-submit", "Send invitation")),
  );
  const invite = async () => {
    let invited;
    try {
      const asked = { email: email.input.value.trim(), role: role.input.value };
      if (asked.role === "owner" && !(await confirmDialog(makeOwnerQuestion(asked.email)))) throw new Cancelled();
      invited = await sendInvitation(asked, signal);
    } catch (error) {
      const text = inviteErrorText(error);
      if (text === null) throw error;
      inviteMsg.error(text);
      email.error(text);
      email.input.focus();
      return;
    }
    form.reset();
    inviteMsg.notice(`Invitation sent to ${invited.email}. It is valid for 7 days.`);
    email.input.focus();
    await page.load();
  };
  handleSubmit(form, invite, { messages: inviteMsg, fields: { email, role } });
  return cardSection(
    { titleId: "invite-title", title: "Invite someone", testid: "invite-section" },
    h("p", {}, "They get an email with a link to choose a name and password. The link works once, for 7 days."),
    form,
    ...inviteMsg.nodes,
  );
}

// ------------------------------------------------------------------------------------------------ table

function userRow(page, user) {
  const me = user.id === session.user?.id;
  const label = user.name || user.email;
  // The API refuses to demote or remove the last active owner; only your own row can be that (you are an owner).
  const activeOwners = page.rows.filter((u) => u.role === "owner" && u.status === "active").length;
  const lastOwner = user.role === "owner" && user.status === "active" && activeOwners <= 1;
  const who = { user, label, me };
  const active = user.status === "active";
  return h(
    "tr",
    {
      class: ["users-table__row", me && "users-table__row--me"],
      "data-testid": "user-row",
      "data-user-id": user.id,
      "data-email": user.email,
      "data-status": user.status,
      "data-role": user.role,
      "data-me": me ? "true" : "false",
    },
    h(
      "th",
      { scope: "row", class: "users-table__name" },
      user.name
        ? h("span", { "data-testid": "user-name" }, user.name)
        : h("span", { class: "users-table__muted", "data-testid": "user-name" }, "Not joined yet"),
      me ? [" ", h("span", { class: "badge", "data-testid": "user-you" }, "You")] : null,
    ),
    h("td", { class: "users-table__email", "data-label": "Email", "data-testid": "user-email" }, user.email),
    h("td", { "data-label": "Role" }, lastOwner ? roleText(user, "A company needs at least one owner.") : roleControl(page, who)),
    h("td", { "data-label": "Status" }, h("span", { class: ["badge", active && "badge--ok"], "data-testid": "user-status" }, active ? "Active" : "Invited")),
    h("td", { "data-label": "Two-factor" }, h("span", { class: ["badge", user.mfa_enabled && "badge--ok"], "data-testid": "user-mfa" }, user.mfa_enabled ? "On" : "Off")),
    h("td", { "data-label": "Last sign-in" }, timeNode(user.last_sign_in_at, { testid: "user-last-sign-in" })),
    h("td", { class: "users-table__actions" }, rowActions(page, who, lastOwner)),
  );
}

function roleText(user, why) {
  return h(
    "span",
    {},
    h("span", { "data-testid": "user-role" }, ROLE_NAMES[user.role] ?? user.role),
    why ? h("span", { class: "users-table__hint", "data-testid": "user-role-locked" }, why) : null,
  );
}

function roleControl(page, { user, label, me }) {
  const select = h(
    "select",
    { class: "select select--small", "aria-label": `Role of ${label}`, "data-testid": "user-role-select" },
    ROLES.map(([value, text]) => h("option", { value }, text)),
  );
  select.value = user.role;
  const save = rowButton({ testid: "user-role-save", label: `Save role of ${label}` }, "Save");
  save.disabled = true;
  select.addEventListener("change", () => {
    save.disabled = select.value === user.role;
  });
  save.addEventListener("click", async () => {
    const next = select.value;
    if (next === user.role) return;
    const question = me ? GIVE_UP_OWNER : next === "owner" ? makeOwnerQuestion(label) : null;
    if (question && !(await confirmDialog(question))) {
      select.value = user.role;
      save.disabled = true;
      select.focus();
      return;
    }
    await busy(save, () => changeRole(page, { user, label, me, next, select }));
  });
  return h("span", { class: "users-table__role" }, select, save);
}

async function changeRole(page, { user, label, me, next, select }) {
  const { msg, signal } = page;
  const body = next === "owner" ? { role: next, confirm_owner: true } : { role: next };
  msg.clear();
  try {
    const changed = await withReauth(() => api.patch(path`/api/users/${user.id}`, body, { signal }), ownerReauth());
    msg.notice(`${label} is now ${changed.role === "owner" ? "an owner" : "an admin"}.`);
  } catch (error) {
    showError(msg, error);
    if (error instanceof ApiError && error.status === 403) await recheckRole(signal);
    select.value = user.role;
    return;
  }
  if (me) {
    // Our own sessions carry the new role from the next request: the header and this page follow.
    session.update({ ...session.user, role: next });
    return;
  }
  await page.load();
  page.body.querySelector(`tr[data-user-id="${CSS.escape(user.id)}"] [data-testid="user-role-select"]`)?.focus();
}

function rowActions(page, who, lastOwner) {
  const { user, me } = who;
  const buttons = [];
  if (user.status === "invited") buttons.push(resendButton(page, user));
  if (user.status === "active" && !me) buttons.push(signOutButton(page, who));
  if (!lastOwner) buttons.push(removeButton(page, who));
  return h("div", { class: "users-table__buttons" }, buttons);
}

function resendButton(page, user) {
  const { msg } = page;
  const resend = rowButton({ testid: "user-resend", label: `Resend invitation to ${user.email}` }, "Resend invitation");
  resend.addEventListener("click", () =>
    busy(resend, async () => {
      msg.clear();
      try {
        await sendInvitation({ email: user.email, role: user.role }, page.signal);
        msg.notice(`Invitation sent to ${user.email} again. The earlier link no longer works.`);
      } catch (error) {
        const text = inviteErrorText(error);
        if (text === null) showError(msg, error);
        else msg.error(text);
      }
    }),
  );
  return resend;
}

// A failure of a row's action; a row that is gone (404) is dropped from the list.
async function rowFailed(page, error) {
  showError(page.msg, error);
  if (error instanceof ApiError && error.status === 404) await page.load();
}

function signOutButton(page, { user, label }) {
  return confirmThen(rowButton({ testid: "user-sign-out", label: `Sign out everywhere: ${label}` }, "Sign out everywhere"), {
    question: {
      title: `Sign out ${label}?`,
      message: `Every session of ${label} ends now, on every device. They can sign in again.`,
      confirmLabel: "Sign out everywhere",
    },
    msg: page.msg,
    action: async () => {
      await api.post(path`/api/users/${user.id}/sign-out`, undefined, { signal: page.signal });
      page.msg.notice(`${label} was signed out everywhere.`);
    },
    failed: (error) => rowFailed(page, error),
  });
}

function removeButton(page, { user, label, me }) {
  const invited = user.status === "invited";
  const name = invited ? `Withdraw invitation of ${user.email}` : me ? "Remove yourself" : `Remove ${label}`;
  return confirmThen(rowButton({ testid: "user-remove", label: name, danger: true }, invited ? "Withdraw" : "Remove"), {
    question: removeQuestion(user, label, me),
    msg: page.msg,
    action: async () => {
      const removal = () => api.delete(path`/api/users/${user.id}`, { signal: page.signal });
      if (me) return removedMyself(page, await session.ending(removal));
      await removal();
      page.msg.notice(invited ? `The invitation of ${user.email} was withdrawn.` : `${label} was removed.`);
      await page.load();
      page.listTitle.focus();
    },
    failed: (error) => rowFailed(page, error),
  });
}

async function removedMyself(page) {
  await session.signOut();
  session.setFlash("You removed yourself from your company on Protu.");
  await page.navigate("/signin");
}

function removeQuestion(user, label, me) {
  if (user.status === "invited") {
    return {
      title: `Withdraw the invitation of ${user.email}?`,
      message: "The link in their email stops working. You can invite them again later.",
      confirmLabel: "Withdraw invitation",
      danger: true,
    };
  }
  if (me) {
    return {
      title: "Remove yourself?",
      message: "You lose access to your company on Protu at once and are signed out. Only another owner can invite you again.",
      confirmLabel: "Remove me",
      danger: true,
    };
  }
  return {
    title: `Remove ${label}?`,
    message: `${label} (${user.email}) loses access at once and is signed out everywhere. You can invite them again later.`,
    confirmLabel: "Remove",
    danger: true,
  };
}

// The invite form's own wording for the server's answers about the address; null for anything else (shown by
// handleSubmit above the form). The server's messages are plain already; these say what to do next.
const INVITE_ERRORS = {
  email_in_use: () => "This person is already a user of your company.",
  invitations_refused: () =>
    "The owner of this address asked not to receive invitations to Protu. Ask them for another address, or to sign up themselves.",
  invitation_limit_reached: (error) =>
    error.details?.per === "address"
      ? `This address has had ${error.details.limit} invitation emails from your company today, the most we send. ${retryText(error)}`
      : `Your company has sent all the invitation emails its plan allows today (${error.details?.limit ?? "the limit"}). ${retryText(error)}`,
};

function retryText(error) {
  const hours = Math.max(1, Math.ceil((error.retryAfter ?? 0) / 3600));
  return error.retryAfter ? `You can send more in about ${hours} hour${hours === 1 ? "" : "s"}.` : "You can send more tomorrow.";
}

function inviteErrorText(error) {
  if (!(error instanceof ApiError)) return null;
  if (INVITE_ERRORS[error.code]) return INVITE_ERRORS[error.code](error);
  if (error.status === 422 && error.details?.field === "email") return describeError(error);
  return null;
}
