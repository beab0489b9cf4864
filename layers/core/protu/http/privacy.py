"""Data-protection rights of a company (owners): ``/api/exports`` (the company's data, as an archive) and
``/api/company/erase`` (erasing the company). A person's export and erasure live with the person's routes
(``protu.http.directory``). The work is in ``protu.ops.exports`` and ``protu.ops.erasure``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

import msgspec

from protu import errors
from protu.http.auth import CODE_JUST_USED, PASSWORD_OR_CODE, WRONG_ANSWER, Code, refresh_cookie
from protu.http.routing import Call, Refusal, Router
from protu.schemas import Secret, Strict

if TYPE_CHECKING:  # imported where used: the API's cold start does not pay for exports and erasure
    from protu.ops import exports

router = Router("privacy")

EXPORT_ID = re.compile(r"exp-[0-9a-f]{20}")


class ExportOut(msgspec.Struct, omit_defaults=True):
    id: str
    status: str  # pending | running | ready | failed
    requested_at: int
    requested_by: str
    expires_at: int
    completed_at: int | None = None
    size_bytes: int | None = None
    counts: dict[str, int] | None = None
    download_url: str | None = None
    download_expires_at: int | None = None


class ExportsOut(msgspec.Struct):
    items: list[ExportOut]


class EraseIn(Strict):
    confirmation: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    password: Secret | None = None  # the caller's password, or
    code: Code | None = None  # a two-factor code: one of them, every time


class ErasurePreviewOut(msgspec.Struct):
    company: str
    counts: dict[str, int]  # records of each kind (candidates, employees, ...) and users


class ErasureOut(msgspec.Struct):
    id: str
    status: str


def _out(item: exports.ExportRequest) -> ExportOut:
    return ExportOut(
        id=item.id,
        status=item.status,
        requested_at=int(item.requested_at),
        requested_by=item.requested_by,
        expires_at=int(item.expires_at),
        completed_at=int(item.completed_at) if item.completed_at else None,
        size_bytes=int(item.size_bytes) if item.size_bytes is not None else None,
        counts={k: int(v) for k, v in item.counts.as_dict().items()} if item.counts else None,
    )


@router.post("/api/exports", permission="exports", status=202, response=ExportOut)
def request_export(call: Call) -> ExportOut:
    """Export all of your company's data (opened, JSON in a ZIP); ask its status with GET /api/exports/{id}."""
    # cold start: loaded on first use
    from protu.ops import exports

    return _out(exports.request(call.principal.tenant_id, call.principal.user_id))


@router.get("/api/exports", permission="exports", response=ExportsOut)
def list_exports(call: Call) -> ExportsOut:
    """Your company's recent exports (kept 7 days), newest first."""
    # cold start: loaded on first use
    from protu.ops import exports

    return ExportsOut([_out(item) for item in exports.recent(call.principal.tenant_id)])


@router.get("/api/exports/{id}", permission="exports", response=ExportOut)
def read_export(call: Call) -> ExportOut:
    """One export's status; once ready, a download URL valid for 5 minutes (each one issued is audited)."""
    # cold start: loaded on first use
    from protu.ops import exports

    item = exports.get(call.principal.tenant_id, _export_id(call))
    found = _out(item)
    if item.status == exports.READY and item.object_key:
        found.download_url, found.download_expires_at = exports.download_url(item, call.principal.user_id)
    return found


def _export_id(call: Call) -> str:
    value = call.params.get("id", "")
    if not EXPORT_ID.fullmatch(value):
        raise errors.NotFound("No such export.")
    return value


@router.get("/api/company/erase", permission="exports", response=ErasurePreviewOut)
def erasure_preview(call: Call) -> ErasurePreviewOut:
    """What erasing your company would delete: how many records of each kind, and how many users."""
    # cold start: loaded on first use
    from protu.identity import company_settings
    from protu.ops import erasure

    tenant_id = call.principal.tenant_id
    return ErasurePreviewOut(company_settings.get(tenant_id).name, erasure.preview(tenant_id))


@router.post(
    "/api/company/erase",
    permission="exports",
    body=EraseIn,
    status=202,
    response=ErasureOut,
    example={"confirmation": "Acme Ltd", "password": "violet harbour lantern 42"},
    errors=(
        WRONG_ANSWER,
        CODE_JUST_USED,
        PASSWORD_OR_CODE,
        Refusal(422, "confirmation_mismatch", "The confirmation is not the company's name.", "confirmation"),
    ),
)
def erase_company(call: Call) -> ErasureOut:
    """Erase your company for good: type its name to confirm, and give your password (or a two-factor code) with
    this very request, however recently you signed in. A wrong one counts as a failed sign-in.

    The company's key is destroyed at once (its sealed data is unreadable everywhere, backups included), the
    subscription is cancelled, everyone is signed out, every owner is emailed, and the rest is deleted in the next
    moments (the audit log keeps that it happened)."""
    # cold start: loaded on first use
    from protu.ops import erasure

    b = call.body
    erasure_id = erasure.erase(
        call.principal, b.confirmation, password=b.password, code=b.code, source_ip=call.source_ip
    )
    call.response_headers["Set-Cookie"] = refresh_cookie("", 0)
    return ErasureOut(erasure_id, "erasing")
