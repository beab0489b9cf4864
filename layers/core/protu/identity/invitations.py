"""Invitations: an owner invites someone by email to join their company, the person accepts, declines or refuses.

An invitation is, in one transaction with its audit event:

* the invited ``User`` in the company (status ``invited``, the role asked for, ``invited_by``, and
  ``invite_token_hash``: the hash of the one invitation link that works);
* the address's invitation index item ``INVITED#<email>`` / ``<tenant>#<user>`` (``PendingInvitation``, TTL with
  the link), so that the sign-up, sign-in-link and reset flows can find the invitations of an address before any
  company is known (``pending_for``), remind of them (``remind``) or decline them (``decline_all``);
* two single-use tokens, stored hashed: the invitation link (``invite``, 7 days) and the refuse link (``refuse``,
  as long), which declines the invitation and records that the address wants no more (``NOINVITE#<email>``,
  a year).

What an invitation must not do (review items 5, 6 and 9):

* **Own the address.** The ``EMAIL#`` account item is created at acceptance, conditioned on not existing: an
  address that got an account meanwhile answers 409 ``email_in_use``. One address, one company.
* **Tell who has an account.** An address with an account in another company gets the same answer as a new one
  (201, the invited user); its holder is mailed that the invitation cannot be accepted with it. Only an active
  user of the inviter's own company is named (409 ``email_in_use``): owners see their users anyway.
* **Keep a stale link or role.** A re-invitation sets the role asked now, and deletes the previous link in its
  transaction; acceptance checks the link against ``invite_token_hash``.
* **Relay mail.** Invitation mails (first, resent, reminded) are counted per company per UTC day, by plan
  (``billing.plans``: 20/100/500), per address from one company (``PER_ADDRESS_FROM_ONE_COMPANY``) and per address
  from all companies (``PER_ADDRESS``); names are rendered so that no mail client makes a link of them
  (``mail.templates._unlinked``), and a name entered at acceptance may not be a web address.

Nothing secret is logged or audited: tokens and links travel only in the mail.
"""

from __future__ import annotations

import time

from protu import audit, errors
from protu.audit import context
from protu.identity import accounts, company_settings, rbac, reauth, sessions, tokens
from protu.identity.models import (
    Company,
    EmailAccount,
    InvitationRefusal,
    OneTimeToken,
    PendingInvitation,
    Session,
    User,
)
from protu.logging import get_logger
from protu.principal import Principal
from protu.schemas import check_name
from protu.security import ratelimit
from protu.security.addresses import network_id
from protu.store import scope
from protu.store.tx import Transaction
from pynamodb.exceptions import DoesNotExist

log = get_logger(__name__)

DAY = 24 * 3600
REFUSAL_SECONDS = 365 * DAY  # how long "no more invitations to this address" holds
# Invitation mails per address and UTC day. A stranger can aim these at a victim: sign up a few companies of their
# own and invite the victim's address until the caps are reached, so that the victim's real employer cannot reach
# them that day. What we chose:
# * from one company, 3: a company's own resends are its own business, so going over answers that company 429
#   ``invitation_limit_reached`` (it reveals nothing about anyone else);
# * from all companies, 10: a flood needs four companies (four verified sign-ups). Reaching this cap does NOT
#   change the inviter's answer (201, the invitation is saved) - a 429 would tell one company that others invite
#   that address - it only holds the mail back, audited in the inviting company's chain as
#   ``users.invitation_mail_held``. A held invitation is not lost: the owner's list shows it, a resend on another
#   day mails it, and ``remind`` mails it when the person comes to Protu. The victim's own way out is the refuse
#   link in any invitation they did get, which stops every invitation to the address.
PER_ADDRESS_FROM_ONE_COMPANY = 3
PER_ADDRESS = 10
DECLINE_REASONS = ("declined", "own_company")  # why decline_all is called (the mail to the inviter says which)


# ------------------------------------------------------------------------------------------------ lookups
def find_in_company(tenant_id: str, email: str) -> User | None:
    """The company's user (active or invited) with this address, if any: one Query of the company's users."""
    email = accounts.normalise_email(email)
    for user in User.query(User.partition(tenant_id), consistent_read=True):
        if user.email == email:
            return user
    return None


def pending_for(email: str) -> list[tuple[str, str]]:
    """The pending invitations of an address, as ``(tenant_id, user_id)``: one Query, no company item read."""
    now = time.time()
    items = PendingInvitation.query(PendingInvitation.partition(accounts.normalise_email(email)), consistent_read=True)
    found = []
    for item in items:
        if item.expires_at > now:  # TTL deletes lazily
            tenant_id, _, user_id = item.sk.partition("#")
            found.append((tenant_id, user_id))
    return found


def refused(email: str) -> bool:
    """Whether the holder of this address asked for no more invitations (the refuse link of an invitation)."""
    try:
        item = InvitationRefusal.get(*InvitationRefusal.key(accounts.normalise_email(email)), consistent_read=True)
    except DoesNotExist:
        return False
    return item.expires_at > time.time()


# ------------------------------------------------------------------------------------------------ limits
def _limit_error(tenant_id: str, email: str) -> errors.RateLimited | None:
    """The 429 to answer when this company may send no more invitation mail today (to anyone, or to this address)."""
    # cold start: loaded on first use
    from protu.billing import service as billing

    retry = {"Retry-After": str(ratelimit.retry_after(DAY))}
    plan = billing.current_plan(tenant_id)
    if ratelimit.count("invite-company", tenant_id, window_seconds=DAY) >= plan.invitations_per_day:
        return errors.RateLimited(
            f"Your {plan.title} plan sends up to {plan.invitations_per_day} invitation emails a day, and today's "
            "are used.",
            code="invitation_limit_reached",
            details={"limit": plan.invitations_per_day, "plan": plan.name, "per": "company"},
            headers=retry,
        )
    if ratelimit.count("invite-pair", f"{tenant_id}|{email}", window_seconds=DAY) >= PER_ADDRESS_FROM_ONE_COMPANY:
        return errors.RateLimited(
            f"This address was sent {PER_ADDRESS_FROM_ONE_COMPANY} invitation emails from your company today, the "
            "most we send.",
            code="invitation_limit_reached",
            details={"limit": PER_ADDRESS_FROM_ONE_COMPANY, "per": "address", "field": "email"},
            headers=retry,
        )
    return None


def _address_has_room(email: str) -> bool:
    return ratelimit.count("invite-address", email, window_seconds=DAY) < PER_ADDRESS


def _count_mail(tenant_id: str, email: str) -> None:
    """Count one invitation mail. Checked before (``_limit_error``, against the plan) and counted when the mail
    goes: two requests racing at the limit may both send, one mail over - a cost cap, not a security boundary.
    The hits' own verdicts are not used, so no limit needs reading here."""

    ratelimit.hit("invite-company", tenant_id, limit=1, window_seconds=DAY)
    ratelimit.hit("invite-pair", f"{tenant_id}|{email}", limit=PER_ADDRESS_FROM_ONE_COMPANY, window_seconds=DAY)
    ratelimit.hit("invite-address", email, limit=PER_ADDRESS, window_seconds=DAY)


# ------------------------------------------------------------------------------------------------ inviting
def confirm_new_owner(principal: Principal, confirmed: bool) -> None:
    """Making someone an owner (who can then erase the company), by invitation or by a role change: the request
    says so explicitly (``confirm_owner``) and the caller signed in recently."""
    if not confirmed:
        raise errors.ValidationFailed(
            "Confirm that this person should become an owner: owners can do everything, erasing the company too.",
            code="owner_confirmation_required",
            details={"field": "confirm_owner"},
        )
    reauth.require_recent_auth(principal)


def invite(principal: Principal, email: str, role: str, *, confirm_owner: bool = False) -> User:
    """Invite ``email`` as ``role``, or send a pending invitation again with the role asked now (the previous link
    stops working). The caller checks the plan's seats first (a resend takes none: ``find_in_company``). An owner's
    invitation needs ``confirm_owner`` and a recent sign-in (``confirm_new_owner``)."""

    if role not in rbac.ROLES:
        raise errors.ValidationFailed("Unknown role.", code="invalid_role", details={"field": "role"})
    if role == rbac.OWNER:
        confirm_new_owner(principal, confirm_owner)
    email = accounts.normalise_email(email)
    tenant_id = principal.tenant_id
    company = accounts.get_company(tenant_id)
    if not company_settings.domain_allowed(company, email):
        raise errors.ValidationFailed(
            "Your company invites only addresses at " + ", ".join(company.allowed_email_domains) + ".",
            code="email_domain_not_allowed",
            details={"field": "email"},
        )
    existing = find_in_company(tenant_id, email)
    if existing is not None and existing.status != "invited":
        raise errors.Conflict(
            "This address belongs to a user of your company already.", code="email_in_use", details={"field": "email"}
        )
    target = f"user:{existing.id}" if existing is not None else "invitation"
    if refused(email):
        audit.record(tenant_id, "users.invitation_blocked", target, outcome="failure", details={"reason": "refused"})
        raise errors.Conflict(
            "The holder of this address asked to receive no invitations to Protu.",
            code="invitations_refused",
            details={"field": "email"},
        )
    limited = _limit_error(tenant_id, email)
    if limited is not None:
        audit.record(tenant_id, "users.invitation_limited", target, outcome="failure", details=limited.details)
        raise limited
    inviter = accounts.get_user(tenant_id, principal.user_id)
    return _issue(company, inviter, existing, email, role, invited_by=principal.user_id)


def _issue(
    company: Company,
    inviter: User | None,
    existing: User | None,
    email: str,
    role: str,
    *,
    invited_by: str | None,
    action: str = "users.invitation_resent",
    actor: str | None = None,
) -> User:
    """Save a new invitation (``existing`` None) or renew one (new links, the old one deleted), then mail it unless
    the address's daily cap across companies is reached. Limits per company were checked by the caller."""
    tenant_id = company.id
    now = int(time.time())
    # An account in another company (a member of this one was refused before). An invitation saved before
    # invitations stopped owning their address has its own account item: that one is no account.
    owner = accounts.email_owner(email)
    legacy = existing is not None and owner is not None and (owner.tenant_id, owner.user_id) == (tenant_id, existing.id)
    has_account = owner is not None and not legacy
    mail_now = _address_has_room(email)
    if existing is None:
        user_id = accounts.new_id("u")
        user = User(
            *User.key(tenant_id, user_id),
            id=user_id,
            tenant_id=tenant_id,
            email=email,
            role=role,
            status="invited",
            created_at=now,
            invited_by=invited_by,
        )
    else:
        user = existing
    # An address with an account cannot accept (one address, one company): its mail carries no invitation link.
    invite_token, invite_item = (None, None) if has_account else accounts.issue_token("invite", user, _seconds())
    new_hash = tokens.token_hash(invite_token) if invite_token else None
    refuse_token, refuse_item = accounts.issue_token("refuse", user, _seconds())
    refuse_item.email = email
    index = PendingInvitation(*PendingInvitation.key(email, tenant_id, user.id), expires_at=now + _seconds())
    with Transaction(tenant_id, actor=actor) as tx:
        if existing is None:
            user.invite_token_hash = new_hash
            tx.save(user, condition=User.pk.does_not_exist())
            tx.audit("users.invited", f"user:{user.id}", details={"role": role})
        else:
            changes = [User.role.set(role)]
            changes.append(User.invite_token_hash.set(new_hash) if new_hash else User.invite_token_hash.remove())
            if invited_by:
                changes.append(User.invited_by.set(invited_by))
            tx.update(user, changes, condition=User.status == "invited")
            if existing.invite_token_hash:  # the previous link dies with this one's birth
                tx.delete(OneTimeToken(*OneTimeToken.key(existing.invite_token_hash)), unscoped=True)
            tx.audit(action, f"user:{user.id}", details={"role": role, "old_role": existing.role})
        tx.save(index, unscoped=True)
        if invite_item is not None:
            tx.save(invite_item, unscoped=True)
        tx.save(refuse_item, unscoped=True)
        if not mail_now:
            tx.audit("users.invitation_mail_held", f"user:{user.id}", details={"reason": "address_daily_limit"})
    user.role, user.invite_token_hash = role, new_hash
    if invited_by:
        user.invited_by = invited_by
    if not mail_now:
        return user
    _count_mail(tenant_id, email)
    who = (inviter.name or inviter.email) if inviter is not None else "An owner"
    refuse_link = accounts.link("/refuse-invitation", refuse_token)
    if has_account:
        accounts.send("invitation_account_exists", email, company=company.name, inviter=who, refuse_link=refuse_link)
    else:
        accounts.send(
            "invitation",
            email,
            company=company.name,
            inviter=who,
            role=user.role,
            link=accounts.link("/accept-invitation", invite_token),
            refuse_link=refuse_link,
        )
    return user


def _seconds() -> int:
    return accounts.INVITE_SECONDS


def forget(tx: Transaction, user: User) -> None:
    """Add to ``tx`` the deletion of an invited user's index item and invitation link (with the user's removal)."""
    tx.delete(PendingInvitation(*PendingInvitation.key(user.email, user.tenant_id, user.id)), unscoped=True)
    if user.invite_token_hash:
        tx.delete(OneTimeToken(*OneTimeToken.key(user.invite_token_hash)), unscoped=True)


# ------------------------------------------------------------------------------------------------ accepting
def _taken() -> errors.Conflict:
    return errors.Conflict(
        "This email address already has a Protu account, and one address belongs to one company only. Sign in with "
        "it, or ask for an invitation to another address.",
        code="email_in_use",
    )


def accept(token: str, name: str, password: str, *, ip: str, user_agent: str) -> accounts.SignedIn:
    """Join the company with the invitation link: the address becomes an account now (``EMAIL#``), the invitation's
    index item and link go, and the first session starts, all in one transaction with its audit event."""
    from protu.identity import passwords  # cold start: only accepting an invitation sets a password

    check_name(name)
    item = accounts.redeem(token, "invite")
    try:
        user = accounts.get_user(item.tenant_id, item.user_id)
    except errors.NotFound:
        raise errors.BadRequest("This invitation was withdrawn.", code="invalid_token") from None
    presented = tokens.token_hash(token)
    legacy = user.invite_token_hash is None  # sent before links were tracked: any of its unexpired links works
    if user.status != "invited" or not (legacy or user.invite_token_hash == presented):
        raise errors.BadRequest("This invitation link is no longer valid.", code="invalid_token")
    owner = accounts.email_owner(user.email)
    mine = owner is not None and (owner.tenant_id, owner.user_id) == (user.tenant_id, user.id)  # legacy item
    if owner is not None and not mine:
        raise _taken()
    company = accounts.get_company(item.tenant_id)
    passwords.check_policy(password, email=user.email, name=name, company=company.name)
    now = int(time.time())
    user.name = name
    user.status = "active"
    user.password_hash = passwords.hash_password(password)
    user.email_verified = True
    user.last_sign_in_at = now
    user.known_devices = [sessions.device_id(user_agent, ip)]
    user.known_networks = [network_id(ip)]
    link_hash, user.invite_token_hash, user.invited_by = user.invite_token_hash, None, None
    session, refresh = sessions.new_session(user, company, ip=ip, user_agent=user_agent, method="invitation")
    still_invited = User.status == "invited"
    still_invited &= User.invite_token_hash.does_not_exist() if legacy else User.invite_token_hash == link_hash
    account = EmailAccount(*EmailAccount.key(user.email), tenant_id=user.tenant_id, user_id=user.id)
    try:
        with Transaction(user.tenant_id, actor=user.id) as tx:
            accounts.consume(tx, item)
            tx.save(user, condition=still_invited)
            tx.save(account, condition=None if mine else EmailAccount.pk.does_not_exist(), unscoped=True)
            tx.delete(PendingInvitation(*PendingInvitation.key(user.email, user.tenant_id, user.id)), unscoped=True)
            if user.role == rbac.OWNER:  # owners count once they can act
                counted = Company(*Company.key(company.id))
                tx.update(counted, [Company.owner_count.add(1)], condition=Company.pk.exists())
            tx.save(session, condition=Session.pk.does_not_exist())
            tx.audit("users.invitation_accepted", f"user:{user.id}", details={"role": user.role})
    except errors.Conflict:
        if not mine and accounts.email_owner(user.email) is not None:
            raise _taken() from None  # the address got an account while this was checked
        raise errors.BadRequest("This invitation link is no longer valid.", code="invalid_token") from None
    access = tokens.issue_access_token(user.tenant_id, user.id, session.id)
    return accounts.SignedIn(access, refresh, session, user, company)


# ------------------------------------------------------------------------------------------------ declining
def _decline_one(tenant_id: str, user_id: str, email: str, reason: str, *, extra=None, actor: str) -> bool:
    """Delete one pending invitation of ``email`` in its company's own transaction (``extra(tx)`` adds writes) and
    tell its inviter. Acts for that company only (``protu.store.scope``). False when it was not pending any more."""

    with scope.acting_for(tenant_id):
        index = PendingInvitation(*PendingInvitation.key(email, tenant_id, user_id))
        try:
            user = User.get(*User.key(tenant_id, user_id), consistent_read=True)
        except DoesNotExist:
            user = None
        if user is None or user.status != "invited" or user.email != email:
            index.delete()  # a stale entry (its invitation ended without it): nothing to decline, nothing to audit
            return False
        try:
            with Transaction(tenant_id, actor=actor) as tx:
                tx.delete(user, condition=User.status == "invited")
                forget(tx, user)
                if extra is not None:
                    extra(tx)
                action = "users.invitation_refused" if reason == "refused" else "users.invitation_declined"
                tx.audit(action, f"user:{user.id}", details={"reason": reason, "role": user.role})
        except errors.Conflict:
            return False  # accepted or withdrawn meanwhile
        _tell_inviter(user, reason)
    return True


def _tell_inviter(user: User, reason: str) -> None:
    if not user.invited_by:
        return
    try:
        inviter = accounts.get_user(user.tenant_id, user.invited_by)
        company = accounts.get_company(user.tenant_id)
    except errors.NotFound:
        return  # the inviter left: the owners' list shows the invitation gone
    accounts.send(
        "invitation_declined",
        inviter.email,
        email=user.email,
        company=company.name,
        refused=reason == "refused",
        own_company=reason == "own_company",
    )


def decline_all(email: str, *, reason: str) -> int:
    """Decline every pending invitation of ``email`` (``reason``: ``declined``, or ``own_company`` when its holder
    made a company of their own): each company's invited user, index item and link go in that company's own
    transaction (audited ``users.invitation_declined``), and its inviter is emailed. Answers how many."""
    if reason not in DECLINE_REASONS:
        raise ValueError(f"reason must be one of {DECLINE_REASONS}")
    email = accounts.normalise_email(email)
    return sum(
        _decline_one(tenant_id, user_id, email, reason, actor=_actor()) for tenant_id, user_id in pending_for(email)
    )


def _actor() -> str:
    return context.current().actor or "anonymous"


def refuse(token: str) -> None:
    """The refuse link of an invitation: decline it (its inviter is told) and record that the address wants no more
    invitations (``NOINVITE#``, a year), in one transaction audited in the inviting company's chain."""
    item = accounts.redeem(token, "refuse")
    if not item.email:
        raise errors.BadRequest("This link is not valid or was already used.", code="invalid_token")
    now = int(time.time())
    refusal = InvitationRefusal(*InvitationRefusal.key(item.email), created_at=now, expires_at=now + REFUSAL_SECONDS)

    def record(tx: Transaction) -> None:
        accounts.consume(tx, item)
        tx.save(refusal, unscoped=True)

    actor = _actor()
    try:
        if _decline_one(item.tenant_id, item.user_id, item.email, "refused", extra=record, actor=actor):
            return
        # The invitation itself is gone already (accepted, withdrawn, declined): the refusal still holds.
        with Transaction(item.tenant_id, actor=actor) as tx:
            record(tx)
            tx.audit("users.invitation_refused", f"user:{item.user_id}", details={"reason": "refused"})
    except errors.Conflict:
        raise errors.BadRequest("This link is not valid or was already used.", code="invalid_token") from None


# ------------------------------------------------------------------------------------------------ reminding
def remind(email: str) -> int:
    """Send each pending invitation of ``email`` again with fresh links (the previous ones stop working), as a
    resend would, within the same daily limits (an invitation over a limit is skipped, silently: this runs inside
    flows whose answer must not depend on it). Answers how many were renewed."""

    email = accounts.normalise_email(email)
    actor = _actor()
    renewed = 0
    for tenant_id, user_id in pending_for(email):
        with scope.acting_for(tenant_id):
            try:
                user = User.get(*User.key(tenant_id, user_id), consistent_read=True)
                company = accounts.get_company(tenant_id)
            except (DoesNotExist, errors.NotFound):
                continue
            if user.status != "invited" or user.email != email or refused(email):
                continue
            if _limit_error(tenant_id, email) is not None:
                continue
            inviter = None
            if user.invited_by:
                try:
                    inviter = accounts.get_user(tenant_id, user.invited_by)
                except errors.NotFound:
                    inviter = None
            try:
                _issue(
                    company,
                    inviter,
                    user,
                    email,
                    user.role,
                    invited_by=None,
                    action="users.invitation_reminded",
                    actor=actor,
                )
            except errors.Conflict:
                continue
            renewed += 1
    return renewed
