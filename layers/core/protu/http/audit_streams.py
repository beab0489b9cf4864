"""The company's audit streams: ``/api/audit-streams`` (permission ``audit``: owners only).

An endpoint receives every new event of the company's audit log, signed as Standard Webhooks signs
(``protu.ops.audit_streams``). The secret is answered once (creation, rotation); answers show the address with
its query string hidden (``?…``). Ids of other companies are the same 404 as ids of nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec

from protu.http.routing import Call, Refusal, Router
from protu.schemas import CONTROL, END, Strict, documented

if TYPE_CHECKING:  # imported where used: the API's cold start does not pay for audit streams
    from protu.ops.audit_streams.model import AuditStream

router = Router("audit")

_HOST_PART = r'[!-"$-.0->A-~]'  # printable ASCII but "#", "/", "?", "@"
_REST = r'[!-"$-~]'  # printable ASCII but "#"
StreamUrl = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=2000),
    documented(
        pattern=f"^https://{_HOST_PART}+(?:[/?]{_REST}*)?{END}",
        description="The endpoint's HTTPS address: a public host name or a global IP address, no user name or "
        "password, no fragment, at most 2,000 characters (refused otherwise with url_not_allowed).",
    ),
]
Description = Annotated[
    str,
    msgspec.Meta(max_length=200, pattern=f"^[^{CONTROL}]*{END}", description="What the endpoint is, for people."),
]

REAUTH = Refusal(403, "reauthentication_required", "Confirm your password first (POST /api/auth/reauthenticate).")


class AuditStreamIn(Strict):
    url: StreamUrl
    description: Description = ""


class AuditStreamOut(msgspec.Struct):
    id: str
    url: str  # the query string hidden ("?…"): it may hold a credential of the SIEM
    description: str
    status: str  # active | failing | failed
    created_at: int
    created_by: str
    delivered_seq: int  # the last event the endpoint accepted
    last_delivered_at: int | None
    failing_since: int | None
    next_attempt_at: int | None
    last_error: str | None  # a status code ("500"), timeout, connection, dns, tls or address_not_allowed


class AuditStreamWithSecret(msgspec.Struct):
    id: str
    url: str  # as given, query string included: shown this once
    description: str
    status: str
    created_at: int
    created_by: str
    delivered_seq: int
    last_delivered_at: int | None
    failing_since: int | None
    next_attempt_at: int | None
    last_error: str | None
    secret: str  # whsec_...: shown this once


class AuditStreamsOut(msgspec.Struct):
    items: list[AuditStreamOut]


class PingOut(msgspec.Struct, omit_defaults=True):
    delivered: bool
    status_code: int | None = None
    error: str | None = None


def _number(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _out(item: AuditStream) -> AuditStreamOut:
    return AuditStreamOut(
        id=item.id,
        url=item.url,
        description=item.description or "",
        status=item.status,
        created_at=int(item.created_at),
        created_by=item.created_by,
        delivered_seq=int(item.delivered_seq or 0),
        last_delivered_at=_number(item.last_delivered_at),
        failing_since=_number(item.failing_since),
        next_attempt_at=_number(item.next_attempt_at),
        last_error=item.last_error,
    )


def _with_secret(item: AuditStream, secret: str, url: str) -> AuditStreamWithSecret:
    shown = _out(item)
    fields = {name: getattr(shown, name) for name in AuditStreamOut.__struct_fields__}
    return AuditStreamWithSecret(**{**fields, "url": url, "secret": secret})


@router.get("/api/audit-streams", permission="audit", response=AuditStreamsOut)
def list_streams(call: Call) -> AuditStreamsOut:
    """Your company's audit streams: where each sends the audit log, and how its deliveries go."""
    # cold start: loaded on first use
    from protu.ops.audit_streams import endpoints

    return AuditStreamsOut([_out(item) for item in endpoints.list_for(call.principal.tenant_id)])


@router.post(
    "/api/audit-streams",
    permission="audit",
    body=AuditStreamIn,
    status=201,
    response=AuditStreamWithSecret,
    example={"url": "https://siem.example.com/protu/audit", "description": "Our SIEM"},
    errors=(
        REAUTH,
        Refusal(
            422,
            "url_not_allowed",
            "The address is not https://, holds a user name or a fragment, or names a private, loopback or "
            "link-local address.",
            "url",
        ),
        Refusal(409, "audit_stream_limit_reached", "The company has 5 audit streams already."),
    ),
)
def create_stream(call: Call) -> AuditStreamWithSecret:
    """Send every new event of your audit log to an HTTPS endpoint, signed (Standard Webhooks); the secret is
    shown this once. Every owner is emailed."""
    # cold start: loaded on first use
    from protu.ops.audit_streams import endpoints

    item, secret = endpoints.create(call.principal, call.body.url, call.body.description)
    return _with_secret(item, secret, call.body.url)


@router.delete("/api/audit-streams/{id}", permission="audit")
def delete_stream(call: Call) -> None:
    """Stop sending the audit log to this endpoint. Every owner is emailed."""
    # cold start: loaded on first use
    from protu.ops.audit_streams import endpoints

    endpoints.delete(call.principal, call.params["id"])


@router.post(
    "/api/audit-streams/{id}/test",
    permission="audit",
    response=PingOut,
    errors=(Refusal(429, "rate_limited", "At most 10 tests an hour per audit stream."),),
)
def ping_stream(call: Call) -> PingOut:
    """Send a signed ping to the endpoint now and say whether it accepted it (2xx)."""
    # cold start: loaded on first use
    from protu.ops.audit_streams import endpoints

    outcome = endpoints.test(call.principal, call.params["id"])
    return PingOut(outcome.delivered, outcome.status_code, outcome.error)


@router.post(
    "/api/audit-streams/{id}/rotate-secret",
    permission="audit",
    response=AuditStreamWithSecret,
    errors=(REAUTH,),
)
def rotate_secret(call: Call) -> AuditStreamWithSecret:
    """A new signing secret, shown this once; the old one signs nothing more."""
    # cold start: loaded on first use
    from protu.ops.audit_streams import endpoints

    item, secret = endpoints.rotate_secret(call.principal, call.params["id"])
    return _with_secret(item, secret, endpoints.opened(item)[1])


@router.post(
    "/api/audit-streams/{id}/resume",
    permission="audit",
    response=AuditStreamOut,
    errors=(REAUTH, Refusal(409, "audit_stream_active", "The audit stream is not failing.")),
)
def resume_stream(call: Call) -> AuditStreamOut:
    """Deliver again to a failed endpoint, from the first event it did not accept."""
    # cold start: loaded on first use
    from protu.ops.audit_streams import endpoints

    return _out(endpoints.resume(call.principal, call.params["id"]))
