"""Signed audit digests (issue 17): the hourly job signs each company's new events with the asymmetric KMS key, into
the Object-Lock bucket, and anyone verifies a digest with the published public key and ``cryptography`` alone.

moto's KMS signs with real ECDSA (P-256) over a RAW message, as KMS does, so the signature checked here is the one
a customer's auditor would check.
"""

from __future__ import annotations

import base64
import hashlib
import json

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
    """An auditor's check, with nothing of Protu: the canonical document without its signature, ECDSA P-256."""
    document = {k: v for k, v in digest.items() if k != "signature"}
    message = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
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


def test_the_hourly_job_signs_what_each_company_added_and_anyone_can_verify_it(api, company):
    summary = jobs.audit_digests({}, None)
    assert summary["failed"] == 0 and summary["digests"] >= 1

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


def test_a_run_with_nothing_new_writes_nothing_and_the_next_digest_names_the_previous_one(api, company):
    jobs.audit_digests({}, None)
    first = digests_of(company.tenant)
    jobs.audit_digests({}, None)
    assert digests_of(company.tenant) == first

    role = company.browser.post("/api/roles", {"title": "Auditor"})  # a change: an event
    assert role.status == 201, role.body
    jobs.audit_digests({}, None)
    found = digests_of(company.tenant)
    assert len(found) == 2
    earlier, later = found[0][1], found[1][1]
    assert later["first_seq"] == earlier["last_seq"] + 1
    document = {k: v for k, v in earlier.items() if k != "signature"}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert later["previous_digest_hash"] == hashlib.sha256(canonical).hexdigest()
    assert verifies(public_key(api)["public_key_pem"], later)


def test_only_the_digest_job_may_sign_and_the_key_is_asymmetric():
    template = tpl.load()
    key = template["Resources"]["AuditSigningKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    deny = [s for s in key["KeyPolicy"]["Statement"] if s["Effect"] == "Deny" and s["Action"] == "kms:Sign"]
    assert deny and "AuditDigestFunctionRole" in str(deny[0]["Condition"])
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
