"""Hash-chained, per-tenant audit log: append (in the same transaction as the change), verify, list, mirror.

Public API::

    record(tenant_id, action, target, *, actor, outcome, details, request_id, source_ip) -> event document
    events(tenant_id, *, limit, cursor, actor, action, target, since, until) -> (documents, next_cursor)
    verify(tenant_id) -> VerifyResult(ok, checked, first_broken, reason)
    bound(actor=..., request_id=..., source_ip=...)  # per-request defaults (a context manager)

Changes to company data append their events through ``protu.store.tx.Transaction``.
"""

from protu.audit.context import bound, current
from protu.audit.log import events, record
from protu.audit.verify import VerifyResult, verify

__all__ = ["VerifyResult", "bound", "current", "events", "record", "verify"]
