"""The owner's users page: ``/api/users`` (permission ``users``: owners only)."""

from __future__ import annotations

from typing import Literal

import msgspec

from protu.http.auth import Email, Strict, mailable, record_id
from protu.http.routing import Call, Router
from protu.identity import users

router = Router("users")

Role = Literal["owner", "admin"]


class InviteIn(Strict):
    email: Email
    role: Role


class RoleIn(Strict):
    role: Role


class UserOut(msgspec.Struct):
    id: str
    email: str
    name: str
    role: str
    mfa_enabled: bool
    status: str
    last_sign_in_at: int | None


def _out(user) -> UserOut:
    return UserOut(
        user.id,
        user.email,
        user.name or "",
        user.role,
        bool(user.mfa_enabled),
        user.status,
        int(user.last_sign_in_at) if user.last_sign_in_at else None,
    )


def _user_id(call: Call) -> str:
    return record_id(call, "user_id", "No such user.")


@router.get("/api/users", permission="users")
def list_users(call: Call) -> list[UserOut]:
    """Everyone in your company, invited people included."""
    return [_out(u) for u in users.list_users(call.principal.tenant_id)]


@router.post(
    "/api/users/invitations",
    permission="users",
    body=InviteIn,
    status=201,
    example={"email": "ben@acme.example", "role": "admin"},
)
def invite(call: Call) -> UserOut:
    """Invite someone by email as an owner or an admin (a new invitation takes a seat of the plan)."""
    from protu.billing import service as billing
    from protu.identity import accounts

    email = mailable(call.body.email)
    if accounts.email_owner(email) is None:  # a resent invitation takes no new seat
        billing.check_seat(call.principal.tenant_id)
    return _out(users.invite(call.principal, email, call.body.role))


@router.patch("/api/users/{user_id}", permission="users", body=RoleIn, example={"role": "owner"})
def change_role(call: Call) -> UserOut:
    """Change a user's role (the last owner cannot be demoted)."""
    return _out(users.change_role(call.principal, _user_id(call), call.body.role))


@router.delete("/api/users/{user_id}", permission="users", status=204)
def remove(call: Call) -> None:
    """Remove a user from the company and end their sessions (the last owner cannot be removed)."""
    users.remove(call.principal, _user_id(call))


@router.post("/api/users/{user_id}/sign-out", permission="users", status=204)
def sign_out(call: Call) -> None:
    """End every session of a user at once."""
    users.force_sign_out(call.principal, _user_id(call))
