"""Company records (job roles, candidates, ...) in the data table, always within one tenant.

One PynamoDB model holds every kind: ``pk = T#<tenant>#<KIND>``, ``sk = <record id>``, the record's plain fields
in a DynamoDB map (``data``, so filters can look inside it), its sensitive fields sealed in one Encryption SDK
message (``sealed``, see ``protu.crypto``), a ``version`` for optimistic concurrency and ``refs``, how many other
records point at it (a record in use cannot be deleted).

``Records(tenant_id, kind)`` is the only way in, and the tenant comes from the caller's session: no function here
takes a key from a request. Every write is a ``Transaction`` with its audit event (``protu.store.tx``).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import BinaryAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from protu import errors
from protu.store.base import tenant_pk
from protu.store.items import DataItem

ID = re.compile(r"^[a-z]{2,8}-[0-9a-f]{20}$")
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class Record(DataItem):
    id = UnicodeAttribute()
    kind = UnicodeAttribute()
    version = NumberAttribute(default=1)
    refs = NumberAttribute(default=0)
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    created_by = UnicodeAttribute()
    updated_by = UnicodeAttribute()
    data = MapAttribute(default=dict)
    sealed = BinaryAttribute(null=True, legacy_encoding=False)


def partition(tenant_id: str, prefix: str) -> str:
    return tenant_pk(tenant_id, prefix)


def new_id(prefix: str) -> str:
    """``<prefix>-`` and 20 hex digits: the creation time in milliseconds (10 digits, so ids sort by age and lists
    read newest first) and 40 random bits (so ids made in the same millisecond differ and cannot be guessed)."""
    return f"{prefix}-{int(time.time() * 1000) & 0xFFFFFFFFFF:010x}{secrets.token_hex(5)}"


def encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The sort key to continue after. A cursor is only a position inside the caller's own partition, so a forged
    one can skip or repeat the caller's records but never reach another company's."""
    try:
        if not _CURSOR.match(cursor):
            raise ValueError
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not ID.match(sk):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.ValidationFailed(
            "This cursor is not valid; start from the first page.", code="invalid_cursor", details={"field": "cursor"}
        ) from None
    return sk


class Records:
    """The records of one kind in one company."""

    def __init__(self, tenant_id: str, prefix: str) -> None:
        self.tenant_id = tenant_id
        self.prefix = prefix
        self.pk = partition(tenant_id, prefix)

    def key(self, record_id: str) -> tuple[str, str]:
        return self.pk, record_id

    def get(self, record_id: str, *, missing: str = "Not found.") -> Record:
        """The record, or a 404 that says the same for another company's id as for an unknown one."""
        found = self.find(record_id)
        if found is None:
            raise errors.NotFound(missing)
        return found

    def find(self, record_id: str) -> Record | None:
        if not isinstance(record_id, str) or not ID.match(record_id):
            return None  # no record can have this id: no need to ask (an oversized key would be a 400 there)
        try:
            return Record.get(self.pk, record_id, consistent_read=True)
        except DoesNotExist:
            return None

    def page(self, *, limit: int, cursor: str | None, condition: Any = None) -> tuple[list[Record], str | None]:
        """Up to ``limit`` records matching ``condition`` (a filter on ``data``), newest first, and the next cursor.

        DynamoDB filters after reading, so this keeps reading until the page is full or the partition ends."""
        start = {"pk": {"S": self.pk}, "sk": {"S": decode_cursor(cursor)}} if cursor else None
        found: list[Record] = []
        while True:
            result = Record.query(
                self.pk,
                filter_condition=condition,
                consistent_read=True,
                limit=max(limit, 25),
                last_evaluated_key=start,
                page_size=max(limit, 25),
                scan_index_forward=False,
            )
            for record in result:
                found.append(record)
                if len(found) == limit:
                    return found, encode_cursor(record.sk)
            start = result.last_evaluated_key
            if not start:
                return found, None

    def new(self, record_id: str, actor: str, data: dict[str, Any], sealed: bytes | None = None) -> Record:
        now = int(time.time())
        return Record(
            self.pk,
            record_id,
            id=record_id,
            kind=self.prefix,
            version=1,
            refs=0,
            created_at=now,
            updated_at=now,
            created_by=actor,
            updated_by=actor,
            data=data,
            sealed=sealed,
        )


def clean(values: dict[str, Any]) -> dict[str, Any]:
    """A map DynamoDB can store: None values left out (a missing key reads back as None)."""
    return {k: v for k, v in values.items() if v is not None and v != []}


def ids(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
