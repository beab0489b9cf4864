// "Record a response" on an assessment's page: who it is about (a candidate or an employee), one answer control per
// question fitting its kind, a score and notes; POST /api/assessments/{id}/responses. `update()` rebuilds the answer
// controls after the questions changed (an edit, the latest version loaded), keeping what was typed for a question
// whose kind is the same.

import { ApiError, api, path } from "../api.js";
import { h } from "../dom.js";
import { fillSelect, textArea } from "../records.js";
import { field, handleSubmit, link, messages } from "../ui.js";
import { personName, SUBJECTS } from "./assessment-responses.js";
import { groupError } from "./group-error.js";

export function responseForm({ current: record, refs, signal, gone, widgets }) {
  const msg = messages("response-form");
  const parts = responseFields();
  const answers = answerControls(record, parts.subject);
  const fields = { ...parts.fields, answers: answers.error, "answers[...]": answers.error };
  const fillSubjects = () => {
    const kind = SUBJECTS[parts.subjectType.input.value];
    const list = refs[kind.refs];
    parts.subjectLabel.textContent = kind.label;
    fillSelect(parts.subject.input, list, "name", list.length ? `Choose ${kind.one}` : `No ${kind.many} yet`, "");
    parts.subject.clear();
  };
  parts.subjectType.input.addEventListener("change", fillSubjects);
  fillSubjects();
  const form = formNode(record(), parts, answers, msg);

  handleSubmit(
    form,
    async () => {
      if (!parts.subject.input.value) return chooseSubject(parts, msg);
      let response;
      try {
        response = await api.post(path`/api/assessments/${record().id}/responses`, valuesOf(parts, answers), { signal });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return gone();
        throw error;
      }
      answers.reset();
      for (const name of ["subject", "score", "notes"]) parts[name].input.value = "";
      msg.notice(`Recorded the response about ${personName(refs, response)}. It is at the top of the responses.`);
      await widgets.responses.reload();
    },
    { messages: msg, fields },
  );

  const node = h(
    "section",
    { class: "card", "aria-labelledby": "response-create-title", "data-testid": "response-create" },
    h("h2", { id: "response-create-title" }, "Record a response"),
    form,
  );
  return { node, update: answers.build };
}

function responseFields() {
  const subjectLabel = h("span", {}, "Candidate");
  const subjectType = field({
    id: "response-subject-type",
    label: "The response is about",
    tag: "select",
    class: "select",
    options: Object.entries(SUBJECTS).map(([value, kind]) => [value, kind.one]),
    testid: "response-subject-type",
  });
  const subject = field({ id: "response-subject", label: subjectLabel, tag: "select", class: "select", required: true, testid: "response-subject" });
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
  return { subjectLabel, subjectType, subject, score, notes, fields: { subject_type: subjectType, subject_id: subject, score, notes } };
}

// One control per question, fitting its kind. Answers already typed stay with their question when the questions
// change, as long as its kind is the same.
function answerControls(record, subject) {
  const box = h("div", { class: "answer-fields", "data-testid": "response-answers" });
  let controls = []; // [question, field], in the assessment's order
  const error = groupError({ id: "response-answers-error", testid: "response-answers-error", focus: () => controls[0]?.[1].input ?? subject.input });
  function build() {
    const typed = new Map(controls.map(([question, f]) => [question.id, [question.kind, f.input.value]]));
    controls = record().questions.map((question, i) => [question, answerField(question, i)]);
    for (const [question, f] of controls) {
      const [kind, value] = typed.get(question.id) ?? [];
      if (kind === question.kind) f.input.value = value;
    }
    box.replaceChildren(...controls.map(([, f]) => f.node));
    error.clear();
  }
  build();
  return {
    box,
    error,
    build,
    reset: () => controls.forEach(([, f]) => (f.input.value = "")),
    values: () => Object.fromEntries(controls.map(([question, f]) => [question.id, f.input.value.trim()]).filter(([, value]) => value)),
  };
}

function formNode(assessment, parts, answers, msg) {
  return h(
    "form",
    {
      class: "form",
      method: "post",
      action: `/assessments/${encodeURIComponent(assessment.id)}`,
      "aria-labelledby": "response-create-title",
      "data-testid": "response-form",
    },
    h("div", { class: "form__pair" }, parts.subjectType.node, parts.subject.node),
    h("p", { class: "field__hint" }, "Not in the list? Add them on the ", link("/candidates", "Candidates"), " or ", link("/employees", "Employees"), " page first."),
    h(
      "fieldset",
      { class: "question-group" },
      h("legend", {}, "Answers"),
      h("p", { class: "field__hint" }, "Leave a question empty if it was not answered."),
      answers.error.node,
      answers.box,
    ),
    parts.score.node,
    parts.notes.node,
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "response-save" }, "Record response")),
    ...msg.nodes,
  );
}

function chooseSubject(parts, msg) {
  const text = `Choose the ${SUBJECTS[parts.subjectType.input.value].label.toLowerCase()} the response is about.`;
  parts.subject.error(text);
  msg.error(text);
  parts.subject.input.focus();
}

function valuesOf(parts, answers) {
  const scoreText = parts.score.input.value.trim();
  return {
    subject_type: parts.subjectType.input.value,
    subject_id: parts.subject.input.value,
    answers: answers.values(),
    score: scoreText === "" ? null : Number(scoreText),
    notes: parts.notes.input.value.trim(),
  };
}

// The control for answering `question` (the `i`th): a text box for a written answer, 1 to 5 for a scale, a line for
// a short answer, Yes or No. Each can be left empty (not answered).
function answerField(question, i) {
  const common = { id: `response-answer-${i + 1}`, label: `${i + 1}. ${question.text}`, testid: "response-answer-input", "data-question-id": question.id };
  if (question.kind === "scale") {
    const scale = [["", "No answer"], ["1", "1 (lowest)"], ["2", "2"], ["3", "3"], ["4", "4"], ["5", "5 (highest)"]];
    return field({ ...common, tag: "select", class: "select", options: scale });
  }
  if (question.kind === "yes_no") return field({ ...common, tag: "select", class: "select", options: [["", "No answer"], ["yes", "Yes"], ["no", "No"]] });
  if (question.kind === "choice") return field({ ...common, maxlength: "5000", autocomplete: "off" });
  return textArea({ ...common, maxlength: "5000", autocomplete: "off" });
}
