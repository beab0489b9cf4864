"""Maintenance windows (issue 20, part 2) as people see them: the public ``GET /api/status`` lists the windows
announced and not ended (start, end, summary, nothing else), and every signed-in person gets a ``maintenance``
notice from the announcement on; a cancelled window goes from both. A window concerns everybody, so this module
runs in a stack of its own (``own_cloud``): the other modules' notices stay as they are."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from infra import ops
from tests.api.people import invite, sign_up


@pytest.fixture(scope="module", autouse=True)
def in_own_cloud(own_cloud):
    return own_cloud


def schedule(hours: float, minutes: int, summary: str, capsys) -> str:
    start = datetime.fromtimestamp(int(time.time() + hours * 3600) // 60 * 60, UTC)
    argv = ["maintenance", "schedule", "--start", start.isoformat(), "--minutes", str(minutes), "--summary", summary]
    capsys.readouterr()
    assert ops.main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)["id"]


def notices(account) -> list[dict]:
    reply = account.browser.get("/api/me/notices")
    assert reply.status == 200, reply.body
    return [item for item in reply.json()["items"] if item["kind"] == "maintenance"]


def test_the_status_page_and_every_signed_in_person_see_a_window_until_it_is_cancelled(api, mailgun, capsys):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun, "admin")
    summary = f"Moving to a new database version {uuid.uuid4().hex[:6]}"
    window = schedule(80, 90, summary, capsys)

    reply = api.get("/api/status")  # nobody signed in
    assert reply.status == 200, reply.body
    [listed] = [w for w in reply.json()["maintenance"] if w["summary"] == summary]
    assert set(listed) == {"start", "end", "summary"}  # nothing internal
    start = datetime.fromisoformat(listed["start"])
    assert (datetime.fromisoformat(listed["end"]) - start).total_seconds() == 90 * 60
    for person in (owner, admin):
        [notice] = [n for n in notices(person) if summary in n["message"]]
        assert notice["tone"] == "warning" and notice["link"] == "/status" and notice["at"] == int(start.timestamp())
        assert "UTC" in notice["message"]

    assert ops.main(["maintenance", "cancel", window]) == 0
    assert summary not in str(api.get("/api/status").json())
    assert all(summary not in n["message"] for n in notices(owner))


def test_windows_are_listed_soonest_first_and_need_no_session(api, mailgun, capsys):
    later, sooner = f"Later {uuid.uuid4().hex[:6]}", f"Sooner {uuid.uuid4().hex[:6]}"
    schedule(200, 30, later, capsys)
    schedule(100, 30, sooner, capsys)
    summaries = [w["summary"] for w in api.get("/api/status").json()["maintenance"]]
    assert summaries.index(sooner) < summaries.index(later)
    assert api.get("/api/me/notices").status == 401
