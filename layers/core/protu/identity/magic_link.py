"""Sign-in by email link: asking for one (within quotas a stranger cannot use up) and following it (which proves
the mailbox: it lifts a lock or a step-up, and never skips two-factor).
"""

from __future__ import annotations

from protu.identity import domains
from protu.identity.accounts import (
    MAGIC_SECONDS,
    MfaRequired,
    SignedIn,
    find_account,
    get_company,
    get_user,
    issue_token,
    link,
    normalise_email,
    redeem,
    send,
)
from protu.identity.models import User
from protu.identity.signin import second_step_or_session
from protu.logging import get_logger
from protu.security import ratelimit
from protu.security.addresses import address_key, network_id
from protu.store.tx import Transaction

log = get_logger(__name__)


def request_magic_link(email: str, ip: str = "") -> None:
    mail_link(
        email,
        ip,
        quota="magic-link",
        kind="magic",
        seconds=MAGIC_SECONDS,
        action="auth.magic_link_sent",
        template="magic_link",
        path="/magic",
    )


def mail_link(
    email: str, ip: str, *, quota: str, kind: str, seconds: int, action: str, template: str, path: str
) -> None:
    """An email link to an active account, within ``email_link_allowed``'s quotas, audited in its company; an
    address without one gets its pending invitations instead (``remind_invitations``). The sign-in link and the
    password reset are this with their own token, mail and page. At a domain whose company enforces single sign-on,
    only a break-glass owner gets the link (the request answered ``sso_required`` for every address)."""
    found = find_account(email)
    if found is None or found[0].status != "active":
        remind_invitations(email)
        return
    user, _ = found
    enforced = domains.enforcing(user.email)  # the request was refused (sso_required) for every address alike
    if enforced is not None and not domains.break_glass(enforced, user):
        return
    if not email_link_allowed(quota, user, ip):
        return
    secret, item = issue_token(kind, user, seconds)
    with Transaction(user.tenant_id, actor="anonymous") as tx:
        tx.save(item, unscoped=True)
        tx.audit(action, f"user:{user.id}")
    send(template, user.email, link=link(path, secret), minutes=seconds // 60)


def remind_invitations(email: str) -> None:
    """An address with no account asks for a sign-in or reset link: if it has pending invitations, the mail it gets
    is those invitations again (with fresh links), so its holder learns how to get in. At most once a day per
    address: a stranger asking for links must not turn it into a flood, nor spend the inviters' daily budgets."""
    # cold start: loaded on first use
    from protu.identity import invitations

    if ratelimit.hit("invite-remind", normalise_email(email), limit=1, window_seconds=24 * 3600).allowed:
        invitations.remind(email)


EMAIL_LINKS_PER_HOUR = 5  # per account, for requests from anywhere


EMAIL_LINKS_RESERVE = 5  # per account, more, only for requests from a network the account signed in from


EMAIL_LINKS_PER_PAIR = 3  # per account and requesting address


def email_link_allowed(kind: str, user: User, ip: str) -> bool:
    """Whether to send another email link of ``kind`` (magic link, reset) to ``user`` for a request from ``ip``.

    A stranger must not be able to use up the holder's way in (ASVS 5.0 6.3.1, without denial of service): sends
    are counted per account-and-address (one address cannot use them all) and per account; when the account's
    hourly quota is used up, a reserve is left that only a request from a network the account has signed in from
    can use. The holder at their usual place therefore always gets their link."""

    pair = f"{user.email}|{address_key(ip)}"
    if not ratelimit.hit(f"{kind}-pair", pair, limit=EMAIL_LINKS_PER_PAIR, window_seconds=3600).allowed:
        return False
    if ratelimit.hit(kind, user.email, limit=EMAIL_LINKS_PER_HOUR, window_seconds=3600).allowed:
        return True
    if network_id(ip) not in (user.known_networks or []):
        return False
    return ratelimit.hit(f"{kind}-reserve", user.email, limit=EMAIL_LINKS_RESERVE, window_seconds=3600).allowed


def verify_magic_link(token: str, *, ip: str, user_agent: str) -> SignedIn | MfaRequired:
    """A magic link proves the mailbox: it lifts a lock or a step-up at once, and never skips two-factor."""
    item = redeem(token, "magic")
    user = get_user(item.tenant_id, item.user_id)
    domains.refuse_user_unless_allowed(user)  # a link asked for before the company enforced single sign-on
    company = get_company(item.tenant_id)
    if not user.email_verified:
        user.update(actions=[User.email_verified.set(True)])
    return second_step_or_session(user, company, "magic_link", ip, user_agent, extra=item, mailbox_proved=True)
