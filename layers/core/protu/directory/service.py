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

from protu import errors
from protu.directory import kinds as k
from protu.directory.store import Record, Records, clean, new_id
from protu.store.tx import Transaction


def _records(principal: Any, kind: k.Kind) -> Records:
    return Records(principal.tenant_id, kind.prefix)


def _seal(principal: Any, kind: k.Kind, record_id: str, values: dict[str, Any]) -> bytes | None:
    if not kind.sensitive:
        return None
    from protu import crypto

    return crypto.encrypt_fields(
        principal.tenant_id, kind.entity, record_id, {name: values.get(name) for name in kind.sensitive}
    )


def _unseal(principal: Any, kind: k.Kind, record: Record) -> dict[str, Any]:
    if not kind.sensitive or record.sealed is None:
        return {}
    from protu import crypto

    return crypto.decrypt_fields(principal.tenant_id, kind.entity, record.id, record.sealed, kind.sensitive)


def out(principal: Any, kind: k.Kind, record: Record) -> Any:
    """The answer for one record: its fields (sensitive ones opened), id, version and times."""
    data = _data(record)
    values = {name: data.get(name, default) for name, default in _defaults(kind).items()}
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
    fields = msgspec.inspect.type_info(kind.create).fields
    return {f.name: None if f.default is msgspec.inspect.NODEFAULT else f.default for f in fields}


def _data(record: Record) -> dict[str, Any]:
    data = record.data
    return dict(data.as_dict() if hasattr(data, "as_dict") else data or {})


def _check_refs(principal: Any, kind: k.Kind, values: dict[str, Any], tx: Transaction) -> list[tuple[str, str]]:
    """Every reference in ``values`` names a record of the caller's company (else 422); answers the targets, and
    adds to ``tx`` the condition that each still exists when the write commits."""
    targets = []
    for name, target_kind in kind.refs.items():
        target_id = values.get(name)
        if not target_id:
            continue
        records = Records(principal.tenant_id, k.KINDS[target_kind].prefix)
        if records.find(target_id) is None:
            raise errors.ValidationFailed(
                f"No {k.KINDS[target_kind].entity.replace('_', ' ')} with this id in your company.",
                code="invalid_reference",
                details={"field": name},
            )
        targets.append((target_kind, target_id))
    return targets


def _ref_update(principal: Any, tx: Transaction, target_kind: str, target_id: str, delta: int) -> None:
    pk, sk = Records(principal.tenant_id, k.KINDS[target_kind].prefix).key(target_id)
    condition = Record.pk.exists() if delta > 0 else Record.refs >= -delta
    tx.update(Record(pk, sk), [Record.refs.add(delta)], condition=condition)


def create(principal: Any, kind: k.Kind, body: Any) -> Any:
    values = msgspec.structs.asdict(body)
    records = _records(principal, kind)
    record_id = new_id(kind.id_prefix)
    plain = {name: v for name, v in values.items() if name not in kind.sensitive}
    record = records.new(record_id, principal.user_id, clean(plain), _seal(principal, kind, record_id, values))
    with Transaction(principal.tenant_id) as tx:
        for target_kind, target_id in _check_refs(principal, kind, values, tx):
            _ref_update(principal, tx, target_kind, target_id, +1)
        tx.save(record, condition=Record.pk.does_not_exist())
        tx.audit(f"{kind.entity}.created", f"{kind.entity}:{record_id}", details={"fields": sorted(clean(values))})
    return out(principal, kind, record)


def read(principal: Any, kind: k.Kind, record_id: str) -> Any:
    return out(principal, kind, _records(principal, kind).get(record_id, missing=_missing(kind)))


def listing(principal: Any, kind: k.Kind, query: Any) -> tuple[list[Any], str | None]:
    condition = None
    for name in kind.filters:
        wanted = getattr(query, name, None)
        if wanted is not None:
            term = Record.data[name] == wanted
            condition = term if condition is None else condition & term
    found, cursor = _records(principal, kind).page(limit=query.limit, cursor=query.cursor, condition=condition)
    return [out(principal, kind, record) for record in found], cursor


def update(principal: Any, kind: k.Kind, record_id: str, patch: Any) -> Any:
    records = _records(principal, kind)
    record = records.get(record_id, missing=_missing(kind))
    if int(record.version) != patch.version:
        raise _stale(record)
    current = msgspec.structs.asdict(out(principal, kind, record))
    changes = {name: v for name, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}
    changes.pop("version")
    changed = sorted(name for name, v in changes.items() if current.get(name) != v)
    if not changed:
        return out(principal, kind, record)
    values = {name: current.get(name) for name in kind.fields()} | changes
    plain = clean({name: v for name, v in values.items() if name not in kind.sensitive})
    actions = [
        Record.data.set(plain),
        Record.version.set(int(record.version) + 1),
        Record.updated_at.set(int(time.time())),
        Record.updated_by.set(principal.user_id),
    ]
    if any(name in kind.sensitive for name in changed):
        actions.append(Record.sealed.set(_seal(principal, kind, record.id, values)))
    try:
        with Transaction(principal.tenant_id) as tx:
            for name in changed:
                if name in kind.refs:
                    if values.get(name):
                        _check_refs(principal, kind, {name: values[name]}, tx)
                        _ref_update(principal, tx, kind.refs[name], values[name], +1)
                    if current.get(name):
                        _ref_update(principal, tx, kind.refs[name], current[name], -1)
            tx.update(record, actions, condition=Record.version == record.version)
            tx.audit(f"{kind.entity}.updated", f"{kind.entity}:{record.id}", details={"fields": changed})
    except errors.Conflict:
        fresh = records.find(record.id)
        if fresh is None:
            raise errors.NotFound(_missing(kind)) from None
        raise _stale(fresh) from None
    return out(principal, kind, records.get(record.id))


def delete(principal: Any, kind: k.Kind, record_id: str) -> None:
    records = _records(principal, kind)
    record = records.get(record_id, missing=_missing(kind))
    data = _data(record)
    try:
        with Transaction(principal.tenant_id) as tx:
            for name, target_kind in kind.refs.items():
                if data.get(name):
                    _ref_update(principal, tx, target_kind, data[name], -1)
            in_use = Record.refs.does_not_exist() | (Record.refs == 0)
            tx.delete(record, condition=in_use & (Record.version == record.version))
            tx.audit(f"{kind.entity}.deleted", f"{kind.entity}:{record.id}")
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
        raise _stale(fresh) from None


def _missing(kind: k.Kind) -> str:
    return f"No such {kind.entity.replace('_', ' ')}."


def _stale(record: Record) -> errors.Conflict:
    return errors.Conflict(
        "Someone changed this record since you loaded it. Reload it and apply your change again.",
        code="version_conflict",
        details={"version": int(record.version)},
    )
