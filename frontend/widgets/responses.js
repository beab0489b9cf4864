// Assessment responses as people read them: a score, an answer ("Yes", "4 of 5"), the answers next to the question
// texts, the "Show answers" toggle of a table row, and a person's responses for their page (candidate, employee).
//
// Answers and notes are confidential (sealed at rest, every read audited): they live in the page only, never in the
// address, in storage or in the console.

import { api, path } from "../api.js";
import { h } from "../dom.js";
import { none, pager, recordTable, sessionEnded } from "../records.js";
import { link, messages, timeNode } from "../ui.js";

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

function answerItem(id, question, answer) {
  return h(
    "div",
    { class: "answers__item", "data-testid": "answer", "data-question-id": id },
    h("dt", { "data-testid": "answer-question" }, question),
    h("dd", { class: "details__text", "data-testid": "answer-value" }, answer),
  );
}

// The answers next to the question texts, in the assessment's order. Answers to questions the assessment no longer
// asks follow (they are kept); `questions` null (the assessment could not be loaded) shows the answers by id.
export function answerList(questions, answers) {
  const given = answers ?? {};
  const asked = new Set((questions ?? []).map((question) => question.id));
  const extra = Object.keys(given)
    .filter((id) => !asked.has(id))
    .map((id) => answerItem(id, questions ? "A question this assessment no longer asks" : `Question ${id}`, answerNode("text", given[id])));
  return h(
    "dl",
    { class: "answers", "data-testid": "answers" },
    (questions ?? []).map((question, i) => answerItem(question.id, `${i + 1}. ${question.text}`, answerNode(question.kind, given[question.id]))),
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
    if (details) {
      details.remove();
      details = null;
      button.removeAttribute("aria-controls");
    } else {
      details = h(
        "tr",
        { class: "response-details", id: `response-details-${++toggles}`, "data-testid": "response-details" },
        h("td", { colspan: String(colspan) }, build()),
      );
      button.closest("tr").after(details);
      button.setAttribute("aria-controls", details.id);
    }
    button.setAttribute("aria-expanded", String(Boolean(details)));
    button.textContent = details ? "Hide answers" : "Show answers";
  });
  return button;
}

// The section around a table of responses: its heading, the confidentiality hint, messages, the table, "Load more".
export function responsesSection({ heading, testid, msg, table, more }) {
  return h(
    "section",
    { class: "card", "aria-labelledby": heading.id, "data-testid": testid },
    heading,
    h("p", { class: "field__hint" }, "Answers are confidential: every time they are read, it is recorded in the audit log."),
    ...msg.nodes,
    table,
    more,
  );
}

// A person's assessment responses for their page: GET /api/<candidates|employees>/{id}/responses, newest first with
// "Load more", each row opening its answers next to the question texts. Each assessment named is fetched once (GET
// /api/assessments/{id}) for its title and questions. Every read of responses is an audit event on the server, so
// the list is read once and kept in the page: `any()` answers whether it shows a response (for the delete's check).
export function personResponses({ kind, personId, noun, signal }) {
  const msg = messages("person-responses");
  const heading = h("h2", { id: "person-responses-title", tabindex: "-1" }, "Assessment responses");
  const { table, body, node } = recordTable({
    caption: `Assessment responses about this ${noun}`,
    columns: ["Assessment", "Score", "Recorded", "Answers"],
    testid: "person-responses-table",
    labelledBy: "person-responses-table-caption",
  });
  const assessments = new Map(); // id -> the assessment, or null when it could not be loaded
  const fetchPage = async (cursor) => {
    const query = new URLSearchParams({ limit: "25" });
    if (cursor) query.set("cursor", cursor);
    const page = await api.get(`${path`/api/${kind}/${personId}/responses`}?${query}`, { signal });
    const missing = [...new Set(page.items.map((response) => response.assessment_id))].filter((id) => !assessments.has(id));
    await Promise.all(missing.map((id) => loadAssessment(assessments, id, signal)));
    return page;
  };
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
    fetchPage,
    row: (response) => personResponseRow(response, assessments.get(response.assessment_id) ?? null),
  });
  const loaded = list.load({ reset: true });
  return {
    node: responsesSection({ heading, testid: "person-responses", msg, table: node, more: list.more }),
    any: async () => {
      await loaded;
      return body.querySelector("[data-testid=response-row]") !== null;
    },
  };
}

// The widget on a person's page (kinds.js detail.afterAbout).
export function personResponsesWidget(page) {
  return personResponses({ kind: page.kind.collection, personId: page.record.id, noun: page.kind.noun, signal: page.signal });
}

async function loadAssessment(assessments, id, signal) {
  try {
    assessments.set(id, await api.get(path`/api/assessments/${id}`, { signal }));
  } catch (error) {
    if (error?.name === "AbortError" || sessionEnded(error)) throw error;
    assessments.set(id, null); // the answers still show, by question id
  }
}

function personResponseRow(response, assessment) {
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
