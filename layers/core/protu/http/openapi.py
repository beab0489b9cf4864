"""The OpenAPI 3.1 document of an app, generated from the same declarations that route and validate requests.

Each ``Endpoint`` gives its path, method, permission, body and query schemas (msgspec Structs, which validate the
requests) and its answer (``response=`` or the handler's return annotation). ``msgspec.json.schema_components``
turns those types into JSON Schema (2020-12, what OpenAPI 3.1 uses), so the document cannot drift from the
validation: it is the same types. Served at ``GET /api/openapi.json``; built once per process, on first request.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from typing import Any

import msgspec

from protu.http.routing import PUBLIC, Endpoint, Router

_PARAM = re.compile(r"{([^}]+)}")
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


def _errors(ep: Endpoint) -> dict[str, str]:
    """The error statuses an endpoint can answer, by what it declares."""
    found = {"503": "A service the API depends on is unavailable."}
    if ep.body is not None:
        found |= {
            "400": "The body is not JSON.",
            "413": "The body is too large.",
            "415": "The body is not application/json.",
        }
    if ep.body is not None or ep.query is not None or _PARAM.search(ep.path):
        found["422"] = "The request does not match the schema (details.field names the field)."
    if ep.permission != PUBLIC:
        found |= {"401": "Not signed in, or the session ended.", "403": "The role may not do this."}
    elif ep.method == "POST":
        found["401"] = "The credentials, token or cookie were not accepted."
    if _PARAM.search(ep.path):
        found["404"] = "No such record in your company."
    if ep.method in {"POST", "PATCH", "PUT", "DELETE"}:
        found["409"] = "The change conflicts with the current state."
        found["429"] = "Too many requests."
    return found


def document(endpoints: Iterable[Endpoint], *, title: str = "Protu API", version: str = "1") -> dict[str, Any]:
    endpoints = sorted(endpoints, key=lambda ep: (ep.path, ep.method))
    kinds: list[Any] = [ErrorBody]
    for ep in endpoints:
        for kind in (ep.body, ep.query, answer_type(ep)):
            if kind not in _NO_ANSWER:
                kinds.extend(_members(kind))
    schemas, components = msgspec.json.schema_components(kinds, ref_template="#/components/schemas/{name}")
    by_member = dict(zip(kinds, schemas, strict=False))  # equal types (list[X] twice) share one schema

    def schema_of(kind: Any) -> dict[str, Any]:
        members = _members(kind)
        if len(members) == 1:
            return by_member[members[0]]
        return {"oneOf": [by_member[member] for member in members]}

    error_ref = schema_of(ErrorBody)

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        operation: dict[str, Any] = {
            "operationId": f"{ep.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', ep.path.lower()).strip('_')}",
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
            operation["requestBody"] = {"required": True, "content": {"application/json": content}}
        answer = answer_type(ep)
        success: dict[str, Any] = {"description": ep.summary or "Done."}
        if ep.status != 204 and answer not in _NO_ANSWER:
            success["content"] = {"application/json": {"schema": schema_of(answer)}}
        responses = {str(ep.status): success}
        for status, description in sorted(_errors(ep).items()):
            responses[status] = {"description": description, "content": {"application/json": {"schema": error_ref}}}
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
    from protu.http.routing import Call, install

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
    import os

    return os.environ.get("PROTU_RELEASE", "dev")
