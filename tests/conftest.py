"""Shared fixtures: one in-process moto cloud per test process (each xdist worker has its own), provisioned from
``template.yaml`` by the same code as ``make run``, with the environment the template gives the functions.

Tests isolate from each other with fresh tenant ids, not by resetting the cloud: provisioning happens once.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from protu import caches

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-central-1",
    }
)
for _name in ("AWS_ENDPOINT_URL", "SENTRY_DSN", "AWS_PROFILE"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def cloud():
    """The local cloud (``infra.cloud.LocalCloud``) inside moto's in-process mock, environment applied. State machines
    execute (``infra.stepfunctions.MOTO_CONFIG``), their Lambda tasks running the functions' handlers in-process."""
    from moto import mock_aws

    from infra.stepfunctions import MOTO_CONFIG

    with mock_aws(config=MOTO_CONFIG):
        from protu.settings import reload

        from infra.cloud import LocalCloud

        local = LocalCloud().provision()
        os.environ.update(local.environment())
        reload()
        yield local


@pytest.fixture
def tenant_id() -> str:
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def api(cloud):
    """The API function (``functions/api/api.py``) called with API Gateway's events, as the template routes them;
    the mail jobs a request queues run right after it, as ``MailFunction``'s SQS mapping runs them in the cloud."""
    import api as api_module

    from infra.queues import mail_pump

    return Client(api_module.app, after=mail_pump().pump)


@pytest.fixture(scope="session")
def webhooks(cloud):
    """The webhooks function (``functions/webhooks/webhooks.py``), called as API Gateway calls it."""
    import webhooks as webhooks_module

    return Client(webhooks_module.app)


@pytest.fixture(scope="session")
def local_server(cloud):
    """The real local server of ``make run`` on a free port, over this process's moto cloud. Yields its URL."""
    from infra.server import LocalServer

    server = LocalServer(0).start()
    try:
        yield server.url
    finally:
        server.stop()


class Client:
    """Calls a function's handler the way API Gateway does for ``template.yaml``; answers ``gateway.Reply``."""

    def __init__(self, handler, *, after=None) -> None:
        self.handler = handler
        self.after = after  # what the cloud runs after a request on its own (the mail queue's jobs)

    def request(
        self, method: str, path: str, *, json=None, body=None, headers=None, source_ip="203.0.113.7", after=True
    ):
        """``after=False``, or inside ``aws_calls``: only the function's own work, nothing queued is run."""
        import json as jsonlib

        from infra import gateway

        headers = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json)
            headers.setdefault("Content-Type", "application/json")
        reply = gateway.invoke(self.handler, method, path, headers=headers, body=body, source_ip=source_ip)
        if after and self.after is not None and not COUNTING:  # what is counted is the function's own work
            self.after()
        return reply

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class MailgunCapture:
    """What the ``mailgun`` fixture (``module_mailgun``: a module's) caught. ``messages`` (oldest first) are the
    emails Mailgun accepted, each the form fields it received (``from``, ``to``, ``subject``, ``text``, ``html``,
    ``o:tracking``, ...) plus ``request``, the raw ``requests.PreparedRequest`` (for the auth header); ``attempts``
    counts every POST, failed ones included. ``fail(...)`` makes the next POSTs fail, in order, before Mailgun
    accepts again."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[dict] = []
        self.attempts = 0
        self._failures: list = []

    @property
    def last(self) -> dict:
        assert self.messages, "no email was sent"
        return self.messages[-1]

    def to(self, address: str) -> list[dict]:
        return [m for m in self.messages if m["to"] == address]

    def fail(self, *answers) -> None:
        """Each answer is a status (``503``), a ``(status, headers)`` pair (``(429, {"Retry-After": "1"})``) or an
        exception to raise (``requests.exceptions.ConnectTimeout()``)."""
        self._failures.extend(answers)

    def _answer(self, request):
        import json as jsonlib
        from urllib.parse import parse_qsl

        self.attempts += 1
        if self._failures:
            failure = self._failures.pop(0)
            if isinstance(failure, BaseException):
                raise failure
            status, headers = failure if isinstance(failure, tuple) else (failure, {})
            return status, headers, jsonlib.dumps({"message": f"simulated {status}"})
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        message = dict(parse_qsl(body, keep_blank_values=True))
        message["request"] = request
        self.messages.append(message)
        answer = {
            "id": f"<{len(self.messages)}.{uuid.uuid4().hex[:12]}@mg.protu.test>",
            "message": "Queued. Thank you.",
        }
        return 200, {"Content-Type": "application/json"}, jsonlib.dumps(answer)


OUTSIDE: list = []  # the ``outside_world`` in place, if any


@contextmanager
def outside_world():
    """The world outside the cloud, simulated at the HTTP boundary (``responses``): the services the functions call
    over HTTP answer through it once registered on it (``capture_mailgun``, ``capture_stripe``); requests to the local
    server (http://localhost, http://127.0.0.1) pass through; any other request fails as unreachable. Yields the
    ``responses.RequestsMock``. One at a time: an inner one would hide the outer one's services. Tests use the
    ``outside`` fixture (``mailgun`` and ``stripe_api`` register on it); a module's fixtures ``module_outside``."""
    import responses

    assert not OUTSIDE, "an outside world is already in place: register on it (a module's fixtures: module_outside)"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        mock.add_passthru("http://localhost:")
        OUTSIDE.append(mock)
        try:
            yield mock
        finally:
            OUTSIDE.pop()


def capture_mailgun(outside) -> MailgunCapture:
    """Mailgun's messages API on ``outside`` (an ``outside_world``): every POST to the configured
    ``{MAILGUN_API_BASE}/{MAILGUN_DOMAIN}/messages`` is answered ``Queued`` and captured. Answers the
    ``MailgunCapture``. Tests use the ``mailgun`` fixture (``module_mailgun``: one for a whole module)."""
    import responses
    from protu.settings import settings

    current = settings()
    capture = MailgunCapture(f"{current.mailgun_api_base}/{current.mailgun_domain}/messages")
    outside.add_callback(responses.POST, capture.url, callback=capture._answer)
    return capture


@contextmanager
def providers_on_local_server(local_server: str):
    """Mail into the local server's outbox, Stripe on its stand-in and links to the local server, as under
    ``make run``. The shared ``cloud`` keeps the template's defaults (the real APIs, links to :8000)."""
    from protu.settings import reload

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAILGUN_API_BASE", f"{local_server}/_local/mailgun/v3")
        patch.setenv("STRIPE_API_BASE", f"{local_server}/_local/stripe")
        patch.setenv("APP_ORIGIN", local_server)
        reload()
        try:
            yield
        finally:
            patch.undo()
            reload()


def capture_stripe(outside, webhooks):
    """Stripe's HTTP API on ``outside`` (an ``outside_world``), answered by ``infra.stripe_local.StripeStandIn``, with
    the events it sends signed and delivered to ``webhooks`` (the webhooks function's client); the ``StripeKeys``
    secret holds its keys. Answers the stand-in. Tests use the ``stripe_api`` fixture (``module_stripe_api``)."""
    import json
    import re

    import responses
    from protu.settings import settings

    from infra.stripe_local import StripeStandIn, ensure_local_keys

    def deliver(payload: bytes, signature: str):
        headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
        return webhooks.post("/webhooks/stripe", body=payload, headers=headers)

    standin = StripeStandIn(deliver=deliver, webhook_secret=ensure_local_keys()["webhook_secret"])

    def answer(request):
        from urllib.parse import urlsplit

        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        url = urlsplit(request.url)
        where = url.path + (f"?{url.query}" if url.query else "")
        status, document = standin.answer(request.method, where, body, dict(request.headers))
        return status, {"Content-Type": "application/json", "Request-Id": "req_local"}, json.dumps(document)

    url = re.compile(re.escape(settings().stripe_api_base) + r"/v1/.*")
    for method in (responses.GET, responses.POST, responses.DELETE):
        outside.add_callback(method, url, callback=answer)
    return standin


@pytest.fixture
def outside(cloud):
    """``outside_world`` for one test: the outside services it asks for (``mailgun``, ``stripe_api``) answer on it."""
    with outside_world() as mock:
        yield mock


@pytest.fixture
def mailgun(outside):
    """``capture_mailgun`` for one test."""
    return capture_mailgun(outside)


@pytest.fixture
def stripe_api(outside, webhooks):
    """``capture_stripe`` for one test."""
    return capture_stripe(outside, webhooks)


@pytest.fixture(scope="module")
def module_outside(cloud):
    """``outside_world`` for a whole module: for module-scoped fixtures (accounts shared by a module's tests); a test
    of such a module uses ``module_mailgun`` and ``module_stripe_api``, not ``mailgun`` and ``stripe_api``."""
    with outside_world() as mock:
        yield mock


@pytest.fixture(scope="module")
def module_mailgun(module_outside):
    """``capture_mailgun`` for a whole module."""
    return capture_mailgun(module_outside)


@pytest.fixture(scope="module")
def module_stripe_api(module_outside, webhooks):
    """``capture_stripe`` for a whole module."""
    return capture_stripe(module_outside, webhooks)


@pytest.fixture(scope="module")
def nameserver(cloud):
    """The outside world's DNS for a module: a nameserver of our own (``infra.dns_local``) that the API verifies
    company domains with (``DNS_NAMESERVERS``); tests publish TXT records on it."""
    from protu.settings import reload

    from infra.dns_local import NameServer

    server = NameServer().start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DNS_NAMESERVERS", server.address)
        reload()
        try:
            yield server
        finally:
            patch.undo()
            reload()
            server.stop()


@pytest.fixture
def oidc_provider(outside):
    """A company's OIDC provider (``infra.idp_oidc``) on ``outside``, at an issuer of its own (tests/oidc_provider.py
    says how a test plays the browser's leg)."""
    from tests.oidc_provider import capture_oidc

    return capture_oidc(outside)


@pytest.fixture(scope="module")
def module_oidc_provider(module_outside):
    """``oidc_provider`` for a whole module."""
    from tests.oidc_provider import capture_oidc

    return capture_oidc(module_outside)


@contextmanager
def own_stack():
    """A stack of one's own in the worker's moto, provisioned from template.yaml like the shared one, with the
    environment switched to it while the block runs: for tests whose cost grows with what a table holds (whole-table
    scans, moto's own transaction copies). Yields its ``LocalCloud``. It lives in the worker's moto (the ``cloud``
    fixture's mock and config), so its state machines execute too, with its own functions' handlers."""
    from protu.settings import reload

    from infra import template as tpl
    from infra.cloud import LocalCloud

    template = tpl.load()
    for name in [n for n, spec in template["Resources"].items() if spec["Type"] == "AWS::KMS::Alias"]:
        del template["Resources"][name]  # an alias name is one per account: the shared stack holds it
    saved = dict(os.environ)
    own = LocalCloud(stack=f"own-{uuid.uuid4().hex[:8]}", template=template).provision()
    os.environ.update(own.environment())
    reload()
    caches.reset()
    try:
        yield own
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reload()
        caches.reset()


@pytest.fixture(scope="module")
def own_cloud(cloud):
    """``own_stack`` for a whole module: its tests run in a stack of their own (every module of tests/ops; the moto
    transaction tests). ``api`` and ``webhooks`` call into whichever stack is current."""
    with own_stack() as own:
        yield own


# ------------------------------------------------------------------------------------------------ counting AWS calls
COUNTING: list[bool] = []  # non-empty while ``aws_calls`` counts


@contextmanager
def aws_calls(fail_at: int | None = None):
    """Count the AWS calls made inside the block (``calls``: operation names); the ``fail_at``-th (1-based) fails
    with the error AWS answers when a service has an internal failure."""
    import botocore.client
    from botocore.exceptions import ClientError

    real = botocore.client.BaseClient._make_api_call
    calls: list[str] = []

    def call(client, operation, params):
        calls.append(f"{client.meta.service_model.service_name}.{operation}")
        if fail_at is not None and len(calls) == fail_at:
            error = {"Error": {"Code": "InternalServerError", "Message": "injected"}, "ResponseMetadata": {}}
            raise ClientError(error, operation)
        return real(client, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", call)
        COUNTING.append(True)
        try:
            yield calls
        finally:
            COUNTING.pop()
