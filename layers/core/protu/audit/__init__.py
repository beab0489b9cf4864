"""Hash-chained, per-tenant audit log: append (in the same transaction as the change), verify, list, mirror.

Public API::

    record(tenant_id, action, target, *, actor, outcome, details, request_id, source_ip) -> event document
    record_read(tenant_id, action, target, subjects, *, actor, details) -> event documents (a read of personal data)
    events(tenant_id, *, limit, cursor, actor, action, target, since, until) -> (documents, next_cursor)
    log_actions(tenant_id) -> every action the chain holds, sorted
    verify(tenant_id) -> VerifyResult(ok, checked, first_broken, reason)
    bound(actor=..., request_id=..., source_ip=...)  # per-request defaults (a context manager)

Changes to company data append their events through ``protu.store.tx.Transaction``.
"""

from protu.audit.context import bound, current

__all__ = ["VerifyResult", "bound", "current", "events", "log_actions", "record", "record_read", "verify"]

_LAZY = {
    "events": "protu.audit.log",
    "record": "protu.audit.log",
    "record_read": "protu.audit.log",
    "log_actions": "protu.audit.log",
    "verify": "protu.audit.verification",
    "VerifyResult": "protu.audit.verification",
}


def __getattr__(name: str):
    """The storage-backed names load on first use (they import PynamoDB): binding the request's audit context,
    which every request does, stays free at cold start."""
    if name in _LAZY:
        # cold start: loaded on first use
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'protu.audit' has no attribute {name!r}")
