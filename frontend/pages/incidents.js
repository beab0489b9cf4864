// Security incidents that concerned the company (GET /api/incidents -> {items}, newest first; permission
// `incidents`: owners only). Each row opens the incident (/incidents/:id, pages/incident.js). Admins are told the
// page is for owners without asking the API (which would answer 403). The severity and status badges and the
// owners-only notice are shared with pages/incident.js.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { allows, recordTable, sessionEnded } from "../records.js";
import { session } from "../session.js";
import { link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Incidents";

const SEVERITIES = { critical: "Critical", high: "High", medium: "Medium", low: "Low" };
const SEVERITY_TONES = { critical: "badge--bad", high: "badge--bad", medium: "badge--warn" };
const STATUSES = { open: "Open", contained: "Contained", resolved: "Resolved" };
const STATUS_TONES = { open: "badge--bad", resolved: "badge--ok" };

// "high" -> <span class="badge badge--bad">High</span>: the word always, the colour only as a second cue.
export function severityBadge(severity, testid) {
  return h(
    "span",
    { class: ["badge", SEVERITY_TONES[severity]], "data-testid": testid, "data-severity": severity },
    SEVERITIES[severity] ?? label(severity),
  );
}

export function statusBadge(status, testid) {
  return h("span", { class: ["badge", STATUS_TONES[status]], "data-testid": testid, "data-status": status }, STATUSES[status] ?? label(status));
}

// An unknown code ("under_review") read as words ("Under review").
function label(code) {
  const text = String(code ?? "").replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// What admins (and a 403) see instead of the incidents.
export function ownersOnly(testid) {
  return h(
    "p",
    { class: "notice notice--error", role: "alert", "data-testid": testid },
    "Only your company's owners can see its security incidents.",
  );
}

const FRAME = {
  title: "Security incidents",
  lead: "Security incidents at Protu that concerned your company: how serious they were, where they stand and what was done.",
  testid: "incidents-page",
};

function forbidden() {
  return pageFrame(FRAME, ownersOnly("incidents-forbidden"), h("p", {}, link("/account", "Go to your account")));
}

export async function render({ signal }) {
  if (!allows(session.user, "incidents")) return forbidden();
  const frame = pageFrame(FRAME);

  const msg = messages("incidents");
  const listTitle = h("h2", { id: "incidents-list-title" }, "Incidents");
  const { table, body, node: tableNode } = recordTable({
    caption: "Security incidents that concerned your company, newest first",
    columns: ["Severity", "Incident", "Status", "Detected"],
    testid: "incidents-table",
    labelledBy: "incidents-table-caption", // the section has the heading's name
  });
  frame.append(...msg.nodes, h("section", { class: "card", "aria-labelledby": "incidents-list-title", "data-testid": "incidents-list" }, listTitle, tableNode));

  let items;
  try {
    ({ items } = await api.get("/api/incidents", { signal }));
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    table.setAttribute("aria-busy", "false");
    if (sessionEnded(error)) return frame;
    if (error instanceof ApiError && error.status === 403) return forbidden();
    showError(msg, error);
    return frame;
  }

  const newest = [...items].sort((a, b) => Number(b.detected_at) - Number(a.detected_at));
  body.replaceChildren(...newest.map(incidentRow));
  if (newest.length === 0) {
    body.append(
      h(
        "tr",
        { "data-testid": "incidents-empty" },
        h("td", { colspan: "4", class: "records-table__empty" }, "No security incidents have concerned your company."),
      ),
    );
  }
  table.setAttribute("aria-busy", "false");
  return frame;
}

function incidentRow(incident) {
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "incident-row", "data-incident-id": incident.id },
    h("td", { "data-label": "Severity" }, severityBadge(incident.severity, "incident-row-severity")),
    h(
      "th",
      { scope: "row", class: "records-table__name" },
      link(`/incidents/${encodeURIComponent(incident.id)}`, incident.title, { "data-testid": "incident-link" }),
    ),
    h("td", { "data-label": "Status" }, statusBadge(incident.status, "incident-row-status")),
    h("td", { "data-label": "Detected" }, timeNode(incident.detected_at, { relative: false, testid: "incident-row-detected" })),
  );
}
