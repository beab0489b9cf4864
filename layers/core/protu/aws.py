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
    """botocore's loader of service models and endpoint data, the process's one session's (``_shared_session``), so
    each JSON file is read and parsed once.

    It knows only ``SERVICES``: before loading a model, botocore lists every service it ships to check that the name
    is one (~400 directories and ~3,000 file checks, twice: ~25 ms of the first client where botocore's data is
    whole; the built layer keeps only these). Another service's client fails with botocore's UnknownServiceError.

    And it parses with msgspec: botocore's own loader builds every object of its JSON as an ``OrderedDict`` (through
    ``json``'s pure-Python hook), 3-4x slower than msgspec's plain dicts (which keep their order as well); the first
    DynamoDB client parses ~0.7 MB of it, and ``endpoints.json``, where botocore's data is whole, 1.2 MB (16 ms ->
    5 ms)."""
    global _loader
    if _loader is None:
        # cold start: the first client's
        import gzip
        import os

        import msgspec
        from botocore.exceptions import DataNotFoundError
        from botocore.loaders import JSONFileLoader, Loader

        class _FileLoader(JSONFileLoader):
            def load_file(self, file_path: str) -> Any:
                for extension, opener in ((".json", open), (".json.gz", gzip.open)):
                    if os.path.isfile(file_path + extension):
                        with opener(file_path + extension, "rb") as found:
                            return msgspec.json.decode(found.read())
                return None

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

        _loader = _ServicesLoader(file_loader=_FileLoader())
    return _loader


def _shared_session():
    """One botocore session per process (called under ``_lock``): its loaded service models, endpoint data,
    handlers and credentials serve every client, PynamoDB's too (``client_signing_with``), so the second client of
    a cold start costs a fraction of the first. botocore's own: boto3 adds nothing these clients use and costs a
    cold start ~60 ms more (itself, s3transfer, multiprocessing)."""
    global _session
    if _session is None:
        # cold start: loaded on first use
        import botocore.session

        class Session(botocore.session.Session):
            signing_with: Any = None  # set under ``_lock`` for one ``create_client`` (``client_signing_with``)

            def get_credentials(self) -> Any:
                if self.signing_with is not None:
                    return self.signing_with
                return super().get_credentials()

        _session = Session()
        _session.register_component("data_loader", data_loader())
    return _session


def client_signing_with(wrap: Any, service: str, region_name: str | None = None, **kwargs: Any) -> Any:
    """A new client of the process's session whose credentials are ``wrap(<the process's credentials>)`` (unless it
    has none): PynamoDB's, which sign as the request's company (``store.scope``). A botocore session of their own
    would register botocore's ~130 built-in handlers and build its configuration again: ~12 ms of the first
    authenticated read."""
    with _lock:
        session = _shared_session()
        base = session.get_credentials()
        session.signing_with = None if base is None else wrap(base)
        try:
            return session.create_client(service, region_name=region_name, **kwargs)
        finally:
            session.signing_with = None


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
