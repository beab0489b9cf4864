"""Identity mail off the request path (issue 15, attack 3; ASVS 5.0 6.3.8: no enumeration, timing included).

Whether an address has an account must not show in an answer or in how long it takes. Sign-up, sign-in link and
reset requests, and a failed sign-in, therefore do the same work in the request for every address, and hand what
depends on the account (the token, the mail, the company's audit event) to a job on ``MailQueue``
(``template.yaml``): one SQS ``SendMessage`` whatever the address. ``MailFunction`` (``jobs.mail``) runs the
jobs (``identity.mailworker``); locally the test client and the local server run them right after each API request
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
from typing import Any

from protu import aws
from protu.audit import context
from protu.logging import get_logger
from protu.settings import settings

log = get_logger(__name__)

#: The jobs there are; ``identity.mailworker`` runs each (it sits above the flows it calls, this module below them).
KINDS = frozenset({"signup", "magic_link", "password_reset", "sign_in_failed"})


def enqueue(job: str, **fields: Any) -> None:
    """Hand a job to the mail queue, with the current request's id and source address for its audit events."""

    if job not in KINDS:
        raise ValueError(f"unknown mail job {job!r}")
    here = context.current()
    body = {"job": job, "request_id": here.request_id, **fields}
    aws.client("sqs").send_message(QueueUrl=settings().mail_queue_url, MessageBody=json.dumps(body))
