// The assessment form (adding one on /assessments, changing one on /assessments/:id): title, job role and the
// questions, which can be added (up to 50), removed (down to 1), moved up and down and edited.
//
// A question keeps its id through every edit, because answers are stored by question id: new questions get the
// next free q<n>, and an id seen in this form (even of a question removed meanwhile) is never given to another
// question. `fields` is keyed like the API's details.field ("title", "questions[1].text") and kept in step with the
// list, so a 422 lands next to the right question.

import { h } from "../dom.js";
import { fillSelect, MAX_QUESTIONS, QUESTION_KIND_NAMES, QUESTION_KINDS, requireText, textArea } from "../records.js";
import { field, messages } from "../ui.js";
import { groupError } from "./group-error.js";

export function assessmentBuilder({ action, submitLabel, labelledBy }) {
  const msg = messages("assessment-form");
  const questions = new QuestionList();
  const fields = builderFields(questions);
  questions.fields = fields;
  let roles = [];

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
    questions.show(record.questions);
    fields.title.input.value = record.title ?? "";
    fields.title.clear();
    selectRole(record.job_role_id);
    fields.job_role_id.clear();
    fields.questions.clear();
    questions.say("");
  }

  return {
    form: builderForm({ action, submitLabel, labelledBy, fields, questions, msg }),
    msg,
    fields,
    fill,
    // An empty form with one question (q1) to start from.
    reset() {
      questions.used.clear();
      fill({ title: "", job_role_id: null, questions: [{ id: questions.nextId(), text: "", kind: "text" }] });
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
        questions: questions.items.map((entry) => ({ id: entry.id, text: entry.text.input.value.trim(), kind: entry.kind.input.value })),
      };
    },
    // A blank title or question is said at its field without a round trip. True when all is filled in.
    check() {
      if (!requireText(fields.title, msg, "Enter a title for the assessment.")) return false;
      return questions.items.every((entry, i) => requireText(entry.text, msg, `Enter the text of question ${i + 1}, or remove that question.`));
    },
  };
}

function builderFields(questions) {
  return {
    title: field({ id: "assessment-title", label: "Title", required: true, maxlength: "120", autocomplete: "off", testid: "assessment-title" }),
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
      focus: () => questions.items[0]?.text.input ?? questions.add,
    }),
  };
}

function builderForm({ action, submitLabel, labelledBy, fields, questions, msg }) {
  return h(
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
      questions.list,
      fields.questions.node,
      h("div", { class: "actions" }, questions.add),
      questions.said,
    ),
    h("div", {}, h("button", { type: "submit", class: "button", "data-testid": "assessment-save" }, submitLabel)),
    ...msg.nodes,
  );
}

// The questions of the form, in the order asked: each { id, node, text, kind, up, down, remove, number, kindFor }.
class QuestionList {
  constructor() {
    this.said = h("p", { class: "sr-only", role: "status", "data-testid": "assessment-questions-status" });
    this.list = h("ol", { class: "question-list", "data-testid": "assessment-questions" });
    this.add = h(
      "button",
      { type: "button", class: "button button--secondary button--small", "data-testid": "assessment-add-question" },
      "Add a question",
    );
    this.used = new Set(); // every question id this form has seen or given out
    this.items = [];
    this.serial = 0; // element ids
    this.fields = null; // the builder's fields, whose questions[i] keys follow the list
    this.add.addEventListener("click", () => this.append());
  }

  say(text) {
    this.said.textContent = text;
  }

  nextId() {
    let n = 0;
    for (const id of this.used) {
      const found = /^q(\d+)$/.exec(id);
      if (found) n = Math.max(n, Number(found[1]));
    }
    let id;
    do id = `q${++n}`;
    while (this.used.has(id));
    this.used.add(id);
    return id;
  }

  show(questions) {
    for (const question of questions) this.used.add(question.id);
    this.items = questions.map((question) => this.item(question));
    this.list.replaceChildren(...this.items.map((entry) => entry.node));
    this.renumber();
  }

  item(question) {
    const entry = questionItem(++this.serial, question);
    entry.up.addEventListener("click", () => this.move(entry, -1));
    entry.down.addEventListener("click", () => this.move(entry, 1));
    entry.remove.addEventListener("click", () => this.drop(entry));
    return entry;
  }

  // Labels, which buttons do something, and the `fields` keys of each question, after any change to the list.
  renumber() {
    const fields = this.fields;
    for (const key of Object.keys(fields)) if (key.startsWith("questions[")) delete fields[key];
    this.items.forEach((entry, i) => {
      const n = i + 1;
      entry.number.textContent = `Question ${n}`;
      entry.kindFor.textContent = ` for question ${n}`;
      entry.up.setAttribute("aria-label", `Move up: question ${n}`);
      entry.down.setAttribute("aria-label", `Move down: question ${n}`);
      entry.remove.setAttribute("aria-label", `Remove: question ${n}`);
      setUsable(entry.up, i > 0);
      setUsable(entry.down, i < this.items.length - 1);
      setUsable(entry.remove, this.items.length > 1);
      fields[`questions[${i}]`] = entry.text;
      fields[`questions[${i}].id`] = entry.text;
      fields[`questions[${i}].text`] = entry.text;
      fields[`questions[${i}].kind`] = entry.kind;
    });
    setUsable(this.add, this.items.length < MAX_QUESTIONS);
  }

  move(entry, delta) {
    const button = delta < 0 ? entry.up : entry.down;
    if (!usable(button)) return;
    const items = this.items;
    const from = items.indexOf(entry);
    const to = from + delta;
    items.splice(from, 1);
    items.splice(to, 0, entry);
    if (delta < 0) items[to + 1].node.before(entry.node);
    else items[to - 1].node.after(entry.node);
    this.renumber();
    this.say(`Question ${from + 1} moved ${delta < 0 ? "up" : "down"}. It is now question ${to + 1}.`);
    (usable(button) ? button : delta < 0 ? entry.down : entry.up).focus();
  }

  drop(entry) {
    if (!usable(entry.remove)) return;
    const items = this.items;
    const at = items.indexOf(entry);
    items.splice(at, 1);
    entry.node.remove();
    this.renumber();
    this.say(`Question ${at + 1} removed. ${items.length === 1 ? "1 question" : `${items.length} questions`} left.`);
    (items[at] ?? items[at - 1]).text.input.focus();
  }

  append() {
    if (!usable(this.add)) {
      this.say(`An assessment asks at most ${MAX_QUESTIONS} questions.`);
      return;
    }
    const entry = this.item({ id: this.nextId(), text: "", kind: "text" });
    this.items.push(entry);
    this.list.append(entry.node);
    this.renumber();
    this.fields.questions.clear();
    this.say(`Question ${this.items.length} added.`);
    entry.text.input.focus();
  }
}

// One question's fields and buttons (element ids from `n`); the list numbers and wires them.
function questionItem(n, question) {
  const number = h("span", {});
  const kindFor = h("span", { class: "sr-only" });
  const text = textArea({ id: `assessment-question-${n}`, label: number, rows: "2", maxlength: "1000", required: true, testid: "question-text" });
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
  const button = (label, testid) => h("button", { type: "button", class: "button button--secondary button--small", "data-testid": testid }, label);
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
  return entry;
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
