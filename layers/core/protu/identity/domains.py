"""Verified email domains of company single sign-on, and what they decide before any account is known.

An owner adds a domain (``pending``) and publishes a DNS TXT record ``_protu-challenge.<domain>`` with the value
``protu-verification=<token>``; asking to verify resolves it (dnspython; ``DNS_NAMESERVERS`` names the servers,
the system's resolver otherwise) and, when the value is there, the domain is ``verified``. A domain is verified by
one company at most: the global claim ``SSODOMAIN#<domain>`` is written at verification under the condition that
no other company holds it, and deleted with the domain.

The claim also carries what sign-in needs before any company is known (``sso.py`` keeps it in step with the
company's connection): whether the company has a connection, whether it enforces single sign-on, and its
break-glass owners. So a password or magic-link sign-in reads only global items (the claim and ``EMAIL#``) to know
whether it is refused with ``sso_required``: the domain decides, never whether an account exists.

Layout (data table; ``SSODOMAIN#`` is one of ``protu.store.base.UNSCOPED_PREFIXES``)::

    T#<tenant>#SSO / DOMAIN#<domain>    the company's domain: status, token, times
    T#<tenant>#SSO / CONNECTION         the company's identity provider (``sso.py``)
    SSODOMAIN#<domain> / CLAIM          which company verified the domain, and its sign-in policy
"""

from __future__ import annotations

import secrets
import time

from protu import errors
from protu.identity import company_settings, rbac
from protu.identity.models import User
from protu.logging import get_logger
from protu.principal import Principal
from protu.settings import settings
from protu.store.base import tenant_pk
from protu.store.items import DataItem
from protu.store.tx import Transaction
from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

log = get_logger(__name__)

CHALLENGE_LABEL = "_protu-challenge"
CHALLENGE_PREFIX = "protu-verification="
MAX_DOMAINS = 20
DNS_SECONDS = 3.0  # the whole lookup, every server and retry included

# Domains of mail services anybody can sign up to: nobody proves a company by them.
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "zoho.com",
        "tutanota.com",
        "fastmail.com",
        "hey.com",
        "qq.com",
        "163.com",
        "126.com",
        "t-online.de",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
    }
)


class SsoDomain(DataItem):
    """A company's domain for single sign-on (``pending`` until its TXT record is found, then ``verified``)."""

    domain = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")  # pending | verified
    token = UnicodeAttribute()  # the TXT value's random part (not a secret: it is published)
    created_at = NumberAttribute()
    verified_at = NumberAttribute(null=True)

    @staticmethod
    def key(tenant_id: str, domain: str) -> tuple[str, str]:
        return tenant_pk(tenant_id, "SSO"), f"DOMAIN#{domain}"

    @staticmethod
    def partition(tenant_id: str) -> str:
        return tenant_pk(tenant_id, "SSO")


class SsoDomainClaim(DataItem):
    """The one company that verified a domain, and its sign-in policy (kept in step by ``sso.py``)."""

    tenant_id = UnicodeAttribute()
    verified_at = NumberAttribute()
    connected = BooleanAttribute(default=False)  # the company has an identity provider configured
    enforced = BooleanAttribute(default=False)  # password and magic-link sign-in refused (break-glass owners aside)
    break_glass_user_ids = ListAttribute(of=UnicodeAttribute, default=list)

    @staticmethod
    def key(domain: str) -> tuple[str, str]:
        return f"SSODOMAIN#{domain}", "CLAIM"


# ------------------------------------------------------------------------------------------------ names
def normalise(value: str) -> str:
    """A domain as it is stored and compared: IDNA (UTS #46) ASCII form, lower case, no trailing dot; refused when it
    is not a domain, has one label only (``com``, ``localhost``), or is a free mail service's."""
    # cold start: loaded on first use
    import idna

    text = (value or "").strip().rstrip(".")
    if text and not text.isascii():
        try:
            text = idna.encode(text, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise errors.ValidationFailed(
                "This is not a valid international domain name.", code="invalid_domain", details={"field": "domain"}
            ) from None
    try:
        domain = company_settings.normalise_domain(text, "domain")
    except errors.ValidationFailed as error:
        raise errors.ValidationFailed(error.message, code="invalid_domain", details={"field": "domain"}) from None
    if domain in FREE_MAIL:
        raise errors.ValidationFailed(
            "This is a public mail service's domain: add your company's own domain.",
            code="domain_not_allowed",
            details={"field": "domain"},
        )
    return domain


def of_email(email: str) -> str:
    """The domain part of an address, as domains are stored (best effort: an address is already normalised)."""
    # cold start: loaded on first use
    import idna

    domain = email.rpartition("@")[2].strip().rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            return domain
    return domain


def txt_name(domain: str) -> str:
    return f"{CHALLENGE_LABEL}.{domain}"


def txt_value(item: SsoDomain) -> str:
    return f"{CHALLENGE_PREFIX}{item.token}"


# ------------------------------------------------------------------------------------------------ reads
def _get(model, key: tuple[str, str]):
    try:
        return model.get(*key, consistent_read=True)
    except DoesNotExist:
        return None


def listed(tenant_id: str) -> list[SsoDomain]:
    query = SsoDomain.query(SsoDomain.partition(tenant_id), SsoDomain.sk.startswith("DOMAIN#"), consistent_read=True)
    return sorted(query, key=lambda item: item.domain)


def verified(tenant_id: str) -> list[str]:
    return [item.domain for item in listed(tenant_id) if item.status == "verified"]


def one(tenant_id: str, domain: str) -> SsoDomain:
    found = _get(SsoDomain, SsoDomain.key(tenant_id, domain))
    if found is None:
        raise errors.NotFound("No such domain in your company.")
    return found


def claim(domain: str) -> SsoDomainClaim | None:
    """Which company verified ``domain`` (and its sign-in policy), or None: one read of a global item."""
    return _get(SsoDomainClaim, SsoDomainClaim.key(domain))


# ------------------------------------------------------------------------------------------------ changes
def add(principal: Principal, value: str) -> SsoDomain:
    domain = normalise(value)
    tenant_id = principal.tenant_id
    existing = listed(tenant_id)
    if any(item.domain == domain for item in existing):
        raise errors.Conflict("This domain is already in your company's list.", code="domain_already_added")
    if len(existing) >= MAX_DOMAINS:
        raise errors.Conflict(f"A company can have at most {MAX_DOMAINS} domains.", code="domain_limit_reached")
    item = SsoDomain(
        *SsoDomain.key(tenant_id, domain), domain=domain, token=secrets.token_urlsafe(24), created_at=int(time.time())
    )
    with Transaction(tenant_id, actor=principal.user_id) as tx:
        tx.save(item, condition=SsoDomain.pk.does_not_exist())
        tx.audit("sso.domain_added", f"domain:{domain}")
    return item


def verify(principal: Principal, domain: str, policy: dict | None = None) -> SsoDomain:
    """Look for the TXT record and, when it holds the value, verify the domain for this company only. ``policy``:
    the company's sign-in policy to put on the claim (``sso.claim_policy``)."""
    tenant_id = principal.tenant_id
    item = one(tenant_id, domain)
    if item.status == "verified":
        return item
    expected = txt_value(item)
    found = lookup_txt(txt_name(domain))
    if expected not in found:
        raise errors.Conflict(
            f"The TXT record {txt_name(domain)} does not hold {expected} yet. DNS changes can take a while to show.",
            code="domain_txt_not_found" if not found else "domain_txt_mismatch",
            details={"txt_name": txt_name(domain), "expected": expected, "found": [value[:255] for value in found[:5]]},
        )
    now = int(time.time())
    owned = SsoDomainClaim(*SsoDomainClaim.key(domain), tenant_id=tenant_id, verified_at=now, **(policy or {}))
    try:
        with Transaction(tenant_id, actor=principal.user_id) as tx:
            tx.update(
                item,
                [SsoDomain.status.set("verified"), SsoDomain.verified_at.set(now)],
                condition=SsoDomain.pk.exists(),
            )
            tx.save(
                owned,
                condition=SsoDomainClaim.pk.does_not_exist() | (SsoDomainClaim.tenant_id == tenant_id),
                unscoped=True,
            )
            tx.audit("sso.domain_verified", f"domain:{domain}")
    except errors.Conflict:  # the claim's condition: another company holds the domain
        raise errors.Conflict("Another company has verified this domain already.", code="domain_taken") from None
    item.status, item.verified_at = "verified", now
    return item


def remove(principal: Principal, domain: str) -> None:
    tenant_id = principal.tenant_id
    item = one(tenant_id, domain)
    with Transaction(tenant_id, actor=principal.user_id) as tx:
        tx.delete(item, condition=SsoDomain.pk.exists())
        if item.status == "verified":
            tx.delete(
                SsoDomainClaim(*SsoDomainClaim.key(domain)),
                condition=SsoDomainClaim.tenant_id == tenant_id,
                unscoped=True,
            )
        tx.audit("sso.domain_removed", f"domain:{domain}")


# ------------------------------------------------------------------------------------------------ DNS
def _resolver():
    # cold start: loaded on first use
    import dns.nameserver
    import dns.resolver

    configured = [part.strip() for part in settings().dns_nameservers.split(",") if part.strip()]
    resolver = dns.resolver.Resolver(configure=not configured)
    if configured:
        servers = []
        for entry in configured:
            host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            servers.append(dns.nameserver.Do53Nameserver(host or entry, int(port or 53)))
        resolver.nameservers = servers
    resolver.lifetime = DNS_SECONDS
    resolver.timeout = DNS_SECONDS / 2
    return resolver


def lookup_txt(name: str) -> list[str]:
    """The TXT values at ``name`` (each record's strings joined), [] when the name or the record does not exist;
    a lookup that gets no answer in time is 422 ``dns_lookup_failed``."""
    # cold start: loaded on first use
    import dns.exception
    import dns.resolver

    try:
        answer = _resolver().resolve(name, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration) as error:
        log.warning("dns lookup failed", extra={"error_type": type(error).__name__})
        raise errors.ValidationFailed(
            "We could not get an answer from DNS for this domain just now. Try again in a few minutes.",
            code="dns_lookup_failed",
            details={"txt_name": name},
        ) from None
    if answer.rrset is None:
        return []
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer.rrset]


# ------------------------------------------------------------------------------------------------ enforcement
def enforcing(email: str) -> SsoDomainClaim | None:
    """The claim of ``email``'s domain when its company enforces single sign-on (one read, the same for every
    address of a domain)."""
    found = claim(of_email(email))
    return found if found is not None and found.enforced else None


def break_glass(found: SsoDomainClaim, user: User | None) -> bool:
    """Whether ``user`` may still sign in without the provider: a break-glass owner of the claim's company, still an
    active owner (not demoted since)."""
    return (
        user is not None
        and user.tenant_id == found.tenant_id
        and user.id in (found.break_glass_user_ids or [])
        and user.role == rbac.OWNER
        and user.status == "active"
    )


def sso_required() -> errors.Forbidden:
    return errors.Forbidden(
        "Your company signs in through its identity provider: use “Sign in with single sign-on”.",
        code="sso_required",
    )


def refuse_user_unless_allowed(user: User) -> None:
    """A sign-in that knows its user (a passkey, a sign-in or reset link): refused with 403 ``sso_required`` when
    the user's domain is verified by a company that enforces single sign-on, unless a break-glass owner. (A password
    sign-in decides after the password, ``identity.signin.login``; asking for an email link is refused for every
    address of the domain and the mail job sends the link to a break-glass owner only, ``magic_link.mail_link``.)"""
    found = enforcing(user.email)
    if found is not None and not break_glass(found, user):
        raise sso_required()
