"""The owner's users page: ``/api/users`` (permission ``users``: owners only)."""

from __future__ import annotations

from typing import Literal

import msgspec

from protu.http.auth import RECENT_AUTH
from protu.http.routing import Call, Refusal, Router
from protu.identity import sessions, users
from protu.schemas import Email, Strict, mailable, record_id

router = Router("users")
LAST_OWNER = Refusal(409, "last_owner", "A company needs at least one owner.")
OWNER_CONFIRMATION = Refusal(
    422, "owner_confirmation_required", "Making someone an owner needs confirm_owner: true.", "confirm_owner"
)

Role = Literal["owner", "admin"]


class InviteIn(Strict):
    email: Email
    role: Role
    confirm_owner: bool = False  # required (true) to invite an owner


class RoleIn(Strict):
    role: Role
    confirm_owner: bool = False  # required (true) to make someone an owner


class UserOut(msgspec.Struct):
    id: str
    email: str
    name: str
    role: str
    mfa_enabled: bool
    status: str
    last_sign_in_at: int | None
    second_factor: bool  # the authenticator app or a passkey (User.second_factors): e.g. may be a break-glass owner


def _out(user) -> UserOut:
    return UserOut(
        user.id,
        user.email,
        user.name or "",
        user.role,
        bool(user.mfa_enabled),
        user.status,
        int(user.last_sign_in_at) if user.last_sign_in_at else None,
        bool(user.second_factors),
    )


def _user_id(call: Call) -> str:
    return record_id(call, "user_id", "No such user.")


@router.get("/api/users", permission="users")
def list_users(call: Call) -> list[UserOut]:
    """Everyone in your company, invited people included (each read is audited)."""
    return [_out(u) for u in users.read_users(call.principal)]


@router.post(
    "/api/users/invitations",
    permission="users",
    body=InviteIn,
    status=201,
    example={"email": "ben@acme.example", "role": "admin"},
    errors=(
        Refusal(402, "seat_limit_reached", "Every seat of the plan is taken: upgrade to invite more people."),
        Refusal(409, "email_in_use", "The address belongs to a user of your company already."),
        Refusal(409, "invitations_refused", "The holder of the address asked to receive no invitations."),
        Refusal(422, "email_domain_not_allowed", "Your company invites only addresses at its allowed domains."),
        Refusal(422, "validation_failed", "The address breaks the mailer's bounds once case-folded.", "email"),
        Refusal(429, "invitation_limit_reached", "Today's invitation emails are used (by plan, or to this address)."),
        RECENT_AUTH,
        OWNER_CONFIRMATION,
    ),
)
def invite(call: Call) -> UserOut:
    """Invite someone by email as an owner or an admin, or send a pending invitation again with the role given now
    (its previous link stops working). A new invitation takes a seat of the plan; a resend takes none. The answer is
    the same whether or not the address has a Protu account elsewhere (409 ``email_in_use`` only for a user of your
    own company). Inviting an owner needs ``confirm_owner: true`` and a recent sign-in. Invitation emails are
    limited per day (429 ``invitation_limit_reached`` with ``Retry-After``: by plan for the company, and per
    address); an address whose holder refused invitations answers 409 ``invitations_refused``."""
    # cold start: loaded on first use
    from protu.billing import service as billing
    from protu.identity import invitations  # imported by the route that uses it: cold start

    email = mailable(call.body.email)
    if invitations.find_in_company(call.principal.tenant_id, email) is None:  # a resend takes no new seat
        billing.check_seat(call.principal.tenant_id)
    return _out(invitations.invite(call.principal, email, call.body.role, confirm_owner=call.body.confirm_owner))


@router.patch(
    "/api/users/{user_id}",
    permission="users",
    body=RoleIn,
    example={"role": "owner", "confirm_owner": True},
    errors=(
        LAST_OWNER,
        RECENT_AUTH,
        OWNER_CONFIRMATION,
    ),
)
def change_role(call: Call) -> UserOut:
    """Change a user's role (the last owner cannot be demoted). Making someone an owner needs ``confirm_owner:
    true`` and a recent sign-in (``POST /api/auth/reauthenticate``)."""
    b = call.body
    return _out(users.change_role(call.principal, _user_id(call), b.role, confirm_owner=b.confirm_owner))


@router.delete("/api/users/{user_id}", permission="users", status=204, errors=(LAST_OWNER,))
def remove(call: Call) -> None:
    """Remove a user from the company and end their sessions (the last owner cannot be removed)."""
    users.remove(call.principal, _user_id(call))


class UserSessionOut(msgspec.Struct):
    id: str
    created_at: int
    last_seen_at: int
    ip: str
    user_agent: str
    browser: str | None  # as GET /api/me/sessions tells them (protu.identity.sessions.described)
    browser_version: str | None
    system: str | None
    network: str | None
    sign_in_method: str | None


@router.get("/api/users/{user_id}/sessions", permission="users")
def user_sessions(call: Call) -> list[UserSessionOut]:
    """A user's active sessions, newest first: where and on what they are signed in (each read is audited)."""
    return [
        UserSessionOut(s.id, int(s.created_at), int(s.last_seen_at), s.ip, s.user_agent, **sessions.described(s))
        for s in users.sessions_of(call.principal, _user_id(call))
    ]


@router.post("/api/users/{user_id}/sign-out", permission="users", status=204)
def sign_out(call: Call) -> None:
    """End every session of a user at once."""
    users.force_sign_out(call.principal, _user_id(call))
