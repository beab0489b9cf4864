"""One company per request, fenced twice: in code here, and by IAM in the cloud.

Every key of a company's items begins with ``T#<tenant>`` and is built by ``tenant_pk``, which calls ``bind``.

* **In code.** A request (``request()``, opened by the HTTP app around each call) is bound to the first company it
  names; naming a second one in the same request raises ``CrossTenantAccess`` before any key reaches DynamoDB.
  Outside a request (jobs, operators, tests) nothing is bound: those act for many companies on purpose.
* **By IAM.** While a request is bound, PynamoDB's DynamoDB calls are signed with credentials of ``TenantDataRole``
  (``template.yaml``) assumed with the session tag ``tenant=<id>``. That role's policy allows only the leading keys
  ``T#${aws:PrincipalTag/tenant}`` and ``T#${aws:PrincipalTag/tenant}#*`` (plus the sign-in indexes, which hold no
  company data), and the function's own role holds no company data at all. So a bug that builds another company's
  key by hand is refused by DynamoDB, not only by this module. The credentials are cached per company and refresh
  themselves before they expire (one STS call per company per hour and container).

The role comes from ``TENANT_ROLE_ARN``; without it (unit tests without a cloud) requests use the function's own
credentials and only the in-code fence applies. The local cloud provisions the role and checks the leading keys of
every request signed by a tenant session as IAM would (``infra/iam.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pynamodb.connection.base as base
from botocore.credentials import Credentials, RefreshableCredentials

from protu import caches
from protu.logging import get_logger
from protu.settings import settings

_OPEN = "<open>"  # inside a request, no company named yet
_bound: ContextVar[str | None] = ContextVar("protu_tenant_scope", default=None)

_lock = threading.Lock()
_tenant_credentials: dict[str, Any] = {}
_MAX_CACHED = 500
SESSION_SECONDS = 3600


class CrossTenantAccess(RuntimeError):
    """A request bound to one company named another one's key: a programming error, refused before any I/O."""


@contextmanager
def request() -> Iterator[None]:
    """One request: bound to the first company it names, and only to that one."""
    token = _bound.set(_OPEN)
    try:
        yield
    finally:
        _bound.reset(token)


@contextmanager
def acting_for(tenant_id: str) -> Iterator[None]:
    """Act for one company outside an HTTP request (jobs, the incident workflow, operators): a request bound to
    ``tenant_id`` from the start, so the in-code fence and the company's role apply as they do to its requests."""
    with request():
        bind(tenant_id)
        yield


def bind(tenant_id: str) -> None:
    """Name the company the current request acts for (``tenant_pk`` calls this for every key it builds)."""
    current = _bound.get()
    if current is None or current == tenant_id:
        return
    if current == _OPEN:
        _bound.set(tenant_id)
        return

    get_logger(__name__).error("cross-tenant access refused", extra={"bound": current, "named": tenant_id})
    raise CrossTenantAccess("a request bound to one company named another company's data")


def current() -> str | None:
    """The company the current request is bound to, if any."""
    found = _bound.get()
    return None if found in (None, _OPEN) else found


# ------------------------------------------------------------------------------------------------ credentials
def _role_arn() -> str:
    return settings().tenant_role_arn


def _assume(tenant_id: str) -> dict[str, str]:
    """Fresh credentials of the tenant role, tagged with the company (botocore's refresh metadata format)."""
    # cold start: loaded on first use
    from protu import aws, errors

    try:
        reply = aws.client("sts").assume_role(
            RoleArn=_role_arn(),
            RoleSessionName=f"tenant-{tenant_id}"[:64],
            DurationSeconds=SESSION_SECONDS,
            Tags=[{"Key": "tenant", "Value": tenant_id}],
        )
    except Exception as error:  # noqa: BLE001 - STS unreachable or refusing: the request cannot be served
        get_logger(__name__).warning("tenant role unavailable", extra={"error_type": type(error).__name__})
        raise errors.ServiceUnavailable() from None
    found = reply["Credentials"]
    return {
        "access_key": found["AccessKeyId"],
        "secret_key": found["SecretAccessKey"],
        "token": found["SessionToken"],
        "expiry_time": found["Expiration"].isoformat(),
    }


def tenant_credentials(tenant_id: str) -> Any:
    """The company's role credentials, cached; botocore refreshes them shortly before they expire."""
    found = _tenant_credentials.get(tenant_id)
    if found is not None:
        return found

    made = RefreshableCredentials.create_from_metadata(
        metadata=_assume(tenant_id), refresh_using=lambda: _assume(tenant_id), method="protu-tenant-role"
    )
    with _lock:
        if len(_tenant_credentials) >= _MAX_CACHED:
            _tenant_credentials.clear()
        return _tenant_credentials.setdefault(tenant_id, made)


@caches.register
def _forget_credentials() -> None:
    """Drop cached tenant credentials and PynamoDB's clients (after the role or the endpoint changed)."""
    with _lock:
        _tenant_credentials.clear()
        _session.clear()


def _scoped_credentials_class() -> type:
    class ScopedCredentials(Credentials):
        """The function's own credentials, or the bound company's role credentials while a request is bound.

        botocore's signer asks for ``get_frozen_credentials()`` on every request it signs, so one client serves
        every company and each request is signed as the company it is bound to."""

        def __init__(self, base: Any) -> None:  # no super().__init__: every value is read through ``base``
            self._base = base
            self.method = getattr(base, "method", "env")

        def _active(self) -> Any:
            tenant_id = current()
            if tenant_id is not None and _role_arn():
                return tenant_credentials(tenant_id)
            return self._base

        @property
        def access_key(self) -> str:
            return self._active().access_key

        @property
        def secret_key(self) -> str:
            return self._active().secret_key

        @property
        def token(self) -> str | None:
            return self._active().token

        def get_frozen_credentials(self) -> Any:
            return self._active().get_frozen_credentials()

    return ScopedCredentials


class _DynamoDBSession:
    """What PynamoDB asks of a botocore session (``create_client``), answered by the process's one session
    (``aws.client_signing_with``) with clients that sign as the request's company (``ScopedCredentials``).

    One client per service, region, endpoint and configuration, then that one: PynamoDB makes a connection per model,
    each connection its own client (~15 ms of a cold start each, three on the first authenticated read). botocore
    clients are thread-safe, and the credentials they sign with follow the request's company, whichever model and
    thread asked."""

    def __init__(self) -> None:
        self._made: dict[str, Any] = {}

    def create_client(self, service_name: str, region_name: str | None = None, **kwargs: Any) -> Any:
        # cold start: loaded on first use
        from protu import aws

        config = kwargs.get("config")  # a new but equal Config from each connection: compared by its values
        rest = sorted((name, value) for name, value in kwargs.items() if name != "config")
        key = repr((service_name, region_name, rest, vars(config) if config else None))
        found = self._made.get(key)
        if found is None:
            scoped = _scoped_credentials_class()
            found = aws.client_signing_with(scoped, service_name, region_name, **kwargs)
            with _lock:
                found = self._made.setdefault(key, found)
        return found


_session: list[_DynamoDBSession] = []  # emptied by ``caches.reset``


def dynamodb_session() -> Any:
    """PynamoDB's botocore "session": one per process (``_DynamoDBSession``), shared by every connection and thread
    (PynamoDB asks for one per model and thread)."""
    if not _session:
        with _lock:
            if not _session:
                _session.append(_DynamoDBSession())
    return _session[0]


def install() -> None:
    """Make PynamoDB's connections sign with ``dynamodb_session``'s credentials (PynamoDB creates its botocore
    sessions through ``pynamodb.connection.base.get_session``; it has no setting for a credential provider)."""

    base.get_session = dynamodb_session
