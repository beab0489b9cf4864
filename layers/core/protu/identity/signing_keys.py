"""Rotation of the access tokens' signing keys: Secrets Manager's rotation function, its four steps.

The secret (``SIGNING_SECRET_ID``) is JSON ``{"kid", "secret", "previous": [{"kid", "secret", "until"}...]}``. A
rotation (``RotationSchedule`` in ``template.yaml``, every 30 days, or ``protu-ops keys rotate-signing``) makes a
new current key and keeps the old one in ``previous`` until ``until``: the moment it started plus one access-token
lifetime plus the time a warm process may keep signing with the keys it cached (``tokens.KEY_CACHE_SECONDS``), so
every token signed before still verifies until it expires, and no key verifies longer. Keys past their ``until``
are dropped at the next rotation and ignored before that (``tokens``).

Secrets Manager calls the function once per step with ``{"Step", "SecretId", "ClientRequestToken"}``:

* ``createSecret``: the new value, staged ``AWSPENDING`` under the token (nothing if a retry finds it there);
* ``setSecret``: nothing (the keys are ours: no other system holds them);
* ``testSecret``: a token signed with the pending key verifies with it;
* ``finishSecret``: ``AWSCURRENT`` moves to the pending version.

The function rotates this secret only: another secret id, a version not staged for rotation, or a secret with
rotation off is refused before anything is written.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from protu import aws
from protu.identity import tokens
from protu.logging import get_logger
from protu.settings import settings

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
_KID = re.compile(r"^k([1-9][0-9]{0,8})$")
_TOKEN = re.compile(r"^[A-Za-z0-9-]{32,64}$")
log = get_logger(__name__)


class RotationRefused(ValueError):
    """A rotation event this function does not act on (another secret, a version not staged, a bad step)."""


def handle(event: Any) -> dict[str, str]:
    """One step of a rotation, as Secrets Manager invokes it."""
    step, secret_id, token = _parsed(event)
    client = aws.client("secretsmanager")
    described = client.describe_secret(SecretId=secret_id)
    if not described.get("RotationEnabled"):
        raise RotationRefused("rotation is not enabled for this secret")
    stages = (described.get("VersionIdsToStages") or {}).get(token)
    if stages is None:
        raise RotationRefused("the version is not a version of this secret")
    if "AWSCURRENT" in stages:
        return {"step": step, "outcome": "already current"}
    if "AWSPENDING" not in stages:
        raise RotationRefused("the version is not staged for rotation")
    done = {"createSecret": _create, "setSecret": _set, "testSecret": _test, "finishSecret": _finish}[step]
    outcome = done(client, secret_id, token, described)
    log.info("signing key rotation", extra={"step": step, "outcome": outcome})
    return {"step": step, "outcome": outcome}


def _parsed(event: Any) -> tuple[str, str, str]:
    if not isinstance(event, dict):
        raise RotationRefused("the event is not an object")
    step, secret_id, token = event.get("Step"), event.get("SecretId"), event.get("ClientRequestToken")
    if step not in STEPS:
        raise RotationRefused("unknown step")
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise RotationRefused("invalid ClientRequestToken")
    ours = settings().signing_secret_id
    if not isinstance(secret_id, str) or not _same_secret(secret_id, ours):
        raise RotationRefused("this function rotates the signing keys only")
    return step, ours, token


def _same_secret(given: str, ours: str) -> bool:
    """The event names our secret: by its ARN (what the template gives the functions), or by its name."""
    return given == ours or (":secret:" in ours and given == _name_of(ours))


def _name_of(arn: str) -> str:
    """A secret's name from its ARN (``...:secret:<name>-<6 random characters>``)."""
    return arn.split(":secret:", 1)[1].rsplit("-", 1)[0]


def _current(client: Any, secret_id: str) -> dict[str, Any]:
    return json.loads(client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"])


def _pending(client: Any, secret_id: str, token: str) -> dict[str, Any] | None:
    try:
        found = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
    except client.exceptions.ResourceNotFoundException:
        return None
    text = found.get("SecretString")
    return json.loads(text) if text else None


def next_value(current: dict[str, Any], now: float) -> dict[str, Any]:
    """The secret after a rotation at ``now``: a new current key; the old one verifies one token lifetime more."""
    kid = current.get("kid", "")
    number = int(_KID.match(kid).group(1)) if _KID.match(kid) else 0
    until = int(now) + tokens.ACCESS_TOKEN_SECONDS + tokens.KEY_CACHE_SECONDS
    previous = [{"kid": kid, "secret": current["secret"], "until": until}] if kid and current.get("secret") else []
    previous += [old for old in current.get("previous", []) if _verifies_at(old, now)]
    return {"kid": f"k{number + 1}", "secret": secrets.token_urlsafe(48), "previous": previous}


def _verifies_at(old: dict[str, Any], now: float) -> bool:
    until = old.get("until")
    return isinstance(until, int | float) and until > now


def _create(client: Any, secret_id: str, token: str, described: dict[str, Any]) -> str:
    if _pending(client, secret_id, token) is not None:
        return "pending exists"
    value = next_value(_current(client, secret_id), time.time())
    client.put_secret_value(
        SecretId=secret_id, ClientRequestToken=token, SecretString=json.dumps(value), VersionStages=["AWSPENDING"]
    )
    return "created"


def _set(client: Any, secret_id: str, token: str, described: dict[str, Any]) -> str:
    return "nothing to set"


def _test(client: Any, secret_id: str, token: str, described: dict[str, Any]) -> str:
    pending = _pending(client, secret_id, token)
    if pending is None:
        raise RotationRefused("no pending value to test")
    if not tokens.can_sign_with(pending):
        raise RotationRefused("the pending key does not sign and verify")
    return "tested"


def _finish(client: Any, secret_id: str, token: str, described: dict[str, Any]) -> str:
    stages = described.get("VersionIdsToStages") or {}
    current = next((version for version, named in stages.items() if "AWSCURRENT" in named), None)
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
    )
    return "finished"


def rotate_now() -> dict[str, Any]:
    """Rotate now with the function the secret's rotation is configured with (an operator:
    ``protu-ops keys rotate-signing``); answers the new current key id and the previous ones with their end."""
    client = aws.client("secretsmanager")
    secret_id = settings().signing_secret_id
    function = client.describe_secret(SecretId=secret_id).get("RotationLambdaARN")
    if not function:
        raise RotationRefused("rotation is not configured for the signing keys")
    client.rotate_secret(SecretId=secret_id, RotationLambdaARN=function, RotateImmediately=True)
    value = _current(client, secret_id)
    if not tokens.can_sign_with(value):
        raise RotationRefused("the rotation left a current key that does not sign")
    tokens.forget_signing_keys()
    return {
        "kid": value["kid"],
        "previous": [{"kid": old["kid"], "until": old.get("until")} for old in value["previous"]],
    }
