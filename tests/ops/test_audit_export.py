"""The owner's verifiable audit export (issue 17): ``POST /api/audit-events/exports`` -> the request job (fed from
the data table's stream, as the event source mapping would) -> a short-lived link to JSON Lines of the events, the
signed digests covering them and the public key. The job asks the digest function (the only one that may sign; the
local cloud runs it as Lambda would) for a fresh digest first, so the export is signed up to when it was made.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jobs
import pytest
from protu.ops import backup
from protu.settings import settings

from infra.streams import StreamPump
from tests.api.people import Browser, invite, sign_up


@pytest.fixture
def job(own_cloud):
    return StreamPump(settings().data_table, jobs.company_requests, starting_position="LATEST")


@pytest.fixture
def owner(api, mailgun):
    found = sign_up(api, mailgun)
    found.tenant = found.me["company"]["id"]
    return found


def act(owner, count: int) -> None:
    """``count`` audited changes."""
    for number in range(count):
        reply = owner.browser.post("/api/roles", {"title": f"Role {number}"})
        assert reply.status == 201, reply.body


def export(owner, job, mirror, **body) -> tuple[dict, list[dict]]:
    """Ask for an export, run the job (the mirror having copied the request's event), download it: (its status,
    its lines)."""
    reply = owner.browser.post("/api/audit-events/exports", body)
    assert reply.status == 202, reply.body
    mirror.pump()
    assert job.pump() > 0
    ready = owner.browser.get(f"/api/audit-events/exports/{reply.json()['id']}").json()
    assert ready["status"] == "ready", ready
    url = ready["download_url"]
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["300"]
    raw = backup.read(urlsplit(url).path.lstrip("/")).decode("utf-8")
    return ready, [json.loads(line) for line in raw.splitlines()]


def parts(lines: list[dict]) -> tuple[dict, list[dict], list[dict]]:
    header, *rest = lines
    assert header["type"] == "header" and header["format"] == "protu-audit-export" and header["version"] == 1
    events = [line["event"] for line in rest if line["type"] == "event"]
    digests = [line["digest"] for line in rest if line["type"] == "digest"]
    assert len(events) + len(digests) == len(rest)
    return header, events, digests


def test_an_owner_exports_the_whole_log_signed_up_to_the_moment_it_was_made(owner, job, mirror, hourly):
    act(owner, 3)
    hourly()  # the hourly digest
    act(owner, 2)  # newer than any digest: the export asks for one

    status, lines = export(owner, job, mirror)
    header, events, digests = parts(lines)
    assert header["tenant"] == owner.tenant and header["since"] is None
    assert header["public_key"]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert len(events) >= 5 + 1  # the sign-up's events, the roles, the export request
    assert len(digests) == 2 and digests[0]["last_seq"] + 1 == digests[1]["first_seq"]
    assert digests[-1]["last_seq"] == events[-1]["seq"] == header["last_seq"] == status["signed_through"]
    assert status["events"] == len(events) and status["digests"] == 2

    actions = [event["action"] for event in owner.browser.get("/api/audit-events?limit=5").json()["items"]]
    assert "audit.exported" in actions and "audit.export_requested" in actions
    assert actions[0] == "audit.export_downloaded"  # issuing the link is on the record


def test_a_range_holds_the_signed_segments_around_it_and_nothing_of_it_is_left_out(owner, job, mirror, hourly):
    act(owner, 2)
    hourly()
    act(owner, 3)
    hourly()
    act(owner, 3)
    hourly()
    newest = owner.browser.get("/api/audit-events?limit=100").json()["items"][::-1]
    roles = [event for event in newest if event["action"].startswith("role.")]
    middle = roles[5:7]  # the first two roles of the third run: the segment before it holds the event before them
    since, until = middle[0]["time"], middle[-1]["time"]

    status, lines = export(owner, job, mirror, since=since, until=until)
    header, events, digests = parts(lines)
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(header["first_seq"], header["last_seq"] + 1))
    assert {event["seq"] for event in middle} <= set(seqs)
    assert events[0]["time"] < since < events[-1]["time"] or events[0]["seq"] == 1
    assert events[-1]["time"] > until  # an event after the range is in the file: nothing of it was left out
    assert digests[0]["first_seq"] == header["first_seq"] and digests[-1]["last_seq"] == header["last_seq"]
    assert header["first_seq"] == roles[2]["seq"] > 1  # the second segment: not the whole log
    assert header["last_seq"] == roles[7]["seq"]  # the third segment's end, not the export's own events
    assert status["first_seq"] == header["first_seq"] and len(digests) == 2


def test_only_owners_ask_for_and_read_their_own_companys_exports(api, mailgun, owner, job):
    admin = invite(owner, mailgun, "admin")
    assert admin.browser.post("/api/audit-events/exports", {}).status == 403
    stranger = sign_up(api, mailgun)
    mine = owner.browser.post("/api/audit-events/exports", {}).json()
    assert owner.browser.post("/api/audit-events/exports", {}).json()["id"] == mine["id"]  # one at a time
    assert stranger.browser.get(f"/api/audit-events/exports/{mine['id']}").status == 404
    assert [item["id"] for item in stranger.browser.get("/api/audit-events/exports").json()["items"]] == []
    assert owner.browser.get("/api/audit-events/exports/aex-" + "0" * 20).status == 404
    assert owner.browser.get("/api/audit-events/exports/exp-1").status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "until"),
        ({"since": "2026-12-01T00:00:00"}, "since"),  # no offset
        ({"until": "yesterday"}, "until"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since"),
        ({"tenant": "someone-else"}, "tenant"),
    ],
)
def test_a_bad_range_is_refused_naming_the_field(owner, body, field):
    reply = owner.browser.post("/api/audit-events/exports", body)
    assert reply.status in (400, 422), reply.body
    assert reply.json()["error"]["details"]["field"] == field
    assert owner.browser.get("/api/audit-events/exports").json()["items"] == []


# ------------------------------------------------------------------------------------------------ offline verification
VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify_audit_export.py"


def verify_offline(tmp_path, api, lines: list[dict] | bytes, name: str = "export.jsonl") -> subprocess.CompletedProcess:
    """The auditor's run: the standalone verifier, with the key published by the API (fetched apart from the
    export), in a fresh interpreter that imports nothing of Protu; on the file's bytes as downloaded, or lines."""
    key = tmp_path / "protu-audit.json"
    key.write_text(json.dumps(Browser(api).get("/api/audit-events/public-key").json()))
    path = tmp_path / name
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))
    return subprocess.run(
        [sys.executable, "-I", str(VERIFIER), str(path), "--public-key", str(key)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def real_export(api, owner, job, mirror, hourly) -> list[dict]:
    act(owner, 3)
    hourly()
    act(owner, 3)
    hourly()
    act(owner, 2)
    return export(owner, job, mirror)[1]


def test_the_offline_verifier_proves_a_real_export(tmp_path, api, real_export):
    done = verify_offline(tmp_path, api, real_export)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout and "3 signatures verify" in done.stdout


def test_the_offline_verifier_proves_the_downloaded_bytes_and_finds_one_of_them_changed(
    tmp_path, api, owner, job, mirror
):
    act(owner, 2)
    ready, _ = export(owner, job, mirror)
    raw = backup.read(urlsplit(ready["download_url"]).path.lstrip("/"))
    done = verify_offline(tmp_path, api, raw)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout

    at = raw.index(b"role.created") + len(b"role.create")  # the last letter of the first role's action
    changed = raw[:at] + b"s" + raw[at + 1 :]  # one byte: "role.creates"
    assert len(changed) == len(raw) and sum(a != b for a, b in zip(raw, changed, strict=True)) == 1
    done = verify_offline(tmp_path, api, changed)
    assert done.returncode == 1, done.stdout
    assert "its hash does not match its contents" in done.stdout


def test_the_offline_verifier_finds_one_byte_changed(tmp_path, api, real_export):
    lines = json.loads(json.dumps(real_export))
    event = next(line["event"] for line in lines if line["type"] == "event" and line["event"]["seq"] == 5)
    event["actor"] = event["actor"][:-1] + ("0" if event["actor"][-1] != "0" else "1")
    done = verify_offline(tmp_path, api, lines)
    assert done.returncode == 1, done.stdout
    assert "event 5: its hash does not match its contents" in done.stdout


def test_the_offline_verifier_finds_an_event_removed(tmp_path, api, real_export):
    lines = [line for line in real_export if not (line["type"] == "event" and line["event"]["seq"] == 4)]
    done = verify_offline(tmp_path, api, lines)
    assert done.returncode == 1, done.stdout
    assert "event 4 is missing" in done.stdout


def test_the_offline_verifier_finds_a_digest_removed(tmp_path, api, real_export):
    digests = [line for line in real_export if line["type"] == "digest"]
    lines = [line for line in real_export if line is not digests[1]]
    done = verify_offline(tmp_path, api, lines)
    assert done.returncode != 0, done.stdout
    first, last = digests[1]["digest"]["first_seq"], digests[1]["digest"]["last_seq"]
    assert f"digest ending at {last} is missing: events {first}..{last} are not signed" in done.stdout
