// One security incident that concerned the company (GET /api/incidents/{id}; permission `incidents`: owners only):
// where it stands, when it was detected, contained, notified and resolved, what of the company it concerned (the
// users involved, the records they opened, by kind), the security team's notes for customers with the regular
// updates emailed to the owners, and the timeline of what was done.

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import { allows, none, sessionEnded } from "../records.js";
import { session } from "../session.js";
import { describeError, link, pageFrame, timeNode } from "../ui.js";
import { ownersOnly, severityBadge, statusBadge } from "./incidents.js";

export const title = "Incident";

const INCIDENT_ID = /^inc-[0-9]{8}-[0-9a-f]{10}$/;

// The kinds of record in `affected.by_entity` (the audit actions' first part), singular and plural.
const ENTITIES = {
  candidate: ["candidate", "candidates"],
  employee: ["employee", "employees"],
  role: ["role", "roles"],
  team: ["team", "teams"],
  assessment: ["assessment", "assessments"],
  response: ["assessment response", "assessment responses"],
  company: ["company export", "company exports"],
};

export async function render({ params, signal }) {
  if (!allows(session.user, "incidents")) return forbidden();
  if (!INCIDENT_ID.test(params.id ?? "")) return unavailable(problem("There is no incident at this address."));
  let incident;
  try {
    incident = await api.get(path`/api/incidents/${params.id}`, { signal });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    if (error instanceof ApiError && error.status === 404) return unavailable(problem("There is no such incident."));
    if (error instanceof ApiError && error.status === 403) return forbidden();
    if (sessionEnded(error)) return unavailable(problem("Your session ended."));
    return unavailable(problem(describeError(error) ?? "The incident could not be loaded."));
  }

  const frame = pageFrame(
    { title: incident.title, testid: "incident-page" },
    h("p", { class: "back-link" }, link("/incidents", "All incidents", { "data-testid": "incident-back" })),
  );
  frame.querySelector("h1").setAttribute("data-testid", "incident-heading");
  const resolved = incident.status === "resolved";

  frame.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "incident-status-title", "data-testid": "incident-about" },
      h("h2", { id: "incident-status-title" }, "Where it stands"),
      h(
        "dl",
        { class: "details", "data-testid": "incident-details" },
        h("dt", {}, "Status"),
        h("dd", {}, statusBadge(incident.status, "incident-status")),
        h("dt", {}, "Severity"),
        h("dd", {}, severityBadge(incident.severity, "incident-severity")),
        h("dt", {}, "Detected"),
        h("dd", {}, when(incident.detected_at, "incident-detected", resolved)),
        h("dt", {}, "Contained"),
        h("dd", {}, when(incident.contained_at, "incident-contained", resolved)),
        h("dt", {}, "Owners notified"),
        h("dd", {}, when(incident.notified_at, "incident-notified", resolved)),
        h("dt", {}, "Resolved"),
        h("dd", {}, when(incident.resolved_at, "incident-resolved", resolved)),
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "incident-notes-title", "data-testid": "incident-notes-section" },
      h("h2", { id: "incident-notes-title" }, "From our security team"),
      notesView(incident.notes ?? []),
      updatesView(incident.updates_sent, incident.last_update_at),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "incident-affected-title", "data-testid": "incident-affected" },
      h("h2", { id: "incident-affected-title" }, "What it concerned"),
      affectedView(incident.affected, resolved),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "incident-timeline-title", "data-testid": "incident-timeline-section" },
      h("h2", { id: "incident-timeline-title" }, "Timeline"),
      timelineView(incident.timeline ?? []),
    ),
  );
  return frame;
}

// A time, or what its absence means: still to come while the incident is open, nothing once it is resolved.
function when(value, testid, resolved) {
  if (value !== null && value !== undefined) return timeNode(value, { relative: false, testid });
  return resolved ? h("span", { "data-testid": testid }, none()) : h("span", { class: "muted", "data-testid": testid }, "Not yet");
}

function affectedView(affected, resolved) {
  if (!affected || Object.keys(affected).length === 0) {
    const text = resolved
      ? "None of your company's users or records were found to be concerned."
      : "We have not yet assessed which of your users and records it concerned.";
    return h("p", { "data-testid": "incident-affected-none" }, text);
  }
  const users = Array.isArray(affected.users) ? affected.users.length : 0;
  const opened = Number(affected.records_opened) || 0;
  const kinds = Object.entries(affected.by_entity ?? {})
    .filter(([, count]) => Number(count) > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  return h(
    "dl",
    { class: "details", "data-testid": "incident-affected-details" },
    h("dt", {}, "Users concerned"),
    h("dd", { "data-testid": "incident-affected-users" }, String(users)),
    h("dt", {}, "Records they opened"),
    h(
      "dd",
      { "data-testid": "incident-records-opened" },
      opened === 0
        ? "None"
        : [
            String(opened),
            kinds.length > 0
              ? h(
                  "ul",
                  { class: "name-list", "data-testid": "incident-by-entity" },
                  kinds.map(([entity, count]) => h("li", { "data-entity": entity }, countOf(Number(count), entity))),
                )
              : null,
          ],
    ),
  );
}

function countOf(count, entity) {
  const [one, many] = ENTITIES[entity] ?? [entity, entity];
  return `${count} ${count === 1 ? one : many}`;
}

// The notes for customers (the API gives them oldest first), newest first; the operators' own notes never reach
// this page.
function notesView(notes) {
  if (notes.length === 0) return h("p", { "data-testid": "incident-notes-empty" }, "No notes from our security team yet.");
  const entries = [...notes].reverse();
  return h(
    "ol",
    { class: "timeline", "data-testid": "incident-notes" },
    entries.map((note) =>
      h(
        "li",
        { class: "timeline__entry", "data-testid": "incident-note" },
        timeNode(note.at, { relative: false, testid: "incident-note-time" }),
        h("p", { class: "timeline__note", "data-testid": "incident-note-text" }, note.text),
      ),
    ),
  );
}

function updatesView(count, last) {
  const sent = Number(count) || 0;
  if (sent === 0) return null;
  return h(
    "p",
    { class: "muted", "data-testid": "incident-updates" },
    `${sent === 1 ? "1 update was" : `${sent} updates were`} emailed to your company's owners, the last on `,
    timeNode(last, { relative: false, testid: "incident-last-update" }),
    ".",
  );
}

function timelineView(timeline) {
  if (timeline.length === 0) return h("p", { "data-testid": "incident-timeline-empty" }, "No steps recorded yet.");
  const entries = [...timeline].sort((a, b) => Number(a.at) - Number(b.at));
  return h(
    "ol",
    { class: "timeline", "data-testid": "incident-timeline" },
    entries.map((entry) =>
      h(
        "li",
        { class: "timeline__entry", "data-testid": "incident-timeline-entry", "data-step": entry.step },
        timeNode(entry.at, { relative: false, testid: "incident-timeline-time" }),
        h("p", { class: "timeline__note", "data-testid": "incident-timeline-note" }, entry.note),
      ),
    ),
  );
}

function problem(text) {
  return h("p", { class: "notice notice--error", role: "alert", "data-testid": "incident-error" }, text);
}

function unavailable(notice) {
  return pageFrame({ title: "Incident not available", testid: "incident-page" }, notice, h("p", {}, link("/incidents", "Go to all incidents")));
}

function forbidden() {
  return pageFrame(
    { title: "Incident not available", testid: "incident-page" },
    ownersOnly("incident-forbidden"),
    h("p", {}, link("/account", "Go to your account")),
  );
}
