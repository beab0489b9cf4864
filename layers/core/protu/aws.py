"""boto3 clients, created lazily and cached per process.

The endpoint comes from botocore's own configuration: ``AWS_ENDPOINT_URL`` points every client at the local cloud
(the moto server of ``make run``); in tests moto's in-process mock intercepts the calls. Clients are created on
first use, so a test that starts moto first gets mocked clients.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config

from protu import caches
from protu.settings import settings

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_config = None
_session = None


def _botocore_config():
    global _config
    if _config is None:
        _config = Config(
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 3, "mode": "standard"},
        )
    return _config


def _shared_session():
    """One boto3 session per process (called under ``_lock``): its loaded service models, endpoint data and
    credentials serve every client, so the second client of a cold start costs a fraction of the first."""
    global _session
    if _session is None:
        # cold start: loaded on first use
        import boto3

        _session = boto3.session.Session()
    return _session


def client(service: str) -> Any:
    """A cached boto3 client for ``service`` in the configured region."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            found = _shared_session().client(service, region_name=settings().region, config=_botocore_config())
            _clients[service] = found
    return found


@caches.register
def _forget_clients() -> None:
    """Forget cached clients (after the endpoint or credentials changed)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
