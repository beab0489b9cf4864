"""Play API Gateway's part locally: turn an HTTP request into the exact REST-API proxy event that
``template.yaml`` produces (resource ``/api/{proxy+}`` or ``/webhooks/{proxy+}``, stage ``live``), call the
function's handler, and turn its answer back into status, headers and body.

The local server and the tests' client both go through here, so the functions see locally what they see in the
cloud: the proxy resource, not the matched route.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

STAGE = "live"
API_ID = "local"
PROXIES = ("/api", "/webhooks")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    multi_headers: dict[str, list[str]] = field(default_factory=dict)

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


def proxy_resource(path: str) -> str | None:
    """The template's proxy resource that serves ``path`` (``/api/{proxy+}``), or None."""
    for prefix in PROXIES:
        if path.startswith(prefix + "/") and len(path) > len(prefix) + 1:
            return prefix + "/{proxy+}"
    return None


def event(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    parts = urlsplit(url)
    path = parts.path or "/"
    resource = proxy_resource(path)
    if resource is None:
        raise ValueError(f"{path} is not served by a function")
    headers = dict(headers or {})
    headers.setdefault("Host", f"{API_ID}.execute-api.eu-central-1.amazonaws.com")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for key, value in pairs:
        multi_query.setdefault(key, []).append(value)
    encoded = False
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(body).decode("ascii"), True
    if body == "":
        body = None
    now = time.time()
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path[len(resource) - len("{proxy+}") :]},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local0",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{STAGE}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": headers.get("User-Agent") or headers.get("user-agent"),
                "user": None,
            },
            "domainName": headers["Host"],
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


class LambdaContext:
    """The attributes of Lambda's context object that handlers read."""

    def __init__(self, function_name: str, timeout_seconds: int = 15) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:eu-central-1:123456789012:function:{function_name}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def reply(result: dict[str, Any]) -> Reply:
    """API Gateway's reading of a Lambda proxy answer."""
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    multi = {k: [str(x) for x in v] for k, v in (result.get("multiValueHeaders") or {}).items()}
    for key, values in multi.items():
        if values and key not in headers:
            headers[key] = values[-1]
    return Reply(int(result.get("statusCode", 200)), headers, raw, multi)


def invoke(handler: Any, method: str, url: str, **kw: Any) -> Reply:
    ev = event(method, url, **kw)
    return reply(handler(ev, LambdaContext(getattr(handler, "app_name", "function"))))
