"""One signed POST to an audit-stream endpoint, and what came of it.

* **Signature**: the Standard Webhooks scheme, by its own library (``standardwebhooks``, never re-implemented here):
  ``webhook-id``, ``webhook-timestamp`` (unix seconds of the attempt), ``webhook-signature`` (``v1,<base64 of
  HMAC-SHA256 over "<id>.<timestamp>.<body>">`` under the endpoint's ``whsec_`` secret).
* **Where it connects**: ``urls.allowed_addresses`` before anything is sent (a clear ``address_not_allowed``), and
  again as each connection opens, which then goes to one of the addresses just checked (``_GuardedConnection``), so a
  name that changes its answer in between (DNS rebinding) reaches nothing inside. TLS still verifies the
  certificate against the host name. No proxy or ``.netrc`` from the environment (``trust_env`` off), no redirect
  followed (a 3xx is a failure), 5 s to connect and 10 s to read.
* **Other guarded fetches**: ``guard(session)`` and ``fetch(url, ...)`` are the same rules for a GET whose answer
  is read (bounded), used by single sign-on (an OIDC provider's documents and keys, a SAML provider's metadata).
* **What is kept of the answer**: its status only. The body is never read (a hostile endpoint cannot feed us a large
  one, nor get its text into our records): ``Outcome.last_error`` is a status code or a word (``timeout``,
  ``connection``, ``dns``, ``tls``, ``address_not_allowed``).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import msgspec

from protu.ops.audit_streams import urls

CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 10.0
USER_AGENT = "Protu-Audit-Stream/1"


class Outcome(msgspec.Struct, frozen=True):
    delivered: bool
    status_code: int | None = None
    error: str | None = None  # timeout | connection | dns | tls | address_not_allowed (None when answered)

    @property
    def last_error(self) -> str | None:
        """What an endpoint records of a failed attempt."""
        if self.delivered:
            return None
        return self.error or str(self.status_code)


def signed_headers(secret: str, msg_id: str, at: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of ``body`` sent at ``at`` (unix seconds)."""
    # cold start: deliveries and test pings only
    from standardwebhooks.webhooks import Webhook

    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at)),
        "webhook-signature": Webhook(secret).sign(msg_id, datetime.fromtimestamp(int(at), UTC), body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class Sender:
    """Posts to one endpoint (``with Sender(target) as send: send.post(...)``): one HTTP session, so a run's
    deliveries reuse a connection; every new connection is checked again."""

    def __init__(self, target: urls.Target, *, timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)) -> None:
        self.target = target
        self.timeout = timeout
        self._session: Any = None

    def __enter__(self) -> Sender:
        # cold start: deliveries and test pings only
        import requests

        session = requests.Session()
        guard(session, local=self.target.local)
        self._session = session
        return self

    def __exit__(self, *exc: object) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def post(self, secret: str, msg_id: str, at: int, body: bytes) -> Outcome:
        # cold start: deliveries and test pings only
        import requests

        if self._session is None:
            raise RuntimeError("use Sender as a context manager")
        headers = signed_headers(secret, msg_id, at, body)
        try:
            if not self.target.local:
                urls.allowed_addresses(self.target.host, self.target.port)  # before anything is sent
            response = self._session.post(
                self.target.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False, stream=True
            )
            status = int(response.status_code)
            response.close()  # the body is never read
        except urls.AddressNotAllowed:
            return Outcome(False, error="address_not_allowed")
        except socket.gaierror:
            return Outcome(False, error="dns")
        except requests.exceptions.Timeout:
            return Outcome(False, error="timeout")
        except requests.exceptions.SSLError:
            return Outcome(False, error="tls")
        except (requests.exceptions.RequestException, OSError):
            return Outcome(False, error="connection")
        return Outcome(200 <= status < 300, status_code=status)


def guard(session: Any, *, local: bool = False) -> None:
    """Hold a requests session to the rules above: no proxy or ``.netrc`` from the environment, no redirects; unless
    ``local`` (the local server's stand-ins), HTTPS connections only to admitted addresses (checked as each opens)
    and plain HTTP refused (``urls.AddressNotAllowed``)."""
    session.trust_env = False
    session.max_redirects = 0
    if not local:
        session.mount("https://", _guarded_adapter())
        session.mount("http://", _refusing_adapter())


class FetchFailed(Exception):
    """Why a guarded GET gave nothing: ``reason`` is ``status`` (``status`` says which), ``too_large``,
    ``address_not_allowed``, ``timeout`` or ``unreachable``. Never the answer's text."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def fetch(
    url: str, *, max_bytes: int, timeout: float | tuple[float, float], local: bool = False, headers: Any = None
) -> bytes:
    """GET ``url`` through a guarded session (``guard``): a 200's body of at most ``max_bytes``, or ``FetchFailed``.
    The caller has checked the address first (``urls.check``, or its own rule for a local stand-in)."""
    # cold start: single sign-on only
    import requests

    with requests.Session() as session:
        guard(session, local=local)
        try:
            with session.get(url, timeout=timeout, allow_redirects=False, stream=True, headers=headers) as response:
                if response.status_code != 200:
                    raise FetchFailed("status", int(response.status_code))
                content = b""
                for chunk in response.iter_content(64 * 1024):
                    content += chunk
                    if len(content) > max_bytes:
                        raise FetchFailed("too_large")
        except urls.AddressNotAllowed:
            raise FetchFailed("address_not_allowed") from None
        except requests.Timeout:
            raise FetchFailed("timeout") from None
        except (requests.RequestException, OSError):  # socket.gaierror is an OSError
            raise FetchFailed("unreachable") from None
    return content


def _guarded_adapter() -> Any:
    """A requests adapter whose HTTPS connections go only to addresses ``urls.allowed_addresses`` admits, checked
    as each connection opens (urllib3 resolves the name again there; here the check and the connection use one
    answer)."""
    # cold start: deliveries and test pings only
    import requests.adapters
    from urllib3.connection import HTTPSConnection
    from urllib3.connectionpool import HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
    from urllib3.util import connection

    class _GuardedConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            try:
                addresses = urls.allowed_addresses(self._dns_host, self.port)
            except socket.gaierror as error:
                raise NameResolutionError(self.host, self, error) from error
            failure: OSError | None = None
            for address in addresses:
                try:
                    return connection.create_connection(
                        (address, self.port),
                        self.timeout,
                        source_address=self.source_address,
                        socket_options=self.socket_options,
                    )
                except TimeoutError as error:
                    raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from error
                except OSError as error:
                    failure = error
            raise NewConnectionError(self, f"Failed to establish a new connection: {failure}")

    class _GuardedPool(HTTPSConnectionPool):
        ConnectionCls = _GuardedConnection

    class _GuardedAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"https": _GuardedPool}

    return _GuardedAdapter(max_retries=0)


def _refusing_adapter() -> Any:
    """Plain HTTP never leaves for an endpoint (only the local server's receiver is plain HTTP)."""
    # cold start: deliveries and test pings only
    import requests.adapters

    class _Refusing(requests.adapters.HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            raise urls.AddressNotAllowed("plain http")

    return _Refusing()
