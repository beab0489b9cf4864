"""Routes of the company's records, made from the declarations in ``protu.directory.kinds``: for each kind,
``GET``/``POST /api/<kind>`` and ``GET``/``PATCH``/``DELETE /api/<kind>/{id}``, each needing the kind's permission;
for a kind about a person (``Kind.subject``), ``GET /api/<person kind>/{id}/<kind>``; for a person, their export
(``POST /api/<person kind>/{id}/export``) with every kind about them. ``router`` holds the routes of the kinds
declared when this module is imported; ``build`` makes them again from ``kinds.KINDS`` as it is then.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from protu import errors
from protu.directory import kinds, service
from protu.http.routing import Call, Refusal, Router
from protu.identity import rbac
from protu.schemas import Strict


class EraseQuery(Strict):
    erase: bool = False


# What the routes of a kind can refuse beyond the generic errors (the API document lists it under each status).
CURSOR = Refusal(422, "invalid_cursor", "The cursor is not one a page of this list gave (next_cursor).", "cursor")
REFERENCE = Refusal(422, "invalid_reference", "A field names a record your company does not have.")
STALE = Refusal(409, "version_conflict", "The record changed since you read it: read it again.")
CONCURRENT = Refusal(409, "concurrent_change", "A record this change touches changed at the same moment: try again.")
IN_USE = Refusal(409, "in_use", "Other records still name it.")
GONE = (IN_USE, STALE, CONCURRENT)  # what deleting a record can be refused with


def _refusals(kind: kinds.Kind) -> tuple[Refusal, ...]:
    """What creating or changing a record of ``kind`` can be refused with."""
    found = (REFERENCE, CONCURRENT, *(Refusal(*refusal) for refusal in kind.refuses))  # Kind.validate's own
    if kind.quota:  # billing.MONTHLY: the plan's monthly limit of these creations
        limit = f"{kind.quota.removesuffix('s')}_limit_reached"
        found += (Refusal(402, limit, f"This month's {kind.quota} of the plan are used: upgrade to add more."),)
    return found


@cache
def page_type(kind: kinds.Kind) -> type:
    return msgspec.defstruct(
        f"{kind.out.__name__.removesuffix('Out')}Page", [("items", list[kind.out]), ("next_cursor", str | None)]
    )


def _first_changeable(kind: kinds.Kind) -> dict[str, Any]:
    """One field of the kind's example that a PATCH may change, for the PATCH example."""
    for name, value in kind.example.items():
        if name in kind.patch.__struct_fields__:
            return {name: value}
    return {}


def _routes(router: Router, kind: kinds.Kind) -> None:
    if kind.parent is None:
        collection, item, key = f"/api/{kind.name}", f"/api/{kind.name}/{{id}}", "id"
    else:  # /api/assessments/{id}/responses/{response_id}
        key = f"{kind.entity}_id"
        collection = f"/api/{kind.parent[0]}/{{id}}/{kind.name}"
        item = f"{collection}/{{{key}}}"
    page = page_type(kind)
    noun = kind.entity.replace("_", " ")

    def parent(call: Call) -> str | None:
        return call.params["id"] if kind.parent else None

    def list_records(call: Call) -> Any:
        items, cursor = service.listing(call.principal, kind, call.query, parent(call))
        return page(items, cursor)

    def create_record(call: Call) -> Any:
        return service.create(call.principal, kind, call.body, parent(call))

    def read_record(call: Call) -> Any:
        return service.read(call.principal, kind, call.params[key], parent(call))

    def update_record(call: Call) -> Any:
        return service.update(call.principal, kind, call.params[key], call.body, parent(call))

    def delete_record(call: Call) -> None:
        if call.query is not None and call.query.erase:
            if not rbac.allows(call.principal.role, "exports"):  # data-protection rights are the owners'
                raise errors.Forbidden("Only owners can erase a person.")
            service.erase(call.principal, kind, call.params[key])
        else:
            service.delete(call.principal, kind, call.params[key], parent(call))

    common = {"permission": kind.permission}
    ordered = [name for name in kind.indexed if name in kind.filters] + list(kind.contains)
    filters = (
        f" (filters: {', '.join(ordered)}; each is served by an index, not by reading every record: combined, the"
        " first of these given is the index and the others filter its pages)"
        if ordered
        else ""
    )
    router.get(
        collection, query=kind.query, response=page, summary=f"List {kind.name}{filters}.", errors=(CURSOR,), **common
    )(list_records)
    router.post(
        collection,
        body=kind.create,
        response=kind.out,
        status=201,
        summary=f"Create a {noun}.",
        example=kind.example,
        errors=_refusals(kind),
        **common,
    )(create_record)
    router.get(item, response=kind.out, summary=f"One {noun}.", **common)(read_record)
    router.patch(
        item,
        body=kind.patch,
        response=kind.out,
        summary=f"Change a {noun} (send the version you read).",
        example={"version": 1, **_first_changeable(kind)},
        errors=(STALE, *_refusals(kind)),
        **common,
    )(update_record)
    if kind.is_person:  # ?erase=true erases them and everything about them (GDPR)
        about = ", ".join(dict.fromkeys(other.name for other, _, _ in kinds.about(kind)))
        summary = (
            f"Delete a {noun} (refused while other records use it); with erase=true, erase them: their key, "
            f"every record about them ({about or 'none'}) and their record."
        )
        router.delete(item, status=204, query=EraseQuery, summary=summary, errors=GONE, **common)(delete_record)
    else:
        summary = f"Delete a {noun} (refused while other records use it)."
        router.delete(item, status=204, summary=summary, errors=GONE, **common)(delete_record)


def _export_route(router: Router, kind: kinds.Kind) -> None:
    """``POST /api/<person kind>/{id}/export`` (owners): everything held about one person, opened, as JSON: their
    record (``person``) and, under each kind's name, its records about them (``kinds.about``)."""
    about = list({other.name: other for other, _, _ in kinds.about(kind)}.values())
    answer = msgspec.defstruct(
        f"{kind.out.__name__.removesuffix('Out')}Export",
        [("exported_at", int), ("person", kind.out), *((other.name, list[other.out]) for other in about)],
    )

    def export(call: Call) -> Any:
        # cold start: loaded on first use
        import time

        person, records = service.export_person(call.principal, kind, call.params["id"])
        return answer(int(time.time()), person, *(records[other.name] for other in about))

    router.post(
        f"/api/{kind.name}/{{id}}/export",
        response=answer,
        permission="exports",
        summary=f"Everything held about one {kind.entity}, opened (data-protection access; each read is audited).",
    )(export)


def _subject_routes(router: Router, kind: kinds.Kind) -> None:
    """``GET /api/<person kind>/{id}/<kind>`` for each kind of person a record may be about (``Kind.subjects``): a
    candidate's or an employee's responses across every assessment, for their detail page."""
    page = page_type(kind)
    audited = " (each read is audited)" if kind.audit_reads else ""
    for target, _, _ in kind.subjects():
        subject = kinds.KINDS[target]

        def about(call: Call, subject: kinds.Kind = subject) -> Any:
            items, cursor = service.about_subject(call.principal, kind, subject, call.params["id"], call.query)
            return page(items, cursor)

        router.get(
            f"/api/{subject.name}/{{id}}/{kind.name}",
            query=kinds.PageQuery,
            response=page,
            errors=(CURSOR,),
            permission=kind.permission,
            summary=f"The {kind.name} about one {subject.entity}{audited}.",
        )(about)


def build() -> Router:
    """The routes of every kind declared now (``kinds.KINDS``), on a router of their own for ``routing.install``."""
    router = Router("directory")
    for kind in kinds.KINDS.values():
        _routes(router, kind)
        if kind.subjects():
            _subject_routes(router, kind)
        if kind.is_person:
            _export_route(router, kind)
    return router


router = build()
