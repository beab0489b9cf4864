"""PynamoDB models of the audit table: one item per event and one head item per tenant.

The audit table is separate from company data (different backups, retention and IAM). Layout, per tenant::

    pk "T#<tenant>"  sk "E#<seq, 12 digits>"   an event (tenant, seq, actor, action, target, time, request_id,
                                                 source_ip, outcome, details (JSON text), prev_hash, hash)
    pk "T#<tenant>"  sk "HEAD"                 the chain head: seq and hash of the last event

The head is what makes appends safe under concurrency: every append is a transaction whose head update is
conditional on the seq it read, so two writers cannot both claim the same seq.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from protu.audit.chain import FIELDS, HEAD_SK, event_sk
from protu.store.base import SettingValue, tenant_pk


def chain_pk(tenant_id: str) -> str:
    """The audit table partition of a tenant (validates the tenant id)."""
    return tenant_pk(tenant_id)


class AuditEvent(Model):
    class Meta:
        table_name = SettingValue("audit_table")
        region = SettingValue("region")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tenant = UnicodeAttribute()
    seq = NumberAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    target = UnicodeAttribute()
    time = UnicodeAttribute()
    request_id = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute()
    details = JSONAttribute()
    prev_hash = UnicodeAttribute()
    hash = UnicodeAttribute()

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> AuditEvent:
        return cls(
            chain_pk(document["tenant"]),
            event_sk(document["seq"]),
            **{name: document[name] for name in (*FIELDS, "hash")},
        )

    def to_document(self) -> dict[str, Any]:
        """The event as hashed and mirrored: every field, ``hash`` included; keys are not part of it."""
        return {name: getattr(self, name) for name in (*FIELDS, "hash")}


class AuditHead(Model):
    class Meta:
        table_name = SettingValue("audit_table")
        region = SettingValue("region")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=HEAD_SK)
    tenant = UnicodeAttribute()
    seq = NumberAttribute()
    hash = UnicodeAttribute()
    actions = UnicodeSetAttribute(null=True)  # every action the chain holds: the audit page's choice of types
