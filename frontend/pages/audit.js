// The owner's audit log (GET /api/audit-events, newest first, paged with "Load more") with filters by action,
// actor, target and a date range, kept in the address (/audit?action=auth.login&from=2024-05-01), and a check of
// the whole hash chain (GET /api/audit-events/verify). Only owners may read it: admins are told so without asking
// the API (which would answer 403).

import { api } from "../api.js";
import { h } from "../dom.js";
import { none, pager, recordTable } from "../records.js";
import { session } from "../session.js";
import { busy, field, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Audit log";

const PAGE_SIZE = 50;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const TEXT_FILTERS = ["action", "actor", "target"];

// A local calendar day as the API's instant: its first moment, or (end) its last.
function dayStart(day) {
  const date = new Date(`${day}T00:00:00`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
function dayEnd(day) {
  const date = new Date(`${day}T23:59:59.999`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function render({ query, signal }) {
  if (session.user?.role !== "owner") {
    return pageFrame(
      { title: "Audit log", testid: "audit-page" },
      h("p", { class: "notice notice--error", role: "alert", "data-testid": "audit-forbidden" }, "Only owners can read the audit log."),
      h("p", {}, link("/account", "Go to your account")),
    );
  }

  const msg = messages("audit");

  // ---------------------------------------------------------------------------------------------- verify
  const verifyMsg = messages("audit-verify");
  const verify = h("button", { type: "button", class: "button button--secondary", "data-testid": "audit-verify" }, "Verify the chain");
  verify.addEventListener("click", () =>
    busy(verify, async () => {
      verifyMsg.clear();
      try {
        const result = await api.get("/api/audit-events/verify", { signal });
        if (result.ok) {
          const events = result.checked === 1 ? "1 event" : `${result.checked} events`;
          verifyMsg.notice(`The chain is intact: ${events} checked.`);
        } else {
          verifyMsg.error(
            `The chain is broken at event ${result.first_broken ?? "?"}`,
            result.reason ? `: ${result.reason}` : ".",
            ` (${result.checked} events checked).`,
          );
        }
      } catch (error) {
        if (error?.name === "AbortError") return;
        showError(verifyMsg, error);
      }
    }),
  );

  // --------------------------------------------------------------------------------------------- filters
  const filterFields = {
    action: field({ id: "audit-filter-action", label: "Action", autocomplete: "off", maxlength: "200", testid: "audit-filter-action" }),
    actor: field({ id: "audit-filter-actor", label: "Actor", autocomplete: "off", maxlength: "200", testid: "audit-filter-actor" }),
    target: field({ id: "audit-filter-target", label: "Target", autocomplete: "off", maxlength: "200", testid: "audit-filter-target" }),
    from: field({ id: "audit-filter-from", label: "From", type: "date", testid: "audit-filter-from" }),
    to: field({ id: "audit-filter-to", label: "To", type: "date", testid: "audit-filter-to" }),
  };
  for (const name of TEXT_FILTERS) filterFields[name].input.value = (query.get(name) ?? "").trim().slice(0, 200);
  for (const name of ["from", "to"]) {
    const value = query.get(name) ?? "";
    filterFields[name].input.value = DAY.test(value) ? value : "";
  }
  const clear = h(
    "button",
    { type: "button", class: "button button--secondary button--small", "data-testid": "audit-filter-clear", hidden: true },
    "Show all events",
  );
  const filters = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter audit events", "data-testid": "audit-filters" },
    ...Object.values(filterFields).map((f) => f.node),
    h("div", { class: "filters__clear" }, h("button", { type: "submit", class: "button button--small", "data-testid": "audit-filter-apply" }, "Apply filters")),
    h("div", { class: "filters__clear" }, clear),
  );

  function values() {
    return Object.fromEntries(Object.entries(filterFields).map(([name, f]) => [name, f.input.value.trim()]));
  }
  function filtered() {
    return Object.values(values()).some(Boolean);
  }

  function applyFilters({ initial = false } = {}) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(values())) if (value) params.set(name, value);
    const search = params.toString();
    const url = `${window.location.pathname}${search ? `?${search}` : ""}`;
    if (url !== window.location.pathname + window.location.search) window.history.replaceState(window.history.state, "", url);
    clear.hidden = !filtered();
    if (!initial) msg.clear();
    return list.load({ reset: true });
  }
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilters();
  });
  clear.addEventListener("click", () => {
    for (const f of Object.values(filterFields)) f.input.value = "";
    applyFilters();
    filterFields.action.input.focus();
  });

  // ------------------------------------------------------------------------------------------------ list
  const listTitle = h("h2", { id: "audit-list-title", tabindex: "-1" }, "Events");
  const { table, body, node: tableNode } = recordTable({
    caption: "Audit events of your company, newest first",
    columns: ["Time", "Actor", "Action", "Target", "Outcome", "Source IP"],
    testid: "audit-table",
    labelledBy: "audit-list-title",
  });
  const list = pager({
    table,
    body,
    msg,
    heading: listTitle,
    colspan: 6,
    label: "Load more events",
    nouns: ["event", "events"],
    testid: "audit",
    emptyText: () => (filtered() ? "No events match these filters." : "No events yet."),
    emptyTestid: "audit-empty",
    fetchPage: (cursor) => {
      const v = values();
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      for (const name of TEXT_FILTERS) if (v[name]) params.set(name, v[name]);
      const since = v.from ? dayStart(v.from) : null;
      const until = v.to ? dayEnd(v.to) : null;
      if (since) params.set("since", since);
      if (until) params.set("until", until);
      if (cursor) params.set("cursor", cursor);
      return api.get(`/api/audit-events?${params}`, { signal });
    },
    row: eventRow,
  });

  applyFilters({ initial: true });

  return pageFrame(
    {
      title: "Audit log",
      lead: "Who did what in your company's account. Each event is chained to the one before it, so changes to the log can be detected.",
      testid: "audit-page",
    },
    ...msg.nodes,
    h(
      "section",
      { class: "card", "aria-labelledby": "audit-verify-title", "data-testid": "audit-verify-section" },
      h("h2", { id: "audit-verify-title" }, "Check the log"),
      h("p", {}, "Recompute every event's hash and check that none was changed, removed or reordered."),
      h("div", { class: "actions" }, verify),
      ...verifyMsg.nodes,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "audit-list-title", "data-testid": "audit-list" },
      listTitle,
      filters,
      tableNode,
      list.more,
    ),
  );
}

function eventRow(event) {
  const outcomeTone = event.outcome === "success" || event.outcome === "ok" ? "badge--ok" : event.outcome === "failure" || event.outcome === "denied" ? "badge--bad" : null;
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "audit-row", "data-seq": String(event.seq), "data-action": event.action },
    h("td", {}, timeNode(event.time, { relative: false, testid: "audit-row-time" })),
    h("td", { class: "records-table__email", "data-testid": "audit-row-actor" }, event.actor || none()),
    h("th", { scope: "row", "data-testid": "audit-row-action" }, h("code", {}, event.action)),
    h("td", { class: "records-table__email", "data-testid": "audit-row-target" }, event.target || none()),
    h("td", {}, h("span", { class: ["badge", outcomeTone], "data-testid": "audit-row-outcome" }, event.outcome)),
    h("td", { "data-testid": "audit-row-ip" }, event.source_ip || none()),
  );
}
