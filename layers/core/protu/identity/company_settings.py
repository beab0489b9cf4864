"""Company settings, changed by owners only (``/api/settings``): the company's name, two-factor for everyone, the
session inactivity timeout, the email domains invitations may go to, and how long candidates are kept.

They live on the company item (``T#<tenant>#COMPANY``) with their own ``settings_version``: a change names the
version it was made from (stale: 409 ``version_conflict``) and commits with one ``settings.updated`` audit event
naming each changed field's old and new value. A request that changes nothing writes nothing.

Their effects reach live sessions at their next request through ``policy(tenant)``, a per-process copy of what
the authorizer needs (``require_mfa``, the idle timeout, and whether the company has an identity provider, which
answers for two-factor in its stead), read consistently and kept at most ``CACHE_SECONDS``; the process that makes a
change forgets its copy at once, other warm processes follow within that time.
"""

from __future__ import annotations

import ipaddress
import re
import time
from typing import Any

import msgspec
from protu import audit, caches, errors
from protu.audit import chain
from protu.identity.models import Company, SsoConnection, User
from protu.principal import Principal
from protu.schemas import check_name
from protu.store.tx import Transaction
from pynamodb.exceptions import DoesNotExist

DEFAULT_IDLE_MINUTES = 30
DEFAULT_RETENTION_MONTHS = 24
MAX_DOMAINS = 20
MAX_DOMAIN_LENGTH = 253
MAX_DOMAINS_CHARACTERS = 1000
"""All allowed domains together: each change's old and new lists must fit in one audit event (4 KiB of details)."""
CACHE_SECONDS = 30.0
_MAX_CACHED = 1000

FIELDS = (
    "company_name",
    "require_mfa",
    "session_idle_minutes",
    "allowed_email_domains",
    "candidate_retention_months",
)
_ATTRIBUTES = {
    "company_name": Company.name,
    "require_mfa": Company.require_mfa,
    "session_idle_minutes": Company.idle_timeout_minutes,
    "allowed_email_domains": Company.allowed_email_domains,
    "candidate_retention_months": Company.candidate_retention_months,
}


# ------------------------------------------------------------------------------------------------ reading
def get(tenant_id: str) -> Company:
    try:
        return Company.get(*Company.key(tenant_id), consistent_read=True)
    except DoesNotExist:
        raise errors.NotFound("No such company.") from None


def read(principal: Principal) -> Company:
    """The company's settings, as an owner reads them: on the record (``settings.read``)."""
    company = get(principal.tenant_id)
    audit.record_read(
        principal.tenant_id, "settings.read", f"company:{principal.tenant_id}", [], actor=principal.user_id
    )
    return company


def values(company: Company) -> dict[str, Any]:
    """The settings of a company as the API names them (defaults for items written before a setting existed)."""
    return {
        "company_name": company.name,
        "require_mfa": bool(company.require_mfa),
        "session_idle_minutes": idle_minutes(company),
        "allowed_email_domains": list(company.allowed_email_domains or []),
        "candidate_retention_months": int(company.candidate_retention_months or DEFAULT_RETENTION_MONTHS),
    }


def version(company: Company) -> int:
    return int(company.settings_version or 1)


def updated_at(company: Company) -> int:
    return int(company.settings_updated_at or company.created_at)


def idle_minutes(company: Company) -> int:
    return int(company.idle_timeout_minutes or DEFAULT_IDLE_MINUTES)


def mfa_setup_required(user: User, company: Company, sign_in_method: str = "") -> bool:
    """The company requires two-factor and this user has not set it up: only their own account is open to them. A
    session signed in through the company's identity provider (``sso``) is not asked while the company has one: the
    provider answers for it."""
    if not company.require_mfa or user.second_factors:  # a TOTP app or a passkey
        return False
    if sign_in_method != "sso":
        return True
    current = policy(company.id)  # the authorizer's copy: it read it for this request already
    return not (current is not None and current.sso_connected)


def domain_allowed(company: Company, email: str) -> bool:
    """Whether an invitation may go to ``email`` (normalised): any address when the company lists no domains,
    otherwise only an address at exactly one of them (a subdomain is another domain)."""
    allowed = list(company.allowed_email_domains or [])
    return not allowed or email.rpartition("@")[2] in allowed


# ------------------------------------------------------------------------------------------------ the policy
class Policy(msgspec.Struct, frozen=True):
    """What the authorizer enforces on every request of a company's sessions."""

    require_mfa: bool
    idle_seconds: int
    sso_connected: bool = False  # read only where two-factor is required: the provider answers for it (sso.py)


_cache: dict[str, tuple[float, Policy | None]] = {}


def policy(tenant_id: str) -> Policy | None:
    """The company's current policy (None when the company is gone), at most ``CACHE_SECONDS`` old."""
    key = Company.key(tenant_id)  # built even on a hit: naming the company binds the request to it (store.scope)
    now = time.monotonic()
    hit = _cache.get(tenant_id)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    try:
        company = Company.get(*key, consistent_read=True)
    except DoesNotExist:
        found = None
    else:
        require_mfa = bool(company.require_mfa)
        found = Policy(require_mfa, idle_minutes(company) * 60, require_mfa and sso_connected(tenant_id))
    if len(_cache) >= _MAX_CACHED:
        _cache.clear()
    _cache[tenant_id] = (now, found)
    return found


@caches.register
def forget(tenant_id: str | None = None) -> None:
    """Drop this process's copy of a company's policy (of every company without an argument)."""
    if tenant_id is None:
        _cache.clear()
    else:
        _cache.pop(tenant_id, None)


def sso_connected(tenant_id: str) -> bool:
    """Whether the company has an identity provider now (a consistent read of its connection)."""
    try:
        SsoConnection.get(*SsoConnection.key(tenant_id), consistent_read=True, attributes_to_get=["pk"])
    except DoesNotExist:
        return False
    return True


def needs_mfa_setup(tenant_id: str, user_id: str, *, via_sso: bool = False) -> bool:
    """For the authorizer: the company requires two-factor and this user has not turned it on. Reads the user
    (consistently) only in companies that require it, so turning two-factor on opens the rest at the next request.
    A session signed in through the company's identity provider (``via_sso``) is not asked while the company has
    one: the provider answers for the second factor. Once the company removes it, such a session is held to the
    rule like any other (within ``CACHE_SECONDS``; at once in the process that removed it)."""
    current = policy(tenant_id)
    if current is None or not current.require_mfa or (via_sso and current.sso_connected):
        return False
    try:
        user = User.get(*User.key(tenant_id, user_id), consistent_read=True)
    except DoesNotExist:
        return True
    return not user.second_factors


# ------------------------------------------------------------------------------------------------ validation
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _refuse(message: str, field: str, code: str = "validation_failed") -> errors.ValidationFailed:
    return errors.ValidationFailed(message, code=code, details={"field": field})


def normalise_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise _refuse("Company name must not be empty.", "company_name")
    if _CONTROL.search(name):
        raise _refuse("Company name cannot contain line breaks or control characters.", "company_name")

    check_name(name, "company_name")  # it is named in the mail of invitations
    return name


def normalise_domain(value: str, field: str) -> str:
    """A hostname an email address can be at, in lower case: ``Acme.COM`` -> ``acme.com``. Refused with a message
    a person can act on: an address instead of a domain, a wildcard, an IP address, spaces, non-ASCII text (use the
    ``xn--`` form), anything that is not dot-separated labels of letters, digits and hyphens."""
    refuse = "invalid_email_domain"
    if not value:
        raise _refuse("Enter a domain, such as example.com.", field, refuse)
    if any(character.isspace() for character in value):
        raise _refuse("A domain cannot contain spaces. Put each domain on its own line.", field, refuse)
    if "@" in value:
        raise _refuse("Enter the domain only, without a name and '@': example.com, not ana@example.com.", field, refuse)
    if "*" in value:
        raise _refuse("Wildcards are not allowed: list each domain itself, such as example.com.", field, refuse)
    if not value.isascii():  # before lower(): "K" (the Kelvin sign) lower-cases to an ASCII "k"
        raise _refuse("Enter an international domain in its ASCII form (it starts with xn--).", field, refuse)
    if len(value) > MAX_DOMAIN_LENGTH:
        raise _refuse(f"A domain is at most {MAX_DOMAIN_LENGTH} characters long.", field, refuse)
    domain = value.lower()
    try:
        ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        pass
    else:
        raise _refuse("Enter a domain name, not an IP address.", field, refuse)
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise _refuse(
            "This is not a valid domain: use letters, digits, hyphens and dots, such as mail.example.com.",
            field,
            refuse,
        )
    if labels[-1].isdigit():
        raise _refuse("Enter a domain name, not an IP address.", field, refuse)
    return domain


def normalise_domains(given: list[str]) -> list[str]:
    if len(given) > MAX_DOMAINS:
        raise _refuse(f"List at most {MAX_DOMAINS} domains.", "allowed_email_domains")
    domains: list[str] = []
    for index, value in enumerate(given):
        domain = normalise_domain(value, f"allowed_email_domains[{index}]")
        if domain not in domains:  # duplicates collapse, the first one's place kept
            domains.append(domain)
    if sum(len(domain) for domain in domains) > MAX_DOMAINS_CHARACTERS:
        raise _refuse(
            f"The allowed domains take at most {MAX_DOMAINS_CHARACTERS:,} characters in all.", "allowed_email_domains"
        )
    return domains


def normalise(given: dict[str, Any]) -> dict[str, Any]:
    """The requested values, normalised, ranges checked (the schema already checked types and bounds)."""
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise _refuse(f"{unknown[0]} is not a setting.", unknown[0])
    out = dict(given)
    if "company_name" in out:
        out["company_name"] = normalise_name(out["company_name"])
    if "allowed_email_domains" in out:
        out["allowed_email_domains"] = normalise_domains(list(out["allowed_email_domains"]))
    for name, low, high in (("session_idle_minutes", 5, 60), ("candidate_retention_months", 1, 120)):
        if name in out and not low <= out[name] <= high:  # the schema says so too; a direct caller gets the same
            raise _refuse(f"{name.replace('_', ' ').capitalize()} must be from {low} to {high}.", name)
    return out


# ------------------------------------------------------------------------------------------------ changing
def _stale() -> errors.Conflict:
    return errors.Conflict(
        "Someone changed the settings since you loaded them. Reload them and apply your change again.",
        code="version_conflict",
    )


def _event_details(changes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """``{"changes": {field: {"old", "new"}}}`` for one ``settings.updated`` event; a change too large for one
    event's details (long names in astral characters plus long domain lists) is spread over several events of the
    same transaction, each field whole in one of them."""
    groups: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for name, change in changes.items():
        trial = {**current, name: change}
        if current and len(chain.canonical_json({"changes": trial}).encode()) > chain.MAX_DETAILS_BYTES:
            groups.append(current)
            current = {name: change}
        else:
            current = trial
    groups.append(current)
    return [{"changes": group} for group in groups]


def update(tenant_id: str, expected_version: int, given: dict[str, Any]) -> Company:
    """Apply ``given`` (any of ``FIELDS``) to the company's settings if ``expected_version`` is current. Answers
    the company as it is afterwards; nothing is written (nor audited) when nothing changes."""
    wanted = normalise(given)
    company = get(tenant_id)
    current_version = version(company)
    if expected_version != current_version:
        raise _stale()
    old = values(company)
    changes = {name: {"old": old[name], "new": value} for name, value in wanted.items() if old[name] != value}
    if not changes:
        return company
    now = int(time.time())
    actions = [_ATTRIBUTES[name].set(change["new"]) for name, change in changes.items()]
    actions += [Company.settings_version.set(current_version + 1), Company.settings_updated_at.set(now)]
    unchanged = Company.settings_version == current_version
    if current_version == 1:  # an item written before settings had a version
        unchanged = unchanged | Company.settings_version.does_not_exist()
    try:
        with Transaction(tenant_id) as tx:
            tx.update(company, actions, condition=Company.pk.exists() & unchanged)
            for details in _event_details(changes):
                tx.audit("settings.updated", f"company:{tenant_id}", details=details)
    except errors.Conflict:
        raise _stale() from None
    finally:
        forget(tenant_id)
    company.name = wanted.get("company_name", company.name)
    company.require_mfa = wanted.get("require_mfa", bool(company.require_mfa))
    company.idle_timeout_minutes = wanted.get("session_idle_minutes", idle_minutes(company))
    company.allowed_email_domains = wanted.get("allowed_email_domains", list(company.allowed_email_domains or []))
    company.candidate_retention_months = wanted.get(
        "candidate_retention_months", int(company.candidate_retention_months or DEFAULT_RETENTION_MONTHS)
    )
    company.settings_version = current_version + 1
    company.settings_updated_at = now
    return company
