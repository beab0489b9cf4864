"""The Chalice app every HTTP function uses.

API Gateway sends ``/api/{proxy+}`` to the function, and fills ``requestContext.resourcePath`` with that declared
resource, which matches no Chalice route. ``ProtuApp.__call__`` matches the real path against the app's routes
(literal segments before ``{captures}``, as API Gateway does), sets ``resourcePath`` and ``pathParameters``, and
only then lets Chalice dispatch. It also answers what no view should have to: unknown paths (404), wrong methods
(405), oversized bodies (413), CORS preflights; and it puts the security headers and the request id on every
response, errors included. Each request acts for one company at most (``protu.store.scope``).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote

from chalice import Chalice

from protu import errors, metrics
from protu.http.headers import API_HEADERS
from protu.logging import get_logger, request_context
from protu.settings import settings
from protu.store import scope

log = get_logger(__name__)


class RouteTable:
    """Matches concrete paths to declared route templates such as ``/api/users/{id}``."""

    def __init__(self, templates: list[str]) -> None:
        # Literal segments sort before captures, so '/api/users/me' wins over '/api/users/{id}'.
        def key(template: str) -> tuple:
            return tuple((part.startswith("{"), part) for part in template.split("/"))

        self._routes = [(t, t.split("/")) for t in sorted(templates, key=key)]

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        parts = path.split("/")
        for template, pattern in self._routes:
            if len(pattern) != len(parts):
                continue
            captured: dict[str, str] = {}
            for want, got in zip(pattern, parts, strict=True):
                if want.startswith("{") and want.endswith("}"):
                    if not got:
                        break
                    captured[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                return template, captured
        return None


def error_response(error: errors.ProtuError, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(error.to_body()),
        "isBase64Encoded": False,
    }


def _record(response: dict[str, Any], route: str | None, request_id: str, milliseconds: float) -> None:
    """The request's metrics: Requests, Latency, Errors (5xx), ClientErrors (4xx) and ErrorsByCode (by the stable
        error code of the JSON error body; ``http_<status>`` for an error answer without one, such as degraded health).
    A request that escaped every handler counts as a 500 ``internal_error``."""
    status = int(response.get("statusCode") or 500)  # no response: an exception escaped
    metrics.set_property("request_id", request_id)
    metrics.set_property("route", route)
    metrics.set_property("status", status)
    metrics.count("Requests")
    metrics.timing("Latency", milliseconds)
    metrics.count("Errors", 1 if status >= 500 else 0)
    metrics.count("ClientErrors", 1 if 400 <= status < 500 else 0)
    if status >= 400:
        metrics.count("ErrorsByCode", Code=_error_code(response, status))


def _error_code(response: dict[str, Any], status: int) -> str:
    try:
        code = json.loads(response.get("body") or "")["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    if isinstance(code, str):
        return code
    return f"http_{status}" if response.get("statusCode") else "internal_error"  # e.g. http_503: degraded health


class ProtuApp(Chalice):
    def __init__(self, app_name: str) -> None:
        super().__init__(app_name=app_name)
        self._service = app_name.removeprefix("protu-")  # protu-api -> api: the metrics' Service dimension
        self._table: RouteTable | None = None
        self._table_size = -1

    # Lambda entry point --------------------------------------------------------------------------------------
    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        ctx = event.get("requestContext") or {}
        request_id = str(ctx.get("requestId") or getattr(context, "aws_request_id", "") or "")
        method = (ctx.get("httpMethod") or event.get("httpMethod") or "").upper()
        route = None
        response: dict[str, Any] = {}
        with request_context(request_id=request_id), scope.request(), metrics.invocation(self._service):
            try:
                try:
                    event = self._normalise(event)
                    route_event = self._route(event, method)
                    route = route_event["requestContext"]["resourcePath"]
                    if method == "OPTIONS":
                        response = {"statusCode": 204, "headers": {}, "body": ""}
                    else:
                        response = super().__call__(route_event, context)
                except errors.ProtuError as error:
                    response = error_response(error, error.headers)
                headers = response.get("headers") or {}
                response["headers"] = headers
                for name, value in API_HEADERS.items():
                    headers.setdefault(name, value)
                if request_id:
                    headers["X-Request-Id"] = request_id
                self._cors(event, headers)
                log.info("request", extra={"method": method, "route": route, "status": response.get("statusCode")})
                return response
            finally:
                _record(response, route, request_id, (time.perf_counter() - started) * 1000)

    @staticmethod
    def _normalise(event: dict[str, Any]) -> dict[str, Any]:
        """API Gateway sends null, not {}, where a request has no headers or query string; refuse big bodies."""
        body = event.get("body")
        limit = settings().max_body_bytes
        if body is not None and len(body) > (limit * 4 // 3 + 4 if event.get("isBase64Encoded") else limit):
            raise errors.PayloadTooLarge(details={"max_bytes": limit})
        return {
            **event,
            "headers": event.get("headers") or {},
            "queryStringParameters": event.get("queryStringParameters"),
            "multiValueQueryStringParameters": event.get("multiValueQueryStringParameters"),
            "pathParameters": event.get("pathParameters"),
            "stageVariables": event.get("stageVariables"),
            "body": body,
        }

    def _route(self, event: dict[str, Any], method: str) -> dict[str, Any]:
        if self._table is None or self._table_size != len(self.routes):
            self._table = RouteTable(list(self.routes))
            self._table_size = len(self.routes)
        found = self._table.match(event.get("path") or "/")
        if found is None:
            raise errors.NotFound("No such endpoint.", code="route_not_found")
        template, params = found
        allowed = sorted(self.routes[template])
        if method != "OPTIONS" and method not in self.routes[template]:
            raise errors.MethodNotAllowed(details={"allowed": allowed}, headers={"Allow": ", ".join(allowed)})
        ctx = {**(event.get("requestContext") or {}), "resourcePath": template}
        return {**event, "requestContext": ctx, "resource": template, "pathParameters": params or None}

    @staticmethod
    def _cors(event: dict[str, Any], headers: dict[str, str]) -> None:
        """CORS for the SPA's origin only (it is normally same-origin behind CloudFront, so this rarely fires)."""
        request_headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        origin = request_headers.get("origin")
        headers["Vary"] = "Origin"
        if origin and origin == settings().app_origin:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
            headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            headers["Access-Control-Max-Age"] = "600"
            headers["Access-Control-Expose-Headers"] = "X-Session-Idle-Seconds"  # frontend/idle.js reads it
