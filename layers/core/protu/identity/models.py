"""Identity items in the data table.

Company items live under their tenant (``T#<tenant>#...``): the company, its users (one partition, so listing
users is one Query) and each user's sessions. Two kinds of items must be found before a tenant is known and live
under their own prefixes, touched only by the identity service: the account of an email (``EMAIL#<email>``) and
one-time tokens (``TOKEN#<sha256 of the token>``: email verification, magic links, password resets,
invitations, the two-factor step). Tokens are stored only hashed. Invitations add two more
(``protu.identity.invitations``): the pending invitations of an address (``INVITED#<email>``, one item per company
and invited user; a pending invitation does not own its address, acceptance creates ``EMAIL#``) and the addresses
that refused invitations (``NOINVITE#<email>``).
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
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

_DataTable = DataItem

COMPANIES = "COMPANIES"  # gsi1pk of every live company item (``Company.every``)


class EveryCompany(GlobalSecondaryIndex):
    """``gsi1``: every live company under ``COMPANIES`` / ``<company id>``, for what concerns all of them (a
    maintenance window's notice to every owner) without scanning the table. Sparse: set when the company is
    created (``accounts.new_company``), removed when its erasure starts (``ops.erasure.start``);
    ``protu-ops reindex`` adds it to companies created before it existed."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


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
    terms_version = UnicodeAttribute(null=True)  # the terms and privacy notice its owner accepted at sign-up
    terms_accepted_at = NumberAttribute(null=True)  # when (the sign-up; none for companies made otherwise)
    terms_accepted_by = UnicodeAttribute(null=True)  # the owner who accepted them
    gsi1pk = UnicodeAttribute(null=True)  # COMPANIES while the company lives (EveryCompany)
    gsi1sk = UnicodeAttribute(null=True)  # its id
    every = EveryCompany()

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
    known_networks = ListAttribute(of=UnicodeAttribute, default=list)  # addresses.network_id of recent sign-ins
    locked_until = NumberAttribute(null=True)  # an incident's containment; a password reset by email lifts it
    invite_token_hash = UnicodeAttribute(null=True)  # while invited: the hash of the one invitation link that works
    invited_by = UnicodeAttribute(null=True)  # while invited: the user id who (last) sent the invitation
    welcome_done_at = NumberAttribute(null=True)  # an owner put the first steps' checklist away (identity.welcome)
    passkey_count = NumberAttribute(default=0)  # identity.passkeys: changed in the same transaction as the passkeys

    @property
    def second_factors(self) -> list[str]:
        """What the two-factor step accepts from this user (empty: no second factor). Recovery codes come with the
        app, or with a first passkey (``identity.passkeys``); alone they are not a second factor."""
        codes = self.mfa_enabled or bool(self.passkey_count and self.recovery_hashes)
        return (
            (["totp"] if self.mfa_enabled else [])
            + (["recovery_code"] if codes else [])
            + (["passkey"] if self.passkey_count else [])
        )

    @staticmethod
    def key(tenant_id: str, user_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id, "USERS"), f"U#{user_id}"

    @staticmethod
    def partition(tenant_id: str) -> str:
        return tenant_pk(tenant_id, "USERS")

    @classmethod
    def members(cls, tenant_id: str) -> list[User]:
        """The company's users (one consistent query of their partition): active first, then by email."""
        users = cls.query(cls.partition(tenant_id), consistent_read=True)
        return sorted(users, key=lambda u: (u.status != "active", u.email))


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
    sign_in_method = UnicodeAttribute(null=True)  # sessions.METHODS; none on sessions from before it was recorded
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

    kind = UnicodeAttribute()  # verify | magic | reset | invite | refuse | mfa | passkey_* (identity.passkeys)
    tenant_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    expires_at = NumberAttribute()
    attempts = NumberAttribute(default=0)
    email = UnicodeAttribute(null=True)  # refuse: the address that refuses invitations (its user may be gone)
    method = UnicodeAttribute(null=True)  # mfa: the first factor the two-factor step follows (password, magic_link)

    @staticmethod
    def key(token_hash: str) -> tuple[str, str]:
        return f"TOKEN#{token_hash}", "TOKEN"


class PendingInvitation(_DataTable):
    """An invitation waiting for ``email``: found by address before any company is known (one Query of
    ``INVITED#<email>``), one item per company and invited user; written and deleted in the same transactions as
    the invited ``User``. ``expires_at`` (TTL) is the invitation link's expiry."""

    expires_at = NumberAttribute()

    @staticmethod
    def key(email: str, tenant_id: str, user_id: str) -> tuple[str, str]:
        return PendingInvitation.partition(email), f"{tenant_id}#{user_id}"

    @staticmethod
    def partition(email: str) -> str:
        return f"INVITED#{email}"


class InvitationRefusal(_DataTable):
    """An address whose holder asked for no more invitations (the link in every invitation); expires after a year."""

    created_at = NumberAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(email: str) -> tuple[str, str]:
        return f"NOINVITE#{email}", "REFUSED"


class PendingSignup(_DataTable):
    """A sign-up waiting for its email to be verified (``SIGNUP#<id>``). Nothing of the company exists before
    the verification link is followed: the company, its owner and ``EMAIL#`` are created then, from this item.
    Expires after a day (TTL ``expires_at``, and checked on use)."""

    id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    company_name = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    created_at = NumberAttribute()
    expires_at = NumberAttribute()
    terms_version = UnicodeAttribute(null=True)  # the version of the terms and privacy notice accepted (at created_at)

    @staticmethod
    def key(signup_id: str) -> tuple[str, str]:
        return f"SIGNUP#{signup_id}", "SIGNUP"


class EmailPending(_DataTable):
    """The newest sign-up of an address (``EMAIL#<email>`` / ``PENDING``): a sign-up again starts over, and only
    the sign-up named here can be verified (older links are dead)."""

    signup_id = UnicodeAttribute()
    expires_at = NumberAttribute()

    @staticmethod
    def key(email: str) -> tuple[str, str]:
        return f"EMAIL#{email}", "PENDING"


class SsoConnection(_DataTable):
    """The company's identity provider (one per company; ``protu.identity.sso``). Here beside the company: its
    existence is part of the company's policy (``company_settings.Policy.sso_connected``)."""

    protocol = UnicodeAttribute()  # oidc | saml
    issuer = UnicodeAttribute(null=True)
    client_id = UnicodeAttribute(null=True)
    client_secret_sealed = UnicodeAttribute(null=True)  # base64 of an Encryption SDK message (protu.crypto)
    metadata_url = UnicodeAttribute(null=True)
    idp_entity_id = UnicodeAttribute(null=True)
    sso_url = UnicodeAttribute(null=True)
    certificates = ListAttribute(of=UnicodeAttribute, default=list)
    enforced = BooleanAttribute(default=False)
    require_provider_mfa = BooleanAttribute(default=False)  # refuse sign-ins the provider does not say were MFA
    break_glass_user_ids = ListAttribute(of=UnicodeAttribute, default=list)
    updated_at = NumberAttribute()

    @staticmethod
    def key(tenant_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id, "SSO"), "CONNECTION"
