// The responses recorded with an assessment, for its page: GET /api/assessments/{id}/responses, newest first with
// "Load more"; each row names the person (linked) and opens its answers next to the question texts, where the
// response can be deleted. `count()` says how many the table shows (for the delete's "in use" check); `reload()`
// reads the list again (after a response is recorded).

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import { pager, recordTable } from "../records.js";
import { busy, confirmDialog, link, messages, showError, timeNode } from "../ui.js";
import { answersToggle, responseDetail, responsesSection, scoreNode } from "./responses.js";

const PAGE_SIZE = 25;

// The kinds of person a response can be about.
export const SUBJECTS = {
  candidate: { label: "Candidate", one: "a candidate", many: "candidates", page: "/candidates", refs: "candidates" },
  employee: { label: "Employee", one: "an employee", many: "employees", page: "/employees", refs: "employees" },
};

// The person a response is about, by name ("this person" when not known).
export function personName(refs, response) {
  const kind = SUBJECTS[response.subject_type];
  return (kind && refs[kind.refs]?.find((person) => person.id === response.subject_id)?.name) ?? "this person";
}

export function assessmentResponses({ current: record, refs, signal }) {
  const msg = messages("responses");
  const heading = h("h2", { id: "assessment-responses-title", tabindex: "-1" }, "Responses");
  const { table, body, node } = recordTable({
    caption: "Responses recorded with this assessment",
    columns: ["Person", "About", "Score", "Recorded", "Answers"],
    testid: "responses-table",
    labelledBy: "responses-table-caption",
  });
  const context = { record, refs, signal, msg, heading, reload: () => list.load({ reset: true }) };
  const list = pager({
    table,
    body,
    msg,
    heading,
    colspan: 5,
    label: "Load more responses",
    nouns: ["response", "responses"],
    testid: "responses",
    emptyText: "No responses yet. Record the first one below.",
    emptyTestid: "responses-empty",
    fetchPage: (cursor) => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set("cursor", cursor);
      return api.get(`${path`/api/assessments/${record().id}/responses`}?${query}`, { signal });
    },
    row: (response) => responseRow(context, response),
  });
  let loaded = list.load({ reset: true });
  return {
    node: responsesSection({ heading, testid: "assessment-responses", msg, table: node, more: list.more }),
    reload: () => {
      loaded = list.load({ reset: true });
      return loaded;
    },
    count: async () => {
      await loaded;
      const more = list.more.querySelector("[data-testid=load-more]");
      return { n: body.querySelectorAll("[data-testid=response-row]").length, more: !more.hidden };
    },
  };
}

function personLink(refs, response) {
  const kind = SUBJECTS[response.subject_type] ?? SUBJECTS.candidate;
  const known = personName(refs, response);
  const name = known === "this person" ? `Unknown ${kind.label.toLowerCase()}` : known;
  return link(`${kind.page}/${encodeURIComponent(response.subject_id)}`, name, { "data-testid": "response-subject-link" });
}

function responseRow(context, response) {
  return h(
    "tr",
    { class: "records-table__row", "data-testid": "response-row", "data-response-id": response.id, "data-subject-id": response.subject_id },
    h("th", { scope: "row", class: "records-table__name" }, personLink(context.refs, response)),
    h("td", { "data-testid": "response-row-subject-type" }, SUBJECTS[response.subject_type]?.label ?? response.subject_type),
    h("td", {}, scoreNode(response.score, "response-score")),
    h("td", {}, timeNode(response.created_at, { testid: "response-date" })),
    h(
      "td",
      {},
      // The questions as they are when the answers are opened (after an edit, the current texts).
      answersToggle({ colspan: 5, build: () => responseDetail(context.record().questions, response, deleteButton(context, response)) }),
    ),
  );
}

function deleteButton({ record, refs, signal, msg, heading, reload }, response) {
  const button = h(
    "button",
    { type: "button", class: "button button--danger button--small", "data-testid": "response-delete" },
    "Delete this response",
  );
  button.addEventListener("click", async () => {
    const name = personName(refs, response);
    const ok = await confirmDialog({
      title: `Delete the response about ${name}?`,
      message: "Its answers, score and notes are removed for good. This cannot be undone.",
      confirmLabel: "Delete response",
      danger: true,
    });
    if (!ok) return button.focus();
    await busy(button, async () => {
      msg.clear();
      try {
        await api.delete(path`/api/assessments/${record().id}/responses/${response.id}`, { signal });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) return showError(msg, error);
      }
      msg.notice(`The response about ${name} was deleted.`);
      await reload();
    });
    heading.focus();
  });
  return button;
}
