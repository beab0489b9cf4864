"""``GET /api/me/notices``: what the signed-in person should know now, shown on every page of the SPA.

Computed from the current state, never stored, so a notice goes away as soon as its cause does:

* ``mfa_setup_required``: the company requires two-factor and theirs is off (only their account is open to them);
  never for a session signed in through the company's identity provider, which answers for the second factor;
* ``payment_failed`` (people who may see billing): Stripe could not charge the company's last invoice;
* ``email_bouncing``: their address is on the suppression list (a permanent bounce, a complaint, an unsubscribe),
  so no email reaches them; the security alerts we would have emailed them in the last ``ALERT_DAYS`` days are
  listed with it (``security_alert``), read from the audit log;
* ``maintenance``: a planned maintenance window (``protu.ops.maintenance``), from its announcement until it ends.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import msgspec

from protu import audit
from protu.http.routing import Call, Router
from protu.identity import accounts, company_settings, rbac
from protu.ops import maintenance

router = Router("auth")

ALERT_DAYS = 30
SECURITY_ACTIONS = {
    "auth.locked": "Your account was locked after too many failed sign-ins.",
    "auth.step_up_required": "Someone failed to sign in to your account several times: your next sign-in asks "
    "you to confirm it is you.",
    "incident.step_up_required": "Failed sign-ins to your account came from an address we blocked: your next "
    "sign-in asks you to confirm it is you.",
    "incident.account_locked": "Your account was locked after signs that someone else got into it: sign in with a "
    "link from your email to unlock it.",
    "session.suspicious_signout": "A session of yours was signed out because it looked compromised.",
    "auth.password_changed": "Your password was changed.",
    "auth.password_reset": "Your password was reset.",
    "mfa.recovery_codes_regenerated": "New two-factor recovery codes were made; the earlier ones no longer work.",
}


class Notice(msgspec.Struct):
    kind: str
    tone: str  # "warning" or "error"
    message: str
    link: str | None = None
    at: int | None = None


class NoticesOut(msgspec.Struct):
    items: list[Notice]


@router.get("/api/me/notices", permission="self", response=NoticesOut)
def notices(call: Call) -> NoticesOut:
    """What you should know now: two-factor required, a failed payment, email that cannot reach you, planned
    maintenance."""

    principal = call.principal
    user = accounts.get_user(principal.tenant_id, principal.user_id)
    company = accounts.get_company(principal.tenant_id)
    items: list[Notice] = []
    if company_settings.mfa_setup_required(user, company, principal.sign_in_method):
        items.append(
            Notice(
                "mfa_setup_required",
                "warning",
                f"{company.name} requires two-factor authentication. Set it up on your account page to continue.",
                "/account",
            )
        )
    if rbac.allows(user.role, "billing"):
        # cold start: loaded on first use
        from protu.billing import service as billing

        state = billing.state(principal.tenant_id)
        if state.payment_failed_at is not None or state.status in ("past_due", "unpaid"):
            items.append(
                Notice(
                    "payment_failed",
                    "error",
                    "Your company's last payment failed. Update the payment method to keep your plan.",
                    "/billing",
                    int(state.payment_failed_at) if state.payment_failed_at else None,
                )
            )
    items += _bouncing(principal.tenant_id, user)
    items += [_maintenance(window) for window in maintenance.announced()]
    return NoticesOut(items)


def _maintenance(window: maintenance.Window) -> Notice:
    start = datetime.fromtimestamp(int(window.start), UTC)
    end = datetime.fromtimestamp(int(window.end), UTC)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end.day} {end:%B %Y, %H:%M}"
    when = f"{start.day} {start:%B %Y, %H:%M} to {until} UTC"
    what = f"Planned maintenance {when}: {window.summary}"
    return Notice("maintenance", "warning", what, "/status", int(window.start))  # the status page lists it


def _bouncing(tenant_id: str, user) -> list[Notice]:
    # cold start: loaded on first use
    from protu.mail import suppression

    found = suppression.find(user.email)
    if not found:
        return []
    why = {"bounced": "bounces", "complained": "was reported as spam", "unsubscribed": "was unsubscribed"}
    items = [
        Notice(
            "email_bouncing",
            "error",
            f"Email to {user.email} {why.get(found.get('reason'), 'cannot be delivered')}, so we cannot email you. "
            "Security alerts appear here instead; ask an owner to change your address if it is wrong.",
            "/account",
        )
    ]
    since = datetime.fromtimestamp(time.time() - ALERT_DAYS * 86400, UTC)
    events, _ = audit.events(tenant_id, target=f"user:{user.id}", since=since, limit=50)
    for event in events:
        if event["action"] in SECURITY_ACTIONS:
            at = int(datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp())
            items.append(Notice("security_alert", "warning", SECURITY_ACTIONS[event["action"]], "/account", at))
    return items
