"""The security team's notes for customers on an incident's page, in real Chromium: none at first, then the note an
operator added with ``protu-ops incidents note --for-customers`` (newest first), never the operators' own notes.

The incident is opened in this process as the detection would (a locked account raised as a signal, the owners'
view written); the local server runs over the same moto cloud, so the page reads it at once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from infra import ops
from tests.browser.conftest import new_company, sign_in

pytestmark = pytest.mark.browser


def test_an_owner_reads_the_notes_for_customers_and_never_the_internal_ones(page, console_errors):
    from protu.security import incidents, response, signals

    people = new_company("Noted Works")
    signal = signals.raise_signal(
        "login.locked", tenant_id=people["company_id"], user_id=people["owner_id"], source_ip="198.51.100.10"
    )
    incident, _ = incidents.detect(signal)
    response.sync_company_view(people["company_id"], incident.id)
    response.note(incident.id, "remediate", "Internal: the attacker used a leaked list from vendor X.")
    sign_in(page, people["owner"], people["password"], "Olga Owner")

    page.goto(f"/incidents/{incident.id}")
    expect(page.get_by_test_id("incident-notes-empty")).to_have_text("No notes from our security team yet.")
    expect(page.get_by_test_id("incident-updates")).to_have_count(0)

    assert ops.main(["incidents", "note", incident.id, "--for-customers", "We reset the account's password."]) == 0
    assert ops.main(["incidents", "note", incident.id, "--for-customers", "The cause is fixed."]) == 0
    page.reload()
    notes = page.get_by_test_id("incident-note-text")
    expect(notes).to_have_text(["The cause is fixed.", "We reset the account's password."])
    expect(page.get_by_test_id("incident-note-time").first).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    expect(page.get_by_test_id("incident-page")).not_to_contain_text("vendor X")
    assert console_errors == []
