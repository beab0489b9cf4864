"""Identity mail off the request path (issue 15, attack 3; ASVS 5.0 6.3.8: no enumeration, timing included).

Whether an address has an account must not show in an answer or in how long it takes. Sign-up, sign-in link and
reset requests, and a failed sign-in, therefore do the same work in the request for every address, and hand what
depends on the account (the token, the mail, the company's audit event) to a job on ``MailQueue``
(``template.yaml``): one SQS ``SendMessage`` whatever the address. ``MailFunction`` (``jobs.mail``) runs the
jobs; locally the test client and the local server run them right after each API request
(``infra.queues.QueuePump``), and ``make run``'s background loop retries what failed.

A job names an address, the source IP and the request it came from, never a token or a link (the worker makes
those), and nothing of it is logged but its kind. A job that raises is reported back (``batchItemFailures``) and
tried again; after five tries the dead-letter queue keeps it for operators.

Jobs::

    {"job": "signup", "id": <pending sign-up>}                 its verification link, or "you already have one"
    {"job": "magic_link", "email", "ip"}                        a sign-in link, within the quotas (or invitations)
    {"job": "password_reset", "email", "ip"}                    a reset link, the same way
    {"job": "sign_in_failed", "email", "ip", "step_up_now", "failures"}   the company's audit event, the step-up mail
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from protu.logging import get_logger

log = get_logger(__name__)


def enqueue(job: str, **fields: Any) -> None:
    """Hand a job to the mail queue, with the current request's id and source address for its audit events."""
    from protu import aws
    from protu.audit import context
    from protu.settings import settings

    if job not in JOBS:
        raise ValueError(f"unknown mail job {job!r}")
    here = context.current()
    body = {"job": job, "request_id": here.request_id, **fields}
    aws.client("sqs").send_message(QueueUrl=settings().mail_queue_url, MessageBody=json.dumps(body))


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
    from protu.audit import context
    from protu.store import scope

    kind = job.get("job")
    action = JOBS.get(kind) if isinstance(kind, str) else None
    if action is None:
        log.error("unknown mail job dropped", extra={"job": str(kind)[:40]})
        return
    ip = str(job.get("ip") or "")
    with scope.request(), context.bound(actor="anonymous", request_id=job.get("request_id"), source_ip=ip or None):
        action(job)


def _signup(job: dict[str, Any]) -> None:
    from protu.identity import signup

    signup.deliver_signup(str(job["id"]))


def _magic_link(job: dict[str, Any]) -> None:
    from protu.identity import magic_link

    magic_link.request_magic_link(str(job["email"]), str(job.get("ip") or ""))


def _password_reset(job: dict[str, Any]) -> None:
    from protu.identity import recovery

    recovery.forgot_password(str(job["email"]), str(job.get("ip") or ""))


def _sign_in_failed(job: dict[str, Any]) -> None:
    from protu.identity import signin

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
