// Each kind of company record the SPA shows, declared once, the way the server declares them in
// protu/directory/kinds.py: its identity (address, API collection, nouns, test-id prefix, title and lead), its
// form fields (shared by the list's create form and the detail page's edit form), its `list` part (columns,
// filters, the create form's layout, empty texts) for list.js, and its `detail` part for detail.js.
//
// What /api/openapi.json already says (the enums, the maximum lengths, the record-id pattern) is not repeated
// here: schema.js reads it. Only the human side is: labels of enum values, their order and badge tones, wording.
//
// Test ids: the list page is <plural>-page/-list/-table/-empty/-count; a row <testid>-row with
// data-<testid>-id, its link <testid>-link and cells <testid>-row-<column key>; the filters
// <testid>-filter-<param>; the form <testid>-form/-save/-create, its fields <testid>-<field id>.

import { h } from "./dom.js";
import { none, questionCount } from "./records.js";
import { link } from "./ui.js";
import { assessmentEditor } from "./widgets/assessment-editor.js";
import { assessmentResponses } from "./widgets/assessment-responses.js";
import { dataRightsWidget } from "./widgets/data-rights.js";
import { assessmentInUse, employeeInUse, personInUse, roleInUse } from "./widgets/in-use.js";
import { questionSummary } from "./widgets/questions.js";
import { responseForm } from "./widgets/response-form.js";
import { personResponsesWidget } from "./widgets/responses.js";

// The labels of enum values, in the order they are offered (a value the API adds later is still shown, after
// these, under its own name). `tones` colour the badge.
export const ENUMS = {
  stage: {
    labels: { applied: "Applied", screening: "Screening", interview: "Interview", offer: "Offer", hired: "Hired", rejected: "Rejected" },
    tones: { hired: "badge--ok", rejected: "badge--bad" },
  },
  status: {
    labels: { active: "Active", on_leave: "On leave", left: "Left" },
    tones: { active: "badge--ok", left: "badge--unknown" },
  },
};

// The human name of an enum value ("on_leave" -> "On leave").
export function enumLabel(name, value) {
  return ENUMS[name]?.labels[value] ?? String(value ?? "").replaceAll("_", " ");
}

// [[value, label], ...] for the values the API allows (`values`, from schema.js), in the declared order.
export function enumOptions(name, values) {
  const order = Object.keys(ENUMS[name]?.labels ?? {});
  const rank = (value) => (order.includes(value) ? order.indexOf(value) : order.length);
  return [...values].sort((a, b) => rank(a) - rank(b)).map((value) => [value, enumLabel(name, value)]);
}

// A coloured badge for an enum value, e.g. badge("stage", "hired", "candidate-row-stage").
export function badge(name, value, testid) {
  return h("span", { class: ["badge", ENUMS[name]?.tones[value]], "data-testid": testid, [`data-${name}`]: value }, enumLabel(name, value));
}

// A reference to another record shown by its name: the name, "Unknown ..." for an id not (or no longer) known,
// a dash for none.
export function refName(id, byId, key, unknown = "Unknown") {
  if (!id) return none();
  const record = byId.get(id);
  return record ? record[key] : h("span", { class: "muted" }, unknown);
}

// Columns: `key` names the cell (data-testid <testid>-row-<key>), `header` its heading (and data-label).
// Cells: `field` (text, a dash when empty), `badge` (an enum), `time`, `ref` ([field, kind] shown by name, or
// `unknown` when that record is not known), or `cell(record, refs)` (refs: a Map by id of each kind named). The first column is the record's name as a link to it.
const UPDATED = { key: "updated", header: "Last changed", time: "updated_at" };
const ROLE_REF = { key: "role", header: "Role", ref: ["job_role_id", "roles"], unknown: "Unknown role" };

// Common pieces of the `detail` parts (detail.js): facts, and a person's page (spoken of as "them", with their
// assessment responses before the edit form and their data rights after it).
const ADDED = { label: "Added", time: "created_at", relative: false, key: "added" };
const CHANGED = { label: "Last changed", time: "updated_at", key: "updated" };
const ROLE_FACT = { label: "Role", ref: "job_role_id", key: "role", unknown: "Unknown role" };
const PERSON = { person: true, afterAbout: [["responses", personResponsesWidget]], afterEdit: [["dataRights", dataRightsWidget]] };

// A kind's identity: its address /<plural>, its API collection /api/<plural>, its test ids <noun>-...
function kind(noun, plural, declaration) {
  return { path: `/${plural}`, collection: plural, noun, plural, testid: noun, ...declaration };
}

// A person's name, email and job role (candidates and employees).
function personFields(noun) {
  return {
    name: { id: "name", label: "Name", required: `Enter the ${noun}'s name.` },
    email: { id: "email", label: "Email", control: "email" },
    job_role_id: { id: "role", label: "Role", ref: "roles", noneLabel: "No role" },
  };
}

export const KINDS = {
  roles: kind("role", "roles", {
    nameField: "title",
    title: "Roles",
    lead: "The job roles your company hires for. Candidates can be linked to a role.",
    fields: {
      title: { id: "title", label: "Title", required: "Enter a title for the role." },
      department: { id: "department", label: "Department" },
      level: { id: "level", label: "Level", hint: "For example Junior, Senior or Lead." },
      description: { id: "description", label: "Description", control: "textarea" },
    },
    list: {
      caption: "Job roles of your company",
      columns: [{ key: "name", header: "Title" }, { key: "department", header: "Department", field: "department" }, { key: "level", header: "Level", field: "level" }, UPDATED],
      form: { heading: "Add a role", save: "Add role", layout: [["title"], ["department", "level"], ["description"]] },
      created: ["Added the role ", "."],
      empty: "No roles yet. Add the first one below.",
    },
    // detail.js: the facts shown, the widgets around the edit form, what deleting says and checks first.
    detail: {
      facts: [
        { label: "Department", field: "department" },
        { label: "Level", field: "level" },
        { label: "Description", field: "description", text: true },
        ADDED,
        CHANGED,
      ],
      footer: (role) =>
        h("p", { class: "card__footer" }, link(`/candidates?role=${encodeURIComponent(role.id)}`, "See the candidates for this role", { "data-testid": "role-candidates-link" })),
      confirm: "The role is removed for good. This cannot be undone.",
      deleteHint: "A role can be deleted once no candidate, employee or assessment is linked to it.",
      inUse: roleInUse,
    },
  }),

  candidates: kind("candidate", "candidates", {
    nameField: "name",
    title: "Candidates",
    lead: "People applying to your company, and where they are in your hiring process.",
    fields: {
      ...personFields("candidate"),
      stage: { id: "stage", label: "Stage", enum: "stage" },
      source: { id: "source", label: "Source", hint: "Where they came from, for example a referral or a job board." },
      notes: { id: "notes", label: "Notes", control: "textarea", rows: "6" },
    },
    list: {
      caption: "Candidates of your company",
      search: true,
      columns: [
        { key: "name", header: "Name" },
        { key: "email", header: "Email", field: "email", class: "records-table__email" },
        ROLE_REF,
        { key: "stage", header: "Stage", badge: "stage" },
        { key: "source", header: "Source", field: "source" },
        UPDATED,
      ],
      rowData: ["stage"],
      filters: [
        { param: "stage", label: "Filter by stage", all: "All stages", enum: "stage" },
        { param: "role", api: "job_role_id", label: "Filter by role", all: "All roles", ref: "roles" },
      ],
      form: { heading: "Add a candidate", save: "Add candidate", layout: [["name"], ["email", "source"], ["job_role_id", "stage"], ["notes"]] },
      created: ["Added ", "."],
      empty: "No candidates yet. Add the first one below.",
      emptyFiltered: "No candidates match these filters.",
    },
    detail: {
      ...PERSON,
      facts: [
        { label: "Stage", badge: "stage", key: "stage" },
        ROLE_FACT,
        { label: "Email", field: "email", mailto: true },
        { label: "Source", field: "source" },
        { label: "Notes", field: "notes", text: true },
        ADDED,
        CHANGED,
      ],
      confirm: "The candidate and their notes are removed for good. This cannot be undone.",
      deleteHint: "Deleting removes the candidate and their notes from Protu. It is refused while assessment responses about them exist.",
      inUse: personInUse,
    },
  }),

  employees: kind("employee", "employees", {
    nameField: "name",
    title: "Employees",
    lead: "The people who work at your company, their roles and teams.",
    fields: {
      ...personFields("employee"),
      status: { id: "status", label: "Status", enum: "status" },
      start_date: { id: "start-date", label: "Start date", control: "date" },
      team_ids: { id: "teams", label: "Teams", control: "checks", ref: "teams", emptyText: "No teams yet." },
    },
    list: {
      caption: "Employees of your company",
      search: true,
      columns: [
        { key: "name", header: "Name" },
        { key: "email", header: "Email", field: "email", class: "records-table__email" },
        ROLE_REF,
        { key: "teams", header: "Teams", cell: (employee, refs) => teamNames(employee.team_ids, refs.teams) },
        { key: "status", header: "Status", badge: "status" },
      ],
      rowData: ["status"],
      filters: [
        { param: "status", label: "Filter by status", all: "Any status", enum: "status" },
        { param: "team", api: "team_id", label: "Filter by team", all: "All teams", ref: "teams" },
        { param: "role", api: "job_role_id", label: "Filter by role", all: "All roles", ref: "roles" },
      ],
      form: {
        heading: "Add an employee",
        save: "Add employee",
        layout: [["name"], ["email", "job_role_id"], ["status", "start_date"], ["team_ids"]],
      },
      created: ["Added ", "."],
      empty: "No employees yet. Add the first one below.",
      emptyFiltered: "No employees match these filters.",
    },
    detail: {
      ...PERSON,
      facts: [
        { label: "Email", field: "email" },
        ROLE_FACT,
        { label: "Teams", refs: "team_ids", key: "teams", item: "team" },
        { label: "Status", badge: "status", key: "status" },
        { label: "Start date", field: "start_date", key: "start-date" },
        CHANGED,
      ],
      confirm: "The employee is removed for good, and from their teams. This cannot be undone.",
      deleteHint: "An employee can be deleted once they lead no team and no assessment responses about them exist.",
      inUse: employeeInUse,
    },
  }),

  teams: kind("team", "teams", {
    nameField: "name",
    title: "Teams",
    lead: "The teams of your company, who leads them and who is in them.",
    fields: {
      name: { id: "name", label: "Name", required: "Enter a name for the team." },
      lead_employee_id: { id: "lead", label: "Lead", ref: "employees", noneLabel: "No lead" },
      description: { id: "description", label: "Description", control: "textarea" },
      member_ids: { id: "members", label: "Members", control: "checks", ref: "employees", emptyText: "No employees yet." },
    },
    list: {
      caption: "Teams of your company",
      columns: [
        { key: "name", header: "Name" },
        { key: "lead", header: "Lead", ref: ["lead_employee_id", "employees"], unknown: "Unknown" },
        { key: "members", header: "Members", cell: (team) => count(team.member_ids.length, "member", "members") },
      ],
      form: { heading: "Add a team", save: "Add team", layout: [["name", "lead_employee_id"], ["description"], ["member_ids"]] },
      created: ["Added the team ", "."],
      empty: "No teams yet. Add the first one below.",
    },
    detail: {
      facts: [
        { label: "Lead", ref: "lead_employee_id", key: "lead" },
        { label: "Members", refs: "member_ids", key: "members", item: "member" },
        { label: "Description", field: "description", text: true },
        CHANGED,
      ],
      confirm: "The team is removed for good; its members stay as employees. This cannot be undone.",
    },
  }),

  assessments: kind("assessment", "assessments", {
    nameField: "title",
    title: "Assessments",
    lead: "Question sets for interviews and reviews. Open one to record a candidate's or an employee's answers.",
    list: {
      caption: "Assessments of your company",
      columns: [
        { key: "name", header: "Title" },
        { ...ROLE_REF, header: "Job role" },
        { key: "questions", header: "Questions", cell: questionCount },
        UPDATED,
      ],
      filters: [{ param: "role", api: "job_role_id", label: "Filter by job role", all: "All roles", ref: "roles" }],
      // The question builder (widgets) instead of declared fields: list.js asks it for the form.
      form: { heading: "New assessment", save: "Add assessment", builder: true },
      created: ["Added the assessment ", ". Open it to record responses."],
      empty: "No assessments yet. Build the first one below.",
      emptyFiltered: "No assessments for this role.",
    },
    // The question builder is the edit form; the responses and the form recording one are widgets.
    detail: {
      refs: ["roles", "candidates", "employees"],
      fields: { title: { label: "Title" }, job_role_id: { label: "Job role", ref: "roles" }, questions: { label: "Questions" } },
      facts: [
        { label: "Job role", ref: "job_role_id", kind: "roles", key: "role", unknown: "Unknown role" },
        { label: "Questions", cell: questionSummary, key: "question-list" },
        ADDED,
        CHANGED,
      ],
      afterAbout: [
        ["responses", assessmentResponses],
        ["responseForm", responseForm],
      ],
      editor: assessmentEditor,
      editHint:
        "Recorded answers stay with their question when you reword or reorder it, and answers to a removed question are kept. " +
        "To ask something different, add a new question rather than rewording an old one.",
      confirm: "The assessment and its questions are removed for good. This cannot be undone.",
      deleteHint: "An assessment can be deleted once no responses are recorded with it.",
      inUse: assessmentInUse,
    },
  }),
};

// The kinds other records name, by the field shown for them (a select of roles shows their titles).
export const REF_KEYS = { roles: "title", teams: "name", employees: "name" };

function count(n, one, many) {
  return n === 1 ? `1 ${one}` : `${n} ${many}`;
}

function teamNames(ids, teamById) {
  const names = ids.map((id) => teamById.get(id)?.name).filter(Boolean);
  return names.length ? names.join(", ") : none();
}
