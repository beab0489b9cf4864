// The owner's audit log (GET /api/audit-events, newest first, paged with "Load more"): people and records by their
// names now (the page's `names`; the events keep ids, shown under each name), with filters by action (a choice of
// the kinds of events the log holds, GET /api/audit-events/actions), who acted (a choice of the company's people
// by name), target and a date range, kept in the address (/audit?action=auth.login&from=2024-05-01); a check of
// the whole hash chain (GET /api/audit-events/verify); exports for an auditor (../audit/export.js) and streams to a
// SIEM (../audit/streams.js). Only owners may read it: admins are told so without asking the API (which would answer 403).

import { api } from "../api.js";
import { exportSection } from "../audit/export.js";
import { actionOptions, breakable, cell, dayEnd, dayStart, detailsNode, namedValue } from "../audit/format.js";
import { streamsSection } from "../audit/streams.js";
import { h } from "../dom.js";
import { pager, recordTable, sessionEnded } from "../records.js";
import { session } from "../session.js";
import { busy, field, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Audit log";

const PAGE_SIZE = 50;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const TEXT_FILTERS = ["action", "actor", "target"];
const COLUMNS = ["Time and source IP", "Actor", "Action", "Target", "Outcome", "Details"];

export function render({ query, signal }) {
  if (session.user?.role !== "owner") {
    return pageFrame(
      { title: "Audit log", testid: "audit-page" },
      h("p", { class: "notice notice--error", role: "alert", "data-testid": "audit-forbidden" }, "Only owners can read the audit log."),
      h("p", {}, link("/account", "Go to your account")),
    );
  }
  const page = pageFrame(
    {
      title: "Audit log",
      lead: "Who did what in your company's account. Each event is chained to the one before it, so changes to the log can be detected.",
      testid: "audit-page",
    },
    sectionLinks(),
    eventsSection({ query, signal }),
    verifySection({ signal }),
    exportSection({ signal }),
    streamsSection({ signal }),
  );
  page.classList.add("audit");
  return page;
}

function sectionLinks() {
  const links = [
    ["#audit-list-title", "Events"],
    ["#audit-verify-title", "Check the log"],
    ["#audit-export-title", "Export for an auditor"],
    ["#audit-streams-title", "Streams to your SIEM"],
  ];
  return h(
    "nav",
    { class: "section-links", "aria-label": "Sections of the audit log page" },
    h("ul", {}, links.map(([href, text]) => h("li", {}, h("a", { href }, text)))),
  );
}

// ------------------------------------------------------------------------------------------------ verify
function verifySection({ signal }) {
  const msg = messages("audit-verify");
  const verify = h("button", { type: "button", class: "button button--secondary", "data-testid": "audit-verify" }, "Verify the chain");
  verify.addEventListener("click", () =>
    busy(verify, async () => {
      msg.clear();
      try {
        const result = await api.get("/api/audit-events/verify", { signal });
        if (result.ok) {
          const events = result.checked === 1 ? "1 event" : `${result.checked} events`;
          msg.notice(`The chain is intact: ${events} checked.`);
        } else {
          msg.error(
            `The chain is broken at event ${result.first_broken ?? "?"}`,
            result.reason ? `: ${result.reason}` : ".",
            ` (${result.checked} events checked).`,
          );
        }
      } catch (error) {
        if (!sessionEnded(error)) showError(msg, error);
      }
    }),
  );
  return h(
    "section",
    { class: "card audit-section", "aria-labelledby": "audit-verify-title", "data-testid": "audit-verify-section" },
    h("h2", { id: "audit-verify-title", tabindex: "-1" }, "Check the log"),
    h("p", {}, "Recompute every event's hash and check that none was changed, removed or reordered."),
    h("div", { class: "actions" }, verify),
    ...msg.nodes,
  );
}

// --------------------------------------------------------------------------------------------- filters
// The filter form, its fields filled from the address. The action is a choice of what the log holds (GET
// /api/audit-events/actions), the actor a choice of the company's people by name (GET /api/users) and of Protu's
// own actors; each is filled in when its answer comes (the address's choice is a choice from the start).
function filterForm({ query, signal, msg }) {
  const fields = {
    action: field({ id: "audit-filter-action", label: "Action", tag: "select", testid: "audit-filter-action" }),
    actor: field({ id: "audit-filter-actor", label: "Who", tag: "select", testid: "audit-filter-actor" }),
    target: field({ id: "audit-filter-target", label: "Target (kind:id)", autocomplete: "off", maxlength: "200", testid: "audit-filter-target" }),
    from: field({ id: "audit-filter-from", label: "From", type: "date", testid: "audit-filter-from" }),
    to: field({ id: "audit-filter-to", label: "To", type: "date", testid: "audit-filter-to" }),
  };
  const wanted = (name) => (query.get(name) ?? "").trim().slice(0, 200);
  fields.action.input.replaceChildren(...actionOptions([], wanted("action")));
  fields.actor.input.replaceChildren(...actorOptions([], wanted("actor")));
  fields.target.input.value = wanted("target");
  for (const name of ["from", "to"]) fields[name].input.value = DAY.test(wanted(name)) ? wanted(name) : "";
  const answered = (error) => {
    if (!sessionEnded(error)) showError(msg, error);
  };
  fillChoices(fields.action.input, api.get("/api/audit-events/actions", { signal }).then(({ items }) => items), actionOptions, answered);
  fillChoices(fields.actor.input, api.get("/api/users", { signal }), actorOptions, answered);
  const clear = h(
    "button",
    { type: "button", class: "button button--secondary button--small", "data-testid": "audit-filter-clear", hidden: true },
    "Show all events",
  );
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter audit events", "data-testid": "audit-filters" },
    ...Object.values(fields).map((f) => f.node),
    h("div", { class: "filters__clear" }, h("button", { type: "submit", class: "button button--small", "data-testid": "audit-filter-apply" }, "Apply filters")),
    h("div", { class: "filters__clear" }, clear),
  );
  return { form, fields, clear };
}

// A select's choices once `items` (a promise) resolves, what was chosen kept chosen; `failed(error)` otherwise.
function fillChoices(select, items, options, failed) {
  items.then((found) => {
    const chosen = select.value;
    select.replaceChildren(...options(found, chosen));
    select.value = chosen;
  }, failed);
}

// Who acted, to choose from: anyone, the company's people by name (GET /api/users answers `users`), Protu's own
// actors (named so in the events too), and an id from the address that is none of them (someone removed since).
const NOT_PEOPLE = [
  ["system", "Protu (automatic)"],
  ["anonymous", "Someone not signed in"],
  ["stripe", "Stripe (billing)"],
];

function actorOptions(users, selected) {
  const people = users.map((user) => [user.id, user.name || user.email]).sort((a, b) => a[1].localeCompare(b[1]));
  const known = new Set([...people, ...NOT_PEOPLE].map(([id]) => id));
  if (selected && !known.has(selected)) people.push([selected, selected]);
  const option = ([value, label]) => h("option", { value, selected: value === selected }, label);
  return [
    h("option", { value: "" }, "Anyone"),
    people.length > 0 ? h("optgroup", { label: "People" }, people.map(option)) : null,
    h("optgroup", { label: "Not a person" }, NOT_PEOPLE.map(option)),
  ];
}

// ------------------------------------------------------------------------------------------------ list
function eventsSection({ query, signal }) {
  const msg = messages("audit");
  const { form, fields, clear } = filterForm({ query, signal, msg });
  const values = () => Object.fromEntries(Object.entries(fields).map(([name, f]) => [name, f.input.value.trim()]));
  const filtered = () => Object.values(values()).some(Boolean);
  const names = Object.assign(Object.create(null), Object.fromEntries(NOT_PEOPLE)); // and each page's names

  const listTitle = h("h2", { id: "audit-list-title", tabindex: "-1" }, "Events");
  const { table, body, node: tableNode } = recordTable({
    caption: "Audit events of your company, newest first",
    columns: COLUMNS,
    testid: "audit-table",
    labelledBy: "audit-table-caption", // the section is "Events" already
  });
  table.classList.add("audit-table");
  const list = pager({
    table,
    body,
    msg,
    heading: listTitle,
    colspan: COLUMNS.length,
    label: "Load more events",
    nouns: ["event", "events"],
    testid: "audit",
    emptyText: () => (filtered() ? "No events match these filters." : "No events yet."),
    emptyTestid: "audit-empty",
    fetchPage: async (cursor) => {
      const page = await api.get(`/api/audit-events?${eventsQuery(values(), cursor)}`, { signal });
      Object.assign(names, page.names ?? {});
      return page;
    },
    row: (event) => eventRow(event, names),
  });

  function apply({ initial = false } = {}) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(values())) if (value) params.set(name, value);
    const search = params.toString();
    const url = `${window.location.pathname}${search ? `?${search}` : ""}`;
    if (url !== window.location.pathname + window.location.search) window.history.replaceState(window.history.state, "", url);
    clear.hidden = !filtered();
    if (!initial) msg.clear();
    return list.load({ reset: true });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  clear.addEventListener("click", () => {
    for (const f of Object.values(fields)) f.input.value = "";
    apply();
    fields.action.input.focus();
  });
  apply({ initial: true });

  return h(
    "section",
    { class: "card audit-section", "aria-labelledby": "audit-list-title", "data-testid": "audit-list" },
    listTitle,
    ...msg.nodes,
    form,
    tableNode,
    list.more,
  );
}

// The API's query for the filters' values (days as instants) and a page's cursor.
function eventsQuery(v, cursor) {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  for (const name of TEXT_FILTERS) if (v[name]) params.set(name, v[name]);
  const since = v.from ? dayStart(v.from) : null;
  const until = v.to ? dayEnd(v.to) : null;
  if (since) params.set("since", since);
  if (until) params.set("until", until);
  if (cursor) params.set("cursor", cursor);
  return params;
}

function eventRow(event, names) {
  const outcomeTone = event.outcome === "success" || event.outcome === "ok" ? "badge--ok" : event.outcome === "failure" || event.outcome === "denied" ? "badge--bad" : null;
  const target = event.target ?? "";
  const targetId = target.includes(":") ? target.slice(target.indexOf(":") + 1) : target;
  return h(
    "tr",
    {
      class: "records-table__row",
      "data-testid": "audit-row",
      "data-seq": String(event.seq),
      "data-action": event.action,
      "data-actor": event.actor,
      "data-target": target,
    },
    cell(
      "td",
      "Time",
      {},
      timeNode(event.time, { relative: false, testid: "audit-row-time" }),
      h("span", { class: "audit-id", "data-testid": "audit-row-ip" }, event.source_ip ? breakable(event.source_ip) : "no address"),
    ),
    cell("td", "Actor", { "data-testid": "audit-row-actor" }, namedValue(event.actor, event.actor, names, "audit-row-actor-name")),
    cell("th", "Action", { scope: "row", "data-testid": "audit-row-action" }, h("code", { class: "audit-action" }, event.action)),
    cell("td", "Target", { "data-testid": "audit-row-target" }, namedValue(target, targetId, names, "audit-row-target-name")),
    cell("td", "Outcome", {}, h("span", { class: ["badge", outcomeTone], "data-testid": "audit-row-outcome" }, event.outcome)),
    cell("td", "Details", { class: "audit-table__details" }, detailsNode(event, names)),
  );
}
