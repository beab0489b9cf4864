"""Company records (job roles, candidates, ...) in the data table, always within one tenant.

One PynamoDB model holds every kind: ``pk = T#<tenant>#<KIND>``, ``sk = <record id>``, the record's plain fields
in a DynamoDB map (``data``, so filters can look inside it), its sensitive fields sealed in one Encryption SDK
message (``sealed``, see ``protu.crypto``), a ``version`` for optimistic concurrency and ``refs``, how many other
records point at it (a record in use cannot be deleted).

``Records(tenant_id, kind)`` is the only way in, and the tenant comes from the caller's session: no function here
takes a key from a request. Every write is a ``Transaction`` with its audit event (``protu.store.tx``).

**Lists read what they return.** A kind's indexed fields (``Kind.indexed``: its filters, its parent's and its
subject's fields) each have a slot ``f<n>pk`` = ``<partition>#<field>=<value>``, kept with the record (sparse: no
value, no entry) and served by the table's index ``filter<n>`` (hash ``f<n>pk``, range ``sk``). A filtered page is one
query of that index for ``limit + 1`` items, whatever the company's size; a filter on membership (``team_id``: a
team's ``member_ids``) reads the team and then the ``limit + 1`` members after the cursor. With several filters the
first indexed one (record ids before states) is the index and the others filter its pages.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
import unicodedata
from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import BinaryAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from protu import errors
from protu.store.base import tenant_pk
from protu.store.items import DataItem

ID = re.compile(r"^[a-z]{2,8}-[0-9a-f]{20}$")
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


INDEX_SLOTS = 3  # the indexes filter1..filter3 of template.yaml's DataTable
INDEX_VERSION = 1  # what a record's index entries and search words follow (``directory.reindex`` brings older ones)


def _filter_index(slot: int) -> GlobalSecondaryIndex:
    """The index ``filter<slot>`` (hash ``f<slot>pk``, range ``sk``), as ``template.yaml`` declares it."""
    meta = type("Meta", (), {"index_name": f"filter{slot}", "projection": AllProjection()})
    attributes = {f"f{slot}pk": UnicodeAttribute(hash_key=True), "sk": UnicodeAttribute(range_key=True)}
    return type(f"Filter{slot}Index", (GlobalSecondaryIndex,), {"Meta": meta, **attributes})()


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
    f1pk = UnicodeAttribute(null=True)
    f2pk = UnicodeAttribute(null=True)
    f3pk = UnicodeAttribute(null=True)
    index_version = NumberAttribute(null=True)
    filter1 = _filter_index(1)
    filter2 = _filter_index(2)
    filter3 = _filter_index(3)


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
    """The records of one kind in one company; ``indexed``: its fields served by the filter indexes, in slot order
    (``Kind.indexed``)."""

    def __init__(self, tenant_id: str, prefix: str, indexed: tuple[str, ...] = ()) -> None:
        if len(indexed) > INDEX_SLOTS:
            raise ValueError(f"at most {INDEX_SLOTS} indexed fields")
        self.tenant_id = tenant_id
        self.prefix = prefix
        self.pk = partition(tenant_id, prefix)
        self.indexed = indexed

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

    # ---------------------------------------------------------------------------------------------- indexes
    def index_key(self, name: str, value: Any) -> str | None:
        """The filter index's key of ``name`` holding ``value`` (None: no entry)."""
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            return None
        return f"{self.pk}#{name}={value}"

    def index_values(self, data: dict[str, Any]) -> dict[str, str | None]:
        """``f<n>pk`` of each slot for a record holding ``data``."""
        return {f"f{slot}pk": self.index_key(name, data.get(name)) for slot, name in enumerate(self.indexed, 1)}

    def index_actions(self, data: dict[str, Any]) -> list[Any]:
        """The update actions that keep a record's index entries equal to ``data``."""
        actions = [Record.index_version.set(INDEX_VERSION)]
        for name, value in self.index_values(data).items():
            attribute = getattr(Record, name)
            actions.append(attribute.set(value) if value is not None else attribute.remove())
        return actions

    # ---------------------------------------------------------------------------------------------- pages
    def page(
        self, *, limit: int, cursor: str | None, where: dict[str, Any] | None = None
    ) -> tuple[list[Record], str | None]:
        """Up to ``limit`` records whose plain fields hold ``where``'s values, newest first, and the next cursor.

        With an indexed field in ``where``, one query of its index (the first in slot order) for ``limit + 1``
        items; the other fields filter that query. Without one, the partition, filtered after reading."""
        where = {name: value for name, value in (where or {}).items() if value is not None}
        after = decode_cursor(cursor) if cursor else None
        slot = next((n for n, name in enumerate(self.indexed, 1) if name in where), None)
        if slot is None:
            return self._read(Record.query, self.pk, limit, after, where, {})
        name = self.indexed[slot - 1]
        key = self.index_key(name, where.pop(name))
        if key is None:
            return [], None
        index = getattr(Record, f"filter{slot}")
        return self._read(index.query, key, limit, after, where, {f"f{slot}pk": key})

    def _read(
        self, query: Any, hash_key: str, limit: int, after: str | None, where: dict[str, Any], index_key: dict
    ) -> tuple[list[Record], str | None]:
        condition = None
        for name, value in where.items():
            term = Record.data[name] == value
            condition = term if condition is None else condition & term
        start = None
        if after is not None:
            start = {"pk": {"S": self.pk}, "sk": {"S": after}, **{k: {"S": v} for k, v in index_key.items()}}
        size = limit + 1  # one more than asked: is there a next page? (a filter on other fields may read on)
        found: list[Record] = []
        extra = {} if index_key else {"consistent_read": True}  # an index is read eventually consistent
        while True:
            result = query(
                hash_key,
                filter_condition=condition,
                limit=size,
                last_evaluated_key=start,
                page_size=size,
                scan_index_forward=False,
                **extra,
            )
            for record in result:
                if len(found) == limit:
                    return found, encode_cursor(found[-1].sk)
                found.append(record)
            start = result.last_evaluated_key
            if not start:
                return found, None

    def members(
        self, member_ids: list[str], *, limit: int, cursor: str | None, where: dict[str, Any] | None = None
    ) -> tuple[list[Record], str | None]:
        """A page of the records named by a list (a team's ``member_ids``), newest first: ``limit + 1`` of them read
        after the cursor, by key."""
        where = {name: value for name, value in (where or {}).items() if value is not None}
        after = decode_cursor(cursor) if cursor else None
        ids_left = sorted({i for i in member_ids if ID.match(i) and (after is None or i < after)}, reverse=True)
        found: list[Record] = []
        while ids_left:
            chunk, ids_left = ids_left[: limit + 1], ids_left[limit + 1 :]
            read = {r.sk: r for r in Record.batch_get([(self.pk, i) for i in chunk], consistent_read=True)}
            for record_id in chunk:
                record = read.get(record_id)
                if record is None or any(_plain(record).get(k) != v for k, v in where.items()):
                    continue
                if len(found) == limit:
                    return found, encode_cursor(found[-1].sk)
                found.append(record)
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
            index_version=INDEX_VERSION,
            **{name: value for name, value in self.index_values(data).items() if value is not None},
        )


# ------------------------------------------------------------------------------------------------ search
class SearchEntry(DataItem):
    """One word of a record's searchable plain fields (``Kind.search``: a name, an email; sealed fields never):
    ``pk = <partition>#SEARCH``, ``sk = <word>#<record id>``, written and removed with the record."""

    record_id = UnicodeAttribute()


MAX_WORDS = 12
_WORD = re.compile(r"[a-z0-9@._+-]{1,64}")
_SEARCH_CURSOR = re.compile(r"^[a-z0-9@._+-]{1,64}#[a-z]{2,8}-[0-9a-f]{20}$")


def fold(text: str) -> str:
    """Case- and accent-insensitive form: ``"José Ñúñez"`` -> ``"jose nunez"``; anything but letters, digits and
    ``@._+-`` is a space."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return re.sub(r"[^a-z0-9@._+-]+", " ", plain).strip()


def search_words(data: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    """The words a record is found by: each word of its searchable fields, an email whole, sorted."""
    found: set[str] = set()
    for name in fields:
        value = data.get(name)
        if isinstance(value, str):
            found.update(word[:64] for word in fold(value).split() if _WORD.fullmatch(word[:64]))
    return sorted(found)[:MAX_WORDS]


class Search:
    """Finding a kind's records by the prefix of a word of their searchable fields, ``limit + 1`` entries read per
    round and the records they name by key: never the whole company."""

    def __init__(self, records: Records, fields: tuple[str, ...]) -> None:
        self.records, self.fields = records, fields
        self.pk = f"{records.pk}#SEARCH"

    def entries(self, record_id: str, data: dict[str, Any]) -> list[SearchEntry]:
        return [SearchEntry(self.pk, f"{w}#{record_id}", record_id=record_id) for w in search_words(data, self.fields)]

    def changes(self, record_id: str, before: dict[str, Any], after: dict[str, Any]):
        """(entries to delete, entries to write) when a record's fields go from ``before`` to ``after``."""
        old = {entry.sk: entry for entry in self.entries(record_id, before)}
        new = {entry.sk: entry for entry in self.entries(record_id, after)}
        return [old[sk] for sk in old.keys() - new.keys()], [new[sk] for sk in new.keys() - old.keys()]

    def page(
        self, q: str, *, limit: int, cursor: str | None, where: dict[str, Any], member: tuple[str, str] | None = None
    ) -> tuple[list[Record], str | None]:
        """Records with a word starting with each word of ``q``, holding ``where`` (and ``member``'s value in its
        list field), ordered by the word that found them; each record once (found by its first matching word)."""
        terms = fold(q).split()
        if not terms:
            return [], None
        lead = max(terms, key=len)[:64]
        start = {"pk": {"S": self.pk}, "sk": {"S": self._after(cursor)}} if cursor else None
        found: list[Record] = []
        last = None
        while True:
            result = SearchEntry.query(
                self.pk,
                SearchEntry.sk.startswith(lead),
                limit=limit + 1,
                page_size=limit + 1,
                last_evaluated_key=start,
                consistent_read=True,
            )
            entries = list(result)
            wanted = list(dict.fromkeys(entry.record_id for entry in entries if ID.match(entry.record_id)))
            read = {r.sk: r for r in Record.batch_get([(self.records.pk, i) for i in wanted], consistent_read=True)}
            for entry in entries:
                if len(found) == limit:
                    return found, encode_cursor(last)
                last = entry.sk
                record = read.get(entry.record_id)
                if record is not None and self._first_match(entry.sk, record, terms, lead, where, member):
                    found.append(record)
            start = result.last_evaluated_key
            if not start:
                return found, None

    def _first_match(
        self, sk: str, record: Record, terms: list[str], lead: str, where: dict[str, Any], member: Any
    ) -> bool:
        data = _plain(record)
        if any(data.get(name) != value for name, value in where.items() if value is not None):
            return False
        if member is not None and member[1] not in (data.get(member[0]) or []):
            return False
        words = search_words(data, self.fields)
        if not all(any(word.startswith(term) for word in words) for term in terms):
            return False
        return sk.split("#", 1)[0] == next(word for word in words if word.startswith(lead))

    @staticmethod
    def _after(cursor: str) -> str:
        try:
            if not _CURSOR.match(cursor):
                raise ValueError
            sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            if not _SEARCH_CURSOR.match(sk):
                raise ValueError
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise errors.ValidationFailed(
                "This cursor is not valid; start from the first page.",
                code="invalid_cursor",
                details={"field": "cursor"},
            ) from None
        return sk


def _plain(record: Record) -> dict[str, Any]:
    data = record.data
    return data.as_dict() if hasattr(data, "as_dict") else dict(data or {})


def clean(values: dict[str, Any]) -> dict[str, Any]:
    """A map DynamoDB can store: None values left out (a missing key reads back as None)."""
    return {k: v for k, v in values.items() if v is not None and v != []}


def ids(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
