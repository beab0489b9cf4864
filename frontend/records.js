// Shared pieces of the company-record pages (pages/roles.js, role.js, candidates.js, candidate.js, employees, teams
// and assessments): the candidate stages, every role of the company for selects, paged tables with "Load more",
// record forms and their values, the explanations for the API's 409 answers (version_conflict, in_use), the
// assessment builder, the views of assessment responses and a person's data-protection rights (export, erasure).
//
// The API (protu.directory): GET /api/<kind>?limit=&cursor= -> {items, next_cursor}; POST creates; GET/PATCH/DELETE
// /api/<kind>/{id}. A PATCH names the `version` it was made from plus the changed fields.

import { ApiError, api, path } from "./api.js";
import { h } from "./dom.js";
import { busy, dialog, downloadText, field, link, messages, showError, timeNode } from "./ui.js";

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
export function allRoles(signal) {
  return allRecords("roles", "title", signal);
}

// <option>s for a role select: the choice for "none" first, then each role.
export function roleOptions(roles, noneLabel) {
  return [h("option", { value: "" }, noneLabel), ...roles.map((role) => h("option", { value: role.id }, role.title))];
}

// What the signed-in user may do: /api/me's `permissions` (protu.identity.rbac), e.g. allows(session.user, "exports").
export function allows(user, permission) {
  return Array.isArray(user?.permissions) && user.permissions.includes(permission);
}

// True when the session ended (401): app.js takes the page away, so there is nothing to show.
export function sessionEnded(error) {
  return error instanceof ApiError && error.status === 401;
}

// ------------------------------------------------------------------------------------------------- tables

// A table that scrolls sideways on narrow screens (focusable, so keyboard users can scroll it too). Its caption's
// id is <testid>-caption: a page whose section is already named by `labelledBy` names the scroll region by that.
export function recordTable({ caption, columns, testid, labelledBy }) {
  const body = h("tbody", { "data-testid": `${testid}-rows` });
  const table = h(
    "table",
    { class: "records-table", "data-testid": testid, "aria-busy": "true" },
    h("caption", { class: "sr-only", id: `${testid}-caption` }, caption),
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
      // A filtered list may answer a page with no items but a cursor (the audit log reads a bounded stretch of
      // its chain per request): keep going, a few stretches at a time, until something shows or the list ends.
      let page = await fetchPage(cursor);
      for (let stretch = 1; page.items.length === 0 && page.next_cursor && stretch < 20; stretch += 1) {
        if (mine !== generation) return [];
        page = await fetchPage(page.next_cursor);
      }
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

// -------------------------------------------------------------------------------------------- assessments

// The kinds of question an assessment asks; each kind decides how an answer is given (pages/assessment.js).
export const QUESTION_KINDS = [
  ["text", "Written answer"],
  ["scale", "Scale from 1 to 5"],
  ["choice", "Choice (short answer)"],
  ["yes_no", "Yes or no"],
];
export const QUESTION_KIND_NAMES = Object.fromEntries(QUESTION_KINDS);
export const MAX_QUESTIONS = 50;

// An error for a group of controls rather than one field (the questions, the answers), with field()'s
// { error(text), clear(), input } shape so showError() puts a 422 naming the group there. `focus()` answers the
// control that takes the focus.
export function groupError({ id, testid, focus }) {
  const node = h("p", { id, class: "field__error", "data-testid": testid, hidden: true });
  return {
    node,
    error(text) {
      node.textContent = text;
      node.hidden = false;
    },
    clear() {
      node.textContent = "";
      node.hidden = true;
    },
    get input() {
      return focus();
    },
  };
}

// A button that stays focusable while it does nothing (aria-disabled rather than disabled: handleSubmit() turns
// `disabled` off on every button of the form once a submission is done).
function setUsable(button, on) {
  if (on) button.removeAttribute("aria-disabled");
  else button.setAttribute("aria-disabled", "true");
}

function usable(button) {
  return button.getAttribute("aria-disabled") !== "true";
}

// The assessment form (adding one on /assessments, changing one on /assessments/:id): title, job role and the
// questions, which can be added (up to 50), removed (down to 1), moved up and down and edited.
//
// A question keeps its id through every edit, because answers are stored by question id: new questions get the
// next free q<n>, and an id seen in this form (even of a question removed meanwhile) is never given to another
// question. `fields` is keyed like the API's details.field ("title", "questions[1].text") and kept in step with the
// list, so a 422 lands next to the right question.
export function assessmentBuilder({ action, submitLabel, labelledBy }) {
  const msg = messages("assessment-form");
  const said = h("p", { class: "sr-only", role: "status", "data-testid": "assessment-questions-status" });
  const list = h("ol", { class: "question-list", "data-testid": "assessment-questions" });
  const add = h(
    "button",
    { type: "button", class: "button button--secondary button--small", "data-testid": "assessment-add-question" },
    "Add a question",
  );
  const used = new Set(); // every question id this form has seen or given out
  let items = []; // { id, node, text, kind, up, down, remove, number, kindFor }, in the order asked
  let roles = [];
  let serial = 0; // element ids

  const fields = {
    title: field({
      id: "assessment-title",
      label: "Title",
      required: true,
      maxlength: "120",
      autocomplete: "off",
      testid: "assessment-title",
    }),
    job_role_id: field({
      id: "assessment-role",
      label: "Job role",
      tag: "select",
      class: "select",
      options: [["", "No role"]],
      hint: "The role this assessment is for, if any.",
      testid: "assessment-role",
    }),
    questions: groupError({
      id: "assessment-questions-error",
      testid: "assessment-questions-error",
      focus: () => items[0]?.text.input ?? add,
    }),
  };

  function say(text) {
    said.textContent = text;
  }

  function nextId() {
    let n = 0;
    for (const id of used) {
      const found = /^q(\d+)$/.exec(id);
      if (found) n = Math.max(n, Number(found[1]));
    }
    let id;
    do id = `q${++n}`;
    while (used.has(id));
    used.add(id);
    return id;
  }

  function item(question) {
    const n = ++serial;
    const number = h("span", {});
    const kindFor = h("span", { class: "sr-only" });
    const text = textArea({
      id: `assessment-question-${n}`,
      label: number,
      rows: "2",
      maxlength: "1000",
      required: true,
      testid: "question-text",
    });
    const kind = field({
      id: `assessment-question-${n}-kind`,
      label: h("span", {}, "Answer type", kindFor),
      tag: "select",
      class: "select",
      options: QUESTION_KINDS,
      testid: "question-kind",
    });
    text.input.value = question.text ?? "";
    kind.input.value = QUESTION_KIND_NAMES[question.kind] ? question.kind : "text";
    const button = (label, testid) =>
      h("button", { type: "button", class: "button button--secondary button--small", "data-testid": testid }, label);
    const entry = { id: question.id, text, kind, number, kindFor };
    entry.up = button("Move up", "question-up");
    entry.down = button("Move down", "question-down");
    entry.remove = button("Remove", "question-remove");
    entry.node = h(
      "li",
      { class: "question", "data-testid": "assessment-question", "data-question-id": question.id },
      h("div", { class: "question__fields" }, text.node, kind.node),
      h("div", { class: "question__actions" }, entry.up, entry.down, entry.remove),
    );
    entry.up.addEventListener("click", () => move(entry, -1));
    entry.down.addEventListener("click", () => move(entry, 1));
    entry.remove.addEventListener("click", () => drop(entry));
    return entry;
  }

  // Labels, which buttons do something, and the `fields` keys of each question, after any change to the list.
  function renumber() {
    for (const key of Object.keys(fields)) if (key.startsWith("questions[")) delete fields[key];
    items.forEach((entry, i) => {
      const n = i + 1;
      entry.number.textContent = `Question ${n}`;
      entry.kindFor.textContent = ` for question ${n}`;
      entry.up.setAttribute("aria-label", `Move up: question ${n}`);
      entry.down.setAttribute("aria-label", `Move down: question ${n}`);
      entry.remove.setAttribute("aria-label", `Remove: question ${n}`);
      setUsable(entry.up, i > 0);
      setUsable(entry.down, i < items.length - 1);
      setUsable(entry.remove, items.length > 1);
      fields[`questions[${i}]`] = entry.text;
      fields[`questions[${i}].id`] = entry.text;
      fields[`questions[${i}].text`] = entry.text;
      fields[`questions[${i}].kind`] = entry.kind;
    });
    setUsable(add, items.length < MAX_QUESTIONS);
  }

  function move(entry, delta) {
    const button = delta < 0 ? entry.up : entry.down;
    if (!usable(button)) return;
    const from = items.indexOf(entry);
    const to = from + delta;
    items.splice(from, 1);
    items.splice(to, 0, entry);
    if (delta < 0) items[to + 1].node.before(entry.node);
    else items[to - 1].node.after(entry.node);
    renumber();
    say(`Question ${from + 1} moved ${delta < 0 ? "up" : "down"}. It is now question ${to + 1}.`);
    (usable(button) ? button : delta < 0 ? entry.down : entry.up).focus();
  }

  function drop(entry) {
    if (!usable(entry.remove)) return;
    const at = items.indexOf(entry);
    items.splice(at, 1);
    entry.node.remove();
    renumber();
    say(`Question ${at + 1} removed. ${items.length === 1 ? "1 question" : `${items.length} questions`} left.`);
    (items[at] ?? items[at - 1]).text.input.focus();
  }

  add.addEventListener("click", () => {
    if (!usable(add)) {
      say(`An assessment asks at most ${MAX_QUESTIONS} questions.`);
      return;
    }
    const entry = item({ id: nextId(), text: "", kind: "text" });
    items.push(entry);
    list.append(entry.node);
    renumber();
    fields.questions.clear();
    say(`Question ${items.length} added.`);
    entry.text.input.focus();
  });

  function selectRole(roleId) {
    const select = fields.job_role_id.input;
    fillSelect(select, roles, "title", "No role", roleId ?? "");
    // A role this page does not know (the roles could not be loaded) stays selected, so saving keeps the link.
    if (roleId && !roles.some((role) => role.id === roleId)) {
      select.append(h("option", { value: roleId }, "The current role"));
      select.value = roleId;
    }
  }

  // Show `record` ({title, job_role_id, questions}) in the form.
  function fill(record) {
    for (const question of record.questions) used.add(question.id);
    items = record.questions.map(item);
    list.replaceChildren(...items.map((entry) => entry.node));
    fields.title.input.value = record.title ?? "";
    fields.title.clear();
    selectRole(record.job_role_id);
    fields.job_role_id.clear();
    fields.questions.clear();
    renumber();
    say("");
  }

  const form = h(
    "form",
    { class: "form", method: "post", action, "aria-labelledby": labelledBy, "data-testid": "assessment-form" },
    fields.title.node,
    fields.job_role_id.node,
    h(
      "fieldset",
      { class: "question-group", "aria-describedby": "assessment-questions-hint" },
      h("legend", {}, "Questions"),
      h(
        "p",
        { id: "assessment-questions-hint", class: "field__hint" },
        `1 to ${MAX_QUESTIONS} questions, asked in this order. The answer type decides how each answer is given.`,
      ),
      list,
      fields.questions.node,
      h("div", { class: "actions" }, add),
      said,
    ),
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "assessment-save" }, submitLabel)),
    ...msg.nodes,
  );

  return {
    form,
    msg,
    fields,
    fill,
    // An empty form with one question (q1) to start from.
    reset() {
      used.clear();
      fill({ title: "", job_role_id: null, questions: [{ id: nextId(), text: "", kind: "text" }] });
    },
    setRoles(roleList, selected = fields.job_role_id.input.value) {
      roles = roleList;
      selectRole(selected || null);
    },
    // What the form sends: trimmed texts, null for no role.
    values() {
      return {
        title: fields.title.input.value.trim(),
        job_role_id: fields.job_role_id.input.value || null,
        questions: items.map((entry) => ({ id: entry.id, text: entry.text.input.value.trim(), kind: entry.kind.input.value })),
      };
    },
    // A blank title or question is said at its field without a round trip. True when all is filled in.
    check() {
      if (!requireText(fields.title, msg, "Enter a title for the assessment.")) return false;
      return items.every((entry, i) => requireText(entry.text, msg, `Enter the text of question ${i + 1}, or remove that question.`));
    },
  };
}

// Only what differs from `record`: a PATCH body without the version yet. The questions go as a whole.
export function assessmentChanges(values, record) {
  const patch = changes({ title: values.title, job_role_id: values.job_role_id }, record);
  const before = record.questions ?? [];
  const same =
    values.questions.length === before.length &&
    values.questions.every((q, i) => q.id === before[i].id && q.text === before[i].text && q.kind === before[i].kind);
  if (!same) patch.questions = values.questions;
  return patch;
}

// "3 questions"
export function questionCount(assessment) {
  const n = assessment.questions?.length ?? 0;
  return n === 1 ? "1 question" : `${n} questions`;
}

// -------------------------------------------------------------------------------------------- responses

const SCORE = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2, useGrouping: false });

export function scoreNode(score, testid) {
  if (score === null || score === undefined) return h("span", { "data-testid": testid }, none());
  return h("span", { "data-testid": testid }, SCORE.format(score));
}

// An answer as a person reads it: "Yes", "4 of 5", the text as written; "No answer" when there is none.
export function answerNode(kind, value) {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, "No answer");
  if (kind === "yes_no") return { yes: "Yes", no: "No" }[value.toLowerCase()] ?? value;
  if (kind === "scale" && /^[1-5]$/.test(value)) return `${value} of 5`;
  return value;
}

// The answers next to the question texts, in the assessment's order. Answers to questions the assessment no longer
// asks follow (they are kept); `questions` null (the assessment could not be loaded) shows the answers by id.
export function answerList(questions, answers) {
  const given = answers ?? {};
  const asked = new Set((questions ?? []).map((question) => question.id));
  const item = (id, question, answer) =>
    h(
      "div",
      { class: "answers__item", "data-testid": "answer", "data-question-id": id },
      h("dt", { "data-testid": "answer-question" }, question),
      h("dd", { class: "details__text", "data-testid": "answer-value" }, answer),
    );
  const extra = Object.keys(given)
    .filter((id) => !asked.has(id))
    .map((id) =>
      item(id, questions ? "A question this assessment no longer asks" : `Question ${id}`, answerNode("text", given[id])),
    );
  return h(
    "dl",
    { class: "answers", "data-testid": "answers" },
    (questions ?? []).map((question, i) => item(question.id, `${i + 1}. ${question.text}`, answerNode(question.kind, given[question.id]))),
    extra,
  );
}

// What opening a response shows: its answers next to the question texts, then the notes, then `extra` (actions).
export function responseDetail(questions, response, ...extra) {
  return h(
    "div",
    { class: "response-detail" },
    h("h3", { class: "response-detail__title" }, "Answers"),
    answerList(questions, response.answers),
    h("h3", { class: "response-detail__title" }, "Notes"),
    h("p", { class: "details__text response-detail__notes", "data-testid": "response-notes" }, response.notes || none()),
    ...extra,
  );
}

let toggles = 0;

// The "Show answers" button of a response's table row: opens a row under it with what `build()` answers (see
// responseDetail()) and closes it again. The answers only ever live in the page: never in the address or storage.
export function answersToggle({ colspan, build }) {
  let details = null;
  const button = h(
    "button",
    { type: "button", class: "button button--secondary button--small", "aria-expanded": "false", "data-testid": "response-toggle" },
    "Show answers",
  );
  button.addEventListener("click", () => {
    const row = button.closest("tr");
    if (details) {
      details.remove();
      details = null;
      button.removeAttribute("aria-controls");
      button.setAttribute("aria-expanded", "false");
      button.textContent = "Show answers";
      return;
    }
    details = h(
      "tr",
      { class: "response-details", id: `response-details-${++toggles}`, "data-testid": "response-details" },
      h("td", { colspan: String(colspan) }, build()),
    );
    row.after(details);
    button.setAttribute("aria-controls", details.id);
    button.setAttribute("aria-expanded", "true");
    button.textContent = "Hide answers";
  });
  return button;
}

// A person's assessment responses for their page (pages/candidate.js, employee.js): GET
// /api/<candidates|employees>/{id}/responses, newest first with "Load more", each row opening its answers next to
// the question texts. Each assessment named is fetched once (GET /api/assessments/{id}) for its title and questions.
// Every read of responses is an audit event on the server, so the list is read once and kept in the page.
export function personResponses({ kind, personId, noun, signal }) {
  const msg = messages("person-responses");
  const heading = h("h2", { id: "person-responses-title", tabindex: "-1" }, "Assessment responses");
  const { table, body, node } = recordTable({
    caption: `Assessment responses about this ${noun}`,
    columns: ["Assessment", "Score", "Recorded", "Answers"],
    testid: "person-responses-table",
    labelledBy: "person-responses-title",
  });
  const assessments = new Map(); // id -> the assessment, or null when it could not be loaded

  async function loadAssessment(id) {
    try {
      assessments.set(id, await api.get(path`/api/assessments/${id}`, { signal }));
    } catch (error) {
      if (error?.name === "AbortError" || sessionEnded(error)) throw error;
      assessments.set(id, null); // the answers still show, by question id
    }
  }

  function row(response) {
    const assessment = assessments.get(response.assessment_id) ?? null;
    return h(
      "tr",
      { class: "records-table__row", "data-testid": "response-row", "data-response-id": response.id },
      h(
        "th",
        { scope: "row", class: "records-table__name" },
        link(`/assessments/${encodeURIComponent(response.assessment_id)}`, assessment ? assessment.title : "An assessment", {
          "data-testid": "response-assessment-link",
        }),
      ),
      h("td", {}, scoreNode(response.score, "response-score")),
      h("td", {}, timeNode(response.created_at, { testid: "response-date" })),
      h("td", {}, answersToggle({ colspan: 4, build: () => responseDetail(assessment?.questions ?? null, response) })),
    );
  }

  const list = pager({
    table,
    body,
    msg,
    heading,
    colspan: 4,
    label: "Load more responses",
    nouns: ["response", "responses"],
    testid: "person-responses",
    emptyText: `No assessment responses about this ${noun} yet. Record one on an assessment's page.`,
    emptyTestid: "person-responses-empty",
    fetchPage: async (cursor) => {
      const query = new URLSearchParams({ limit: "25" });
      if (cursor) query.set("cursor", cursor);
      const page = await api.get(`/api/${kind}/${encodeURIComponent(personId)}/responses?${query}`, { signal });
      const missing = [...new Set(page.items.map((response) => response.assessment_id))].filter((id) => !assessments.has(id));
      await Promise.all(missing.map(loadAssessment));
      return page;
    },
    row,
  });
  list.load({ reset: true });

  return h(
    "section",
    { class: "card", "aria-labelledby": "person-responses-title", "data-testid": "person-responses" },
    heading,
    h("p", { class: "field__hint" }, "Answers are confidential: every time they are read, it is recorded in the audit log."),
    ...msg.nodes,
    node,
    list.more,
  );
}

// ------------------------------------------------------------------------------------- a person's data rights

// A person's data-protection rights for their page (pages/candidate.js, employee.js), shown to users with the
// `exports` permission (owners; the API refuses everyone else):
//   "Export their data"   POST /api/<kind>/{id}/export -> {exported_at, person, responses}: everything held about
//                         them, opened, saved as <entity>-<id>.json through a blob: link (each read is audited).
//   "Erase permanently"   the person's name typed to confirm, then DELETE /api/<kind>/{id}?erase=true: their key is
//                         destroyed (copies in backups become unreadable), the responses about them and their record
//                         are deleted. 409 in_use (an employee who leads a team): the API's message is shown.
// `current()` answers the record as the page shows it now (its name may have been changed); `onErased(person)` and
// `onGone()` (404: someone deleted them meanwhile) take the page away.
export function personDataRights({ kind, entity, current, signal, onErased, onGone }) {
  const msg = messages(`${entity}-data`);
  const exportButton = h(
    "button",
    { type: "button", class: "button button--secondary", "data-testid": `${entity}-export` },
    "Export their data",
  );
  const eraseButton = h(
    "button",
    { type: "button", class: "button button--danger", "data-testid": `${entity}-erase` },
    "Erase permanently",
  );

  exportButton.addEventListener("click", () =>
    busy(exportButton, async () => {
      msg.clear();
      const person = current();
      let answer;
      try {
        answer = await api.post(path`/api/${kind}/${person.id}/export`, undefined, { signal });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return onGone();
        if (sessionEnded(error)) return;
        return showError(msg, error);
      }
      downloadText(`${entity}-${person.id}.json`, `${JSON.stringify(answer, null, 2)}\n`, "application/json");
      msg.notice(`Their data is saved as ${entity}-${person.id}.json. Keep the file safe: it holds their answers in clear.`);
    }),
  );

  eraseButton.addEventListener("click", async () => {
    const person = current();
    if (!(await confirmErasure(entity, person.name))) return eraseButton.focus();
    await busy(eraseButton, async () => {
      msg.clear();
      try {
        const url = path`/api/${kind}/${person.id}`;
        await api.delete(`${url}?erase=true`, { signal });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return onGone();
        if (isConflict(error, "in_use")) return msg.error(error.message);
        if (sessionEnded(error)) return;
        return showError(msg, error);
      }
      await onErased(person);
    });
    if (eraseButton.isConnected) eraseButton.focus();
  });

  return h(
    "section",
    { class: "card", "aria-labelledby": `${entity}-data-title`, "data-testid": `${entity}-data-section` },
    h("h2", { id: `${entity}-data-title` }, "Their personal data"),
    h(
      "p",
      {},
      `Export everything Protu holds about this ${entity} (their record and every assessment response about them) as a `,
      "JSON file, for example to answer their request for a copy. Each export is recorded in the audit log.",
    ),
    h(
      "p",
      {},
      `Erasing removes this ${entity} and every assessment response about them for good, and destroys the key their `,
      "data was sealed with, so copies in backups can no longer be read either. The audit log keeps that it happened.",
    ),
    h("div", { class: "actions" }, exportButton, eraseButton),
    ...msg.nodes,
  );
}

// "Erase <name> permanently?" with the name to type: true once typed exactly and confirmed.
async function confirmErasure(entity, name) {
  const answer = await dialog({
    title: `Erase ${name} permanently?`,
    testid: "erase-person-dialog",
    describedBy: "erase-person-message",
    build: (close) => {
      const typed = field({
        id: "erase-person-name",
        label: h("span", {}, "Type their name, ", h("strong", {}, name), ", to confirm"),
        autocomplete: "off",
        spellcheck: "false",
        testid: "erase-person-name",
      });
      const ok = h(
        "button",
        { type: "submit", class: "button button--danger", "data-testid": "erase-person-ok", disabled: true },
        "Erase permanently",
      );
      const matches = () => typed.input.value.trim() === name.trim();
      typed.input.addEventListener("input", () => {
        ok.disabled = !matches();
      });
      const form = h(
        "form",
        { class: "form", method: "post" },
        h(
          "p",
          { id: "erase-person-message", class: "dialog__text", "data-testid": "erase-person-message" },
          `This ${entity}, every assessment response about them and the key their data was sealed with are deleted. `,
          "This cannot be undone.",
        ),
        typed.node,
        h(
          "div",
          { class: "dialog__actions" },
          h(
            "button",
            { type: "button", class: "button button--secondary", "data-testid": "erase-person-cancel", onClick: () => close(false) },
            "Cancel",
          ),
          ok,
        ),
      );
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (matches()) close(true);
      });
      queueMicrotask(() => typed.input.focus());
      return form;
    },
  });
  return answer === true;
}
