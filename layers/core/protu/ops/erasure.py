"""Erasing a whole company (GDPR; the company's owner, or an operator): crypto-shredding, then deletion.

``POST /api/company/erase`` (an owner, typing the company's name and giving their password or a two-factor code in
the request itself, checked as ``/api/auth/reauthenticate`` checks it: a recent sign-in is not enough; ``preview``
answers what it would delete):

1. Stripe's customer is deleted, which cancels any subscription at once (so nothing is charged afterwards). If
   Stripe cannot be reached nothing else happens (503 ``billing_unavailable``) and the owner can retry.
2. One transaction records the erasure request (``T#<company>#REQUESTS``, ``ERASURE#<id>``) and the audit event
   ``company.erasure_started``.
3. ``shred``: the company's key is destroyed (every sealed field of the company, in the tables and in every
   backup, is unreadable from this moment; people's keys go with it) and everyone is signed out at once: every
   session is deleted, and every account's sign-in index, so nobody of the company can sign in again.
4. ``purge`` (the job, started by the request's INSERT on the data table's stream; or the operator's
   ``protu-ops erase --tenant``): every remaining item of the company is deleted, partition by partition, then
   ``company.erased`` is audited with the counts.

Every active owner is emailed once the key is destroyed (``company_erased``); their addresses are read first.

The audit log keeps that the erasure happened (the chain is kept 7 years and never deleted earlier), not the
erased content. Backups taken before keep the company's items as they were, sealed fields unreadable; they expire
after 180 days. Every step is idempotent: a repeated or interrupted erasure finishes the job.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from protu import audit, errors
from protu.billing import stripe_api
from protu.logging import get_logger
from protu.principal import Principal
from protu.store import scope
from protu.store.base import tenant_pk
from protu.store.dynamo import condition_failed

log = get_logger(__name__)

# Every data-table partition of a company, by the suffix after T#<company>: the directory's kinds are added below,
# and each user's sessions and passkeys (USER#<id>#SESSIONS, USER#<id>#PASSKEYS). A test erases a company that used
# every feature and scans the table for anything left, so a new partition that is not listed here fails it.
FIXED_PARTITIONS = ("COMPANY", "USERS", "BILLING", "SIGNALS", "ACCESS_HOURS", "INCIDENTS", "AUDITSTREAMS", "SSO")
REQUESTS = "REQUESTS"  # last: the erasure's own request goes when everything else is gone


def _partitions(tenant_id: str, user_ids: set[str]) -> list[str]:
    # cold start: loaded on first use
    from protu.directory import kinds
    from protu.identity.models import Session

    names = [*FIXED_PARTITIONS, *(kind.prefix for kind in kinds.KINDS.values())]
    names += [f"{kind.prefix}#SEARCH" for kind in kinds.KINDS.values() if kind.search]  # names and emails as words
    found = [tenant_pk(tenant_id, name) for name in names]
    found += [Session.partition(tenant_id, user_id) for user_id in sorted(user_ids)]
    found += [tenant_pk(tenant_id, "USER", user_id, "PASSKEYS") for user_id in sorted(user_ids)]  # identity.passkeys
    return [*found, tenant_pk(tenant_id, REQUESTS)]


# ------------------------------------------------------------------------------------------------ the request
def erase(
    principal: Principal,
    confirmation: str,
    *,
    password: str | None = None,
    code: str | None = None,
    source_ip: str = "",
) -> str:
    """An owner erases their company: their password or code (every time: a wrong one counts as a failed sign-in),
    the name, Stripe, the request, then ``shred``, then every owner is told. Answers the request's id."""
    # cold start: loaded on first use
    from protu.identity import company_settings, reauth
    from protu.identity.users import list_users

    me = reauth.confirm_identity(principal, password=password, code=code, source_ip=source_ip, action="company.erase")
    company = company_settings.get(principal.tenant_id)
    if confirmation.strip() != company.name.strip():
        raise errors.ValidationFailed(
            "Type your company's name exactly as it is shown to confirm the erasure.",
            code="confirmation_mismatch",
            details={"field": "confirmation"},
        )
    tenant_id = principal.tenant_id
    owners = [u.email for u in list_users(tenant_id) if u.role == "owner" and u.status == "active"]  # before it goes
    _delete_stripe_customer(tenant_id)
    erasure_id = start(tenant_id, actor=principal.user_id, source_ip=source_ip)
    shred(tenant_id, actor=principal.user_id)
    _tell_owners(owners, company=company.name, by=me.name or me.email)
    return erasure_id


def _tell_owners(owners: list[str], **context: Any) -> None:
    """Email each owner that the company was erased; a mail that cannot be sent is logged, not retried (the
    erasure is done either way)."""
    # cold start: loaded on first use
    from protu.mail.client import send

    when = datetime.now(UTC)
    for email in owners:
        try:
            send("company_erased", email, when=when, **context)
        except errors.ProtuError as error:
            log.warning("company erasure email not sent", extra={"error_code": error.code})


def preview(tenant_id: str) -> dict[str, int]:
    """What erasing the company would delete: its records of each kind (by collection) and its users."""
    # cold start: loaded on first use
    from protu.directory import kinds
    from protu.identity.users import list_users

    counts = {kind.name: _count_partition(tenant_pk(tenant_id, kind.prefix)) for kind in kinds.KINDS.values()}
    return {**counts, "users": len(list_users(tenant_id))}


def erase_now(tenant_id: str, *, actor: str) -> dict[str, Any]:
    """An operator erases a company at once (``protu-ops erase --tenant``): every step here, no job. Answers what
    ``purge`` deleted."""
    # cold start: loaded on first use
    from protu.identity import company_settings

    company_settings.get(tenant_id)  # 404 for a company that does not exist (or is already erased)
    _delete_stripe_customer(tenant_id)
    erasure_id = start(tenant_id, actor=actor, request=False)
    shred(tenant_id, actor=actor)
    return purge(tenant_id, erasure_id, actor=actor)


def start(tenant_id: str, *, actor: str, source_ip: str = "", request: bool = True) -> str:
    """Audit ``company.erasure_started`` with the erasure request (whose stream INSERT starts ``purge``), or
    without it when the caller purges at once (``request=False``)."""

    # cold start: loaded on first use
    from protu.identity.models import Company
    from protu.store.items import DataItem
    from protu.store.tx import Transaction

    class ErasureRequest(DataItem):
        requested_by = UnicodeAttribute()
        requested_at = NumberAttribute()

    erasure_id = "era-" + secrets.token_hex(10)
    item = ErasureRequest(
        tenant_pk(tenant_id, REQUESTS), f"ERASURE#{erasure_id}", requested_by=actor, requested_at=int(time.time())
    )
    with Transaction(tenant_id, actor=actor, source_ip=source_ip or None) as tx:
        if request:
            tx.save(item)
        # out of the index of every company at once: nothing addressed to all companies reaches it any more
        tx.update(
            Company(*Company.key(tenant_id)),
            [Company.gsi1pk.remove(), Company.gsi1sk.remove()],
            condition=Company.pk.exists(),  # never an item of a company already purged
        )
        tx.audit("company.erasure_started", f"company:{tenant_id}", details={"erasure_id": erasure_id})
    return erasure_id


def _delete_stripe_customer(tenant_id: str) -> None:
    """Stripe deletes the customer and cancels their subscriptions at once; a customer already gone is fine."""
    # cold start: loaded on first use
    from protu.billing import service as billing

    customer = billing.state(tenant_id).customer_id
    if not customer:
        return

    def delete(client: Any) -> None:
        # cold start: loaded on first use
        import stripe

        try:
            client.v1.customers.delete(customer)
        except stripe.InvalidRequestError as error:
            if getattr(error, "code", None) != "resource_missing":
                raise

    stripe_api.call("delete customer", delete)


def shred(tenant_id: str, *, actor: str) -> dict[str, int]:
    """Destroy the company's key and sign everyone out for good (sessions and sign-in indexes deleted)."""
    # cold start: loaded on first use
    from protu.crypto import keystore
    from protu.identity.users import list_users

    keystore.destroy_tenant_key(tenant_id)
    users = list_users(tenant_id)
    signed_out = sum(_delete_partition(_sessions_pk(tenant_id, user.id)) for user in users)
    indexes = _delete_sign_in_indexes(tenant_id, [user.email for user in users])
    log.info("company shredded", extra={"tenant": tenant_id, "sessions": signed_out, "sign_in_indexes": indexes})
    return {"sessions": signed_out, "sign_in_indexes": indexes}


# ------------------------------------------------------------------------------------------------ the job
def purge(tenant_id: str, erasure_id: str = "", *, actor: str = "system", dry_run: bool = False) -> dict[str, Any]:
    """Delete every remaining item of the company (the job; also the operator's ``erase --tenant``)."""
    # cold start: loaded on first use
    from protu.identity.users import list_users

    started = time.monotonic()
    with scope.acting_for(tenant_id):
        users = list_users(tenant_id)
        user_ids = {user.id for user in users} | _users_in_audit_log(tenant_id)
        counts: dict[str, int] = {}
        if not dry_run:
            # cold start: loaded on first use
            from protu.crypto import keystore

            keystore.destroy_tenant_key(tenant_id)  # already done by the request; an operator's erasure starts here
            counts["sign_in_indexes"] = _delete_sign_in_indexes(tenant_id, [user.email for user in users])
            counts["stripe_index"] = _delete_stripe_index(tenant_id)
        for pk in _partitions(tenant_id, user_ids):
            if pk.endswith(f"#{REQUESTS}") and not dry_run:
                _audit_erased(tenant_id, erasure_id, actor, counts)
            found = _count_partition(pk) if dry_run else _delete_partition(pk)
            if found:
                key = _count_name(pk.split("#", 2)[2])
                counts[key] = counts.get(key, 0) + found
    summary = {
        "tenant": tenant_id,
        "dry_run": dry_run,
        "items": dict(sorted(counts.items())),
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("company erasure purged" if not dry_run else "company erasure dry run", extra=summary)
    return summary


def _count_name(suffix: str) -> str:
    """A partition's name in the summary: the directory's kinds by their collection (``candidates``)."""
    # cold start: loaded on first use
    from protu.directory import kinds

    if suffix.endswith("#SESSIONS"):
        return "sessions"
    if suffix.endswith("#PASSKEYS"):
        return "passkeys"
    by_prefix = {kind.prefix: kind.name for kind in kinds.KINDS.values()}
    return by_prefix.get(suffix, suffix.lower())


def _audit_erased(tenant_id: str, erasure_id: str, actor: str, counts: dict[str, int]) -> None:
    details = {"erasure_id": erasure_id, "items_deleted": sum(counts.values())}
    audit.record(tenant_id, "company.erased", f"company:{tenant_id}", actor=actor, details=details)


def _users_in_audit_log(tenant_id: str) -> set[str]:
    """Every user the company ever had (removed ones too): their sessions may outlive them until TTL."""
    # cold start: loaded on first use
    from protu.audit.log import events

    found: set[str] = set()
    cursor = None
    while True:
        page, cursor = events(tenant_id, limit=100, cursor=cursor)
        for event in page:
            for value in (event.get("target") or "", "user:" + (event.get("actor") or "")):
                if value.startswith("user:") and len(value) > 5:
                    found.add(value[5:])
        if cursor is None:
            return found


def _sessions_pk(tenant_id: str, user_id: str) -> str:
    # cold start: loaded on first use
    from protu.identity.models import Session

    return Session.partition(tenant_id, user_id)


@cache
def _key_model() -> type:
    """Any data-table item, by its key only."""
    # cold start: loaded on first use
    from protu.store.items import DataItem

    class AnyItem(DataItem):
        pass

    return AnyItem


def _count_partition(pk: str) -> int:
    return _key_model().count(pk, consistent_read=True)


def _delete_partition(pk: str) -> int:
    """Delete every item of one partition; answers how many there were."""
    model = _key_model()
    deleted = 0
    while True:
        page = list(model.query(pk, consistent_read=True, limit=500, attributes_to_get=["pk", "sk"]))
        if not page:
            return deleted
        with model.batch_write() as batch:
            for item in page:
                batch.delete(item)
        deleted += len(page)


def _delete_sign_in_indexes(tenant_id: str, emails: list[str]) -> int:
    """The accounts' sign-in indexes (``EMAIL#``), only those that still name this company, and this company's
    pending invitations in the addresses' invitation indexes (``INVITED#``)."""
    # cold start: loaded on first use
    from protu.identity.models import EmailAccount, PendingInvitation

    deleted = 0
    for email in emails:
        for pending in PendingInvitation.query(
            PendingInvitation.partition(email), PendingInvitation.sk.startswith(f"{tenant_id}#"), consistent_read=True
        ):
            pending.delete()
            deleted += 1
        try:
            EmailAccount(*EmailAccount.key(email)).delete(condition=EmailAccount.tenant_id == tenant_id)
            deleted += 1
        except Exception as error:  # noqa: BLE001 - already gone, or the address moved to another company
            if not condition_failed(error):
                raise
    return deleted + _release_sso_domains(tenant_id)


def _release_sso_domains(tenant_id: str) -> int:
    """The company's verified single sign-on domains (``SSODOMAIN#``): free for another company to verify, and no
    longer routing anyone to this company's provider."""
    # cold start: loaded on first use
    from protu.identity.domains import SsoDomainClaim, listed

    released = 0
    for item in listed(tenant_id):
        try:
            SsoDomainClaim(*SsoDomainClaim.key(item.domain)).delete(condition=SsoDomainClaim.tenant_id == tenant_id)
            released += 1
        except Exception as error:  # noqa: BLE001 - never verified, or already released
            if not condition_failed(error):
                raise
    return released


def _delete_stripe_index(tenant_id: str) -> int:
    # cold start: loaded on first use
    from protu.billing.models import BillingState, StripeCustomer

    try:
        customer = BillingState.get(*BillingState.key(tenant_id), consistent_read=True).customer_id
    except BillingState.DoesNotExist:
        return 0
    if not customer:
        return 0
    try:
        StripeCustomer(*StripeCustomer.key(customer)).delete(condition=StripeCustomer.tenant_id == tenant_id)
    except Exception as error:  # noqa: BLE001 - already gone
        if not condition_failed(error):
            raise
        return 0
    return 1
