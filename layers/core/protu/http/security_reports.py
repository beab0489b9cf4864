"""Vulnerability reports from anybody: ``POST /api/security/reports`` (public, rate limited per source address);
the public acknowledgements page's list (``GET /api/security/thanks``) and a credited reporter's confirmation of
their name (``POST /api/security/thanks/confirm``, with the token of the link the "fixed" email carried).

The fields are what the public security page asks a reporter for; ``protu.security.reports`` stores the report,
raises ``security.report_received`` and emails the acknowledgement with the reference this route answers.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from protu.http.routing import PUBLIC, Call, Refusal, Router
from protu.schemas import NOT_BLANK, Email, Strict
from protu.security import reports

router = Router("security")

Description = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=reports.MAX_DESCRIPTION,
        pattern=NOT_BLANK,
        description="What the vulnerability is and where (required).",
    ),
]
Steps = Annotated[str, msgspec.Meta(max_length=reports.MAX_TEXT, description="How to reproduce it.")]
Impact = Annotated[str, msgspec.Meta(max_length=reports.MAX_TEXT, description="What an attacker could do with it.")]
ReporterName = Annotated[str, msgspec.Meta(max_length=reports.MAX_NAME, description="How to credit you (optional).")]


class ReportIn(Strict):
    description: Description
    contact: Annotated[Email, msgspec.Meta(description="The email address the acknowledgement goes to.")]
    steps_to_reproduce: Steps | None = None
    impact: Impact | None = None
    name: ReporterName | None = None


class ReportReceivedOut(msgspec.Struct):
    id: str
    status: Literal["received"]
    acknowledgement: Literal["sent", "pending"]


@router.post(
    "/api/security/reports",
    permission=PUBLIC,
    body=ReportIn,
    status=202,
    example={
        "description": "The invitation endpoint accepts a role outside the RBAC table.",
        "steps_to_reproduce": "1. Sign in as an admin.\n2. POST /api/users/invitations with role 'root'.",
        "impact": "An admin could grant themselves more rights.",
        "contact": "researcher@example.org",
        "name": "Alex Researcher",
    },
    errors=(Refusal(429, "too_many_reports", "Too many reports from this address today."),),
)
def submit_report(call: Call) -> ReportReceivedOut:
    """Report a security vulnerability (no account needed); the acknowledgement is emailed at once."""
    b = call.body
    received = reports.submit(
        description=b.description,
        contact=b.contact,
        steps_to_reproduce=b.steps_to_reproduce,
        impact=b.impact,
        name=b.name,
        source_ip=call.source_ip,
        user_agent=call.user_agent,
    )
    return ReportReceivedOut(received.id, "received", received.acknowledgement)  # type: ignore[arg-type]


Token = Annotated[str, msgspec.Meta(min_length=20, max_length=128, description="The token of the email's link.")]


class CreditConfirmIn(Strict):
    token: Token


class CreditConfirmedOut(msgspec.Struct):
    name: str


class CreditOut(msgspec.Struct):
    name: str
    fixed: Annotated[str, msgspec.Meta(description="The month the reported vulnerability was fixed (YYYY-MM).")]


class ThanksOut(msgspec.Struct):
    items: list[CreditOut]


@router.get("/api/security/thanks", permission=PUBLIC, response=ThanksOut)
def list_thanks(call: Call) -> ThanksOut:
    """The people who reported a vulnerability that is now fixed and asked to be credited, newest fix first."""
    return ThanksOut([CreditOut(**found) for found in reports.thanks()])


@router.post(
    "/api/security/thanks/confirm",
    permission=PUBLIC,
    body=CreditConfirmIn,
    example={"token": "4f0Qm2bLrS7yKcX1vZ8pN3aT6eW9hJ5uD0gB2iC7kE1"},
    errors=(Refusal(400, "invalid_token", "The link is unknown, used or expired."),),
)
def confirm_credit(call: Call) -> CreditConfirmedOut:
    """A reporter confirms the credit the "fixed" email offered them: their name is listed from now on."""
    return CreditConfirmedOut(reports.confirm_credit(call.body.token))
