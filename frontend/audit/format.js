// How the audit page (pages/audit.js and its Export and Streams sections) says things: the ids an event names as
// the names they have now (GET /api/audit-events answers them in `names`; the stored events keep the ids, and an id
// without a name, such as an erased person or a robot like "system", is shown as it is), the events' details in a
// line, the kinds of events grouped by area for the action filter, and calendar days as the API's instants.

import { h } from "../dom.js";
import { none } from "../records.js";
import { toDate } from "../ui.js";

const LIST_MAX = 5; // names shown of a longer list ("... and 12 more")
const TEXT_MAX = 80;

// ---------------------------------------------------------------------------------------------- days

// A local calendar day (an <input type="date"> value) as the API's instant: its first moment, or (end) its last.
export function dayStart(day) {
  return instant(`${day}T00:00:00`);
}

export function dayEnd(day) {
  return instant(`${day}T23:59:59.999`);
}

function instant(local) {
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

const DAY_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

// The API's RFC 3339 times carry microseconds ("...00.000000Z"), which Date does not promise to read: milliseconds.
export function formatInstant(value) {
  const date = toDate(typeof value === "string" ? value.replace(/(\.\d{3})\d+/, "$1") : value);
  return date ? DAY_TIME.format(date) : null;
}

// ---------------------------------------------------------------------------------------------- tables

// A cell of a table that stacks on narrow screens (.audit-table): the column's name, from data-label, goes before
// the content there.
export function cell(tag, label, props, ...content) {
  return h(tag, { ...props, "data-label": label }, h("div", { class: "audit-cell" }, ...content));
}

// ---------------------------------------------------------------------------------------------- names

const nameOf = (id, names) => (Object.hasOwn(names, id) ? names[id] : null);

// An id ("candidate:c-5f1e...", an IPv6 address) may wrap after its separators, never elsewhere inside it: text
// with a <wbr> after each ":", "-", "_", ".", "/" and "@", and between groups of 8 in a longer token (a hex key).
export function breakable(text) {
  const parts = String(text)
    .split(/(?<=[:\-_./@])/)
    .flatMap((part) => (part.length > 16 ? part.match(/.{1,8}/gu) : [part]));
  return parts.flatMap((part, i) => (i === 0 ? [part] : [h("wbr"), part]));
}

// An actor or target cell: the name (with the stored value on a second line), or the stored value alone.
export function namedValue(value, id, names, testid) {
  if (!value) return none();
  const name = nameOf(id, names);
  if (!name) return h("span", { class: "audit-raw", "data-testid": testid }, breakable(value));
  return [
    h("span", { class: "audit-name", "data-testid": testid }, name),
    h("span", { class: "audit-id", title: value, "data-testid": `${testid}-id` }, breakable(value)),
  ];
}

// Ids as names, the id in each one's title: "Ann Lee, Bo Chen and 3 more".
function nameList(ids, names) {
  const shown = ids.slice(0, LIST_MAX).map((id) => {
    const name = nameOf(id, names);
    return name
      ? h("span", { class: "audit-subject", title: id, "data-id": id }, name)
      : h("span", { class: "audit-subject audit-raw", "data-id": id }, breakable(clip(id)));
  });
  const nodes = shown.flatMap((node, i) => (i === 0 ? [node] : [", ", node]));
  const rest = ids.slice(LIST_MAX);
  if (rest.length > 0) {
    const others = rest.map((id) => nameOf(id, names) ?? id).join(", ");
    nodes.push(" and ", h("span", { title: clip(others, 1000) }, `${rest.length} more`));
  }
  return nodes;
}

function clip(text, max = TEXT_MAX) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// ---------------------------------------------------------------------------------------------- details

// An event's details, one fact a line: "Read 3 people: Ann Lee, ...", then "fields: email, name", ...
export function detailsNode(event, names) {
  const details = event.details && typeof event.details === "object" ? event.details : {};
  const lines = [];
  const subjects = Array.isArray(details.subjects) ? details.subjects.map(String) : [];
  if (subjects.length > 0) {
    const verb = event.action.endsWith(".read") ? "Read" : "About";
    const people = subjects.length === 1 ? "1 person" : `${subjects.length} people`;
    lines.push(h("li", { "data-testid": "audit-row-subjects" }, `${verb} ${people}: `, nameList(subjects, names)));
  }
  for (const [key, value] of Object.entries(details)) {
    if (key === "subjects") continue;
    const range = key === "seqs" && Array.isArray(value) && value.length === 2; // audit.read: the events shown
    const shown = range ? `${value[0]} to ${value[1]}` : detailValue(value, names);
    const label = range ? "events" : key.replaceAll("_", " ");
    if (shown !== null) lines.push(h("li", {}, h("span", { class: "audit-details__key" }, `${label}:`), " ", shown));
  }
  return lines.length > 0 ? h("ul", { class: "audit-details", "data-testid": "audit-row-details" }, lines) : none();
}

function detailValue(value, names) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "string") return nameList([value], names);
  if (typeof value !== "object") return String(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return null;
    return value.every((item) => item === null || typeof item !== "object")
      ? nameList(value.map(String), names)
      : clip(JSON.stringify(value));
  }
  const pairs = Object.entries(value).filter(([, item]) => item !== null && item !== undefined && item !== "");
  if (pairs.length === 0) return null;
  return clip(pairs.map(([key, item]) => `${key} ${typeof item === "object" ? JSON.stringify(item) : item}`).join(", "));
}

// ---------------------------------------------------------------------------------------------- actions

const AREAS = {
  access: "Access",
  assessment: "Assessments",
  audit: "Audit log",
  audit_export: "Audit exports",
  audit_stream: "Audit streams",
  auth: "Sign-in",
  backup: "Backups",
  billing: "Billing",
  candidate: "Candidates",
  company: "Company",
  employee: "Employees",
  incident: "Incidents",
  invoice: "Invoices",
  mfa: "Two-factor authentication",
  response: "Assessment responses",
  role: "Roles",
  security: "Security",
  session: "Sessions",
  sessions: "Sessions",
  settings: "Settings",
  system: "System",
  team: "Teams",
  user: "Users",
  users: "Users",
  webhook: "Webhooks",
};

function areaLabel(area) {
  if (Object.hasOwn(AREAS, area)) return AREAS[area];
  const words = area.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// The action filter's choices: "All events", then each action grouped by its area (the part before the first dot,
// labelled for people), areas and actions in order. `selected` stays a choice even when the log holds none of it
// (an address from elsewhere), so the filter in the address is kept.
export function actionOptions(actions, selected) {
  const all = new Set(actions);
  if (selected) all.add(selected);
  const groups = new Map();
  for (const action of [...all].sort()) {
    const label = areaLabel(action.split(".", 1)[0]);
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label).push(action);
  }
  const labels = [...groups.keys()].sort((a, b) => a.localeCompare(b));
  return [
    h("option", { value: "" }, "All events"),
    ...labels.map((label) =>
      h("optgroup", { label }, groups.get(label).map((action) => h("option", { value: action, selected: action === selected }, action))),
    ),
  ];
}
