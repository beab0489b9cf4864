// An assessment's questions as its page lists them: each text with its answer type.

import { h } from "../dom.js";
import { QUESTION_KIND_NAMES } from "../records.js";

export function questionSummary(assessment) {
  return h(
    "ol",
    { class: "question-summary", "data-testid": "assessment-detail-questions" },
    assessment.questions.map((question) =>
      h(
        "li",
        { "data-testid": "assessment-detail-question", "data-question-id": question.id },
        h("span", { class: "details__text", "data-testid": "assessment-detail-question-text" }, question.text),
        " ",
        h("span", { class: "badge", "data-testid": "assessment-detail-question-kind" }, QUESTION_KIND_NAMES[question.kind] ?? question.kind),
      ),
    ),
  );
}
