"""Assessments in real Chromium against the real local server: an admin builds an assessment with the question builder
(add, remove, reorder, field errors), records responses about a candidate and an employee, and reads the answers
back next to the question texts on the assessment's page and on the person's page. Edits keep the question ids (a
recorded answer stays with its question), a stale edit is a version conflict the page explains, and an assessment
(or a person) with responses cannot be deleted until the responses are.

The admin is made in-process the way ``infra/seed.py`` makes the demo people. Changes "made elsewhere" go through the
HTTP API of the same server with a session of their own.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Elsewhere, sign_in

pytestmark = pytest.mark.browser


# ------------------------------------------------------------------------------------------------ fixtures
# ------------------------------------------------------------------------------------------------ helpers
def question_ids(page) -> list[str]:
    questions = page.get_by_test_id("assessment-question")
    return [questions.nth(i).get_attribute("data-question-id") for i in range(questions.count())]


def response_row(page, name: str):
    return page.get_by_test_id("response-row").filter(
        has=page.get_by_test_id("response-subject-link").get_by_text(name)
    )


# ------------------------------------------------------------------------------------------------ tests
def test_admin_builds_an_assessment_and_records_responses(page, admin_login, console_errors):
    email, password = admin_login
    sign_in(page, email, password)

    # The people and the role, through their own pages.
    page.get_by_test_id("nav-roles").click()
    page.get_by_test_id("role-title").fill("Backend engineer")
    page.get_by_test_id("role-save").click()
    expect(page.get_by_test_id("role-form-notice")).to_have_text("Added the role Backend engineer.")
    role_id = page.get_by_test_id("role-row").get_attribute("data-role-id")
    page.get_by_test_id("nav-teams").click()
    page.get_by_test_id("team-name").fill("Platform")
    page.get_by_test_id("team-save").click()
    expect(page.get_by_test_id("team-form-notice")).to_have_text("Added the team Platform.")
    page.get_by_test_id("nav-employees").click()
    page.get_by_test_id("employee-name").fill("Lena Park")
    page.get_by_test_id("employee-role").select_option(label="Backend engineer")
    page.get_by_label("Platform").check()
    page.get_by_test_id("employee-save").click()
    expect(page.get_by_test_id("employee-form-notice")).to_have_text("Added Lena Park.")
    lena_id = page.get_by_test_id("employee-row").get_attribute("data-employee-id")
    page.get_by_test_id("nav-candidates").click()
    page.get_by_test_id("candidate-name").fill("Maria Lopez")
    page.get_by_test_id("candidate-role").select_option(label="Backend engineer")
    page.get_by_test_id("candidate-save").click()
    expect(page.get_by_test_id("candidate-form-notice")).to_have_text("Added Maria Lopez.")
    maria_id = page.get_by_test_id("candidate-row").get_attribute("data-candidate-id")

    # No assessments yet. The builder starts with one question.
    page.get_by_test_id("nav-assessments").click()
    expect(page).to_have_url(re.compile(r"/assessments$"))
    expect(page).to_have_title("Assessments · Protu")
    expect(page.get_by_test_id("assessments-empty")).to_have_text("No assessments yet. Build the first one below.")
    questions = page.get_by_test_id("assessment-question")
    expect(questions).to_have_count(1)
    expect(questions.get_by_test_id("question-remove")).to_have_attribute("aria-disabled", "true")
    page.get_by_test_id("assessment-title").fill("Backend interview")
    page.get_by_test_id("assessment-role").select_option(label="Backend engineer")
    questions.nth(0).get_by_test_id("question-text").fill("Describe a system you designed.")

    # Add two more, move the third up, remove it again; a question of spaces is refused at that question.
    page.get_by_test_id("assessment-add-question").click()
    expect(questions).to_have_count(2)
    expect(questions.nth(1).get_by_test_id("question-text")).to_be_focused()
    page.get_by_test_id("assessment-add-question").click()
    questions.nth(2).get_by_test_id("question-text").fill("Would you hire them?")
    questions.nth(2).get_by_test_id("question-kind").select_option("yes_no")
    questions.nth(2).get_by_test_id("question-up").click()
    assert question_ids(page) == ["q1", "q3", "q2"]
    expect(page.get_by_test_id("assessment-questions-status")).to_have_text(
        "Question 3 moved up. It is now question 2."
    )
    expect(questions.nth(1).get_by_label("Question 2", exact=True)).to_have_value("Would you hire them?")
    questions.nth(2).get_by_test_id("question-text").fill("   ")
    page.get_by_test_id("assessment-save").click()
    expect(page.get_by_test_id("assessment-form-error")).to_have_text(
        "Enter the text of question 3, or remove that question."
    )
    expect(questions.nth(2).get_by_test_id("question-text-error")).to_be_visible()
    expect(questions.nth(2).get_by_test_id("question-text")).to_be_focused()
    questions.nth(2).get_by_test_id("question-text").fill("How well do they know Python?")
    questions.nth(2).get_by_test_id("question-kind").select_option("scale")
    questions.nth(1).get_by_test_id("question-remove").click()
    assert question_ids(page) == ["q1", "q2"]
    expect(questions.nth(1).get_by_test_id("question-kind")).to_have_value("scale")

    # A 422 naming a question's field lands next to that question (answered here by a stand-in for the server).
    def refuse(route):
        error = {"code": "validation_failed", "message": "The field 'questions[1].text' is too long."}
        error["details"] = {"field": "questions[1].text"}
        route.fulfill(status=422, content_type="application/json", body=json.dumps({"error": error}))

    page.route("**/api/assessments", refuse)
    page.get_by_test_id("assessment-save").click()
    second = questions.nth(1).get_by_test_id("question-text")
    expect(questions.nth(1).get_by_test_id("question-text-error")).to_have_text(
        "The field 'questions[1].text' is too long."
    )
    expect(second).to_have_attribute("aria-invalid", "true")
    expect(second).to_be_focused()
    page.unroute("**/api/assessments", refuse)

    page.get_by_test_id("assessment-save").click()
    expect(page.get_by_test_id("assessment-form-notice")).to_have_text(
        "Added the assessment Backend interview. Open it to record responses."
    )
    expect(page.get_by_test_id("assessment-title")).to_have_value("")
    expect(questions).to_have_count(1)
    row = page.get_by_test_id("assessment-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("assessment-row-role")).to_have_text("Backend engineer")
    expect(row.get_by_test_id("assessment-row-questions")).to_have_text("2 questions")

    # The role filter lives in the address.
    page.get_by_test_id("assessment-filter-role").select_option(role_id)
    expect(page).to_have_url(re.compile(rf"/assessments\?role={role_id}$"))
    page.reload()
    expect(page.get_by_test_id("assessment-filter-role")).to_have_value(role_id)
    expect(row).to_have_count(1)

    # The assessment's page: its questions, no responses yet.
    row.get_by_test_id("assessment-link").click()
    expect(page).to_have_url(re.compile(r"/assessments/asmt-[0-9a-f]{20}$"))
    expect(page.get_by_test_id("assessment-heading")).to_have_text("Backend interview")
    expect(page.get_by_test_id("assessment-detail-role-link")).to_have_attribute("href", f"/roles/{role_id}")
    expect(page.get_by_test_id("assessment-detail-question-text")).to_have_text(
        ["Describe a system you designed.", "How well do they know Python?"]
    )
    expect(page.get_by_test_id("responses-empty")).to_be_visible()

    # A response about Maria: a written answer and a scale, a score and notes.
    answers = page.get_by_test_id("response-answer-input")
    expect(answers).to_have_count(2)
    page.get_by_test_id("response-subject").select_option(label="Maria Lopez")
    page.get_by_label("1. Describe a system you designed.").fill("A payments ledger.")
    page.get_by_label("2. How well do they know Python?").select_option("4")
    page.get_by_test_id("response-score-input").fill("72.5")
    page.get_by_test_id("response-notes-input").fill("Strong hire.")
    page.get_by_test_id("response-save").click()
    expect(page.get_by_test_id("response-form-notice")).to_contain_text("Recorded the response about Maria Lopez.")
    expect(page.get_by_test_id("response-notes-input")).to_have_value("")
    maria = response_row(page, "Maria Lopez")
    expect(maria).to_have_count(1)
    expect(maria.get_by_test_id("response-subject-link")).to_have_attribute("href", f"/candidates/{maria_id}")
    expect(maria.get_by_test_id("response-score")).to_have_text("72.5")
    maria.get_by_test_id("response-toggle").click()
    expect(maria.get_by_test_id("response-toggle")).to_have_attribute("aria-expanded", "true")
    opened = page.get_by_test_id("response-details")
    expect(opened.get_by_test_id("answer-question")).to_have_text(
        ["1. Describe a system you designed.", "2. How well do they know Python?"]
    )
    expect(opened.get_by_test_id("answer-value")).to_have_text(["A payments ledger.", "4 of 5"])
    expect(opened.get_by_test_id("response-notes")).to_have_text("Strong hire.")
    maria.get_by_test_id("response-toggle").click()
    expect(opened).to_have_count(0)

    # One about Lena, an employee, answering the scale only.
    page.get_by_test_id("response-subject-type").select_option("employee")
    page.get_by_test_id("response-subject").select_option(label="Lena Park")
    page.get_by_label("2. How well do they know Python?").select_option("5")
    page.get_by_test_id("response-save").click()
    expect(page.get_by_test_id("response-form-notice")).to_contain_text("Recorded the response about Lena Park.")
    expect(page.get_by_test_id("response-row")).to_have_count(2)
    expect(page.get_by_test_id("response-subject-link").first).to_have_text("Lena Park")  # newest first
    expect(response_row(page, "Lena Park").get_by_test_id("response-row-subject-type")).to_have_text("Employee")

    # Maria's page lists her response; opened, it shows the answers next to the questions.
    maria.get_by_test_id("response-subject-link").click()
    expect(page).to_have_url(re.compile(rf"/candidates/{maria_id}$"))
    mine = page.get_by_test_id("person-responses").get_by_test_id("response-row")
    expect(mine).to_have_count(1)
    expect(mine.get_by_test_id("response-assessment-link")).to_have_text("Backend interview")
    expect(mine.get_by_test_id("response-score")).to_have_text("72.5")
    mine.get_by_test_id("response-toggle").click()
    expect(page.get_by_test_id("answer-value")).to_have_text(["A payments ledger.", "4 of 5"])
    expect(page.get_by_test_id("answer-question").first).to_have_text("1. Describe a system you designed.")

    # Lena's page: her response, the unanswered question said so.
    page.goto(f"/employees/{lena_id}")
    expect(page.get_by_test_id("employee-heading")).to_have_text("Lena Park")
    theirs = page.get_by_test_id("person-responses").get_by_test_id("response-row")
    expect(theirs).to_have_count(1)
    theirs.get_by_test_id("response-toggle").click()
    expect(page.get_by_test_id("answer-value")).to_have_text(["No answer", "5 of 5"])
    theirs.get_by_test_id("response-assessment-link").click()
    expect(page.get_by_test_id("assessment-heading")).to_have_text("Backend interview")

    # Answers stay in the page: not in the address, not in storage.
    stored = page.evaluate("JSON.stringify([localStorage, sessionStorage, location.href])")
    assert "payments ledger" not in stored and "Strong hire" not in stored
    assert console_errors == []


def test_assessment_edits_conflicts_and_deletes(page, local_server, admin_login, console_errors):
    email, password = admin_login
    elsewhere = Elsewhere(local_server, email, password)
    ken = elsewhere.call("POST", "/api/candidates", {"name": "Ken Ito"}, status=201)
    questions = [
        {"id": "q1", "text": "Why us?", "kind": "text"},
        {"id": "q2", "text": "Would you relocate?", "kind": "yes_no"},
    ]
    made = elsewhere.call(
        "POST", "/api/assessments", {"title": "Culture interview", "questions": questions}, status=201
    )
    assessment_id = made["id"]
    answers = {"q1": "The mission.", "q2": "yes"}
    body = {"subject_type": "candidate", "subject_id": ken["id"], "answers": answers, "score": 80}
    elsewhere.call("POST", f"/api/assessments/{assessment_id}/responses", body, status=201)
    sign_in(page, email, password)

    page.goto(f"/assessments/{assessment_id}")
    expect(page.get_by_test_id("assessment-heading")).to_have_text("Culture interview")
    expect(response_row(page, "Ken Ito").get_by_test_id("response-score")).to_have_text("80")

    # Remove q2, add a question (q3: a removed id is never given again) and move it first. The ids stay with their
    # questions, so Ken's answers stay with theirs.
    builder = page.get_by_test_id("assessment-form")
    rows = builder.get_by_test_id("assessment-question")
    rows.nth(1).get_by_test_id("question-remove").click()
    page.get_by_test_id("assessment-add-question").click()
    rows.nth(1).get_by_test_id("question-text").fill("What salary do you expect?")
    rows.nth(1).get_by_test_id("question-kind").select_option("choice")
    rows.nth(1).get_by_test_id("question-up").click()
    expect(rows.nth(0).get_by_test_id("question-down")).to_be_focused()
    assert question_ids(page) == ["q3", "q1"]
    page.get_by_test_id("assessment-save").click()
    expect(page.get_by_test_id("assessment-form-notice")).to_have_text("Your changes are saved.")
    saved = elsewhere.call("GET", f"/api/assessments/{assessment_id}")
    assert [(q["id"], q["kind"]) for q in saved["questions"]] == [("q3", "choice"), ("q1", "text")]
    expect(page.get_by_test_id("assessment-detail-question-text")).to_have_text(
        ["What salary do you expect?", "Why us?"]
    )
    expect(page.get_by_test_id("response-answer-input")).to_have_count(2)
    ken_row = response_row(page, "Ken Ito")
    ken_row.get_by_test_id("response-toggle").click()
    opened = page.get_by_test_id("response-details")
    expect(opened.get_by_test_id("answer-question")).to_have_text(
        ["1. What salary do you expect?", "2. Why us?", "A question this assessment no longer asks"]
    )
    expect(opened.get_by_test_id("answer-value")).to_have_text(["No answer", "The mission.", "yes"])

    # Changed elsewhere meanwhile: saving from the stale page is refused and explained, then goes through.
    elsewhere.call("PATCH", f"/api/assessments/{assessment_id}", {"version": saved["version"], "title": "Values talk"})
    page.get_by_test_id("assessment-title").fill("Culture fit")
    page.get_by_test_id("assessment-save").click()
    conflict = page.get_by_test_id("assessment-form-error")
    expect(conflict).to_contain_text("Someone else changed this assessment after you opened it")
    expect(conflict).to_contain_text("your changes were not saved")
    expect(page.get_by_test_id("assessment-heading")).to_have_text("Culture interview")
    page.get_by_test_id("assessment-reload").click()
    expect(page.get_by_test_id("assessment-form-notice")).to_contain_text("This is the latest version")
    expect(page.get_by_test_id("assessment-heading")).to_have_text("Values talk")
    expect(page.get_by_test_id("assessment-title")).to_have_value("Values talk")
    page.get_by_test_id("assessment-title").fill("Culture fit")
    page.get_by_test_id("assessment-save").click()
    expect(page.get_by_test_id("assessment-form-notice")).to_have_text("Your changes are saved.")
    expect(page.get_by_test_id("assessment-heading")).to_have_text("Culture fit")
    assert elsewhere.call("GET", f"/api/assessments/{assessment_id}")["title"] == "Culture fit"

    # With a response recorded, neither the assessment nor Ken can be deleted: both pages say why.
    page.get_by_test_id("assessment-delete").click()  # checked before asking: nothing to confirm
    expect(page.get_by_test_id("assessment-delete-error")).to_contain_text(
        "This assessment cannot be deleted because 1 response was recorded with it"
    )
    expect(page.get_by_test_id("confirm-dialog")).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"/assessments/{assessment_id}$"))
    ken_row.get_by_test_id("response-subject-link").click()
    expect(page.get_by_test_id("candidate-heading")).to_have_text("Ken Ito")
    page.get_by_test_id("candidate-delete").click()
    expect(page.get_by_test_id("candidate-delete-error")).to_contain_text(
        "This candidate cannot be deleted because assessment responses about them are recorded"
    )

    # Delete the response on the assessment's page; then the assessment goes too.
    page.get_by_test_id("person-responses").get_by_test_id("response-assessment-link").click()
    expect(page.get_by_test_id("assessment-heading")).to_have_text("Culture fit")
    ken_row.get_by_test_id("response-toggle").click()
    page.get_by_test_id("response-delete").click()
    expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Delete the response about Ken Ito?")
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("responses-notice")).to_have_text("The response about Ken Ito was deleted.")
    expect(page.get_by_test_id("responses-empty")).to_be_visible()
    page.get_by_test_id("assessment-delete").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page).to_have_url(re.compile(r"/assessments$"))
    expect(page.get_by_test_id("assessments-notice")).to_have_text("The assessment Culture fit was deleted.")
    expect(page.get_by_test_id("assessments-empty")).to_be_visible()
    elsewhere.call("GET", f"/api/assessments/{assessment_id}", status=404)

    # A missing assessment is a page that says so, not an error.
    page.goto("/assessments/asmt-00000000000000000000")
    expect(page.get_by_test_id("assessment-error")).to_have_text(
        "There is no such assessment. It may have been deleted."
    )
    assert console_errors == []
