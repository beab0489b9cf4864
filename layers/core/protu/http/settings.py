"""The company's settings: ``/api/settings`` (permission ``settings``: owners only). The rules and their effects
are in ``protu.identity.company_settings``."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from protu.http.auth import Strict
from protu.http.routing import Call, Router
from protu.identity import company_settings

router = Router("settings")

CompanyName = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"\S")]
IdleMinutes = Annotated[int, msgspec.Meta(ge=5, le=60)]
RetentionMonths = Annotated[int, msgspec.Meta(ge=1, le=120)]
DomainText = Annotated[str, msgspec.Meta(max_length=company_settings.MAX_DOMAIN_LENGTH)]
Domains = Annotated[list[DomainText], msgspec.Meta(max_length=company_settings.MAX_DOMAINS)]
Version = Annotated[int, msgspec.Meta(ge=1)]


class SettingsOut(msgspec.Struct):
    company_name: str
    require_mfa: bool
    session_idle_minutes: int
    allowed_email_domains: list[str]
    candidate_retention_months: int
    version: int
    updated_at: int


class SettingsPatchIn(Strict):
    """``version`` is the one read; every other field is optional and only those given change."""

    version: Version
    company_name: CompanyName | UnsetType = UNSET
    require_mfa: bool | UnsetType = UNSET
    session_idle_minutes: IdleMinutes | UnsetType = UNSET
    allowed_email_domains: Domains | UnsetType = UNSET
    candidate_retention_months: RetentionMonths | UnsetType = UNSET


def _out(company) -> SettingsOut:
    return SettingsOut(
        **company_settings.values(company),
        version=company_settings.version(company),
        updated_at=company_settings.updated_at(company),
    )


@router.get("/api/settings", permission="settings")
def read(call: Call) -> SettingsOut:
    """Your company's settings."""
    return _out(company_settings.get(call.principal.tenant_id))


@router.patch(
    "/api/settings",
    permission="settings",
    body=SettingsPatchIn,
    example={"version": 1, "session_idle_minutes": 15},
)
def change(call: Call) -> SettingsOut:
    """Change some of your company's settings (send the version you read); each change is audited."""
    given = msgspec.to_builtins(call.body)  # fields left out (UNSET) are not in it
    expected = given.pop("version")
    return _out(company_settings.update(call.principal.tenant_id, expected, given))
