// Shared pieces of the company-record pages (pages/roles.js, role.js, candidates.js, candidate.js, employees, teams
// and assessments): every record of a kind for selects, paged tables with "Load more",
// record forms and their values, what a 409 answer is, the assessment's question kinds. The widgets of a record's page
// (responses, data rights, check lists, conflicts, "in use") are in widgets/; its renderer is detail.js.
//
// The API (protu.directory): GET /api/<kind>?limit=&cursor= -> {items, next_cursor}; POST creates; GET/PATCH/DELETE
// /api/<kind>/{id}. A PATCH names the `version` it was made from plus the changed fields.

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { busy, field, showError } from "./ui.js";

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

// A required text field left blank or only spaces (which the browser's `required` lets through): said at the
// field without a round trip. True when there is text.
export function requireText(f, msg, text) {
  if (f.input.value.trim()) return true;
  f.error(text);
  msg.error(text);
  f.input.focus();
  return false;
}

// -------------------------------------------------------------------------------------------- 409 answers

export function isConflict(error, code) {
  return error instanceof ApiError && error.status === 409 && error.code === code;
}

// -------------------------------------------------------------------------------------------- the fields

// An empty value in a table or details list: a dash, read out as "None".
export function none() {
  return h("span", { class: "muted" }, h("span", { "aria-hidden": "true" }, "—"), h("span", { class: "sr-only" }, "None"));
}

// ------------------------------------------------------------------------------------------ records for selects

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

// <option>s of records (`key` is the field shown), "none" first.
function recordOptions(records, key, noneLabel) {
  return [h("option", { value: "" }, noneLabel), ...records.map((record) => h("option", { value: record.id }, record[key]))];
}

// Fill a <select> with records, keeping `selected` when it is one of them.
export function fillSelect(select, records, key, noneLabel, selected = select.value) {
  select.replaceChildren(...recordOptions(records, key, noneLabel));
  select.value = records.some((record) => record.id === selected) ? selected : "";
}

// -------------------------------------------------------------------------------------------- assessments

// The kinds of question an assessment asks; each kind decides how an answer is given (widgets/response-form.js).
export const QUESTION_KINDS = [
  ["text", "Written answer"],
  ["scale", "Scale from 1 to 5"],
  ["choice", "Choice (short answer)"],
  ["yes_no", "Yes or no"],
];
export const QUESTION_KIND_NAMES = Object.fromEntries(QUESTION_KINDS);
export const MAX_QUESTIONS = 50;

// "3 questions"
export function questionCount(assessment) {
  const n = assessment.questions?.length ?? 0;
  return n === 1 ? "1 question" : `${n} questions`;
}
