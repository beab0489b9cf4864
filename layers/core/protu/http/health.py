"""``GET /api/health``: is the data table, the key store and the KMS key usable from here?"""

from __future__ import annotations

import os

import msgspec

from protu import aws
from protu.http.routing import PUBLIC, Call, Router
from protu.settings import settings

router = Router("health")


class Check(msgspec.Struct):
    status: str
    detail: str | None = None


class Health(msgspec.Struct):
    status: str
    checks: dict[str, Check]
    region: str
    version: str


def _table(name: str) -> Check:
    state = aws.client("dynamodb").describe_table(TableName=name)["Table"]["TableStatus"]
    return Check("ok") if state == "ACTIVE" else Check("error", f"table is {state.lower()}")


def _kms_key() -> Check:
    meta = aws.client("kms").describe_key(KeyId=settings().kms_key_id)["KeyMetadata"]
    return Check("ok") if meta.get("Enabled") else Check("error", f"key is {meta.get('KeyState', 'unknown').lower()}")


def checks() -> dict[str, Check]:
    """Each dependency checked on its own, so one failure does not hide the others' state."""
    probes = {
        "table": lambda: _table(settings().data_table),
        "key_store": lambda: _table(settings().key_table),
        "kms_key": _kms_key,
    }
    results = {}
    for name, probe in probes.items():
        try:
            results[name] = probe()
        except Exception as error:  # noqa: BLE001 - a health check reports failures, it does not raise them
            results[name] = Check("error", type(error).__name__)
    return results


@router.get("/api/health", permission=PUBLIC, response=Health)
def health(call: Call) -> Health:
    """The state of the API's dependencies: 200 when all are usable, 503 when any is not."""
    found = checks()
    ok = all(check.status == "ok" for check in found.values())
    if not ok:
        call.status = 503
    return Health(
        status="ok" if ok else "degraded",
        checks=found,
        region=settings().region,
        version=os.environ.get("PROTU_RELEASE", "dev"),
    )
