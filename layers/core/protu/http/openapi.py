"""The OpenAPI 3.1 document of an app, generated from the same declarations that route and validate requests.

Each ``Endpoint`` gives its path, method, permission, body and query schemas (msgspec Structs, which validate the
requests) and its answer (``response=`` or the handler's return annotation). ``msgspec.json.schema_components``
turns those types into JSON Schema (2020-12, what OpenAPI 3.1 uses), so the document cannot drift from the
validation: it is the same types. A rule a function enforces on a field is stated by its type as well
(``protu.schemas.documented``, written over msgspec's own schema here). Each operation lists every status it can
answer: those every operation of its shape can (``_errors``) and the refusals its route declares
(``Router.route(errors=...)``, under ``x-refusals``); a creation links to the routes of the record it made
(``links``). Served at ``GET /api/openapi.json``; built once per process, on first request.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from typing import Any

import msgspec

from protu.http.routing import PUBLIC, Call, Endpoint, Refusal, Router, install
from protu.schemas import DOCUMENTED

_PARAM = re.compile(r"{([^}]+)}")
REDIRECTS = (302, 303)
_NO_ANSWER = {None, type(None)}


class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    details: Any = None


class ErrorBody(msgspec.Struct):
    """Every error the API answers: a stable machine ``code`` and a human ``message``."""

    error: ErrorDetail


def answer_type(ep: Endpoint) -> Any:
    """What a successful call answers: ``response=`` if declared, else the handler's return annotation."""
    if ep.response is not None:
        return ep.response
    try:
        hints = typing.get_type_hints(ep.handler)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve documents as "any JSON"
        return Any
    return hints.get("return", Any)


def _members(kind: Any) -> list[Any]:
    """The alternatives of a union of Structs (``SignedInOut | MfaRequiredOut``), which msgspec documents only when
    tagged; other types stand alone. The document shows such an answer as ``oneOf`` its members."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and all(
        isinstance(arg, type) and issubclass(arg, msgspec.Struct) for arg in typing.get_args(kind)
    ):
        return list(typing.get_args(kind))
    return [kind]


def _errors(ep: Endpoint) -> dict[str, tuple[str, list[Refusal]]]:
    """The error statuses an endpoint can answer: those every endpoint of its shape can (by its body, query, path
    parameters, permission and method) and the refusals it declares (``Router.route(errors=...)``), each status
    with its description and its declared refusals."""
    found: dict[str, str] = {
        "413": "The request is too large (details.max_bytes).",  # before any routing: every endpoint
        "422": "The request does not match the schema (details.field names the field)"
        + ("." if ep.query is not None else "; this endpoint takes no query string (unexpected_query)."),
        "503": "A service the API depends on is unavailable.",
    }
    if ep.body is None:
        found["400"] = "This endpoint takes no request body (unexpected_body)."
    elif ep.form:  # an HTML form post (a SAML response)
        found["400"] = "The form could not be read (invalid_form)."
        found["415"] = "The body is not application/x-www-form-urlencoded."
    elif ep.body is not bytes:  # a webhook reads its own bytes: its refusals are declared
        found["400"] = "The body is not JSON (invalid_json)."
        found["415"] = "The body is not application/json."
    if ep.permission != PUBLIC:
        found |= {"401": "Not signed in, or the session ended.", "403": "The role may not do this."}
    elif ep.method == "POST":
        found["401"] = "The credentials, token or cookie were not accepted."
    if _PARAM.search(ep.path):
        found["404"] = "No such record in your company."
    if ep.method in {"POST", "PATCH", "PUT", "DELETE"}:
        found["409"] = "The change conflicts with the current state."
        found["429"] = "Too many requests."
    declared: dict[str, list[Refusal]] = {}
    for refusal in ep.errors:
        declared.setdefault(str(refusal.status), []).append(refusal)
        found.setdefault(str(refusal.status), "")
    answers = {}
    for status, description in found.items():
        refusals = declared.get(status, [])
        said = " ".join(f"{r.code}{f' ({r.field})' if r.field else ''}: {r.why}" for r in refusals if r.why)
        answers[status] = (" ".join(part for part in (description, said) if part) or "Refused.", refusals)
    return answers


def _documented(schema: Any) -> Any:
    """The schema with the rules ``protu.schemas.documented`` attached to its types written over msgspec's own."""
    if isinstance(schema, list):
        return [_documented(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _documented(value) for key, value in schema.items() if key != DOCUMENTED}
    return out | schema.get(DOCUMENTED, {})


def _success(ep: Endpoint) -> Any:
    """The Struct a successful call answers, when it is one."""
    answer = answer_type(ep)
    return answer if isinstance(answer, type) and issubclass(answer, msgspec.Struct) else None


def links(endpoints: list[Endpoint]) -> dict[tuple[str, str], dict[str, Any]]:
    """OpenAPI links: what a creation's answer lets a client call next, so that a stateful client (schemathesis'
    stateful phase) reaches the routes of the records it made. A ``POST`` answering a record with an ``id`` links
    to every route below the collection the record lives in (``CREATED_IN``, else its own path): ``POST /api/roles``
    -> ``GET``/``PATCH``/``DELETE /api/roles/{id}``; ``POST /api/assessments/{id}/responses`` ->
    ``/api/assessments/{id}/responses/{response_id}`` (the assessment from the request, the response from the
    answer); a change that names the version it read gets the created record's (``requestBody``, which clients such
    as schemathesis merge into the body they send). Keyed by the creation's (method, path); each value is its
    success response's ``links``."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for ep in endpoints:
        answer = _success(ep)
        if ep.method != "POST" or answer is None or "id" not in answer.__struct_fields__:
            continue
        collection = CREATED_IN.get(ep.path, ep.path)
        inherited = _PARAM.findall(collection)
        for target in endpoints:
            if target is ep or not target.path.startswith(collection + "/{"):
                continue
            names = _PARAM.findall(target.path)
            own = names[len(inherited)]
            parameters = {name: f"$request.path.{name}" for name in inherited if name in _PARAM.findall(ep.path)}
            parameters[own] = "$response.body#/id"
            if set(parameters) != set(names):
                continue
            link: dict[str, Any] = {"operationId": _operation_id(target), "parameters": parameters}
            fields = getattr(target.body, "__struct_fields__", ())
            if "version" in fields and "version" in answer.__struct_fields__:  # a change names the version it read
                link["requestBody"] = {"version": "$response.body#/version"}
            found.setdefault((ep.method, ep.path), {})[_operation_id(target)] = link
    return found


CREATED_IN = {"/api/users/invitations": "/api/users"}
"""Creations whose record lives in another collection than their own path: an invitation makes a user."""


def _operation_id(ep: Endpoint) -> str:
    return f"{ep.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', ep.path.lower()).strip('_')}"


def document(endpoints: Iterable[Endpoint], *, title: str = "Protu API", version: str = "1") -> dict[str, Any]:
    endpoints = sorted(endpoints, key=lambda ep: (ep.path, ep.method))
    kinds: list[Any] = [ErrorBody]
    for ep in endpoints:
        for kind in (ep.body, ep.query, answer_type(ep)):
            if kind not in _NO_ANSWER:
                kinds.extend(_members(kind))
    schemas, components = msgspec.json.schema_components(kinds, ref_template="#/components/schemas/{name}")
    schemas, components = _documented(schemas), _documented(components)
    by_member = dict(zip(kinds, schemas, strict=False))  # equal types (list[X] twice) share one schema

    def schema_of(kind: Any) -> dict[str, Any]:
        members = _members(kind)
        if len(members) == 1:
            return by_member[members[0]]
        return {"oneOf": [by_member[member] for member in members]}

    error_ref = schema_of(ErrorBody)

    paths: dict[str, dict[str, Any]] = {}
    linked = links(endpoints)
    for ep in endpoints:
        operation: dict[str, Any] = {
            "operationId": _operation_id(ep),
            "summary": ep.summary,
            "tags": [ep.tag],
            "security": [] if ep.permission == PUBLIC else [{"bearer": []}],
            "x-permission": ep.permission,
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
            for name in _PARAM.findall(ep.path)
        ]
        if ep.query is not None:
            query_schema = components.get(getattr(ep.query, "__name__", ""), {})
            required = set(query_schema.get("required", []))
            for name, prop in query_schema.get("properties", {}).items():
                parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        if parameters:
            operation["parameters"] = parameters
        if ep.body is not None:
            content: dict[str, Any] = {"schema": schema_of(ep.body)}
            if ep.example is not None:
                content["example"] = ep.example
            kind = "application/x-www-form-urlencoded" if ep.form else "application/json"
            operation["requestBody"] = {"required": True, "content": {kind: content}}
        answer = answer_type(ep)
        success: dict[str, Any] = {"description": ep.summary or "Done."}
        if ep.status != 204 and answer not in _NO_ANSWER:
            success["content"] = {"application/json": {"schema": schema_of(answer)}}
        if ep.produces:  # a document that is not JSON (the SAML service provider's metadata)
            success["content"] = {ep.produces: {"schema": {"type": "string"}}}
        if (ep.method, ep.path) in linked:
            success["links"] = linked[ep.method, ep.path]
        done = 204 if answer in _NO_ANSWER and not ep.produces else ep.status  # nothing answered: 204 (routing)
        if ep.status in REDIRECTS:  # a browser's way through (single sign-on): where to, in Location
            done = ep.status
            success["headers"] = {"Location": {"schema": {"type": "string"}, "description": "Where the browser goes."}}
        responses = {str(done): success}
        for status, (description, refusals) in sorted(_errors(ep).items()):
            responses[status] = {"description": description, "content": {"application/json": {"schema": error_ref}}}
            if refusals:  # what a request the schemas allow can still be refused with, and when
                responses[status]["x-refusals"] = [
                    {"code": r.code, **({"field": r.field} if r.field else {}), "description": r.why} for r in refusals
                ]
        operation["responses"] = responses
        paths.setdefault(ep.path, {})[ep.method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Protu's API for its single-page app. Bodies are JSON; errors are "
            '{"error": {"code", "message", "details"?}} with a stable code.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The access token from sign-in or refresh (10 minutes).",
                }
            },
        },
    }


def install_document_route(app: Any) -> None:
    """Register ``GET /api/openapi.json`` on ``app``, describing every route the app has (itself included)."""

    cache: dict[str, Any] = {}
    meta = Router("meta")

    @meta.get("/api/openapi.json", permission=PUBLIC)
    def openapi(call: Call) -> dict[str, Any]:
        """This document: every route of the API, its permission, and its request and answer schemas."""
        if "doc" not in cache:
            cache["doc"] = document(app.endpoints, version=_version())
        return cache["doc"]

    install(app, meta)


def _version() -> str:
    # cold start: loaded on first use
    import os

    return os.environ.get("PROTU_RELEASE", "dev")
