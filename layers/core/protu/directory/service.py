"""Reads and writes of company records, for any kind declared in ``kinds``.

Rules every operation keeps:

* the company is the caller's (``principal.tenant_id``); an id of another company is the same 404 as a missing one;
* a write and its audit event commit together (``Transaction``); the event names the fields that changed, never
  their values (a sensitive value must not reach the audit log);
* references are checked before the write (422 ``invalid_reference`` naming the field) and again inside it (the
  referenced record must still exist), and the referenced record's ``refs`` counter moves in the same transaction,
  so a record in use cannot be deleted (409 ``in_use``);
* a change names the ``version`` it was made from; a stale one is 409 ``version_conflict``;
* sensitive fields are sealed in one Encryption SDK message per record, bound to the company, kind and record.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import msgspec
import msgspec.inspect

from protu import audit, errors
from protu.directory import kinds as k
from protu.directory.store import Record, Records, Search, clean, ids, new_id
from protu.principal import Principal
from protu.store.tx import Transaction


def _records(principal: Principal, kind: k.Kind) -> Records:
    return Records(principal.tenant_id, kind.prefix, kind.indexed)


def _search(principal: Principal, kind: k.Kind) -> Search:
    return Search(_records(principal, kind), kind.search)


def subject_of(kind: k.Kind, record_id: str, values: dict[str, Any]) -> str | None:
    """The person whose key seals a record's sensitive fields (``Kind.subject``), if any."""
    if kind.subject is None:
        return None
    return record_id if kind.subject == "id" else values.get(kind.subject)


def _seal(principal: Principal, kind: k.Kind, record_id: str, values: dict[str, Any]) -> bytes | None:
    if not kind.sensitive:
        return None
    # cold start: loaded on first use
    from protu import crypto

    return crypto.encrypt_fields(
        principal.tenant_id,
        kind.entity,
        record_id,
        {name: values.get(name) for name in kind.sensitive},
        subject=subject_of(kind, record_id, values),
    )


def _unseal(principal: Principal, kind: k.Kind, record: Record) -> dict[str, Any]:
    if not kind.sensitive or record.sealed is None:
        return {}
    # cold start: loaded on first use
    from protu import crypto

    subject = subject_of(kind, record.id, _data(record))
    return crypto.decrypt_fields(
        principal.tenant_id, kind.entity, record.id, record.sealed, kind.sensitive, subject=subject
    )


def out(principal: Principal, kind: k.Kind, record: Record) -> Any:
    """The answer for one record: its fields (sensitive ones opened), id, version and times."""
    data = _data(record)
    values = {
        name: data[name] if name in data else (list(default) if isinstance(default, list) else default)
        for name, default in _defaults(kind).items()
    }
    values.update(_unseal(principal, kind, record))
    return kind.out(
        id=record.id,
        version=int(record.version),
        created_at=int(record.created_at),
        updated_at=int(record.updated_at),
        **values,
    )


@cache
def _defaults(kind: k.Kind) -> dict[str, Any]:
    """Each field's value when a record does not store it (``clean`` leaves out empty values)."""
    defaults: dict[str, Any] = {kind.parent[1]: None} if kind.parent else {}
    for f in msgspec.inspect.type_info(kind.create).fields:
        if f.default is not msgspec.inspect.NODEFAULT:
            defaults[f.name] = f.default
        elif f.default_factory is not msgspec.inspect.NODEFAULT:
            defaults[f.name] = f.default_factory()
        else:
            defaults[f.name] = None
    return defaults


def _data(record: Record) -> dict[str, Any]:
    data = record.data
    return dict(data.as_dict() if hasattr(data, "as_dict") else data or {})


class _Touches:
    """The other records a write changes: reference counters (``refs``) and two-way link lists. Collected first,
    then written as ONE update per record (DynamoDB refuses two writes to one item in a transaction; a team whose
    lead is also a member touches that employee twice)."""

    def __init__(self, principal: Principal) -> None:
        self.tenant_id = principal.tenant_id
        self._refs: dict[tuple[str, str], int] = {}
        self._lists: dict[tuple[str, str], tuple[Record, dict[str, Any]]] = {}

    def _find(self, kind_name: str, record_id: str, field: str) -> Record:
        other = k.KINDS[kind_name]
        found = Records(self.tenant_id, other.prefix).find(record_id)
        if found is None:
            raise errors.ValidationFailed(
                f"No {other.entity.replace('_', ' ')} with this id in your company.",
                code="invalid_reference",
                details={"field": field},
            )
        return found

    def ref(self, kind_name: str, record_id: str, delta: int, field: str) -> None:
        """Count a reference to (``+1``) or from (``-1``) a record; a new reference must name an existing one."""
        if delta > 0:
            self._find(kind_name, record_id, field)
        key = (kind_name, record_id)
        self._refs[key] = self._refs.get(key, 0) + delta

    def link(self, kind_name: str, record_id: str, field: str, *, add: str = "", remove: str = "", source: str = ""):
        """Put ``add`` into (or take ``remove`` out of) the other record's list ``field``."""
        key = (kind_name, record_id)
        if key not in self._lists:
            if add:
                found = self._find(kind_name, record_id, source)
            else:
                found = Records(self.tenant_id, k.KINDS[kind_name].prefix).find(record_id)
                if found is None:
                    return  # already gone: nothing to take out
            self._lists[key] = (found, _data(found))
        data = self._lists[key][1]
        members = [value for value in data.get(field) or [] if value != remove]
        if add and add not in members:
            members.append(add)
        data[field] = members

    def changes(self, kind: k.Kind, record_id: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """What changing a record of ``kind`` from ``old`` to ``new`` values does to the records it points at."""
        for name, target_kind in kind.refs.items():
            if old.get(name) != new.get(name):
                if new.get(name):
                    self.ref(target_kind, new[name], +1, name)
                if old.get(name):
                    self.ref(target_kind, old[name], -1, name)
        for name, (type_field, targets) in kind.poly_refs.items():
            if (old.get(name), old.get(type_field)) != (new.get(name), new.get(type_field)):
                if new.get(name):
                    self.ref(targets[new[type_field]], new[name], +1, name)
                if old.get(name):
                    self.ref(targets[old[type_field]], old[name], -1, name)
        if kind.parent and old.get(kind.parent[1]) != new.get(kind.parent[1]):
            if new.get(kind.parent[1]):  # a child counts as a use of its parent: the parent cannot go first
                self.ref(kind.parent[0], new[kind.parent[1]], +1, kind.parent[1])
            if old.get(kind.parent[1]):
                self.ref(kind.parent[0], old[kind.parent[1]], -1, kind.parent[1])
        for name, (other_name, reverse) in kind.links.items():
            before, after = list(old.get(name) or []), list(new.get(name) or [])
            for other_id in after:
                if other_id not in before:
                    self.link(other_name, other_id, reverse, add=record_id, source=name)
            for other_id in before:
                if other_id not in after:
                    self.link(other_name, other_id, reverse, remove=record_id)

    def write(self, tx: Transaction) -> None:
        for key, (target, data) in self._lists.items():
            actions = [Record.data.set(clean(data)), Record.version.set(int(target.version) + 1)]
            actions.append(Record.updated_at.set(_now()))
            if self._refs.get(key):
                actions.append(Record.refs.add(self._refs[key]))
            tx.update(target, actions, condition=Record.version == target.version)
        for (kind_name, record_id), delta in self._refs.items():
            if delta == 0 or (kind_name, record_id) in self._lists:
                continue
            pk, sk = Records(self.tenant_id, k.KINDS[kind_name].prefix).key(record_id)
            condition = Record.pk.exists() if delta > 0 else Record.refs >= -delta
            tx.update(Record(pk, sk), [Record.refs.add(delta)], condition=condition)


def _now() -> int:
    return int(time.time())


def _normalise(kind: k.Kind, values: dict[str, Any]) -> dict[str, Any]:
    """Lists of ids without repeats, in the order given."""
    for name in kind.links:
        if isinstance(values.get(name), list):
            values[name] = ids(values[name])
    return values


def _parent(principal: Principal, kind: k.Kind, parent_id: str | None) -> Record | None:
    """The record a nested kind lives under (from the path): 404 when it is not the caller's."""
    if kind.parent is None:
        return None
    parent = k.KINDS[kind.parent[0]]
    return Records(principal.tenant_id, parent.prefix).get(parent_id or "", missing=_missing(parent))


def _get(principal: Principal, kind: k.Kind, record_id: str, parent_id: str | None) -> Record:
    parent = _parent(principal, kind, parent_id)
    record = _records(principal, kind).get(record_id, missing=_missing(kind))
    if parent is not None and _data(record).get(kind.parent[1]) != parent.id:
        raise errors.NotFound(_missing(kind))
    return record


def _validate(principal: Principal, kind: k.Kind, values: dict[str, Any], parent: Record | None) -> None:
    """Rules that need other records (``Kind.validate``): a response answers only its assessment's questions."""
    if kind.validate is not None:
        kind.validate(principal.tenant_id, values, None if parent is None else _data(parent))


def create(principal: Principal, kind: k.Kind, body: Any, parent_id: str | None = None) -> Any:
    values = _normalise(kind, msgspec.to_builtins(body))
    parent = _parent(principal, kind, parent_id)
    if parent is not None:
        values[kind.parent[1]] = parent.id
    _validate(principal, kind, values, parent)
    records = _records(principal, kind)
    record_id = new_id(kind.id_prefix)
    plain = {name: v for name, v in values.items() if name not in kind.sensitive}
    record = records.new(record_id, principal.user_id, clean(plain), _seal(principal, kind, record_id, values))
    touches = _Touches(principal)
    touches.changes(kind, record_id, {}, values)
    if kind.quota:
        # cold start: loaded on first use
        from protu.billing import service as billing
    try:
        with Transaction(principal.tenant_id) as tx:
            touches.write(tx)
            if kind.quota:
                billing.count_monthly(tx, principal.tenant_id, kind.quota)
            tx.save(record, condition=Record.pk.does_not_exist())
            for entry in _search(principal, kind).entries(record_id, plain):
                tx.save(entry)
            tx.audit(f"{kind.entity}.created", f"{kind.entity}:{record_id}", details=_about(kind, values))
    except errors.Conflict:
        over = billing.monthly_limit_reached(principal.tenant_id, kind.quota) if kind.quota else None
        raise (over or _concurrent()) from None
    return out(principal, kind, record)


def read(principal: Principal, kind: k.Kind, record_id: str, parent_id: str | None = None) -> Any:
    record = _get(principal, kind, record_id, parent_id)
    answer = out(principal, kind, record)
    if kind.audit_reads:
        _reads(principal, kind, [record])
    return answer


def listing(
    principal: Principal, kind: k.Kind, query: Any, parent_id: str | None = None
) -> tuple[list[Any], str | None]:
    parent = _parent(principal, kind, parent_id)
    where = {name: getattr(query, name) for name in kind.filters}
    if parent is not None:
        where[kind.parent[1]] = parent.id
    records = _records(principal, kind)
    member_of = next(((name, field) for name, field in kind.contains.items() if getattr(query, name)), None)
    if kind.search and getattr(query, "q", None):  # by a word's prefix; filters apply to what it finds
        member = (member_of[1], getattr(query, member_of[0])) if member_of else None
        found, cursor = _search(principal, kind).page(
            query.q, limit=query.limit, cursor=query.cursor, where=where, member=member
        )
    elif member_of is not None:  # the other side of a link lists them: read those, not the partition
        name, field = member_of
        other_kind, other_field = kind.links[field]
        other = Records(principal.tenant_id, k.KINDS[other_kind].prefix).find(getattr(query, name))
        members = [str(i) for i in (_data(other).get(other_field) or [])] if other is not None else []
        found, cursor = records.members(members, limit=query.limit, cursor=query.cursor, where=where)
    else:
        found, cursor = records.page(limit=query.limit, cursor=query.cursor, where=where)
    answers = [out(principal, kind, record) for record in found]
    if kind.audit_reads and found:
        _reads(principal, kind, found)
    return answers, cursor


def about_subject(principal: Principal, kind: k.Kind, subject: k.Kind, subject_id: str, query: Any):
    """A kind's records about one person (``Kind.subject``), across their parents: a candidate's responses to every
    assessment. The person must be the caller's (404 as for a missing one), and opening the records is audited like
    any other read of them."""
    Records(principal.tenant_id, subject.prefix).get(subject_id, missing=_missing(subject))
    name, where = next((name, where) for target, name, where in kind.subjects() if target == subject.name)
    found, cursor = _records(principal, kind).page(
        limit=query.limit, cursor=query.cursor, where={name: subject_id, **where}
    )
    answers = [out(principal, kind, record) for record in found]
    if kind.audit_reads and found:
        _reads(principal, kind, found)
    return answers, cursor


def _about(kind: k.Kind, values: dict[str, Any]) -> dict[str, Any]:
    """What an audit event may say about a record: which fields were set, and whom it is about; never values."""
    about: dict[str, Any] = {"fields": sorted(clean(values))}
    name = kind.subject_field
    if name is not None and values.get(name):
        if name in kind.poly_refs:  # which kind of person: a candidate or an employee
            type_field = kind.poly_refs[name][0]
            about[type_field] = values.get(type_field)
        about[name] = values[name]
    return about


READS_PER_EVENT = 50  # ids an audit event's 4 KiB of details hold with room to spare


def _reads(principal: Principal, kind: k.Kind, records: list[Record]) -> None:
    """A data-access event for opened personal data (who read whose, when): one per read or page (a page of more
    than ``READS_PER_EVENT`` records is spread over several events, in one write). The unusual-access watch counts
    it from the audit stream (``protu.security.access.watch``), off the request path."""
    tx = Transaction(principal.tenant_id, actor=principal.user_id)
    for start in range(0, len(records), READS_PER_EVENT):
        chunk = records[start : start + READS_PER_EVENT]
        subjects = sorted({str(s) for r in chunk if (s := subject_of(kind, r.id, _data(r)))})
        target = f"{kind.entity}:{chunk[0].id}" if len(chunk) == 1 else f"{kind.entity}:{len(chunk)} records"
        details = {"subjects": subjects} if kind.is_person else {"records": [r.id for r in chunk], "subjects": subjects}
        tx.audit(f"{kind.entity}.read", target, details=details)
    tx.commit()


def update(principal: Principal, kind: k.Kind, record_id: str, patch: Any, parent_id: str | None = None) -> Any:
    records = _records(principal, kind)
    record = _get(principal, kind, record_id, parent_id)
    if int(record.version) != patch.version:
        raise _stale(record)
    current = msgspec.structs.asdict(out(principal, kind, record))
    changes = msgspec.to_builtins(patch)  # fields left out (UNSET) are not in it
    changes.pop("version")
    changes = _normalise(kind, changes)
    changed = sorted(name for name, v in changes.items() if current.get(name) != v)
    if not changed:
        return out(principal, kind, record)
    values = {name: current.get(name) for name in _defaults(kind)} | changes
    _validate(principal, kind, values, _parent(principal, kind, parent_id))
    plain = clean({name: v for name, v in values.items() if name not in kind.sensitive})
    now = _now()
    actions = [
        Record.data.set(plain),
        *records.index_actions(plain),
        Record.version.set(int(record.version) + 1),
        Record.updated_at.set(now),
        Record.updated_by.set(principal.user_id),
    ]
    sealed = record.sealed
    if any(name in kind.sensitive for name in changed):
        sealed = _seal(principal, kind, record.id, values)
        actions.append(Record.sealed.set(sealed))
    touches = _Touches(principal)
    touches.changes(kind, record.id, current, values)
    gone, added = _search(principal, kind).changes(record.id, current, values)
    try:
        with Transaction(principal.tenant_id) as tx:
            touches.write(tx)
            tx.update(record, actions, condition=Record.version == record.version)
            for entry in gone:
                tx.delete(entry)
            for entry in added:
                tx.save(entry)
            tx.audit(
                f"{kind.entity}.updated",
                f"{kind.entity}:{record.id}",
                details={**_about(kind, values), "fields": changed},
            )
    except errors.Conflict:
        fresh = records.find(record.id)
        if fresh is None:
            raise errors.NotFound(_missing(kind)) from None
        if int(fresh.version) != int(record.version):
            raise _stale(fresh) from None
        raise _concurrent() from None
    # The answer is what was committed, not a read after it: a failed read would report a committed change as 503.
    record.data, record.version, record.updated_at, record.sealed = plain, int(record.version) + 1, now, sealed
    return out(principal, kind, record)


def delete(principal: Principal, kind: k.Kind, record_id: str, parent_id: str | None = None) -> None:
    records = _records(principal, kind)
    record = _get(principal, kind, record_id, parent_id)
    data = _data(record)
    touches = _Touches(principal)
    touches.changes(kind, record.id, data, {})
    try:
        with Transaction(principal.tenant_id) as tx:
            touches.write(tx)
            in_use = Record.refs.does_not_exist() | (Record.refs == 0)
            tx.delete(record, condition=in_use & (Record.version == record.version))
            for entry in _search(principal, kind).entries(record.id, data):
                tx.delete(entry)
            tx.audit(f"{kind.entity}.deleted", f"{kind.entity}:{record.id}", details=_about(kind, data))
    except errors.Conflict:
        fresh = records.find(record.id)
        if fresh is None:
            raise errors.NotFound(_missing(kind)) from None
        if int(fresh.refs or 0) > 0:
            raise errors.Conflict(
                f"This {kind.entity.replace('_', ' ')} is still in use by {int(fresh.refs)} other record(s); "
                "change or delete those first.",
                code="in_use",
                details={"refs": int(fresh.refs)},
            ) from None
        if int(fresh.version) != int(record.version):
            raise _stale(fresh) from None
        raise _concurrent() from None


# ------------------------------------------------------------------------------------------------ erasure
ERASE_CHUNK = 40  # records about the person deleted per transaction (each may touch its parent too)


def erase(principal: Principal, kind: k.Kind, record_id: str) -> int:
    """Erase a person (GDPR): their key first (their sealed fields become unreadable everywhere, backups included),
    then every record about them (``kinds.about``: their responses) and their own record, each deletion audited
    without content. Refused (409 ``in_use``) while something other than records about them still points at them
    (a team led by an employee). Safe to repeat: a retry after a failure finishes the job. Answers how many records
    about them were deleted."""
    # cold start: loaded on first use
    from protu.crypto import keystore

    if not kind.is_person:
        raise errors.BadRequest(f"A {kind.entity} is not a person.", code="not_erasable")
    record = _get(principal, kind, record_id, None)
    about = _records_about(principal, kind, record_id)
    others = int(record.refs or 0) - len(about)
    if others > 0:
        raise errors.Conflict(
            f"This {kind.entity} is still used by {others} other record(s) (a team they lead); change those first.",
            code="in_use",
            details={"refs": others},
        )
    keystore.destroy_subject_key(principal.tenant_id, record_id)
    for start in range(0, len(about), ERASE_CHUNK):
        chunk = about[start : start + ERASE_CHUNK]
        touches = _Touches(principal)
        for other_kind, other in chunk:
            touches.changes(other_kind, other.id, _data(other), {})
        with Transaction(principal.tenant_id) as tx:
            touches.write(tx)
            for _, other in chunk:
                tx.delete(other, condition=Record.pk.exists())
            tx.audit(f"{kind.entity}.records_erased", f"{kind.entity}:{record_id}", details={"records": len(chunk)})
    fresh = _records(principal, kind).get(record_id, missing=_missing(kind))
    touches = _Touches(principal)
    touches.changes(kind, fresh.id, _data(fresh), {})
    with Transaction(principal.tenant_id) as tx:
        touches.write(tx)
        tx.delete(
            fresh, condition=(Record.version == fresh.version) & (Record.refs.does_not_exist() | (Record.refs == 0))
        )
        for entry in _search(principal, kind).entries(fresh.id, _data(fresh)):
            tx.delete(entry)  # their name and email as search words go with them
        tx.audit(f"{kind.entity}.erased", f"{kind.entity}:{record_id}", details={"records_about_them": len(about)})
    return len(about)


def erasure_preview(principal: Principal, kind: k.Kind, record_id: str) -> int:
    """How many records about a person an erasure would delete with them (an operator's dry run)."""
    if not kind.is_person:
        raise errors.BadRequest(f"A {kind.entity} is not a person.", code="not_erasable")
    _get(principal, kind, record_id, None)
    return len(_records_about(principal, kind, record_id))


def export_person(principal: Principal, kind: k.Kind, record_id: str) -> tuple[Any, dict[str, list[Any]]]:
    """Everything Protu holds about one person (GDPR access and portability): their record and every record about
    them (``kinds.about``), opened, by kind name (every kind that can be about them, empty ones too). Audited as a
    read of each sealed record and as ``<entity>.exported``; counts towards the unusual-access watch like any
    read."""

    if not kind.is_person:
        raise errors.BadRequest(f"A {kind.entity} is not a person.", code="not_exportable")
    record = _get(principal, kind, record_id, None)
    about = _records_about(principal, kind, record_id)
    person = out(principal, kind, record)
    records: dict[str, list[Any]] = {other.name: [] for other, _, _ in k.about(kind)}
    for other in {other.name: other for other, _ in about}.values():
        opened = [found for kind_of, found in about if kind_of is other]
        records[other.name] = [out(principal, other, found) for found in opened]
        if other.audit_reads and opened:
            _reads(principal, other, opened)
    audit.record(
        principal.tenant_id,
        f"{kind.entity}.exported",
        f"{kind.entity}:{record_id}",
        actor=principal.user_id,
        details={"records_about_them": len(about)},
    )
    return person, records


def _records_about(principal: Principal, kind: k.Kind, record_id: str) -> list[tuple[k.Kind, Record]]:
    """Every record about this person: of each kind whose subject may be a person of ``kind`` (``kinds.about``)."""
    found = []
    for other, name, where in k.about(kind):
        cursor = None
        while True:
            page, cursor = _records(principal, other).page(limit=100, cursor=cursor, where={name: record_id, **where})
            found += [(other, record) for record in page]
            if cursor is None:
                break
    return found


def _concurrent() -> errors.Conflict:
    return errors.Conflict(
        "A record this change touches was changed at the same moment. Try again.", code="concurrent_change"
    )


def _missing(kind: k.Kind) -> str:
    return f"No such {kind.entity.replace('_', ' ')}."


def _stale(record: Record) -> errors.Conflict:
    return errors.Conflict(
        "Someone changed this record since you loaded it. Reload it and apply your change again.",
        code="version_conflict",
        details={"version": int(record.version)},
    )
