"""Who is acting, per request: the defaults for ``actor``, ``request_id`` and ``source_ip`` of audit events.

The HTTP layer binds them once per request (``with bound(actor=user_id, request_id=..., source_ip=...)``), so
services do not thread them through every call. A ``ContextVar`` keeps concurrent requests (threads, tasks) apart.
There is deliberately no default actor: an event recorded outside any request must say who acted
(``actor="system"`` for jobs), instead of silently blaming someone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import msgspec


class Actor(msgspec.Struct, frozen=True):
    actor: str | None = None
    request_id: str | None = None
    source_ip: str | None = None


_current: ContextVar[Actor] = ContextVar("protu_audit_actor", default=Actor())  # noqa: B039 - Actor is frozen


def current() -> Actor:
    return _current.get()


@contextmanager
def bound(*, actor: str | None = None, request_id: str | None = None, source_ip: str | None = None) -> Iterator[Actor]:
    """Bind the audit defaults for the duration of a request."""
    token = _current.set(Actor(actor, request_id, source_ip))
    try:
        yield _current.get()
    finally:
        _current.reset(token)
