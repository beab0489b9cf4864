"""A new owner's first steps (``protu.identity.welcome``): ``GET /api/me/welcome`` answers the checklist,
``POST /api/me/welcome/done`` puts it away. Owners only (``settings``): the steps are an owner's to take."""

from __future__ import annotations

from typing import Literal

import msgspec

from protu.http.routing import Call, Router
from protu.identity import accounts, welcome

router = Router("welcome")

Step = Literal["verify_email", "two_factor", "invite", "first_role", "first_candidate"]


class StepOut(msgspec.Struct):
    id: Step
    done: bool


class WelcomeOut(msgspec.Struct):
    steps: list[StepOut]
    shown: bool  # False once put away: sign-ins no longer land on it


@router.get("/api/me/welcome", permission="settings", response=WelcomeOut)
def checklist(call: Call) -> WelcomeOut:
    """Your first steps in Protu, and which are done."""
    p = call.principal
    user = accounts.get_user(p.tenant_id, p.user_id)
    return msgspec.convert({"steps": welcome.steps(p, user), "shown": welcome.shows(user)}, WelcomeOut)


@router.post("/api/me/welcome/done", permission="settings", status=204)
def done(call: Call) -> None:
    """Put the first steps away: sign-ins land on your account page again."""
    p = call.principal
    welcome.finish(accounts.get_user(p.tenant_id, p.user_id))
