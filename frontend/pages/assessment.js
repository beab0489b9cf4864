// One assessment (GET /api/assessments/{id}): its job role and questions; the responses recorded with it (GET
// /api/assessments/{id}/responses, newest first with "Load more"; each row opens its answers next to the question
// texts, and can be deleted there); recording a response about a candidate or an employee (POST .../responses, one
// answer control per question fitting its kind); changing the assessment with the question builder (PATCH with the
// version it was loaded at; a stale version is 409 version_conflict, answered with an offer to load the latest
// version) and deleting it (DELETE, refused with 409 in_use while responses exist).
//
// Answers and notes are confidential (sealed at rest, every read audited): they are shown in the page only, never
// put in the address, in storage or in the console.

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import {
  QUESTION_KIND_NAMES,
  allRecords,
  answersToggle,
  assessmentBuilder,
  assessmentChanges,
  fillSelect,
  groupError,
  isConflict,
  isRecordId,
  none,
  pager,
  recordTable,
  responseDetail,
  scoreNode,
  sessionEnded,
  showVersionConflict,
  textArea,
} from "../records.js";
import { session } from "../session.js";
import { busy, confirmDialog, describeError, field, handleSubmit, link, messages, pageFrame, showError, timeNode } from "../ui.js";

export const title = "Assessment";

const PAGE_SIZE = 25;

const SUBJECTS = {
  candidate: { label: "Candidate", one: "a candidate", many: "candidates", page: "/candidates" },
  employee: { label: "Employee", one: "an employee", many: "employees", page: "/employees" },
};

export async function render({ params, signal, navigate }) {
  if (!isRecordId(params.id)) return unavailable("There is no assessment at this address.");
  let assessment;
  let roles;
  let candidates;
  let employees;
  try {
    [assessment, roles, candidates, employees] = await Promise.all([
      api.get(path`/api/assessments/${params.id}`, { signal }),
      allRecords("roles", "title", signal),
      allRecords("candidates", "name", signal),
      allRecords("employees", "name", signal),
    ]);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    if (error instanceof ApiError && error.status === 404) return unavailable("There is no such assessment. It may have been deleted.");
    if (sessionEnded(error)) return unavailable("Your session ended.");
    return unavailable(describeError(error) ?? "The assessment could not be loaded.");
  }
  const roleById = new Map(roles.map((role) => [role.id, role]));
  const people = {
    candidate: new Map(candidates.map((candidate) => [candidate.id, candidate])),
    employee: new Map(employees.map((employee) => [employee.id, employee])),
  };
  const lists = { candidate: candidates, employee: employees };

  const frame = pageFrame(
    { title: assessment.title, testid: "assessment-page" },
    h("p", { class: "back-link" }, link("/assessments", "All assessments", { "data-testid": "assessment-back" })),
  );
  const heading = frame.querySelector("h1");
  heading.setAttribute("data-testid", "assessment-heading");

  // Gone meanwhile (deleted in another tab or by someone else): back to the list, which says so.
  async function gone() {
    session.setFlash("That assessment no longer exists. Someone may have deleted it.", "error");
    await navigate("/assessments");
  }

  // The person a response is about, linked to their page.
  function personLink(response, testid) {
    const kind = SUBJECTS[response.subject_type] ?? SUBJECTS.candidate;
    const person = people[response.subject_type]?.get(response.subject_id);
    return link(`${kind.page}/${encodeURIComponent(response.subject_id)}`, person ? person.name : `Unknown ${kind.label.toLowerCase()}`, {
      "data-testid": testid,
    });
  }

  function personName(response) {
    return people[response.subject_type]?.get(response.subject_id)?.name ?? "this person";
  }

  // --------------------------------------------------------------------------------------------- details
  const details = h("dl", { class: "details", "data-testid": "assessment-details" });
  function show(current) {
    heading.textContent = current.title;
    const role = current.job_role_id ? roleById.get(current.job_role_id) : null;
    details.replaceChildren(
      h("dt", {}, "Job role"),
      h(
        "dd",
        { "data-testid": "assessment-detail-role" },
        role
          ? link(`/roles/${encodeURIComponent(role.id)}`, role.title, { "data-testid": "assessment-detail-role-link" })
          : current.job_role_id
            ? h("span", { class: "muted" }, "Unknown role")
            : none(),
      ),
      h("dt", {}, "Questions"),
      h(
        "dd",
        {},
        h(
          "ol",
          { class: "question-summary", "data-testid": "assessment-detail-questions" },
          current.questions.map((question) =>
            h(
              "li",
              { "data-testid": "assessment-detail-question", "data-question-id": question.id },
              h("span", { class: "details__text", "data-testid": "assessment-detail-question-text" }, question.text),
              " ",
              h("span", { class: "badge", "data-testid": "assessment-detail-question-kind" }, QUESTION_KIND_NAMES[question.kind] ?? question.kind),
            ),
          ),
        ),
      ),
      h("dt", {}, "Added"),
      h("dd", {}, timeNode(current.created_at, { relative: false })),
      h("dt", {}, "Last changed"),
      h("dd", {}, timeNode(current.updated_at, { testid: "assessment-detail-updated" })),
    );
  }
  show(assessment);

  // ------------------------------------------------------------------------------------------- responses
  const listMsg = messages("responses");
  const responsesTitle = h("h2", { id: "assessment-responses-title", tabindex: "-1" }, "Responses");
  const { table, body, node: tableNode } = recordTable({
    caption: "Responses recorded with this assessment",
    columns: ["Person", "About", "Score", "Recorded", "Answers"],
    testid: "responses-table",
    labelledBy: "assessment-responses-title",
  });
  const responses = pager({
    table,
    body,
    msg: listMsg,
    heading: responsesTitle,
    colspan: 5,
    label: "Load more responses",
    nouns: ["response", "responses"],
    testid: "responses",
    emptyText: "No responses yet. Record the first one below.",
    emptyTestid: "responses-empty",
    fetchPage: (cursor) => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set("cursor", cursor);
      return api.get(`${path`/api/assessments/${assessment.id}/responses`}?${query}`, { signal });
    },
    row: responseRow,
  });

  function responseRow(response) {
    return h(
      "tr",
      { class: "records-table__row", "data-testid": "response-row", "data-response-id": response.id, "data-subject-id": response.subject_id },
      h("th", { scope: "row", class: "records-table__name" }, personLink(response, "response-subject-link")),
      h("td", { "data-testid": "response-row-subject-type" }, SUBJECTS[response.subject_type]?.label ?? response.subject_type),
      h("td", {}, scoreNode(response.score, "response-score")),
      h("td", {}, timeNode(response.created_at, { testid: "response-date" })),
      h(
        "td",
        {},
        // The questions as they are when the answers are opened (after an edit, the current texts).
        answersToggle({ colspan: 5, build: () => responseDetail(assessment.questions, response, deleteResponseButton(response)) }),
      ),
    );
  }

  function deleteResponseButton(response) {
    const button = h(
      "button",
      { type: "button", class: "button button--danger button--small", "data-testid": "response-delete" },
      "Delete this response",
    );
    button.addEventListener("click", async () => {
      const name = personName(response);
      const ok = await confirmDialog({
        title: `Delete the response about ${name}?`,
        message: "Its answers, score and notes are removed for good. This cannot be undone.",
        confirmLabel: "Delete response",
        danger: true,
      });
      if (!ok) return button.focus();
      await busy(button, async () => {
        listMsg.clear();
        try {
          await api.delete(path`/api/assessments/${assessment.id}/responses/${response.id}`, { signal });
        } catch (error) {
          if (!(error instanceof ApiError && error.status === 404)) return showError(listMsg, error);
        }
        listMsg.notice(`The response about ${name} was deleted.`);
        await responses.load({ reset: true });
      });
      responsesTitle.focus();
    });
    return button;
  }

  // ------------------------------------------------------------------------------------------- record one
  const responseMsg = messages("response-form");
  const subjectLabel = h("span", {}, "Candidate");
  const subjectType = field({
    id: "response-subject-type",
    label: "The response is about",
    tag: "select",
    class: "select",
    options: Object.entries(SUBJECTS).map(([value, kind]) => [value, kind.one]),
    testid: "response-subject-type",
  });
  const subject = field({
    id: "response-subject",
    label: subjectLabel,
    tag: "select",
    class: "select",
    required: true,
    testid: "response-subject",
  });
  const score = field({
    id: "response-score",
    label: "Score",
    type: "number",
    min: "0",
    max: "100",
    step: "any",
    inputmode: "decimal",
    autocomplete: "off",
    hint: "Optional, from 0 to 100.",
    testid: "response-score-input",
  });
  const notes = textArea({
    id: "response-notes",
    label: "Notes",
    maxlength: "10000",
    autocomplete: "off",
    hint: "Optional. Only people who manage assessments can read them.",
    testid: "response-notes-input",
  });
  const answersBox = h("div", { class: "answer-fields", "data-testid": "response-answers" });
  let answerFields = []; // [question, field], in the assessment's order
  const answersError = groupError({
    id: "response-answers-error",
    testid: "response-answers-error",
    focus: () => answerFields[0]?.[1].input ?? subject.input,
  });
  // Keyed like the API's details.field: a 422 about the answers ("answers", "answers[...]") lands above them.
  const responseFields = { subject_type: subjectType, subject_id: subject, answers: answersError, "answers[...]": answersError, score, notes };

  function fillSubjects() {
    const kind = SUBJECTS[subjectType.input.value];
    subjectLabel.textContent = kind.label;
    const list = lists[subjectType.input.value];
    fillSelect(subject.input, list, "name", list.length ? `Choose ${kind.one}` : `No ${kind.many} yet`, "");
    subject.clear();
  }
  subjectType.input.addEventListener("change", fillSubjects);
  fillSubjects();

  // One control per question, fitting its kind. Answers already typed stay with their question when the questions
  // change (an edit here, or the latest version loaded), as long as its kind is the same.
  function buildAnswers() {
    const typed = new Map(answerFields.map(([question, f]) => [question.id, [question.kind, f.input.value]]));
    answerFields = assessment.questions.map((question, i) => [question, answerField(question, i)]);
    for (const [question, f] of answerFields) {
      const [kind, value] = typed.get(question.id) ?? [];
      if (kind === question.kind) f.input.value = value;
    }
    answersBox.replaceChildren(...answerFields.map(([, f]) => f.node));
    answersError.clear();
  }
  buildAnswers();

  const responseForm = h(
    "form",
    {
      class: "form",
      method: "post",
      action: `/assessments/${encodeURIComponent(assessment.id)}`,
      "aria-labelledby": "response-create-title",
      "data-testid": "response-form",
    },
    h("div", { class: "form__pair" }, subjectType.node, subject.node),
    h(
      "p",
      { class: "field__hint" },
      "Not in the list? Add them on the ",
      link("/candidates", "Candidates"),
      " or ",
      link("/employees", "Employees"),
      " page first.",
    ),
    h(
      "fieldset",
      { class: "question-group" },
      h("legend", {}, "Answers"),
      h("p", { class: "field__hint" }, "Leave a question empty if it was not answered."),
      answersError.node,
      answersBox,
    ),
    score.node,
    notes.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "response-save" }, "Record response")),
    ...responseMsg.nodes,
  );

  handleSubmit(
    responseForm,
    async () => {
      if (!subject.input.value) {
        const text = `Choose the ${SUBJECTS[subjectType.input.value].label.toLowerCase()} the response is about.`;
        subject.error(text);
        responseMsg.error(text);
        subject.input.focus();
        return;
      }
      const answers = {};
      for (const [question, f] of answerFields) {
        const value = f.input.value.trim();
        if (value) answers[question.id] = value;
      }
      const scoreText = score.input.value.trim();
      const values = {
        subject_type: subjectType.input.value,
        subject_id: subject.input.value,
        answers,
        score: scoreText === "" ? null : Number(scoreText),
        notes: notes.input.value.trim(),
      };
      let response;
      try {
        response = await api.post(path`/api/assessments/${assessment.id}/responses`, values, { signal });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return gone();
        throw error;
      }
      for (const [, f] of answerFields) f.input.value = "";
      subject.input.value = "";
      score.input.value = "";
      notes.input.value = "";
      responseMsg.notice(`Recorded the response about ${personName(response)}. It is at the top of the responses.`);
      await responses.load({ reset: true });
    },
    { messages: responseMsg, fields: responseFields },
  );

  // ------------------------------------------------------------------------------------------------ edit
  const builder = assessmentBuilder({
    action: `/assessments/${encodeURIComponent(assessment.id)}`,
    submitLabel: "Save changes",
    labelledBy: "assessment-edit-title",
  });
  builder.setRoles(roles);
  builder.fill(assessment);

  async function reload() {
    try {
      assessment = await api.get(path`/api/assessments/${assessment.id}`, { signal });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return gone();
      return showError(builder.msg, error);
    }
    show(assessment);
    builder.fill(assessment);
    buildAnswers();
    builder.msg.notice("This is the latest version of the assessment. Make your change again.");
    builder.fields.title.input.focus();
  }

  handleSubmit(
    builder.form,
    async () => {
      if (!builder.check()) return;
      const patch = assessmentChanges(builder.values(), assessment);
      if (Object.keys(patch).length === 0) {
        builder.msg.notice("Nothing to save: the assessment is unchanged.");
        return;
      }
      try {
        assessment = await api.patch(path`/api/assessments/${assessment.id}`, { version: assessment.version, ...patch }, { signal });
      } catch (error) {
        if (isConflict(error, "version_conflict")) {
          return showVersionConflict(builder.msg, { noun: "assessment", reload, testid: "assessment-reload" });
        }
        if (error instanceof ApiError && error.status === 404) return gone();
        throw error;
      }
      show(assessment);
      builder.fill(assessment);
      if (patch.questions) buildAnswers();
      builder.msg.notice("Your changes are saved.");
    },
    { messages: builder.msg, fields: builder.fields },
  );

  // ---------------------------------------------------------------------------------------------- delete
  const deleteMsg = messages("assessment-delete");
  const remove = h("button", { type: "button", class: "button button--danger", "data-testid": "assessment-delete" }, "Delete assessment");

  // 409 in_use: responses were recorded with it (they are the only records that name an assessment).
  function explainInUse(error) {
    const refs = Number(error?.details?.refs) || 0;
    const recorded = refs === 1 ? "1 response was" : refs > 1 ? `${refs} responses were` : "responses were";
    deleteMsg.error(
      `This assessment cannot be deleted because ${recorded} recorded with it, and their answers are kept. `,
      "If they are no longer needed, delete them first: open each under ",
      h("a", { href: "#assessment-responses-title", "data-testid": "assessment-in-use-responses" }, "Responses"),
      " with Show answers.",
    );
  }

  remove.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `Delete the assessment ${assessment.title}?`,
      message: "The assessment and its questions are removed for good. This cannot be undone.",
      confirmLabel: "Delete assessment",
      danger: true,
    });
    if (!ok) return remove.focus();
    await busy(remove, async () => {
      deleteMsg.clear();
      try {
        await api.delete(path`/api/assessments/${assessment.id}`, { signal });
      } catch (error) {
        if (isConflict(error, "in_use")) return explainInUse(error);
        if (error instanceof ApiError && error.status === 404) return gone();
        return showError(deleteMsg, error);
      }
      session.setFlash(`The assessment ${assessment.title} was deleted.`);
      await navigate("/assessments");
    });
    remove.focus();
  });

  responses.load({ reset: true });

  frame.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "assessment-details-title", "data-testid": "assessment-about" },
      h("h2", { id: "assessment-details-title" }, "About this assessment"),
      details,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "assessment-responses-title", "data-testid": "assessment-responses" },
      responsesTitle,
      h("p", { class: "field__hint" }, "Answers are confidential: every time they are read, it is recorded in the audit log."),
      ...listMsg.nodes,
      tableNode,
      responses.more,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "response-create-title", "data-testid": "response-create" },
      h("h2", { id: "response-create-title" }, "Record a response"),
      responseForm,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "assessment-edit-title", "data-testid": "assessment-edit" },
      h("h2", { id: "assessment-edit-title" }, "Change this assessment"),
      h(
        "p",
        { class: "field__hint" },
        "Recorded answers stay with their question when you reword or reorder it, and answers to a removed question are kept. " +
          "To ask something different, add a new question rather than rewording an old one.",
      ),
      builder.form,
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "assessment-delete-title", "data-testid": "assessment-delete-section" },
      h("h2", { id: "assessment-delete-title" }, "Delete this assessment"),
      h("p", {}, "An assessment can be deleted once no responses are recorded with it."),
      h("div", { class: "actions" }, remove),
      ...deleteMsg.nodes,
    ),
  );
  return frame;
}

// The control for answering `question` (the `i`th): a text box for a written answer, 1 to 5 for a scale, a line for
// a short answer, Yes or No. Each can be left empty (not answered).
function answerField(question, i) {
  const common = {
    id: `response-answer-${i + 1}`,
    label: `${i + 1}. ${question.text}`,
    testid: "response-answer-input",
    "data-question-id": question.id,
  };
  if (question.kind === "scale") {
    return field({
      ...common,
      tag: "select",
      class: "select",
      options: [["", "No answer"], ["1", "1 (lowest)"], ["2", "2"], ["3", "3"], ["4", "4"], ["5", "5 (highest)"]],
    });
  }
  if (question.kind === "yes_no") {
    return field({ ...common, tag: "select", class: "select", options: [["", "No answer"], ["yes", "Yes"], ["no", "No"]] });
  }
  if (question.kind === "choice") return field({ ...common, maxlength: "5000", autocomplete: "off" });
  return textArea({ ...common, maxlength: "5000", autocomplete: "off" });
}

function unavailable(text) {
  return pageFrame(
    { title: "Assessment not available", testid: "assessment-page" },
    h("p", { class: "notice notice--error", role: "alert", "data-testid": "assessment-error" }, text),
    h("p", {}, link("/assessments", "Go to all assessments")),
  );
}
