"""Names for the ids an audit page shows: the stored events keep ids (a person erased stays an id), the page shows
who and what they were when it is read.

``resolve`` answers, for the ids it can name, the user's name (or email) or the record's name or title; ids it cannot
(gone, erased, another company's, not an id) are left out. Bounded: one query of the company's users and one
``BatchGetItem`` per 100 record ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from protu.directory import kinds
from protu.directory.store import Record, partition
from protu.identity.models import User

ID = re.compile(r"^[a-z]+-[0-9a-f]{20}$")
MAX_IDS = 500


def ids_in(events: Iterable[dict]) -> set[str]:
    """The ids an audit page names: actors, targets (``kind:id``) and the subjects and records in details."""
    found: set[str] = set()
    for event in events:
        found.add(str(event.get("actor") or ""))
        found.add(str(event.get("target") or "").partition(":")[2])
        details = event.get("details") or {}
        for name in ("subjects", "records"):
            if isinstance(details.get(name), list):
                found.update(str(value) for value in details[name])
        for name in ("subject_id", "job_role_id", "assessment_id"):
            if isinstance(details.get(name), str):
                found.add(details[name])
    return {value for value in found if ID.match(value) or value.startswith("u-")}


def resolve(tenant_id: str, ids: set[str]) -> dict[str, str]:
    """Names of the company's users and records among ``ids`` (at most ``MAX_IDS`` of them)."""
    wanted = sorted(ids)[:MAX_IDS]
    names: dict[str, str] = {}
    if any(value.startswith("u-") for value in wanted):
        for user in User.members(tenant_id):
            if user.id in ids:
                names[user.id] = user.name or user.email
    by_prefix = {kind.id_prefix: kind for kind in kinds.KINDS.values()}
    keys = []
    for value in wanted:
        kind = by_prefix.get(value.split("-", 1)[0])
        if kind is not None and ID.match(value):
            keys.append((partition(tenant_id, kind.prefix), value))
    for start in range(0, len(keys), 100):
        for record in Record.batch_get(keys[start : start + 100]):
            data = record.data.as_dict() if hasattr(record.data, "as_dict") else dict(record.data or {})
            label = data.get("name") or data.get("title")
            if isinstance(label, str) and label:
                names[record.id] = label
    return names
