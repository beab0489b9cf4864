"""Maintenance windows (issue 20, part 2) through ``protu-ops maintenance``: every live company's owners are emailed
once, at least 72 hours ahead unless it is an emergency; a cancellation reaches those who were told; bad input is
refused with nothing stored and nobody emailed. The module runs in a stack of its own (tests/ops/conftest.py): a
window concerns every company of the table."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from infra import ops
from infra.seed import add_company
from tests.api.people import sign_up

HOUR = 3600


def company(name: str = "Harbour Hiring") -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    tenant = f"c-{suffix}"
    owner, admin = add_company(
        tenant,
        name,
        [
            ("owner", "Olga Owner", f"owner-{suffix}@example.com"),
            ("admin", "Adam Admin", f"admin-{suffix}@example.com"),
        ],
        f"Quiet-{suffix}-harbour-lantern",
    )
    return {"tenant": tenant, "owner": owner.email, "admin": admin.email}


def start_in(hours: float) -> str:
    return datetime.fromtimestamp(int(time.time() + hours * HOUR) // 60 * 60, UTC).isoformat()


def schedule(start: str, minutes: str = "90", summary: str | None = None, *extra: str) -> int:
    summary = summary or f"Moving the data table to a new key schema ({uuid.uuid4().hex[:6]})"
    return ops.main(["maintenance", "schedule", "--start", start, "--minutes", minutes, "--summary", summary, *extra])


def window_id(out: str) -> str:
    return next(word for word in out.split() if word.startswith("mw-")).rstrip(":")


def test_owners_are_told_once_erased_companies_are_not_and_a_cancellation_follows(api, mailgun, capsys):
    told, other, erased = company(), company("Fjord Analytics"), company("Gone GmbH")
    assert ops.main(["erase", "--tenant", erased["tenant"], "--yes"]) == 0
    erasing = sign_up(api, mailgun)  # its erasure started; the job that deletes its items has not run yet
    erase = {"confirmation": erasing.company, "password": erasing.password}
    assert erasing.browser.post("/api/company/erase", erase).status == 202
    capsys.readouterr()

    start, summary = start_in(80), f"Database upgrade {uuid.uuid4().hex[:6]}"
    assert schedule(start, "90", summary) == 0
    out = capsys.readouterr().out
    ident = window_id(out)
    assert out.startswith(f"scheduled {ident}") and "failed" in out and "0 failed" in out
    for people in (told, other):
        [mail] = mailgun.to(people["owner"])
        assert mail["subject"].startswith("Planned maintenance of Protu on ")
        assert summary in mail["text"] and "Until:" in mail["text"]
        assert mailgun.to(people["admin"]) == []  # owners only
    assert mailgun.to(erased["owner"]) == []
    assert [m["subject"] for m in mailgun.to(erasing.email) if "maintenance" in m["subject"]] == []

    assert schedule(start, "90", summary) == 0  # run again (after an interruption, say): nobody twice
    assert capsys.readouterr().out.startswith(f"already scheduled {ident}")
    assert len(mailgun.to(told["owner"])) == 1

    assert ops.main(["maintenance", "list"]) == 0
    listed = capsys.readouterr().out
    assert ident in listed and "scheduled" in listed and summary in listed

    assert ops.main(["maintenance", "cancel", ident]) == 0
    assert capsys.readouterr().out.startswith(f"cancelled {ident}")
    for people in (told, other):
        cancelled = mailgun.to(people["owner"])[-1]
        assert cancelled["subject"].endswith("is cancelled") and summary in cancelled["text"]
    assert ops.main(["maintenance", "cancel", ident]) == 0  # again: nobody twice
    assert len(mailgun.to(told["owner"])) == 2
    assert ops.main(["maintenance", "list"]) == 0
    assert f"{ident}" in (listed := capsys.readouterr().out) and "cancelled" in listed
    assert schedule(start, "90", summary) == 1  # the very same window again: said, not revived
    assert "(maintenance_cancelled)" in capsys.readouterr().err


def test_a_start_sooner_than_72_hours_needs_emergency(mailgun, capsys):
    people = company()
    summary = f"Emergency key store repair {uuid.uuid4().hex[:6]}"
    assert schedule(start_in(71), "30", summary) == 1
    assert "(notice_too_short)" in capsys.readouterr().err
    assert mailgun.to(people["owner"]) == []
    assert schedule(start_in(2), "30", summary, "--emergency") == 0
    assert "0 failed" in capsys.readouterr().out
    assert summary in mailgun.to(people["owner"])[0]["text"]


@pytest.mark.parametrize(
    ("start", "minutes", "summary", "field"),
    [
        ("2030-01-01T02:00", "60", "No zone", "start"),
        ("next tuesday", "60", "Not a time", "start"),
        ("2020-01-01T02:00Z", "60", "In the past", "start"),
        (None, "0", "Too short", "minutes"),
        (None, "1441", "Too long", "minutes"),
        (None, "ninety", "Not a number", "minutes"),
        (None, "60", "   ", "summary"),
        (None, "60", "x" * 301, "summary"),
        (None, "60", "two\nlines", "summary"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(mailgun, capsys, start, minutes, summary, field):
    assert ops.main(["maintenance", "list", "--json"]) == 0
    before = capsys.readouterr().out
    sent = len(mailgun.messages)
    assert schedule(start or start_in(100), minutes, summary) == 1
    assert "(validation_failed)" in capsys.readouterr().err
    assert ops.main(["maintenance", "list", "--json"]) == 0
    assert capsys.readouterr().out == before and len(mailgun.messages) == sent


def test_an_unknown_window_cannot_be_cancelled(capsys):
    assert ops.main(["maintenance", "cancel", "mw-0000000000000000"]) == 1
    assert "(maintenance_not_found)" in capsys.readouterr().err
    assert ops.main(["maintenance", "cancel"]) == 1


def test_companies_created_before_the_index_are_added_by_reindex(mailgun, capsys):
    import boto3
    from protu.settings import settings

    older = company("Old Firm")
    boto3.client("dynamodb", region_name=settings().region).update_item(  # as a company created before the index
        TableName=settings().data_table,
        Key={"pk": {"S": f"T#{older['tenant']}#COMPANY"}, "sk": {"S": "COMPANY"}},
        UpdateExpression="REMOVE gsi1pk, gsi1sk",
    )
    assert schedule(start_in(90)) == 0
    assert mailgun.to(older["owner"]) == []
    assert ops.main(["reindex"]) == 0
    assert "companies added to the index of every company: 1" in capsys.readouterr().out
    assert schedule(start_in(91)) == 0
    assert len(mailgun.to(older["owner"])) == 1
