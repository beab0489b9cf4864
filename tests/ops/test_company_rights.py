"""A company's data-protection rights through the API and the job that the data table's stream starts: the export
of everything (``/api/exports``) and the erasure of the whole company (``/api/company/erase``).

The job runs as in the cloud: a pump reads the data table's stream and hands each batch to the
``company_requests`` handler (``infra.streams``), exactly as the event source mapping would.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from urllib.parse import parse_qs, urlsplit

import boto3
import jobs
import pytest
from protu import audit, caches, crypto, errors
from protu.ops import backup
from protu.settings import settings

from infra.streams import StreamPump
from tests.api.people import STRONG, Browser, add_passkey, invite, sign_up, subscribe
from tests.webauthn_authenticator import Authenticator


@pytest.fixture
def job(own_cloud):
    """The request job, fed from the data table's stream (what is written from now on)."""
    return StreamPump(settings().data_table, jobs.company_requests, starting_position="LATEST")


def company_of(account) -> str:
    return account.me["company"]["id"]


def people(owner) -> dict[str, str]:
    """A candidate with notes and an assessment response about them, and an employee."""
    browser = owner.browser
    candidate = browser.post("/api/candidates", {"name": "Cara Candidate", "notes": "prefers mornings"}).json()
    employee = browser.post("/api/employees", {"name": "Emil Employee", "email": "emil@example.com"}).json()
    assessment = browser.post(
        "/api/assessments", {"title": "Fit", "questions": [{"id": "q1", "text": "Why us?", "kind": "text"}]}
    ).json()
    response = browser.post(
        f"/api/assessments/{assessment['id']}/responses",
        {"subject_type": "candidate", "subject_id": candidate["id"], "answers": {"q1": "the mission"}},
    )
    assert response.status == 201, response.body
    return {"candidate": candidate["id"], "employee": employee["id"], "assessment": assessment["id"]}


def archive_of(url: str) -> zipfile.ZipFile:
    """The object a download URL names, read from the bucket (the URL's signature is S3's to check)."""
    path = urlsplit(url).path.lstrip("/")
    return zipfile.ZipFile(io.BytesIO(backup.read(path)))


# ------------------------------------------------------------------------------------------------ export
def test_an_owner_exports_everything_opened_and_downloads_it_through_a_short_lived_url(api, mailgun, job):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun)
    ids = people(owner)

    reply = owner.browser.post("/api/exports")
    assert reply.status == 202, reply.body
    export = reply.json()
    assert export["status"] == "pending" and export["id"].startswith("exp-")
    assert owner.browser.post("/api/exports").json()["id"] == export["id"]  # one at a time: the same one
    assert owner.browser.get(f"/api/exports/{export['id']}").json()["status"] == "pending"

    assert job.pump() > 0
    ready = owner.browser.get(f"/api/exports/{export['id']}").json()
    assert ready["status"] == "ready" and ready["size_bytes"] > 0
    assert ready["counts"]["candidates.json"] == 1 and ready["counts"]["responses.json"] == 1
    url = ready["download_url"]
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"] and "attachment" in query["response-content-disposition"][0]
    assert urlsplit(url).path.endswith(f"/exports/{company_of(owner)}/{export['id']}.zip")
    assert ready["download_expires_at"] <= time.time() + 300

    zipped = archive_of(url)
    assert {"manifest.json", "company.json", "users.json", "candidates.json", "audit-events.jsonl"} <= set(
        zipped.namelist()
    )
    candidates = json.loads(zipped.read("candidates.json"))
    assert candidates[0]["id"] == ids["candidate"] and candidates[0]["notes"] == "prefers mornings"
    responses = json.loads(zipped.read("responses.json"))
    assert responses[0]["answers"] == {"q1": "the mission"}
    users = json.loads(zipped.read("users.json"))
    assert {u["email"] for u in users} == {owner.email, admin.email}
    assert not any(key in user for user in users for key in ("password_hash", "totp_ciphertext", "recovery_hashes"))
    events = [json.loads(line) for line in zipped.read("audit-events.jsonl").decode().splitlines()]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert json.loads(zipped.read("company.json"))["settings"]["company_name"] == owner.company

    actions = [e["action"] for e in audit.events(company_of(owner), limit=20)[0]]
    assert {"company.export_requested", "company.exported", "company.export_downloaded"} <= set(actions)
    assert owner.browser.get("/api/exports").json()["items"][0]["id"] == export["id"]
    assert job.pump() == 0 or owner.browser.get(f"/api/exports/{export['id']}").json()["status"] == "ready"


def test_exports_are_for_owners_of_the_company_only(api, mailgun, job):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun)
    other = sign_up(api, mailgun)
    export = owner.browser.post("/api/exports").json()
    for reply in (admin.browser.post("/api/exports"), admin.browser.get(f"/api/exports/{export['id']}")):
        assert (reply.status, reply.json()["error"]["code"]) == (403, "forbidden")
    for path in (f"/api/exports/{export['id']}", "/api/exports/exp-zz", "/api/exports/" + "a" * 2000):
        reply = other.browser.get(path)
        assert (reply.status, reply.json()["error"]["code"]) == (404, "not_found"), path
    assert other.browser.get("/api/exports").json()["items"] == []
    assert Browser(api).post("/api/exports").status == 401


def test_a_failing_export_is_marked_failed_and_a_new_one_can_be_asked(api, mailgun, job, monkeypatch):
    owner = sign_up(api, mailgun)
    first = owner.browser.post("/api/exports").json()
    real = crypto.keystore.tenant_key

    def broken(*args, **kwargs):
        raise errors.ServiceUnavailable()

    owner.browser.post("/api/candidates", {"name": "Sealed", "notes": "needs the key"})
    caches.reset()
    monkeypatch.setattr(crypto.keystore, "tenant_key", broken)  # KMS gone while the archive is made
    job.pump()
    monkeypatch.setattr(crypto.keystore, "tenant_key", real)
    failed = owner.browser.get(f"/api/exports/{first['id']}").json()
    assert failed["status"] == "failed" and "download_url" not in failed
    second = owner.browser.post("/api/exports").json()
    assert second["id"] != first["id"]
    job.pump()
    assert owner.browser.get(f"/api/exports/{second['id']}").json()["status"] == "ready"


# ------------------------------------------------------------------------------------------------ erasure
def items_of(tenant_id: str) -> list[dict]:
    """Every data-table item of the company, found by scanning the whole table (nothing listed by hand)."""
    found = []
    for page in backup.pages(
        settings().data_table,
        FilterExpression="begins_with(pk, :company)",
        ExpressionAttributeValues={":company": {"S": f"T#{tenant_id}"}},
    ):
        found += [item for item in page if backup.company_of(item["pk"]["S"]) == tenant_id]
    return found


def erase(account, **body):
    """The account asks to erase its company: its name and password unless ``body`` says otherwise."""
    return account.browser.post("/api/company/erase", {"confirmation": account.company, "password": STRONG, **body})


def code_of(reply) -> tuple[int, str]:
    return reply.status, reply.json()["error"]["code"]


def test_erasing_a_company_needs_its_name_and_the_password_in_the_request_itself(api, mailgun):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun)
    tenant = company_of(owner)
    assert code_of(erase(admin)) == (403, "forbidden")
    assert code_of(erase(owner, confirmation="something else")) == (422, "confirmation_mismatch")
    for body in ({}, {"confirmation": ""}, {"confirmation": owner.company, "password": STRONG, "extra": 1}):
        assert owner.browser.post("/api/company/erase", body).status in (400, 422), body
    assert owner.browser.post("/api/company/erase", [owner.company]).status in (400, 422)
    # A session that has just confirmed the password is not enough: the erasure asks for it again, every time.
    assert owner.browser.post("/api/auth/reauthenticate", {"password": STRONG}).status == 200
    reply = owner.browser.post("/api/company/erase", {"confirmation": owner.company})
    assert code_of(reply) == (422, "password_or_code_required")
    # A wrong password (or code) is refused, on the record as a failed attempt; nothing is erased.
    assert code_of(erase(owner, password="not my password at all")) == (403, "invalid_password")
    assert code_of(erase(owner, password=None, code="123456")) == (403, "invalid_password")  # two-factor is off
    failures = [e for e in audit.events(tenant, limit=20)[0] if e["action"] == "company.erase"]
    assert [e["outcome"] for e in failures] == ["failure", "failure"]
    assert owner.me["company"]["id"] == tenant and admin.me["company"]["id"] == tenant
    assert items_of(tenant) and not [m for m in mailgun.messages if "was erased" in m["subject"]]


def test_wrong_passwords_to_erase_a_company_count_as_failed_sign_ins(api, mailgun):
    """The erasure is no password oracle for a stolen session: five wrong answers sign it out, and the account's
    next sign-in asks for an email link (as five wrong sign-ins do)."""
    owner = sign_up(api, mailgun)
    tenant = company_of(owner)
    answers = [erase(owner, password=f"guess number {n} x") for n in range(5)]
    assert [code_of(a)[1] for a in answers] == ["invalid_password"] * 4 + ["session_revoked"]
    assert code_of(erase(owner)) == (401, "session_revoked")
    assert Browser(api).login(owner.email).json() == {"step_up_required": True, "method": "email_link"}
    assert items_of(tenant)


def test_the_page_can_show_what_an_erasure_would_delete(api, mailgun):
    owner = sign_up(api, mailgun)
    invite(owner, mailgun)
    people(owner)
    reply = owner.browser.get("/api/company/erase")
    assert reply.status == 200, reply.body
    found = reply.json()
    assert found["company"] == owner.company
    counts = found["counts"]
    assert (counts["candidates"], counts["employees"], counts["assessments"], counts["responses"]) == (1, 1, 1, 1)
    assert counts["users"] == 2 and counts["roles"] == 0


def test_an_erased_company_is_gone_its_sealed_data_unreadable_in_backups_and_its_audit_trail_kept(
    api, mailgun, stripe_api, job
):
    owner = sign_up(api, mailgun)
    admin = invite(owner, mailgun)
    add_passkey(admin, Authenticator(settings().app_origin))  # its own partition (USER#<id>#PASSKEYS) goes too
    sso_domain = owner.browser.post("/api/settings/sso/domains", {"domain": f"gone-{uuid.uuid4().hex[:8]}.example"})
    assert sso_domain.status == 201  # single sign-on's partition (T#<company>#SSO) goes too
    tenant = company_of(owner)
    ids = people(owner)
    subscribe(owner, stripe_api)
    sealed_before = next(item for item in items_of(tenant) if item["pk"]["S"].endswith("#CAND"))
    customer = next(iter(stripe_api.customers))

    second_owner = invite(owner, mailgun, "owner", name="Otto Second")
    reply = erase(owner, confirmation=f"  {owner.company} ")
    assert reply.status == 202, reply.body
    assert reply.json()["status"] == "erasing"
    assert "Max-Age=0" in reply.header("Set-Cookie")

    # At once: Stripe's customer and subscription are gone, nobody is signed in, nobody can sign in.
    assert customer not in stripe_api.customers
    assert all(s["status"] == "canceled" for s in stripe_api.subscriptions.values())
    assert len(stripe_api.send_pending()) == 1  # Stripe's word of the cancelled subscription is acknowledged
    assert stripe_api.delivered[-1].status == 200, stripe_api.delivered[-1].body
    for account in (owner, admin):
        assert account.browser.get("/api/me").status == 401
        assert Browser(api).login(account.email, STRONG).status == 401
    with pytest.raises(errors.ProtuError):  # the company's key is destroyed: sealed fields never open again
        crypto.decrypt_fields(
            tenant, "candidate", ids["candidate"], sealed_before["sealed"]["B"], ("notes",), subject=ids["candidate"]
        )

    # Every owner is told, and only the owners.
    for account in (owner, second_owner):
        told = [m for m in mailgun.to(account.email) if "was erased" in m["subject"]]
        assert len(told) == 1, account.email
        assert owner.company in told[0]["subject"] and "Ana Owner erased" in told[0]["text"]
        assert "audit log keeps" in told[0]["text"] and "<p>" in told[0]["html"]
    assert not [m for m in mailgun.to(admin.email) if "was erased" in m["subject"]]

    # The job deletes everything else; the audit chain keeps that it happened.
    job.pump()
    assert items_of(tenant) == []
    assert audit.verify(tenant).ok
    actions = [e["action"] for e in audit.events(tenant, limit=10)[0]]
    assert actions[0] == "company.erased" and "company.erasure_started" in actions
    assert job.pump() == 0
    # The addresses are free again: each can start a new company.
    again = Browser(api).post(
        "/api/auth/signup",
        {"company_name": "Fresh", "name": "Ana", "email": owner.email, "password": STRONG, "accept_terms": True},
    )
    assert again.status == 201, again.body


def test_erasure_fails_whole_when_stripe_cannot_be_reached(api, mailgun, stripe_api):
    owner = sign_up(api, mailgun)
    subscribe(owner, stripe_api)
    stripe_api.fail(503, 503, 503, 503, 503)
    assert code_of(erase(owner)) == (503, "billing_unavailable")
    assert owner.browser.get("/api/me").status == 200
    assert owner.browser.get("/api/billing").json()["plan"] == "business"


def test_s3_objects_of_exports_are_kms_encrypted(api, mailgun, job):
    owner = sign_up(api, mailgun)
    export = owner.browser.post("/api/exports").json()
    job.pump()
    head = boto3.client("s3", region_name=settings().region).head_object(
        Bucket=settings().backup_bucket, Key=f"exports/{company_of(owner)}/{export['id']}.zip"
    )
    assert head["ServerSideEncryption"] == "aws:kms"


# ------------------------------------------------------------------------------------------------ operator CLI
def test_an_operator_exports_a_company_to_a_private_file(api, mailgun, tmp_path, capsys):
    from infra import ops

    owner = sign_up(api, mailgun)
    people(owner)
    out = tmp_path / "export.zip"
    assert ops.main(["export", "--tenant", company_of(owner), "--out", str(out)]) == 0
    assert "written to" in capsys.readouterr().out
    assert out.stat().st_mode & 0o777 == 0o600
    zipped = zipfile.ZipFile(out)
    assert json.loads(zipped.read("candidates.json"))[0]["notes"] == "prefers mornings"
    requested = next(e for e in audit.events(company_of(owner), limit=10)[0] if e["action"] == "company.exported")
    assert requested["actor"] == "system:operator"


def test_an_operator_erases_a_person_or_a_company_after_a_dry_run(api, mailgun, capsys):
    from infra import ops

    owner = sign_up(api, mailgun)
    tenant = company_of(owner)
    ids = people(owner)

    assert ops.main(["erase", "--tenant", tenant, "--subject", ids["candidate"], "--dry-run"]) == 0
    assert "and 1 record(s) about them" in capsys.readouterr().out
    assert owner.browser.get(f"/api/candidates/{ids['candidate']}").status == 200
    assert ops.main(["erase", "--tenant", tenant, "--subject", ids["candidate"]]) == 0
    assert owner.browser.get(f"/api/candidates/{ids['candidate']}").status == 404
    assert ops.main(["erase", "--tenant", tenant, "--subject", ids["candidate"]]) == 1  # already gone: said so
    assert "No such candidate" in capsys.readouterr().err
    assert ops.main(["erase", "--tenant", tenant, "--subject", ids["assessment"]]) == 1  # not a person
    assert "not a candidate or employee" in capsys.readouterr().out

    assert ops.main(["erase", "--tenant", tenant, "--dry-run", "--json"]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert counted["dry_run"] is True and counted["items"]["users"] == 1 and counted["items"]["employees"] == 1
    assert ops.main(["erase", "--tenant", tenant]) == 1  # a whole company needs --yes
    assert "--yes" in capsys.readouterr().out
    assert owner.browser.get("/api/me").status == 200

    assert ops.main(["erase", "--tenant", tenant, "--yes"]) == 0
    assert items_of(tenant) == [] and owner.browser.get("/api/me").status == 401
    assert [e["action"] for e in audit.events(tenant, limit=2)[0]] == ["company.erased", "company.erasure_started"]
    assert ops.main(["erase", "--tenant", tenant, "--yes"]) == 1  # nothing left to erase: a clear refusal


def test_long_work_shows_a_progress_bar_when_the_total_is_known():
    from infra.ops import Progress

    bar = Progress("backup", total=200)
    bar(50)
    assert bar.line().startswith("backup [#######.......................]  25% 50/200 items")
    counter = Progress("restore test")
    counter(7)
    assert counter.line().startswith("restore test: 7 items")
