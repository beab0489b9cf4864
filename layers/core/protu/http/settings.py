"""The company's settings: ``/api/settings`` (permission ``settings``: owners only). The rules and their effects
are in ``protu.identity.company_settings``."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from protu.http.routing import Call, Refusal, Router
from protu.identity import company_settings
from protu.ops import key_rotation
from protu.schemas import END, CompanyName, Strict, Version, documented

router = Router("settings")

IdleMinutes = Annotated[int, msgspec.Meta(ge=5, le=60)]
RetentionMonths = Annotated[int, msgspec.Meta(ge=1, le=120)]
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DomainText = Annotated[
    str,
    msgspec.Meta(max_length=company_settings.MAX_DOMAIN_LENGTH),
    documented(  # company_settings.normalise_domain (422 invalid_email_domain): host names, any case, no IP address
        pattern=f"^{_LABEL}(?:\\.{_LABEL})*\\.(?![0-9]+{END}){_LABEL}{END}",
        description="A domain such as example.com (letters, digits and hyphens; an international one in its xn-- "
        "form).",
    ),
]
Domains = Annotated[
    list[DomainText],
    msgspec.Meta(max_length=company_settings.MAX_DOMAINS),
    msgspec.Meta(
        description=f"At most {company_settings.MAX_DOMAINS} domains, of "
        f"{company_settings.MAX_DOMAINS_CHARACTERS:,} characters in all (without repeats)."
    ),
]


class DataKeyOut(msgspec.Struct):
    """The company's data key (protu.ops.key_rotation): rotated every ``rotation_days`` days; older versions stay
    only to open what they sealed."""

    version: int
    rotated_at: int
    next_rotation_at: int
    rotation_days: int


class SettingsOut(msgspec.Struct):
    company_name: str
    require_mfa: bool
    session_idle_minutes: int
    allowed_email_domains: list[str]
    candidate_retention_months: int
    version: int
    updated_at: int
    data_key: DataKeyOut | None = None


class SettingsPatchIn(Strict):
    """``version`` is the one read; every other field is optional and only those given change."""

    version: Version
    company_name: CompanyName | UnsetType = UNSET
    require_mfa: bool | UnsetType = UNSET
    session_idle_minutes: IdleMinutes | UnsetType = UNSET
    allowed_email_domains: Domains | UnsetType = UNSET
    candidate_retention_months: RetentionMonths | UnsetType = UNSET


def _out(company) -> SettingsOut:
    key = key_rotation.status(company.id)
    return SettingsOut(
        **company_settings.values(company),
        version=company_settings.version(company),
        updated_at=company_settings.updated_at(company),
        data_key=None if key is None else DataKeyOut(**{k: v for k, v in key.items() if k != "status"}),
    )


@router.get("/api/settings", permission="settings")
def read(call: Call) -> SettingsOut:
    """Your company's settings (each read is audited)."""
    return _out(company_settings.read(call.principal))


@router.patch(
    "/api/settings",
    permission="settings",
    body=SettingsPatchIn,
    example={"version": 1, "session_idle_minutes": 15},
    errors=(
        Refusal(409, "version_conflict", "The settings changed since you read them: read them again."),
        Refusal(422, "invalid_email_domain", "An allowed domain is not a domain name (the schema's pattern)."),
        Refusal(422, "name_contains_link", "A company name may not be a web address."),
        Refusal(
            422,
            "validation_failed",
            f"The allowed domains take more than {company_settings.MAX_DOMAINS_CHARACTERS:,} characters in all.",
            "allowed_email_domains",
        ),
    ),
)
def change(call: Call) -> SettingsOut:
    """Change some of your company's settings (send the version you read); each change is audited."""
    given = msgspec.to_builtins(call.body)  # fields left out (UNSET) are not in it
    expected = given.pop("version")
    return _out(company_settings.update(call.principal.tenant_id, expected, given))
