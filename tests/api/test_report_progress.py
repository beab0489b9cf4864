"""Reporters kept informed (issue 20, part 3): an operator moves a security report on with ``protu-ops reports``;
each move emails the reporter in plain words with the reference; at "fixed", a reporter who gave a name gets a
link, and only their confirmation puts the name on the public acknowledgements page."""

from __future__ import annotations

import re
import uuid

import pytest

from infra import ops
from tests.api.people import link_token

URL = "/api/security/reports"


def some_ip() -> str:
    word = uuid.uuid4().hex
    return f"2001:db8:{word[:4]}:{word[4:8]}::9"


def report(api, *, name: str | None) -> tuple[str, str]:
    contact = f"finder-{uuid.uuid4().hex[:10]}@example.org"
    body = {"description": f"IDOR on /api/teams, marker {uuid.uuid4().hex}.", "contact": contact}
    if name:
        body["name"] = name
    reply = api.post(URL, json=body, source_ip=some_ip())
    assert reply.status == 202, reply.body
    return reply.json()["id"], contact


def move(report_id: str, to: str, *extra: str) -> int:
    return ops.main(["reports", "move", report_id, "--to", to, *extra])


def names(api) -> list[str]:
    reply = api.get("/api/security/thanks")
    assert reply.status == 200, reply.body
    return [item["name"] for item in reply.json()["items"]]


def test_each_move_tells_the_reporter_and_credit_is_published_only_once_confirmed(api, mailgun, capsys):
    name = f"Ada Finder {uuid.uuid4().hex[:6]}"
    report_id, contact = report(api, name=name)
    assert move(report_id, "triaging") == 0
    assert move(report_id, "confirmed", "--note", "Reproduced on the teams endpoint.") == 0
    assert move(report_id, "fixed") == 0
    assert "the credit link went with it" in capsys.readouterr().out
    mails = mailgun.to(contact)
    assert [m["subject"] for m in mails[1:]] == [
        f"We are looking into your security report ({report_id})",
        f"We confirmed your security report ({report_id})",
        f"The vulnerability you reported is fixed ({report_id})",
    ]
    assert "Reproduced on the teams endpoint." in mails[2]["text"]
    assert "/security/thanks/confirm#token=" in mails[3]["text"]

    assert name not in names(api)  # nothing published before the reporter confirms
    token = link_token(mails[3])
    assert api.post("/api/security/thanks/confirm", json={"token": "x" * 43}).json()["error"]["code"] == "invalid_token"
    reply = api.post("/api/security/thanks/confirm", json={"token": token})
    assert reply.status == 200 and reply.json() == {"name": name}
    listed = [item for item in api.get("/api/security/thanks").json()["items"] if item["name"] == name]
    assert len(listed) == 1 and re.fullmatch(r"\d{4}-\d{2}", listed[0]["fixed"])
    again = api.post("/api/security/thanks/confirm", json={"token": token})
    assert again.status == 400 and again.json()["error"]["code"] == "invalid_token"  # single use

    assert ops.main(["reports", "show", report_id]) == 0
    shown = capsys.readouterr().out
    assert f"{report_id}: fixed" in shown and "(confirmed)" in shown and "Reproduced on the teams endpoint." in shown
    assert ops.main(["reports", "list", "--status", "fixed"]) == 0
    assert report_id in capsys.readouterr().out


def test_a_reporter_without_a_name_gets_no_credit_link(api, mailgun, capsys):
    report_id, contact = report(api, name=None)
    assert move(report_id, "confirmed") == 0 and move(report_id, "fixed") == 0
    assert "credit" not in capsys.readouterr().out
    assert "/security/thanks/confirm" not in mailgun.to(contact)[-1]["text"]


@pytest.mark.parametrize(
    ("path", "to"), [((), "fixed"), (("not_a_vulnerability",), "confirmed"), (("confirmed", "fixed"), "triaging")]
)
def test_moves_the_workflow_does_not_allow_are_refused_and_tell_nobody(api, mailgun, capsys, path, to):
    report_id, contact = report(api, name="Somebody")
    for step in path:
        assert move(report_id, step) == 0
    sent = len(mailgun.to(contact))
    assert move(report_id, to) == 1
    assert "(report_status)" in capsys.readouterr().err
    assert len(mailgun.to(contact)) == sent


def test_an_unknown_report_is_said(api, capsys):
    assert ops.main(["reports", "move", "rep-0000000000000000", "--to", "triaging"]) == 1
    assert ops.main(["reports", "show", "rep-0000000000000000"]) == 1
    assert "no report rep-0000000000000000" in capsys.readouterr().out
