"""Routes of the company's records, made from the declarations in ``protu.directory.kinds``: for each kind,
``GET``/``POST /api/<kind>`` and ``GET``/``PATCH``/``DELETE /api/<kind>/{id}``, each needing the kind's permission.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from protu import errors
from protu.directory import kinds, service
from protu.http.routing import Call, Router
from protu.identity import rbac

router = Router("directory")


class EraseQuery(kinds.Strict):
    erase: bool = False


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


def _routes(kind: kinds.Kind) -> None:
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
    filters = f" (filters: {', '.join(kind.filters)})" if kind.filters else ""
    router.get(collection, query=kind.query, response=page, summary=f"List {kind.name}{filters}.", **common)(
        list_records
    )
    router.post(
        collection,
        body=kind.create,
        response=kind.out,
        status=201,
        summary=f"Create a {noun}.",
        example=kind.example,
        **common,
    )(create_record)
    router.get(item, response=kind.out, summary=f"One {noun}.", **common)(read_record)
    router.patch(
        item,
        body=kind.patch,
        response=kind.out,
        summary=f"Change a {noun} (send the version you read).",
        example={"version": 1, **_first_changeable(kind)},
        **common,
    )(update_record)
    if kind.subject == "id":  # a person: ?erase=true erases them and everything about them (GDPR)
        summary = (
            f"Delete a {noun} (refused while other records use it); with erase=true, erase them: their key, "
            "their assessment responses and their record."
        )
        router.delete(item, status=204, query=EraseQuery, summary=summary, **common)(delete_record)
    else:
        router.delete(item, status=204, summary=f"Delete a {noun} (refused while other records use it).", **common)(
            delete_record
        )


def _export_route(kind: kinds.Kind) -> None:
    """``POST /api/<person kind>/{id}/export`` (owners): everything held about one person, opened, as JSON."""
    responses = kinds.RESPONSES
    answer = msgspec.defstruct(
        f"{kind.out.__name__.removesuffix('Out')}Export",
        [("exported_at", int), ("person", kind.out), ("responses", list[responses.out])],
    )

    def export(call: Call) -> Any:
        import time

        person, records = service.export_person(call.principal, kind, call.params["id"])
        return answer(int(time.time()), person, [r for r in records if isinstance(r, responses.out)])

    router.post(
        f"/api/{kind.name}/{{id}}/export",
        response=answer,
        permission="exports",
        summary=f"Everything held about one {kind.entity}, opened (data-protection access; each read is audited).",
    )(export)


def _subject_routes(kind: kinds.Kind) -> None:
    """``GET /api/<person kind>/{id}/<kind>`` for each polymorphic reference: a candidate's or an employee's
    responses across every assessment, for their detail page."""
    page = page_type(kind)
    for name, (_, targets) in kind.poly_refs.items():
        for target in targets.values():
            subject = kinds.KINDS[target]

            def about(call: Call, subject: kinds.Kind = subject, name: str = name) -> Any:
                items, cursor = service.about_subject(
                    call.principal, kind, name, subject, call.params["id"], call.query
                )
                return page(items, cursor)

            router.get(
                f"/api/{subject.name}/{{id}}/{kind.name}",
                query=kinds.PageQuery,
                response=page,
                permission=kind.permission,
                summary=f"The {kind.name} about one {subject.entity} (each read is audited).",
            )(about)


for _kind in kinds.KINDS.values():
    _routes(_kind)
    if _kind.poly_refs:
        _subject_routes(_kind)
    if _kind.subject == "id":
        _export_route(_kind)
