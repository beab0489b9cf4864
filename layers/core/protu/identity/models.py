"""Identity items in the data table.

Company items live under their tenant (``T#<tenant>#...``): the company, its users (one partition, so listing
users is one Query) and each user's sessions. Two kinds of items must be found before a tenant is known and live
under their own prefixes, touched only by the identity service: the account of an email (``EMAIL#<email>``) and
one-time tokens (``TOKEN#<sha256 of the token>``: email verification, magic links, password resets,
invitations, the two-factor step). Tokens are stored only hashed.
"""

from __future__ import annotations

from protu.store.base import tenant_pk
from protu.store.items import DataItem
from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

_DataTable = DataItem


class Company(_DataTable):
    """The company and its settings (``protu.identity.company_settings``: read and changed by owners only)."""

    id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = NumberAttribute()
    owner_count = NumberAttribute(default=0)
    idle_timeout_minutes = NumberAttribute(default=30)
    require_mfa = BooleanAttribute(default=False)
    allowed_email_domains = ListAttribute(of=UnicodeAttribute, default=list)  # empty: invitations to any address
    candidate_retention_months = NumberAttribute(default=24)
    settings_version = NumberAttribute(default=1)  # optimistic concurrency of the settings (409 version_conflict)
    settings_updated_at = NumberAttribute(null=True)

    @staticmethod
    def key(tenant_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id, "COMPANY"), "COMPANY"


class User(_DataTable):
    id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    role = UnicodeAttribute()
    status = UnicodeAttribute(default="active")  # active | invited
    password_hash = UnicodeAttribute(null=True)
    email_verified = BooleanAttribute(default=False)
    created_at = NumberAttribute()
    last_sign_in_at = NumberAttribute(null=True)
    mfa_enabled = BooleanAttribute(default=False)
    totp_ciphertext = UnicodeAttribute(null=True)  # base64 of an Encryption SDK message (protu.crypto)
    totp_pending_ciphertext = UnicodeAttribute(null=True)
    totp_last_step = NumberAttribute(default=0)
    recovery_hashes = ListAttribute(of=UnicodeAttribute, default=list)
    known_devices = ListAttribute(of=UnicodeAttribute, default=list)  # sessions.device_id of recent sign-ins
    locked_until = NumberAttribute(null=True)  # an incident's containment; a password reset by email lifts it

    @staticmethod
    def key(tenant_id: str, user_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id, "USERS"), f"U#{user_id}"

    @staticmethod
    def partition(tenant_id: str) -> str:
        return tenant_pk(tenant_id, "USERS")


class Session(_DataTable):
    id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    role = UnicodeAttribute()
    created_at = NumberAttribute()
    last_seen_at = NumberAttribute()
    auth_time = NumberAttribute()
    absolute_expires_at = NumberAttribute()
    idle_timeout_seconds = NumberAttribute()
    expires_at = NumberAttribute()  # TTL: DynamoDB removes the record a day after its absolute end
    ip = UnicodeAttribute(default="")
    user_agent = UnicodeAttribute(default="")
    fingerprint = UnicodeAttribute(default="")
    refresh_hash = UnicodeAttribute()
    used_refresh_hashes = ListAttribute(of=UnicodeAttribute, default=list)
    revoked_at = NumberAttribute(null=True)
    revoke_reason = UnicodeAttribute(null=True)

    @staticmethod
    def key(tenant_id: str, user_id: str, session_id: str) -> tuple[str, str]:
        return Session.partition(tenant_id, user_id), f"S#{session_id}"

    @staticmethod
    def partition(tenant_id: str, user_id: str) -> str:
        return tenant_pk(tenant_id, "USER", user_id, "SESSIONS")


class EmailAccount(_DataTable):
    """Which company and user an email belongs to (one account per email)."""

    tenant_id = UnicodeAttribute()
    user_id = UnicodeAttribute()

    @staticmethod
    def key(email: str) -> tuple[str, str]:
        return f"EMAIL#{email}", "ACCOUNT"


class OneTimeToken(_DataTable):
    """A single-use token, stored hashed; ``expires_at`` is checked on use and lets TTL remove it later."""

    kind = UnicodeAttribute()  # verify | magic | reset | invite | mfa
    tenant_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    expires_at = NumberAttribute()
    attempts = NumberAttribute(default=0)

    @staticmethod
    def key(token_hash: str) -> tuple[str, str]:
        return f"TOKEN#{token_hash}", "TOKEN"
