"""botocore clients (what boto3's clients are, without boto3's import), created lazily and cached per process.

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


_loader = None


def data_loader() -> Any:
    """botocore's loader of service models and endpoint data, one per process: every botocore session of the
    process (boto3's here, PynamoDB's in ``store.scope``) registers it, so each JSON file is read and parsed once. A
    cold start would otherwise parse ``endpoints.json`` and the DynamoDB model once per session, ~40 ms each.

    It knows only ``SERVICES``: before loading a model, botocore lists every service it ships to check that the name
    is one (~400 directories and ~3,000 file checks, twice: ~25 ms of the first client where botocore's data is
    whole; the built layer keeps only these). Another service's client fails with botocore's UnknownServiceError."""
    global _loader
    if _loader is None:
        from botocore.exceptions import DataNotFoundError  # cold start: the first client's
        from botocore.loaders import Loader  # cold start: the first client's

        class _ServicesLoader(Loader):
            def list_available_services(self, type_name: str) -> list[str]:
                found = []
                for name in SERVICES:
                    try:
                        self.list_api_versions(name, type_name)
                    except DataNotFoundError:
                        continue
                    found.append(name)
                return found

        _loader = _ServicesLoader()
    return _loader


def _shared_session():
    """One botocore session per process (called under ``_lock``): its loaded service models, endpoint data and
    credentials serve every client, so the second client of a cold start costs a fraction of the first. botocore's
    own: boto3 adds nothing these clients use and costs a cold start ~60 ms more (itself, s3transfer,
    multiprocessing)."""
    global _session
    if _session is None:
        # cold start: loaded on first use
        import botocore.session

        _session = botocore.session.get_session()
        _session.register_component("data_loader", data_loader())
    return _session


# The services the functions call: the built layer keeps only these botocore models (``infra/build.py``).
SERVICES = (
    "dynamodb",
    "dynamodbstreams",
    "kms",
    "lambda",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "stepfunctions",
    "sts",
)


def client(service: str) -> Any:
    """A cached botocore client for ``service`` in the configured region: one of ``SERVICES`` (``data_loader``
    knows no other; ``tests/unit/test_structure.py`` holds the functions' code to them)."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            found = _shared_session().create_client(service, region_name=settings().region, config=_botocore_config())
            _clients[service] = found
    return found


@caches.register
def _forget_clients() -> None:
    """Forget cached clients (after the endpoint or credentials changed)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
