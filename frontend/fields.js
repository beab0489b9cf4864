// A kind's form fields built from its declaration (kinds.js `fields`) and the API's own limits (schema.js): the
// list page's create form and the detail page's edit form use the same ones.
//
//   const form = kindFields(KINDS.candidates, await schema());
//   form.fields.name.node, form.fields.job_role_id.input, form.checks.team_ids (a checkList)
//   form.fillRefs({ roles: [...], teams: [...] })    // the selects and check lists naming other records
//   form.values()                                    // what a POST (or, with changes(), a PATCH) sends
//
// `fields` has ui.js field()'s shape, keyed by the API's field names (so a 422's details.field lands next to its
// field: pass it to handleSubmit); `checks` (groups of checkboxes, e.g. an employee's teams) are kept apart.

import { h } from "./dom.js";
import { enumOptions, REF_KEYS } from "./kinds.js";
import { fillSelect, requireText, textArea } from "./records.js";
import { field } from "./ui.js";
import { checkList } from "./widgets/check-list.js";

export function kindFields(kind, s) {
  const fields = {};
  const checks = {};
  for (const [name, decl] of Object.entries(kind.fields)) {
    if (controlOf(decl) === "checks") checks[name] = checkField(kind, decl);
    else fields[name] = kindField(kind, s, name, decl);
  }
  return {
    fields,
    checks,
    fillRefs: (refs) => fillRefs(kind, fields, checks, refs),
    values: () => kindValues(kind, fields, checks),
    // The required fields left blank (or only spaces): said at the first one. True when all are there.
    check: (msg) => Object.entries(kind.fields).every(([name, decl]) => !decl.required || requireText(fields[name], msg, decl.required)),
  };
}

function controlOf(decl) {
  return decl.control ?? (decl.enum || decl.ref ? "select" : "text");
}

function kindField(kind, s, name, decl) {
  const id = `${kind.testid}-${decl.id}`;
  const common = { id, label: decl.label, hint: decl.hint, testid: id };
  const control = controlOf(decl);
  if (control === "select") {
    const options = decl.enum ? enumOptions(decl.enum, s.enum(kind.collection, name)) : [["", decl.noneLabel]];
    // A select of other records waits for them (fillRefs).
    return field({ ...common, tag: "select", class: "select", options, disabled: Boolean(decl.ref) });
  }
  const maxlength = s.maxLength(kind.collection, name);
  const limits = { ...common, maxlength: maxlength === null ? null : String(maxlength) };
  if (control === "textarea") return textArea(decl.rows ? { ...limits, rows: decl.rows } : limits);
  const typed = control === "text" ? { autocomplete: "off" } : control === "email" ? { type: "email", autocomplete: "off" } : { type: control };
  return field({ ...limits, ...typed, required: Boolean(decl.required) });
}

function checkField(kind, decl) {
  const id = `${kind.testid}-${decl.id}`;
  return checkList({ id, legend: decl.label, emptyText: decl.emptyText, testid: id });
}

// Fill the selects and check lists that name other records (refs: {roles: [...], ...} sorted by name).
function fillRefs(kind, fields, checks, refs) {
  for (const [name, decl] of Object.entries(kind.fields)) {
    const records = decl.ref ? refs[decl.ref] : null;
    if (!records) continue;
    const key = REF_KEYS[decl.ref];
    if (checks[name]) {
      checks[name].fill(records.map((record) => [record.id, record[key]]));
    } else {
      fillSelect(fields[name].input, records, key, decl.noneLabel);
      fields[name].input.disabled = false;
    }
  }
}

// Trimmed text; null for an empty email, date or reference; an enum as chosen; the checked ids of a check list.
function kindValues(kind, fields, checks) {
  const values = {};
  for (const [name, decl] of Object.entries(kind.fields)) {
    const control = controlOf(decl);
    if (control === "checks") values[name] = checks[name].values();
    else if (decl.enum) values[name] = fields[name].input.value;
    else if (decl.ref || control === "email" || control === "date") values[name] = fields[name].input.value.trim() || null;
    else values[name] = fields[name].input.value.trim();
  }
  return values;
}

// The fields laid out as declared: each row of the layout one field, or a pair side by side.
export function layoutFields(layout, fields, checks) {
  return layout.map((row) => {
    const nodes = row.map((name) => (fields[name] ?? checks[name]).node);
    return nodes.length === 1 ? nodes[0] : h("div", { class: "form__pair" }, ...nodes);
  });
}
