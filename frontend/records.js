// Shared pieces of the company-record pages (pages/roles.js, role.js, candidates.js, candidate.js): the candidate
// stages, every role of the company for selects, paged tables with "Load more", record forms and their values,
// and the explanations for the API's 409 answers (version_conflict, in_use).
//
// The API (protu.directory): GET /api/<kind>?limit=&cursor= -> {items, next_cursor}; POST creates; GET/PATCH/DELETE
// /api/<kind>/{id}. A PATCH names the `version` it was made from plus the changed fields.

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { busy, field, link, showError } from "./ui.js";

export const STAGES = [
  ["applied", "Applied"],
  ["screening", "Screening"],
  ["interview", "Interview"],
  ["offer", "Offer"],
  ["hired", "Hired"],
  ["rejected", "Rejected"],
];
export const STAGE_NAMES = Object.fromEntries(STAGES);

const RECORD_ID = /^[a-z]{2,8}-[0-9a-f]{20}$/;

// The API's id shape: anything else in a URL is ignored rather than sent (the server would answer 422).
export function isRecordId(value) {
  return typeof value === "string" && RECORD_ID.test(value);
}

export function stageBadge(stage, testid) {
  const tone = stage === "hired" ? "badge--ok" : stage === "rejected" ? "badge--bad" : null;
  return h("span", { class: ["badge", tone], "data-testid": testid, "data-stage": stage }, STAGE_NAMES[stage] ?? stage);
}

// Every role of the company (for selects and names), by title. Pages of 100 until the cursor runs out.
export async function allRoles(signal) {
  const roles = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const page = await api.get(`/api/roles?${query}`, { signal });
    roles.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return roles.sort((a, b) => a.title.localeCompare(b.title, undefined, { sensitivity: "base" }));
}

// <option>s for a role select: the choice for "none" first, then each role.
export function roleOptions(roles, noneLabel) {
  return [h("option", { value: "" }, noneLabel), ...roles.map((role) => h("option", { value: role.id }, role.title))];
}

// True when the session ended (401): app.js takes the page away, so there is nothing to show.
export function sessionEnded(error) {
  return error instanceof ApiError && error.status === 401;
}

// ------------------------------------------------------------------------------------------------- tables

// A table that scrolls sideways on narrow screens (focusable, so keyboard users can scroll it too).
export function recordTable({ caption, columns, testid, labelledBy }) {
  const body = h("tbody", { "data-testid": `${testid}-rows` });
  const table = h(
    "table",
    { class: "records-table", "data-testid": testid, "aria-busy": "true" },
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, columns.map((text) => h("th", { scope: "col" }, text)))),
    body,
  );
  const scroll = h("div", { class: "records-table__scroll", tabindex: "0", role: "region", "aria-labelledby": labelledBy }, table);
  return { table, body, node: scroll };
}

// Fills `body` page by page: load({reset: true}) starts over (e.g. new filters), the "Load more" button
// (data-testid load-more, shown while the API has a next_cursor) appends the next page and moves the focus to its
// first row. Answers from a superseded load are dropped. A status line (<testid>-count) says how many are shown.
// `emptyText` is a string or a function answering one (e.g. depending on filters).
export function pager({ table, body, fetchPage, row, colspan, emptyText, emptyTestid, msg, heading, label, nouns, testid }) {
  let cursor = null;
  let generation = 0;
  let shown = 0;
  const more = h("button", { type: "button", class: "button button--secondary", "data-testid": "load-more", hidden: true }, label);
  const count = h("p", { class: "records-count", role: "status", "data-testid": `${testid}-count` });

  function countText() {
    if (shown === 0) return "";
    const [one, many] = nouns;
    return `${shown} ${shown === 1 ? one : many} shown${cursor ? ", more to load" : ""}.`;
  }

  async function load({ reset }) {
    const mine = reset ? ++generation : generation;
    if (reset) {
      cursor = null; // the old cursor belongs to the old filters
      more.hidden = true;
    }
    table.setAttribute("aria-busy", "true");
    try {
      const page = await fetchPage(cursor);
      if (mine !== generation) return [];
      const rows = page.items.map(row);
      if (reset) body.replaceChildren(...rows);
      else body.append(...rows);
      if (reset && rows.length === 0) {
        const text = typeof emptyText === "function" ? emptyText() : emptyText;
        body.append(h("tr", { "data-testid": emptyTestid }, h("td", { colspan: String(colspan), class: "records-table__empty" }, text)));
      }
      shown = (reset ? 0 : shown) + rows.length;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      count.textContent = countText();
      return rows;
    } catch (error) {
      if (mine !== generation || sessionEnded(error)) return [];
      showError(msg, error);
      return [];
    } finally {
      if (mine === generation) table.setAttribute("aria-busy", "false");
    }
  }

  more.addEventListener("click", async () => {
    const rows = await busy(more, () => {
      msg.clear();
      return load({ reset: false });
    });
    if (rows.length > 0) (rows[0].querySelector("a") ?? heading).focus();
    else if (more.hidden) heading.focus(); // nothing more after all
    else more.focus(); // it failed: try again from here
  });

  return { load, more: h("div", { class: "records-more" }, count, h("div", { class: "actions" }, more)) };
}

// ------------------------------------------------------------------------------------------------- forms

// A multi-line field(): the same label, hint and error handling as ui.js field().
export function textArea(options) {
  return field({ tag: "textarea", rows: "4", ...options });
}

// The fields' current values (`pick` turns each control's value into what the API takes).
export function formValues(fields, pick = {}) {
  const values = {};
  for (const [name, f] of Object.entries(fields)) {
    const raw = f.input.value;
    values[name] = pick[name] ? pick[name](raw) : raw.trim();
  }
  return values;
}

// A required text field left blank or only spaces (which the browser's `required` lets through): said at the
// field without a round trip. True when there is text.
export function requireText(f, msg, text) {
  if (f.input.value.trim()) return true;
  f.error(text);
  msg.error(text);
  f.input.focus();
  return false;
}

// Put a record's values into the fields (null becomes "").
export function fillForm(fields, record) {
  for (const [name, f] of Object.entries(fields)) {
    f.input.value = record[name] ?? "";
    f.clear();
  }
}

// Only what differs from `record`: a PATCH body without the version yet.
export function changes(values, record) {
  return Object.fromEntries(Object.entries(values).filter(([name, value]) => (record[name] ?? null) !== value));
}

// -------------------------------------------------------------------------------------------- 409 answers

export function isConflict(error, code) {
  return error instanceof ApiError && error.status === 409 && error.code === code;
}

// The record changed since it was loaded: say so in `msg` and offer to load the latest version (`reload`, which
// should refill the form). data-testid of the button: <testid>.
export function showVersionConflict(msg, { noun, reload, testid }) {
  const button = h(
    "button",
    { type: "button", class: "button button--secondary button--small notice__action", "data-testid": testid },
    "Load the latest version",
  );
  button.addEventListener("click", () => busy(button, reload));
  msg.error(
    `Someone else changed this ${noun} after you opened it, so your changes were not saved. `,
    "Load the latest version, then make your change again.",
    " ",
    button,
  );
  button.focus();
}

// A role still in use cannot be deleted (409 in_use, details.refs = how many records use it). The count covers
// every kind that names a role, so the candidates are counted here (GET /api/candidates?job_role_id=) to say who.
export async function explainRoleInUse(error, roleId, signal) {
  const refs = Number(error?.details?.refs) || 0;
  let candidates = 0;
  let more = false;
  try {
    const query = new URLSearchParams({ job_role_id: roleId, limit: "100" });
    const page = await api.get(`/api/candidates?${query}`, { signal });
    candidates = page.items.length;
    more = Boolean(page.next_cursor);
  } catch (failure) {
    if (failure?.name === "AbortError") throw failure;
  }
  const records = (n) => (n === 1 ? "1 other record" : `${n} other records`);
  if (candidates === 0) {
    const users = refs > 0 ? records(refs) : "other records";
    return [`This role cannot be deleted because ${users} still use it. Change or delete those first.`];
  }
  const who = candidates === 1 ? "1 candidate is" : `${candidates}${more ? " or more" : ""} candidates are`;
  const others = !more && refs > candidates ? ` (and ${records(refs - candidates)})` : "";
  return [
    `This role cannot be deleted because ${who} linked to it${others}. `,
    "Move them to another role or delete them first: ",
    link(`/candidates?${new URLSearchParams({ role: roleId })}`, "see the candidates for this role", {
      "data-testid": "role-in-use-candidates",
    }),
    ".",
  ];
}

// -------------------------------------------------------------------------------------------- the fields

// An empty value in a table or details list: a dash, read out as "None".
export function none() {
  return h("span", { class: "muted" }, h("span", { "aria-hidden": "true" }, "—"), h("span", { class: "sr-only" }, "None"));
}

// The role form's fields, keyed by the API's field names (so a 422's details.field lands next to its field).
export function roleFields() {
  return {
    title: field({ id: "role-title", label: "Title", required: true, maxlength: "120", autocomplete: "off", testid: "role-title" }),
    department: field({ id: "role-department", label: "Department", maxlength: "120", autocomplete: "off", testid: "role-department" }),
    level: field({
      id: "role-level",
      label: "Level",
      maxlength: "120",
      autocomplete: "off",
      hint: "For example Junior, Senior or Lead.",
      testid: "role-level",
    }),
    description: textArea({ id: "role-description", label: "Description", maxlength: "4000", testid: "role-description" }),
  };
}

// The candidate form's fields, keyed by the API's field names. The role select is filled with fillRoleSelect().
export function candidateFields() {
  return {
    name: field({ id: "candidate-name", label: "Name", required: true, maxlength: "120", autocomplete: "off", testid: "candidate-name" }),
    email: field({ id: "candidate-email", label: "Email", type: "email", maxlength: "254", autocomplete: "off", testid: "candidate-email" }),
    job_role_id: field({ id: "candidate-role", label: "Role", tag: "select", class: "select", testid: "candidate-role" }),
    stage: field({ id: "candidate-stage", label: "Stage", tag: "select", class: "select", options: STAGES, testid: "candidate-stage" }),
    source: field({
      id: "candidate-source",
      label: "Source",
      maxlength: "120",
      autocomplete: "off",
      hint: "Where they came from, for example a referral or a job board.",
      testid: "candidate-source",
    }),
    notes: textArea({ id: "candidate-notes", label: "Notes", maxlength: "10000", rows: "6", testid: "candidate-notes" }),
  };
}

// What the candidate form sends: trimmed text, null for no email and no role.
export function candidateValues(fields) {
  return formValues(fields, {
    email: (value) => value.trim() || null,
    job_role_id: (value) => value || null,
    stage: (value) => value,
    notes: (value) => value.trim(),
  });
}

// Fill a role <select> with the roles, keeping `selected` (when it is one of them).
export function fillRoleSelect(select, roles, noneLabel, selected = select.value) {
  select.replaceChildren(...roleOptions(roles, noneLabel));
  select.value = roles.some((role) => role.id === selected) ? selected : "";
}

// -------------------------------------------------------------------------------------- employees and teams

export const STATUSES = [
  ["active", "Active"],
  ["on_leave", "On leave"],
  ["left", "Left"],
];
export const STATUS_NAMES = Object.fromEntries(STATUSES);

export function statusBadge(status, testid) {
  const tone = status === "active" ? "badge--ok" : status === "left" ? "badge--unknown" : null;
  return h("span", { class: ["badge", tone], "data-testid": testid, "data-status": status }, STATUS_NAMES[status] ?? status);
}

// Every record of a kind (GET /api/<kind>, pages of 100 until the cursor runs out), sorted by `key`.
export async function allRecords(kind, key, signal) {
  const records = [];
  let cursor = null;
  do {
    const query = new URLSearchParams({ limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const page = await api.get(`/api/${kind}?${query}`, { signal });
    records.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return records.sort((a, b) => String(a[key]).localeCompare(String(b[key]), undefined, { sensitivity: "base" }));
}

// A group of checkboxes, one per [value, label] (e.g. the members of a team). values() answers the checked ones
// in the given order; set(values) checks exactly those; fill(items) replaces the choices, keeping what was checked.
export function checkList({ id, legend, hint, emptyText, testid }) {
  const list = h("ul", { class: "check-list", "data-testid": testid });
  const hintNode = hint ? h("p", { class: "field__hint", id: `${id}-hint` }, hint) : null;
  const node = h(
    "fieldset",
    { class: "field check-list__group", id, "aria-describedby": hint ? `${id}-hint` : null },
    h("legend", { class: "field__label" }, legend),
    hintNode,
    list,
  );
  function boxes() {
    return [...list.querySelectorAll("input[type=checkbox]")];
  }
  function values() {
    return boxes()
      .filter((box) => box.checked)
      .map((box) => box.value);
  }
  function set(selected) {
    const wanted = new Set(selected ?? []);
    for (const box of boxes()) box.checked = wanted.has(box.value);
  }
  function fill(items, selected = values()) {
    if (items.length === 0) {
      list.replaceChildren(h("li", { class: "muted" }, emptyText));
      return;
    }
    list.replaceChildren(
      ...items.map(([value, text], n) => {
        const boxId = `${id}-${n}`;
        return h(
          "li",
          { class: "check-list__item" },
          h("input", { type: "checkbox", id: boxId, value, "data-testid": `${testid}-option`, "data-value": value }),
          h("label", { for: boxId }, text),
        );
      }),
    );
    set(selected);
  }
  fill([]);
  return { node, values, set, fill };
}

// The same ids, in any order.
export function sameIds(a, b) {
  const left = new Set(a ?? []);
  const right = new Set(b ?? []);
  return left.size === right.size && [...left].every((id) => right.has(id));
}

// <option>s of records (`key` is the field shown), "none" first.
export function recordOptions(records, key, noneLabel) {
  return [h("option", { value: "" }, noneLabel), ...records.map((record) => h("option", { value: record.id }, record[key]))];
}

// Fill a <select> with records, keeping `selected` when it is one of them.
export function fillSelect(select, records, key, noneLabel, selected = select.value) {
  select.replaceChildren(...recordOptions(records, key, noneLabel));
  select.value = records.some((record) => record.id === selected) ? selected : "";
}

// The employee form's fields, keyed by the API's field names (teams are a checkList kept apart).
export function employeeFields() {
  return {
    name: field({ id: "employee-name", label: "Name", required: true, maxlength: "120", autocomplete: "off", testid: "employee-name" }),
    email: field({ id: "employee-email", label: "Email", type: "email", maxlength: "254", autocomplete: "off", testid: "employee-email" }),
    job_role_id: field({ id: "employee-role", label: "Role", tag: "select", class: "select", testid: "employee-role" }),
    status: field({ id: "employee-status", label: "Status", tag: "select", class: "select", options: STATUSES, testid: "employee-status" }),
    start_date: field({ id: "employee-start-date", label: "Start date", type: "date", testid: "employee-start-date" }),
  };
}

// What the employee form sends: trimmed text, null for no email, role or start date.
export function employeeValues(fields) {
  return formValues(fields, {
    email: (value) => value.trim() || null,
    job_role_id: (value) => value || null,
    status: (value) => value,
    start_date: (value) => value || null,
  });
}

// The team form's fields (members are a checkList kept apart).
export function teamFields() {
  return {
    name: field({ id: "team-name", label: "Name", required: true, maxlength: "120", autocomplete: "off", testid: "team-name" }),
    lead_employee_id: field({ id: "team-lead", label: "Lead", tag: "select", class: "select", testid: "team-lead" }),
    description: textArea({ id: "team-description", label: "Description", maxlength: "4000", testid: "team-description" }),
  };
}

export function teamValues(fields) {
  return formValues(fields, { lead_employee_id: (value) => value || null });
}
