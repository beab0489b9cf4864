"""Who acts: the one type every service takes as its first argument.

A request's principal comes from its access token and live session (``http.authn``); a job acting for a company
(an export, an erasure, the retention of candidates) acts as ``Principal.system(company, user)``: that user's id
for the audit trail, an owner's reach, and no session, so it never counts as a recent sign-in. Services read
``tenant_id`` (whose data), ``user_id`` (who, for the audit log), ``role`` (what they may do) and, for re-authenticated
actions, ``recently_authenticated()``. This module imports nothing of Protu: every layer can name it.
"""

from __future__ import annotations

import time

import msgspec

REAUTH_SECONDS = 10 * 60  # a password or code within this long counts as a recent sign-in


class Principal(msgspec.Struct, frozen=True):
    tenant_id: str
    user_id: str
    session_id: str  # "" when a job acts (``system``)
    role: str
    auth_time: int  # when the session last proved who it is (sign-in or re-authentication); 0 for a job
    sign_in_method: str = ""  # how the session began (``sessions.METHODS``); "" for a job

    @property
    def via_sso(self) -> bool:
        """Signed in through the company's identity provider, which answers for the second factor (``sso``)."""
        return self.sign_in_method == "sso"

    @classmethod
    def system(cls, tenant_id: str, user_id: str) -> Principal:
        """A job acting for the company on behalf of ``user_id`` (who asked, or the job's own actor name)."""
        return cls(tenant_id, user_id, session_id="", role="owner", auth_time=0)

    @property
    def is_session(self) -> bool:
        return bool(self.session_id)

    def recently_authenticated(self, now: float | None = None) -> bool:
        return self.is_session and (now or time.time()) - self.auth_time <= REAUTH_SECONDS
