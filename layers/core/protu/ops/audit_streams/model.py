"""The audit-stream endpoint item, the company's endpoint counter, the due index and the package's one clock.

Layout, in the company's partition ``T#<company>#AUDITSTREAMS``::

    sk "STREAM#<id>"   one endpoint: url (shown: its query string hidden), host, description, status
                       (active | failing | failed), who created it and when, delivered_seq (the last event it
                       accepted), failing_since, next_attempt_at, attempts, last_error, last_delivered_at,
                       secret_version, sealed ({secret, url} in one Encryption SDK message under the company's
                       key), lease_until (the one run delivering to it), kicks (runs that found it leased), and
                       while it needs a run: gsi1pk "AUDITSTREAM#DUE", gsi1sk "<due at, 12 digits>#<company>#<id>"
    sk "COUNT"         how many endpoints the company has (created and deleted in the same transactions), so
                       the limit holds under concurrent creations

The due index (``gsi1``, sparse) is how the retry job finds work without scanning every company: an endpoint is in
it while a run must look at it at ``gsi1sk``'s time: failing (its next attempt), with events left over (now), or
leased (when the lease ends, should the run die). A run that leaves it caught up takes it out, in the same update
that releases the lease.
"""

from __future__ import annotations

import time

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from protu.store.base import tenant_pk
from protu.store.items import DataItem

clock = time.time  # the only clock of this package (tests move it to another day)

PARTITION = "AUDITSTREAMS"
PREFIX = "STREAM#"
COUNTER_SK = "COUNT"
DUE = "AUDITSTREAM#DUE"
ACTIVE, FAILING, FAILED = "active", "failing", "failed"
MAX_ENDPOINTS = 5
ENTITY = "audit_stream"  # the encryption context's entity of the sealed fields
SEALED = ("secret", "url")
ID_PREFIX = "ast-"


class DueIndex(GlobalSecondaryIndex):
    """``gsi1``: the endpoints a run must look at, by when."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class AuditStream(DataItem):
    id = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    url = UnicodeAttribute()  # as shown: scheme, host, port and path; a query string as "?…"
    host = UnicodeAttribute()  # what logs, audit events and mail name
    description = UnicodeAttribute(default="")
    status = UnicodeAttribute(default=ACTIVE)
    created_by = UnicodeAttribute()
    created_at = NumberAttribute()
    delivered_seq = NumberAttribute(default=0)
    last_delivered_at = NumberAttribute(null=True)
    failing_since = NumberAttribute(null=True)
    next_attempt_at = NumberAttribute(null=True)
    attempts = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)  # a status code ("500"), or timeout, connection, dns, tls, ...
    secret_version = NumberAttribute(default=1)
    sealed = BinaryAttribute(legacy_encoding=False)
    lease_until = NumberAttribute(null=True)
    kicks = NumberAttribute(default=0)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = DueIndex()

    @staticmethod
    def partition(tenant_id: str) -> str:
        return tenant_pk(tenant_id, PARTITION)

    @classmethod
    def keyed(cls, tenant_id: str, stream_id: str) -> AuditStream:
        """An item naming the endpoint, for conditional updates (nothing read)."""
        return cls(cls.partition(tenant_id), PREFIX + stream_id)


class StreamCount(DataItem):
    """How many endpoints the company has (``COUNT``)."""

    count = NumberAttribute(default=0)

    @classmethod
    def keyed(cls, tenant_id: str) -> StreamCount:
        return cls(AuditStream.partition(tenant_id), COUNTER_SK)


def due_key(at: float, tenant_id: str, stream_id: str) -> str:
    return f"{max(0, int(at)):012d}#{tenant_id}#{stream_id}"


def due_until(at: float) -> str:
    """The greatest ``gsi1sk`` due at ``at``: ``#`` sorts before ``~``."""
    return f"{max(0, int(at)):012d}~"


def parse_due(key: str) -> tuple[str, str] | None:
    """(company, endpoint id) of a ``gsi1sk``; None for a key this package did not write."""
    parts = key.split("#")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].startswith(ID_PREFIX):
        return None
    return parts[1], parts[2]
