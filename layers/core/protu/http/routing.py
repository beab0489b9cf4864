"""Endpoints: one declaration gives the route, its permission, its validation and its OpenAPI entry.

A handler is registered through ``Router`` only, and ``Router.route`` has no default for ``permission``: a route
cannot exist without saying who may call it. The view wrapper parses and validates the body and the query string
with msgspec (unknown fields refused), calls the handler with a ``Call``, encodes its answer, and turns every
error into the JSON error shape: a handler never builds an error body and never leaks a stack trace.
"""

from __future__ import annotations

import datetime
import re
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from botocore.exceptions import BotoCoreError, ClientError
from chalice import Response
from pynamodb.exceptions import PynamoDBException

from protu import errors
from protu.audit import context as audit_context
from protu.identity.rbac import PERMISSIONS
from protu.logging import get_logger
from protu.principal import Principal

log = get_logger(__name__)

PUBLIC = "public"
"""The permission of routes anybody may call (sign-in, health, security reports)."""


class Call(msgspec.Struct):
    """What a handler sees of one request."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    query: Any = None
    source_ip: str = ""
    user_agent: str = ""
    request_id: str = ""
    principal: Principal | None = None  # set by the authorizer on non-public routes
    status: int | None = None
    """A handler sets this to answer with another status than the endpoint's declared one."""
    response_headers: dict[str, str] = msgspec.field(default_factory=dict)


class Refusal(msgspec.Struct, frozen=True):
    """An error a route can answer beyond the ones every route of its shape can (``protu.http.openapi``): its status,
    its stable ``code``, when it happens (``why``, for the API document) and, for a rule about one field that the
    schema cannot state (a relation between two fields, a total over a list), the ``field`` its 422 names."""

    status: int
    code: str
    why: str = ""
    field: str | None = None

    @classmethod
    def of(cls, declared: Refusal | type[errors.ProtuError]) -> Refusal:
        if isinstance(declared, Refusal):
            return declared
        return cls(declared.status, declared.code, declared.message)


class Endpoint(msgspec.Struct, frozen=True):
    method: str
    path: str
    handler: Callable[[Call], Any]
    permission: str
    body: type | None = None
    query: type | None = None
    response: Any = None
    status: int = 200
    summary: str = ""
    tag: str = ""
    example: Any = None
    errors: tuple[Refusal, ...] = ()
    form: bool = False  # the body is an HTML form (application/x-www-form-urlencoded), not JSON
    produces: str = ""  # the media type of a successful answer that is not JSON (the handler answers a Response)


class Router:
    """The endpoints of one area (health, auth, users...); ``install`` registers them on an app."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        permission: str,
        body: type | None = None,
        query: type | None = None,
        response: Any = None,
        status: int = 200,
        summary: str = "",
        example: Any = None,
        errors: tuple[Refusal | type[errors.ProtuError], ...] = (),
        form: bool = False,
        produces: str = "",
    ) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
        """Declare an endpoint. ``example`` is a request body the OpenAPI document shows (it must validate);
        ``errors`` the refusals it can answer beyond the generic ones (``Refusal``, or a ``ProtuError`` class for its
        status and code): a plan limit, a stale version, a token that is not (or no longer) valid, a rule no schema
        can state. The API document lists them under their statuses. ``form``: the body is an HTML form post
        (``application/x-www-form-urlencoded``, each field once; a SAML response comes so), decoded into ``body``.
        ``produces``: the media type of an answer that is not JSON (an XML document), for the API document."""
        if not permission:
            raise ValueError(f"{method} {path}: every route needs a permission")

        def register(handler: Callable[[Call], Any]) -> Callable[[Call], Any]:
            self.endpoints.append(
                Endpoint(
                    method.upper(),
                    path,
                    handler,
                    permission,
                    body,
                    query,
                    response,
                    status,
                    summary or (handler.__doc__ or "").strip().split("\n")[0],
                    self.tag,
                    example,
                    tuple(Refusal.of(declared) for declared in errors),
                    form,
                    produces,
                )
            )
            return handler

        return register

    def get(self, path: str, **kw: Any):
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any):
        return self.route("POST", path, **kw)

    def patch(self, path: str, **kw: Any):
        return self.route("PATCH", path, **kw)

    def put(self, path: str, **kw: Any):
        return self.route("PUT", path, **kw)

    def delete(self, path: str, **kw: Any):
        return self.route("DELETE", path, **kw)


def install(app: Any, *routers: Router, authorize: Callable[[Call, Endpoint], Any] | None = None) -> list[Endpoint]:
    """Register every endpoint of ``routers`` on the Chalice ``app``.

    ``authorize(call, endpoint)`` resolves the caller for non-public routes and raises when they may not call it;
    an app that has non-public routes must pass it (startup fails otherwise).
    """

    endpoints = [ep for router in routers for ep in router.endpoints]
    grouped: dict[str, dict[str, Endpoint]] = {}
    for ep in endpoints:
        if ep.permission != PUBLIC and ep.permission not in PERMISSIONS:
            raise RuntimeError(f"{ep.method} {ep.path} needs '{ep.permission}', which the RBAC table does not know")
        if ep.permission != PUBLIC and authorize is None:
            raise RuntimeError(f"{ep.method} {ep.path} needs '{ep.permission}' but the app has no authorizer")
        if ep.method in grouped.setdefault(ep.path, {}):
            raise RuntimeError(f"{ep.method} {ep.path} is declared twice")
        grouped[ep.path][ep.method] = ep
    for path, by_method in grouped.items():
        for method, ep in by_method.items():
            app.route(path, methods=[method], content_types=["*/*"])(_view(app, ep, authorize))
    existing = getattr(app, "endpoints", [])
    app.endpoints = existing + endpoints
    return endpoints


def _view(app: Any, ep: Endpoint, authorize: Callable[[Call, Endpoint], Any] | None) -> Callable[..., Response]:
    def view(**params: str) -> Response:
        authorised: dict[str, str] = {}  # what the authorizer said (the session's idle time) goes on errors too
        try:
            request = app.current_request
            call = _call(request, params)
            if ep.permission != PUBLIC:
                try:
                    call.principal = authorize(call, ep)  # type: ignore[misc]
                finally:
                    authorised = dict(call.response_headers)
            call.query = _decode_query(request, ep.query)
            call.body = _decode_body(request, ep.body, form=ep.form)
            actor = call.principal.user_id if call.principal is not None else "anonymous"
            with audit_context.bound(actor=actor, request_id=call.request_id, source_ip=call.source_ip):
                result = ep.handler(call)
            if isinstance(result, Response):
                result.headers = {**call.response_headers, **result.headers}
                return result
            if result is None:
                return Response(body="", status_code=call.status or 204, headers=call.response_headers)
            return Response(
                body=msgspec.json.encode(result).decode(),
                status_code=call.status or ep.status,
                headers={"Content-Type": "application/json", **call.response_headers},
            )
        except errors.ProtuError as error:
            return _error(error, authorised)
        except Exception as error:  # noqa: BLE001 - last line of defence: a JSON error, never a stack trace
            return _error(unexpected(error), authorised)

    view.__name__ = f"{ep.method.lower()}_{ep.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"
    return view


def unexpected(error: Exception) -> errors.ProtuError:
    """Map an error that escaped the domain: AWS outages to 503, anything else to a logged 500."""

    if isinstance(error, BotoCoreError | ClientError | PynamoDBException):
        log.warning("upstream failure", extra={"error_type": type(error).__name__})
        return errors.ServiceUnavailable()
    log.error("unhandled error", exc_info=error)  # Sentry's logging integration reports it (redacted)
    internal = errors.ProtuError("Something went wrong on our side.", code="internal_error")
    internal.status = 500
    return internal


def _error(error: errors.ProtuError, extra: dict[str, str] | None = None) -> Response:
    headers = {"Content-Type": "application/json", **(extra or {}), **error.headers}
    return Response(body=msgspec.json.encode(error.to_body()).decode(), status_code=error.status, headers=headers)


def _call(request: Any, params: dict[str, str]) -> Call:
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    identity = (request.context or {}).get("identity") or {}
    return Call(
        method=request.method,
        path=request.path,
        params=params,
        headers=headers,
        source_ip=identity.get("sourceIp") or "",
        user_agent=headers.get("user-agent", "")[:512],
        request_id=(request.context or {}).get("requestId", ""),
    )


def _decode_body(request: Any, schema: type | None, *, form: bool = False) -> Any:
    raw = request.raw_body
    if schema is bytes:  # the handler reads the body itself (webhooks verify a signature over the exact bytes)
        return raw or b""
    if schema is None:
        if raw and raw.strip():
            raise errors.BadRequest("This endpoint takes no request body.", code="unexpected_body")
        return None
    if form:  # an empty form is a form: its fields say what is missing
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        return _decode_form(raw or b"", content_type, schema)
    if not raw or not raw.strip():
        raise errors.ValidationFailed("A JSON request body is required.", code="body_required")
    content_type = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise errors.UnsupportedMediaType()
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):  # bytes that are not UTF-8 are not JSON either
        raise errors.InvalidJson() from None
    try:
        return msgspec.convert(_whole_numbers(value), type=schema, strict=True)
    except msgspec.ValidationError as error:
        raise _invalid(error) from None


FORM = "application/x-www-form-urlencoded"


def _decode_form(raw: Any, content_type: str, schema: type) -> Any:
    """An HTML form's fields (the last of a repeated one) converted to ``schema``: text fields only."""
    if content_type != FORM:
        raise errors.UnsupportedMediaType(f"The body must be {FORM}.")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        fields = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=50))
    except (UnicodeDecodeError, ValueError):
        raise errors.BadRequest("The form could not be read.", code="invalid_form") from None
    try:
        return msgspec.convert(fields, type=schema, strict=True)
    except msgspec.ValidationError as error:
        raise _invalid(error) from None


_EXACT = 2**53  # up to here every whole number has an exact float


def _whole_numbers(value: Any) -> Any:
    """``value`` with every float that is a whole number (``5.0``, ``1e3``) as an int: JSON has one number type, and
    for JSON Schema (the API document) ``5.0`` is an integer, so an integer field takes it; other fields judge it as
    before (an int is a number where a number is asked, and wrong where text is)."""
    if isinstance(value, float) and value.is_integer() and -_EXACT <= value <= _EXACT:
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    return value


def _decode_query(request: Any, schema: type | None) -> Any:
    given = dict(request.query_params or {})
    if schema is None:
        if given:
            raise errors.ValidationFailed("This endpoint takes no query parameters.", code="unexpected_query")
        return None
    for name, kind in _times(schema):  # a query is text: "5" is a number, but never a time (epoch seconds)
        if name in given:
            try:
                msgspec.convert(given[name], type=kind, strict=True)
            except msgspec.ValidationError as error:
                raise _invalid(error, name) from None
    try:
        return msgspec.convert(given, type=schema, strict=False)
    except msgspec.ValidationError as error:
        raise _invalid(error) from None


@cache
def _times(schema: type) -> tuple[tuple[str, Any], ...]:
    """The fields of a query ``schema`` holding dates or times, with their types: non-strict conversion (which turns
    "50" into 50 for an int) would read "1714521600" as seconds since 1970, which their documented format is not."""
    found = []
    for info in msgspec.structs.fields(schema):
        kinds = typing.get_args(info.type) if typing.get_origin(info.type) in (typing.Union, types.UnionType) else ()
        if any(_is_time(kind) for kind in (info.type, *kinds)):
            found.append((info.encode_name, info.type))
    return tuple(found)


def _is_time(kind: Any) -> bool:
    while typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    return kind in (datetime.datetime, datetime.date, datetime.time)


_PLAIN = (  # msgspec's wording -> what a person filling in a form can act on; {f} is the field
    (re.compile(r"^Expected `str` of length >= 1\b"), "{f} must not be empty."),
    (re.compile(r"^Expected `str` of length >= (\d+)"), "{f} must be at least {0} characters long."),
    (re.compile(r"^Expected `str` of length <= (\d+)"), "{f} must be at most {0} characters long."),
    (re.compile(r"^Expected `array` of length >= (\d+)"), "{f} needs at least {0} items."),
    (re.compile(r"^Expected `array` of length <= (\d+)"), "{f} takes at most {0} items."),
    (re.compile(r"^Expected `(?:int|float)` >= (-?[\d.]+)"), "{f} must be at least {0}."),
    (re.compile(r"^Expected `(?:int|float)` <= (-?[\d.]+)"), "{f} must be at most {0}."),
    (re.compile(r"^Expected `str` matching regex"), "{f} is not in the expected format."),
    (re.compile(r"^Invalid enum value"), "{f} is not one of the allowed values."),
    (re.compile(r"^Object missing required field"), "{f} is required."),
    (re.compile(r"^Object contains unknown field"), "{f} is not a field this endpoint takes."),
    (re.compile(r"^Expected `([a-z]+)`(?: \| `null`)?, got `([a-z]+)`"), "{f} must be {0}, not {1}."),
)
_KINDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
_NOT_FORMAT = "{f} is not in the expected format."
_SPECIAL = {  # (field, message) -> what the form beside that field says (the domain function's own wording)
    ("email", _NOT_FORMAT): "Enter a valid email address, such as name@example.com.",
    ("contact", _NOT_FORMAT): "Enter an email address we can reply to, such as name@example.com.",
}


def _invalid(error: msgspec.ValidationError, field: str | None = None) -> errors.ValidationFailed:
    """A 422 whose message a person can act on and whose ``details.field`` names the field, as the SPA does (or
    ``field``, for an error about one value converted on its own)."""
    where = _where(error) or ({"field": field} if field else None)
    text = str(error).split(" - at `", 1)[0]
    field = (where or {}).get("field", "")
    if not field:
        found = re.match(r"^Expected `object`, got `([a-z]+)`", text)
        if found:
            return errors.ValidationFailed(
                f"The request body must be a JSON object, not {_KINDS.get(found[1], found[1])}."
            )
        return errors.ValidationFailed(text, details=where)
    name = f"The field '{field}'" if "." in field or "[" in field else field.replace("_", " ").capitalize()
    for pattern, template in _PLAIN:
        found = pattern.match(text)
        if found:
            words = [_KINDS.get(group, group) for group in found.groups()]
            special = _SPECIAL.get((field.rsplit(".", 1)[-1], template))
            return errors.ValidationFailed(special or template.format(*words, f=name), details=where)
    return errors.ValidationFailed(text, details=where)


_NAMED_FIELD = re.compile(r"^Object (?:missing required|contains unknown) field `([^`]+)`")


def _where(error: msgspec.ValidationError) -> dict[str, str] | None:
    """The field a validation error is about, as the SPA names fields: ``email``, ``questions[0].text``.

    msgspec says where as a JSON path (``... - at `$.questions[0].text```); a missing or unknown field is named in
    the message itself, under its parent's path."""
    text = str(error)
    path = ""
    if " - at `" in text:
        text, path = text.rsplit(" - at `", 1)
        path = path.rstrip("`").removeprefix("$").removeprefix(".")
    named = _NAMED_FIELD.match(text)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return {"field": path} if path else None
