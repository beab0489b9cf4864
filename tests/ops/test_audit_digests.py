"""Signed audit digests (issue 17): the hourly job signs each company's new events with the asymmetric KMS key, into
the Object-Lock bucket, and anyone verifies a digest with the published public key and ``cryptography`` alone.

moto's KMS signs with real ECDSA (P-256) over a RAW message, as KMS does, so the signature checked here is the one
a customer's auditor would check.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import jobs
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from protu.settings import settings

from infra import template as tpl
from tests.api.people import Browser, sign_up


def digests_of(tenant_id: str) -> list[tuple[str, dict]]:
    import boto3

    s3 = boto3.client("s3", region_name="eu-central-1")
    listed = s3.list_objects_v2(Bucket=settings().audit_bucket, Prefix=f"digests/{tenant_id}/").get("Contents", [])
    return [
        (item["Key"], json.loads(s3.get_object(Bucket=settings().audit_bucket, Key=item["Key"])["Body"].read()))
        for item in sorted(listed, key=lambda found: found["Key"])
    ]


def verifies(public_key_pem: str, digest: dict) -> bool:
    """An auditor's check, with nothing of Protu: the canonical document without its signature (as docs/audit.md
    says), ECDSA P-256."""
    document = {k: v for k, v in digest.items() if k != "signature"}
    message = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    key = load_pem_public_key(public_key_pem.encode("ascii"))
    try:
        key.verify(base64.b64decode(digest["signature"]), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@pytest.fixture
def company(api, mailgun):
    """A new company's owner, with the company's id as ``tenant``."""
    owner = sign_up(api, mailgun)
    owner.tenant = owner.me["company"]["id"]
    return owner


def public_key(api) -> dict:
    reply = Browser(api).get("/api/audit-events/public-key")
    assert reply.status == 200, reply.body
    return reply.json()


def head_seq(api, owner) -> tuple[int, str]:
    page = owner.browser.get("/api/audit-events?limit=1").json()["items"][0]
    return page["seq"], page["hash"]


def test_the_hourly_job_signs_what_each_company_added_and_anyone_can_verify_it(api, company, hourly):
    summary = hourly()
    assert summary["digests"] >= 1  # (other tests of this module leave companies whose chains were tampered with)

    found = digests_of(company.tenant)
    assert len(found) == 1
    key, digest = found[0]
    seq, last_hash = head_seq(api, company)
    assert key == f"digests/{company.tenant}/{digest['last_seq']:012d}.json"
    assert digest["tenant"] == company.tenant
    assert digest["first_seq"] == 1 and digest["last_seq"] >= 1 and digest["previous_digest_hash"] is None
    assert digest["algorithm"] == "ECDSA_SHA_256"
    published = public_key(api)
    assert digest["key_id"] == published["key_id"]
    assert verifies(published["public_key_pem"], digest)
    assert seq >= digest["last_seq"]  # reading the audit log may itself be on the record later

    tampered = {**digest, "last_seq": digest["last_seq"] + 1}
    assert not verifies(published["public_key_pem"], tampered)

    import boto3  # the digest is write-once: Object Lock in COMPLIANCE mode, for the audit retention (7 years)

    locked = boto3.client("s3", region_name="eu-central-1").head_object(Bucket=settings().audit_bucket, Key=key)
    assert locked["ObjectLockMode"] == "COMPLIANCE"
    assert locked["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=7 * 365 - 2)


def test_a_run_with_nothing_new_writes_nothing_and_the_next_digest_names_the_previous_one(api, company, hourly):
    hourly()
    first = digests_of(company.tenant)
    hourly()
    assert digests_of(company.tenant) == first

    role = company.browser.post("/api/roles", {"title": "Auditor"})  # a change: an event
    assert role.status == 201, role.body
    hourly()
    found = digests_of(company.tenant)
    assert len(found) == 2
    earlier, later = found[0][1], found[1][1]
    assert later["first_seq"] == earlier["last_seq"] + 1
    document = {k: v for k, v in earlier.items() if k != "signature"}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    assert later["previous_digest_hash"] == hashlib.sha256(canonical).hexdigest()
    assert verifies(public_key(api)["public_key_pem"], later)


def test_only_the_digest_job_may_sign_and_the_key_is_asymmetric():
    template = tpl.load()
    key = template["Resources"]["AuditSigningKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    deny = [s for s in key["KeyPolicy"]["Statement"] if s["Effect"] == "Deny" and s["Action"] == "kms:Sign"]
    assert deny and "${AWS::StackName}-AuditDigestFunction*" in str(deny[0]["Condition"])
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        actions = [
            action
            for policy in resource["Properties"].get("Policies", [])
            if isinstance(policy, dict)
            for statement in policy.get("Statement", [])
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        ]
        assert ("kms:Sign" in actions) == (name == "AuditDigestFunction"), name


# ------------------------------------------------------------------------------------------------ the attacks
# Each is done the way someone with write access to the AuditTable or the audit bucket would do it: directly on the
# local cloud's table and bucket, then the company's owner asks GET /api/audit-events/verify.


def chain(tenant: str) -> list[dict]:
    from protu.audit.chain import EVENT_PREFIX
    from protu.audit.models import AuditEvent, chain_pk

    found = AuditEvent.query(chain_pk(tenant), AuditEvent.sk.startswith(EVENT_PREFIX), consistent_read=True)
    return [event.to_document() for event in found]


def set_head(tenant: str, seq: int, hash_: str) -> None:
    from protu.audit.chain import HEAD_SK
    from protu.audit.models import AuditHead, chain_pk

    AuditHead(chain_pk(tenant), HEAD_SK, tenant=tenant, seq=seq, hash=hash_).save()


def delete_event(tenant: str, seq: int) -> None:
    from protu.audit.chain import event_sk
    from protu.audit.models import AuditEvent, chain_pk

    AuditEvent.get(chain_pk(tenant), event_sk(seq)).delete()


def verified(owner) -> dict:
    """The owner's ``GET /api/audit-events/verify``, after the operator's ``protu-ops verify-audit`` (first: reading
    the log through the API is itself an event) has reached the same verdict and named the same break."""
    from infra import ops

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = ops.main(["verify-audit", "--tenant", owner.tenant, "--json"])
    operator = json.loads(printed.getvalue())
    reply = owner.browser.get("/api/audit-events/verify")
    assert reply.status == 200, reply.body
    found = reply.json()
    assert (status == 0, operator["reason"]) == (found["ok"], found["reason"]), operator
    return found


@pytest.fixture
def signed(api, company, hourly):
    """A company with a few events, all of them under a signed digest, and its chain verifying."""
    for title in ("Analyst", "Engineer", "Designer"):
        assert company.browser.post("/api/roles", {"title": title}).status == 201
    hourly()
    assert digests_of(company.tenant)
    assert verified(company)["ok"] is True
    return company


def test_deleting_an_event_and_rehashing_every_later_one_and_the_head_is_detected(signed):
    from protu.audit.chain import genesis_hash, seal
    from protu.audit.models import AuditEvent

    events = chain(signed.tenant)
    victim = 2
    kept = [e for e in events if e["seq"] != victim]
    prev = genesis_hash(signed.tenant)
    rewritten = []
    for seq, old in enumerate(kept, start=1):
        fields = {k: v for k, v in old.items() if k not in ("tenant", "seq", "time", "prev_hash", "hash")}
        document = seal(signed.tenant, seq, prev, fields, time=old["time"])
        rewritten.append(document)
        prev = document["hash"]
    for document in rewritten:
        AuditEvent.from_document(document).save()
    delete_event(signed.tenant, len(events))
    set_head(signed.tenant, len(rewritten), prev)

    from protu.audit import verification

    assert verification._walk(signed.tenant).ok  # the chain alone is fooled: every link and the head agree
    found = verified(signed)
    assert found["ok"] is False
    assert "signed" in found["reason"], found


def test_a_truncated_tail_with_the_head_moved_back_is_detected(signed):
    events = chain(signed.tenant)
    for document in events[-2:]:
        delete_event(signed.tenant, document["seq"])
    set_head(signed.tenant, events[-3]["seq"], events[-3]["hash"])

    found = verified(signed)
    assert found["ok"] is False
    assert "were signed but are missing" in found["reason"], found


def test_an_edited_head_is_detected(signed):
    events = chain(signed.tenant)
    set_head(signed.tenant, events[-1]["seq"], "0" * 64)
    found = verified(signed)
    assert found["ok"] is False and "head" in found["reason"], found


def put_digest(key: str, digest: dict) -> None:
    import boto3

    body = json.dumps(digest, sort_keys=True, separators=(",", ":")).encode()
    boto3.client("s3", region_name="eu-central-1").put_object(
        Bucket=settings().audit_bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256"
    )


def test_a_digest_swapped_for_another_companys_is_detected(api, mailgun, signed, hourly):
    other = sign_up(api, mailgun)
    other_tenant = other.me["company"]["id"]
    hourly()
    key, _ = digests_of(signed.tenant)[-1]
    _, theirs = digests_of(other_tenant)[-1]
    put_digest(key, theirs)  # a new version of the object: the bucket keeps the old one, readers see this one

    found = verified(signed)
    assert found["ok"] is False and "not this company's" in found["reason"], found


def test_a_digest_signed_by_another_key_is_detected(signed):
    import boto3
    from protu.audit import digests

    kms = boto3.client("kms", region_name="eu-central-1")
    forger = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    key, digest = digests_of(signed.tenant)[-1]
    forged = {k: v for k, v in digest.items() if k != "signature"}
    signature = kms.sign(
        KeyId=forger, Message=digests.signed_bytes(forged), MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )["Signature"]
    put_digest(key, {**forged, "signature": base64.b64encode(signature).decode()})

    found = verified(signed)
    assert found["ok"] is False and "not signed by the audit key" in found["reason"], found


def test_operators_sign_digests_on_demand_and_verify_chain_and_digests(company, capsys, mirror):
    from infra import ops

    mirror.pump()
    assert ops.main(["audit-digests", "--tenant", company.tenant]) == 0
    assert "1 written, 0 failed" in capsys.readouterr().out
    assert digests_of(company.tenant)
    assert ops.main(["verify-audit", "--tenant", company.tenant]) == 0
    assert "its signed digests hold" in capsys.readouterr().out


def test_the_job_refuses_to_sign_a_chain_rewritten_since_the_last_digest(signed, hourly):
    """Someone who rewrites signed events (re-hashing the rest and the head) gets nothing more signed: the job
    checks the events since the last digest start from the one it signed, fails for that company (its failure
    alarm), and signs again only when the chain verifies. (Rewriting only events no digest covers yet is for the
    comparison with their Object-Lock copies.)"""
    from protu.audit.chain import genesis_hash, seal
    from protu.audit.models import AuditEvent

    events = chain(signed.tenant)
    prev, rewritten = genesis_hash(signed.tenant), []
    for old in events:
        fields = {k: v for k, v in old.items() if k not in ("tenant", "seq", "time", "prev_hash", "hash")}
        if old["seq"] == 2:
            fields["target"] = "role:someone-else"
        document = seal(signed.tenant, old["seq"], prev, fields, time=old["time"])
        rewritten.append(document)
        prev = document["hash"]
    for document in rewritten:
        AuditEvent.from_document(document).save()
    set_head(signed.tenant, rewritten[-1]["seq"], prev)
    assert signed.browser.post("/api/roles", {"title": "After"}).status == 201  # new events to sign
    before = digests_of(signed.tenant)

    assert hourly()["failed"] >= 1
    assert digests_of(signed.tenant) == before


def test_the_job_does_not_chain_to_a_digest_it_did_not_sign(signed, hourly):
    """A digest planted in the bucket as the newest (by someone who can put objects there) is not built upon."""
    key, digest = digests_of(signed.tenant)[-1]
    planted = {**digest, "last_seq": digest["last_seq"] + 100}
    put_digest(f"digests/{signed.tenant}/{planted['last_seq']:012d}.json", planted)
    assert signed.browser.post("/api/roles", {"title": "After"}).status == 201
    before = digests_of(signed.tenant)

    assert hourly()["failed"] >= 1
    assert digests_of(signed.tenant) == before
    assert "not signed by the audit key" in verified(signed)["reason"]


def test_an_event_no_digest_covers_yet_rewritten_in_place_differs_from_its_object_lock_copy(signed, mirror):
    """Between two digests the chain alone cannot tell an event re-sealed in place (its hash and links kept
    consistent): its Object-Lock copy, written by the mirror when the event was inserted, can."""
    from protu.audit.chain import seal
    from protu.audit.models import AuditEvent

    assert signed.browser.post("/api/roles", {"title": "Recent"}).status == 201
    mirror.pump()
    assert verified(signed)["ok"] is True  # the recent events match their copies

    last = chain(signed.tenant)[-1]
    fields = {k: v for k, v in last.items() if k not in ("tenant", "seq", "time", "prev_hash", "hash")}
    forged = seal(signed.tenant, last["seq"], last["prev_hash"], {**fields, "target": "role:someone-else"})
    AuditEvent.from_document(forged).save()
    set_head(signed.tenant, forged["seq"], forged["hash"])
    mirror.pump()  # a rewrite in place is a MODIFY: the mirror copies inserts only

    found = verified(signed)
    assert found["ok"] is False
    assert found["reason"] == f"event {last['seq']} differs from its Object-Lock copy", found


def test_the_job_signs_only_what_the_mirror_copied_and_never_a_re_sealed_event(signed, mirror, hourly):
    """The job compares each new event with its Object-Lock copy before signing it: events the mirror has not
    copied yet wait for the next run, and an event re-sealed in place since it was copied is never signed."""
    from protu.audit.chain import seal
    from protu.audit.models import AuditEvent

    before = digests_of(signed.tenant)
    assert signed.browser.post("/api/roles", {"title": "Not copied yet"}).status == 201
    jobs.audit_digests({}, None)  # before the mirror has copied the new events
    assert digests_of(signed.tenant) == before  # nothing of this company was signed: not copied yet

    mirror.pump()
    last = chain(signed.tenant)[-1]
    fields = {k: v for k, v in last.items() if k not in ("tenant", "seq", "time", "prev_hash", "hash")}
    forged = seal(signed.tenant, last["seq"], last["prev_hash"], {**fields, "target": "role:someone-else"})
    AuditEvent.from_document(forged).save()
    set_head(signed.tenant, forged["seq"], forged["hash"])

    assert hourly()["failed"] >= 1  # the re-sealed event differs from its copy: this company gets no digest
    assert len(digests_of(signed.tenant)) == len(before)
