"""The mail jobs' worker (``MailFunction``, ``jobs.mail``): runs what ``identity.mailjobs.enqueue`` handed off the
request path. It sits above the flows whose jobs it runs (sign-up, sign-in link, reset, failed sign-in), which
import only ``mailjobs``: the flows never import their worker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from protu.audit import context
from protu.identity import magic_link, mailjobs, recovery, signin, signup
from protu.logging import get_logger
from protu.store import scope

log = get_logger(__name__)


def handle(event: dict[str, Any]) -> dict[str, Any]:
    """An SQS batch (Lambda's event): each job run in its own request scope; the ones that failed reported back."""
    failed = []
    for record in event.get("Records") or []:
        try:
            run(json.loads(record["body"]))
        except Exception:  # noqa: BLE001 - reported back to SQS, which tries it again
            log.exception("mail job failed", extra={"message_id": record.get("messageId")})
            failed.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failed}


def run(job: dict[str, Any]) -> None:
    kind = job.get("job")
    action = JOBS.get(kind) if isinstance(kind, str) else None
    if action is None:
        log.error("unknown mail job dropped", extra={"job": str(kind)[:40]})
        return
    ip = str(job.get("ip") or "")
    with scope.request(), context.bound(actor="anonymous", request_id=job.get("request_id"), source_ip=ip or None):
        action(job)


def _signup(job: dict[str, Any]) -> None:
    signup.deliver_signup(str(job["id"]))


def _magic_link(job: dict[str, Any]) -> None:
    magic_link.request_magic_link(str(job["email"]), str(job.get("ip") or ""))


def _password_reset(job: dict[str, Any]) -> None:
    recovery.forgot_password(str(job["email"]), str(job.get("ip") or ""))


def _sign_in_failed(job: dict[str, Any]) -> None:
    signin.after_failed_sign_in(
        str(job["email"]),
        str(job.get("ip") or ""),
        step_up_now=bool(job.get("step_up_now")),
        failures=int(job.get("failures") or 0),
    )


JOBS: dict[str, Callable[[dict[str, Any]], None]] = {
    "signup": _signup,
    "magic_link": _magic_link,
    "password_reset": _password_reset,
    "sign_in_failed": _sign_in_failed,
}
if frozenset(JOBS) != mailjobs.KINDS:  # pragma: no cover - a job without its worker is a programming error
    raise RuntimeError("every mail job needs its worker")
