"""Keys rotated on a schedule: each company's data key (the daily job, ``protu-ops keys``) and the access tokens'
signing keys (Secrets Manager's rotation, whose function moto runs like the other functions).

Time is moved the only way it can be for a key made a moment ago: its pointer's ``rotated_at`` (what the job's
index is sorted by) is set back, as if the key had been made that long ago. Everything else goes through the
public interfaces: the API, the job's handler, the operators' command line.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jobs
import jwt
import pyotp
import pytest
from protu import audit, aws, caches
from protu.crypto.keystore import CURRENT_SK, KeyRecord
from protu.identity import tokens
from protu.settings import settings

from infra import ops
from tests.api.people import Browser, sign_up


def company_of(account) -> str:
    return account.me["company"]["id"]


def made_long_ago(tenant_id: str, days: int) -> None:
    """The company's current key version as if it had been made ``days`` ago."""
    KeyRecord(f"T#{tenant_id}", CURRENT_SK).update(
        actions=[KeyRecord.rotated_at.set(datetime.now(UTC) - timedelta(days=days))]
    )


def data_key(account) -> dict:
    reply = account.browser.get("/api/settings")
    assert reply.status == 200, reply.body
    return reply.json()["data_key"]


def candidate(account, name: str, notes: str) -> dict:
    reply = account.browser.post("/api/candidates", {"name": name, "notes": notes})
    assert reply.status == 201, reply.body
    return reply.json()


def notes_of(account, record: dict) -> str:
    reply = account.browser.get(f"/api/candidates/{record['id']}")
    assert reply.status == 200, reply.body
    return reply.json()["notes"]


def actions(tenant_id: str) -> list[str]:
    events, _ = audit.events(tenant_id, limit=100)
    return [event["action"] for event in events]


def run(capsys, *argv: str) -> tuple[int, dict]:
    capsys.readouterr()  # what ran before (a job's metrics line) is not this command's answer
    code = ops.main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------------------------------------ data keys
def test_a_key_older_than_a_year_is_rotated_and_everything_sealed_before_still_opens(api, mailgun):
    owner = sign_up(api, mailgun)
    tenant = company_of(owner)
    assert data_key(owner) is None  # nothing sealed yet: no key yet
    cara = candidate(owner, "Cara Candidate", "prefers mornings")
    before = data_key(owner)
    assert before["version"] == 1 and before["rotation_days"] == 365
    assert before["next_rotation_at"] - before["rotated_at"] == 365 * 86400

    made_long_ago(tenant, 366)
    answer = jobs.rotate_keys({}, None)
    assert answer["complete"] is True and answer["failed"] == 0 and answer["rotated"] >= 1

    after = data_key(owner)
    assert after["version"] == 2 and after["rotated_at"] >= before["rotated_at"]
    assert "key.rotated" in actions(tenant)
    caches.reset()  # a new process: nothing cached, each version read from the key table and KMS again
    assert notes_of(owner, cara) == "prefers mornings"
    dan = candidate(owner, "Dan Candidate", "sealed after the rotation")
    assert notes_of(owner, dan) == "sealed after the rotation"

    # Rotated now, so not due again: another run leaves it at version 2.
    jobs.rotate_keys({}, None)
    assert data_key(owner)["version"] == 2


def test_a_key_younger_than_the_age_is_left_alone(api, mailgun):
    owner = sign_up(api, mailgun)
    candidate(owner, "Cara Candidate", "prefers mornings")
    made_long_ago(company_of(owner), 300)
    jobs.rotate_keys({}, None)
    assert data_key(owner)["version"] == 1


def test_the_backfill_moves_people_and_secrets_onto_the_new_key_and_writes_rewrap_lazily(api, mailgun, capsys):
    owner = sign_up(api, mailgun)
    tenant = company_of(owner)
    secret = owner.browser.post("/api/me/mfa/totp").json()["secret"]
    assert owner.browser.post("/api/me/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()}).status == 200
    cara = candidate(owner, "Cara Candidate", "prefers mornings")
    eve = candidate(owner, "Eve Candidate", "speaks Finnish")

    code, status = run(capsys, "keys", "rotate", "--tenant", tenant)
    assert (code, status) == (0, {"version": 2})
    # A write of Cara's record wraps her key again under version 2 at once; Eve's waits for the backfill.
    changed = owner.browser.patch(f"/api/candidates/{cara['id']}", {"version": cara["version"], "notes": "evenings"})
    assert changed.status == 200, changed.body

    code, counts = run(capsys, "keys", "reencrypt", "--tenant", tenant)
    assert code == 0
    assert counts == {
        "version": 2,
        "people_keys_rewrapped": 1,
        "two_factor_secrets_resealed": 1,
        "audit_streams_resealed": 0,
    }
    assert "key.reencrypted" in actions(tenant)
    # Nothing is left under version 1: a second run has nothing to do.
    code, again = run(capsys, "keys", "reencrypt", "--tenant", tenant)
    assert (again["people_keys_rewrapped"], again["two_factor_secrets_resealed"]) == (0, 0)

    caches.reset()
    assert (notes_of(owner, cara), notes_of(owner, eve)) == ("evenings", "speaks Finnish")
    browser = Browser(api)
    step = browser.login(owner.email).json()
    code = pyotp.TOTP(secret).at(time.time() + 30)  # the current step was spent on confirming
    assert browser.post("/api/auth/mfa", {"mfa_token": step["mfa_token"], "code": code}).status == 200

    code, shown = run(capsys, "keys", "status", "--tenant", tenant)
    assert code == 0 and shown["version"] == 2 and shown["status"] == "active"


def test_an_erased_companys_key_stays_destroyed(api, mailgun, capsys):
    owner = sign_up(api, mailgun)
    tenant = company_of(owner)
    candidate(owner, "Cara Candidate", "prefers mornings")
    made_long_ago(tenant, 400)
    assert ops.main(["erase", "--tenant", tenant, "--yes"]) == 0
    capsys.readouterr()

    jobs.rotate_keys({}, None)  # not in the index any more: nothing rotates it
    code, status = run(capsys, "keys", "status", "--tenant", tenant)
    assert (code, status["status"], status["version"]) == (0, "destroyed", 1)
    for action in ("rotate", "reencrypt"):
        assert ops.main(["keys", action, "--tenant", tenant]) == 1
        assert "key_destroyed" in capsys.readouterr().err
    code, status = run(capsys, "keys", "status", "--tenant", tenant)
    assert (status["status"], status["version"]) == ("destroyed", 1)
    assert KeyRecord.count(f"T#{tenant}", consistent_read=True) == 1  # the tombstone alone: no version came back


def test_keys_commands_refuse_what_is_not_a_company(capsys):
    assert ops.main(["keys", "status"]) == 1
    assert "needs --tenant" in capsys.readouterr().out
    assert ops.main(["keys", "rotate", "--tenant", "T#../../x"]) == 1
    assert "invalid tenant id" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ signing keys
def signing_secret() -> dict:
    secrets = aws.client("secretsmanager")
    return json.loads(secrets.get_secret_value(SecretId=settings().signing_secret_id)["SecretString"])


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


@pytest.fixture
def restore_signing_keys():
    """Other tests of this process sign with the keys: put the secret back as it was after the test."""
    secrets = aws.client("secretsmanager")
    before = secrets.get_secret_value(SecretId=settings().signing_secret_id)["SecretString"]
    yield
    secrets.put_secret_value(SecretId=settings().signing_secret_id, SecretString=before)
    tokens.forget_signing_keys()


def test_signing_keys_rotate_and_tokens_signed_before_verify_for_one_token_lifetime(
    api, mailgun, capsys, restore_signing_keys
):
    owner = sign_up(api, mailgun)
    old_token = owner.browser.access_token
    old_kid = kid_of(old_token)

    started = time.time()
    code, rotated = run(capsys, "keys", "rotate-signing")
    assert code == 0 and rotated["kid"] != old_kid
    (previous,) = [key for key in rotated["previous"] if key["kid"] == old_kid]
    lifetime = tokens.ACCESS_TOKEN_SECONDS + tokens.KEY_CACHE_SECONDS
    assert int(started) + lifetime <= previous["until"] <= time.time() + lifetime

    # A token signed before still verifies; a new sign-in signs with the new key.
    assert owner.browser.get("/api/me").status == 200
    fresh = Browser(api)
    assert fresh.login(owner.email).status == 200
    assert kid_of(fresh.access_token) == rotated["kid"]
    assert fresh.get("/api/me").status == 200

    # Once the old key's time is over, it verifies nothing more, though the token itself has not expired.
    value = signing_secret()
    for key in value["previous"]:
        key["until"] = int(time.time()) - 1
    aws.client("secretsmanager").put_secret_value(SecretId=settings().signing_secret_id, SecretString=json.dumps(value))
    tokens.forget_signing_keys()
    reply = owner.browser.get("/api/me")
    assert (reply.status, reply.json()["error"]["code"]) == (401, "invalid_token")
    assert fresh.get("/api/me").status == 200


def test_the_rotation_function_rotates_the_signing_keys_only(restore_signing_keys):
    secrets = aws.client("secretsmanager")
    before = secrets.describe_secret(SecretId=settings().signing_secret_id)["VersionIdsToStages"]
    other = secrets.create_secret(Name=f"someone-else-{time.time_ns()}", SecretString='{"kid": "k1", "secret": "x"}')
    token = "a" * 36
    bad_events = [
        {"Step": "createSecret", "SecretId": other["ARN"], "ClientRequestToken": token},
        {"Step": "createSecret", "SecretId": other["Name"], "ClientRequestToken": token},
        {"Step": "dropSecret", "SecretId": settings().signing_secret_id, "ClientRequestToken": token},
        {"Step": "createSecret", "SecretId": settings().signing_secret_id, "ClientRequestToken": "../x"},
        # A version that is not staged for rotation: nothing is written under it.
        {"Step": "createSecret", "SecretId": settings().signing_secret_id, "ClientRequestToken": token},
        ["not", "an", "object"],
    ]
    for event in bad_events:
        with pytest.raises(ValueError):
            jobs.rotate_signing_keys(event, None)
    assert secrets.describe_secret(SecretId=settings().signing_secret_id)["VersionIdsToStages"] == before
    assert len(secrets.list_secret_version_ids(SecretId=other["ARN"])["Versions"]) == 1


def test_the_template_declares_both_rotations(cloud):
    template = cloud.template["Resources"]
    schedule = template["SigningKeysRotation"]["Properties"]
    assert schedule["SecretId"] == {"Ref": "SigningKeys"}
    assert schedule["RotationLambdaARN"] == {"Ref": "SigningKeyRotationFunction.Alias"}
    assert 1 <= schedule["RotationRules"]["AutomaticallyAfterDays"] <= 90
    permission = template["SigningKeyRotationPermission"]["Properties"]
    assert permission["Principal"] == "secretsmanager.amazonaws.com"
    assert permission["FunctionName"] == {"Ref": "SigningKeyRotationFunction.Alias"}
    (granted,) = template["SigningKeyRotationFunction"]["Properties"]["Policies"][0]["Statement"][:1]
    assert granted["Resource"] == {"Ref": "SigningKeys"}

    job = template["KeyRotationFunction"]["Properties"]
    assert job["Handler"] == "jobs.rotate_keys"
    assert job["Events"]["Daily"]["Type"] == "ScheduleV2"
    assert job["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["JobFailures", "Arn"]
    }
    (query,) = [s for s in job["Policies"][0]["Statement"] if s["Sid"] == "FindKeysDue"]
    assert query["Action"] == ["dynamodb:Query"]
    assert query["Resource"] == {"Fn::Sub": "${KeyTable.Arn}/index/rotation"}
    (index,) = template["KeyTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "rotation" and index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_a_rotation_leaves_a_value_every_process_can_sign_with(capsys, restore_signing_keys):
    run(capsys, "keys", "rotate-signing")
    value = signing_secret()
    assert tokens.can_sign_with(value)
    assert len(base64.urlsafe_b64decode(value["secret"] + "==")) >= 32
