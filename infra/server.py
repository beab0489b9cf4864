"""The local Protu of ``make run``: the moto cloud provisioned from ``template.yaml``, the API and webhook functions
behind a stand-in API Gateway, the SPA, and an outbox for email, on one address.

    /api/*        -> functions/api/api.py   (as the REST API's /api/{proxy+} resource sends it)
    /webhooks/*   -> functions/webhooks/webhooks.py
    /_local/*     -> local only: the outbox (GET /_local/outbox) and a Mailgun-compatible messages endpoint that
                     fills it; what on-call was paged (GET /_local/oncall); a Stripe stand-in (/_local/stripe/v1/...,
                     and Checkout and billing-portal pages that send Stripe's signed events to /webhooks/stripe);
                     a SIEM receiver for audit streams (POST /_local/siem/<name> records what it gets, GET /_local/siem
                     lists it, DELETE /_local/siem clears it); a nameserver for company domains' TXT records
                     (PUT/DELETE /_local/dns/<name>, infra/dns_local.py: DNS_NAMESERVERS points at it); a SAML
                     identity provider stand-in
                     (/_local/idp/saml/..., infra/idp_saml.py); an OpenID Connect provider stand-in
                     (/_local/idp/oidc/..., infra/idp_oidc.py); never part of the deployed template
    anything else -> the SPA (frontend/), index.html for client-side routes

Run it with ``make run`` (or ``python -m infra.server``); ``PORT`` picks the port (default 8000).
"""

from __future__ import annotations

import faulthandler
import json
import mimetypes
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from infra import gateway

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
FUNCTION_DIRS = [ROOT / "functions" / name for name in ("api", "webhooks", "jobs", "incidents")]
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's own payload limit


class Outbox:
    """Email the local cloud sent, newest first: what Mailgun would have delivered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []

    def add(self, fields: dict[str, str]) -> dict[str, Any]:
        message = {
            "id": f"<{time.time_ns()}@local.protu>",
            "from": fields.get("from", ""),
            "to": fields.get("to", ""),
            "subject": fields.get("subject", ""),
            "text": fields.get("text", ""),
            "html": fields.get("html", ""),
            "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with self._lock:
            self._messages.insert(0, message)
        return message

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)


class SiemReceiver:
    """What audit streams delivered to the local server (``POST /_local/siem/<name>``), oldest first: each request's
    name, headers and body exactly as received, so the signature can be checked as a SIEM would. Answers 200."""

    MAX_KEPT = 1000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[dict[str, Any]] = []

    def add(self, name: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        request = {
            "name": name,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with self._lock:
            self._received.append(request)
            del self._received[: -self.MAX_KEPT]
        return request

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()


class OnCallPager:
    """What the on-call topic paged (Critical and High incidents, failed response steps, overdue notices), newest
    first: an SQS queue subscribed to ``OnCallTopic`` stands in for the pager (the deployed stack subscribes
    ``OnCallEndpoint``). Subscribed when the server starts; read with ``list()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: list[dict[str, Any]] = []
        self._queue: str | None = None

    def subscribe(self) -> None:
        from protu import aws
        from protu.settings import settings

        topic = settings().oncall_topic
        if not topic or self._queue:
            return
        sqs = aws.client("sqs")
        self._queue = sqs.create_queue(QueueName=f"local-oncall-{time.time_ns()}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    def list(self) -> list[dict[str, Any]]:
        from protu import aws

        with self._lock:
            while self._queue:
                got = aws.client("sqs").receive_message(QueueUrl=self._queue, MaxNumberOfMessages=10)
                messages = got.get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    self._pages.insert(0, _page(json.loads(message["Body"])))
                    aws.client("sqs").delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
            return list(self._pages)


def _page(envelope: dict[str, Any]) -> dict[str, Any]:
    """SNS's envelope -> {subject, message (parsed when JSON), sent_at}."""
    text = envelope.get("Message", "")
    try:
        message: Any = json.loads(text)
    except ValueError:
        message = text
    return {"subject": envelope.get("Subject") or "", "message": message, "sent_at": envelope.get("Timestamp", "")}


class _QuietServer(ThreadingHTTPServer):
    """A browser that navigates away closes its connections mid-answer; that is not an error worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError...
            return
        super().handle_error(request, client_address)


class LocalServer:
    """Serves the functions, the SPA and the outbox on 127.0.0.1:``port`` from a background thread."""

    def __init__(self, port: int = 0, *, functions: dict[str, Callable] | None = None) -> None:
        self.outbox = Outbox()
        self.oncall = OnCallPager()
        self.siem = SiemReceiver()
        self._functions = functions or load_functions()
        self._locks = {prefix: threading.Lock() for prefix in self._functions}
        from infra.queues import mail_pump

        self._mail, self._mail_lock = mail_pump(), threading.Lock()
        handler = type("Handler", (_Handler,), {"server_app": self})
        self.httpd = _QuietServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None
        self._stripe: Any = None
        from infra.dns_local import NameServer

        # The outside world's DNS (company domains' TXT records): /_local/dns sets them; make run points
        # DNS_NAMESERVERS at it (tests that need it do so themselves).
        self.dns = NameServer()
        self._idp_saml: Any = None
        self._idp_oidc: Any = None

    @property
    def stripe(self) -> Any:
        """The Stripe stand-in (``infra.stripe_local``), made on first use: its events go to /webhooks/stripe."""
        if self._stripe is None:
            from infra.stripe_local import StripeStandIn, ensure_local_keys

            def deliver(payload: bytes, signature: str) -> Any:
                headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
                return self.call_function("/webhooks", "POST", "/webhooks/stripe", headers, payload, "127.0.0.1")

            self._stripe = StripeStandIn(
                checkout_base=f"{self.url}/_local/stripe/checkout",
                portal_base=f"{self.url}/_local/stripe/portal",
                invoice_base=f"{self.url}/_local/stripe/invoice",
                webhook_secret=ensure_local_keys()["webhook_secret"],
                deliver=deliver,
            )
        return self._stripe

    @property
    def idp_saml(self) -> Any:
        """The SAML identity provider stand-in (``infra.idp_saml``) at /_local/idp/saml, made on first use."""
        if self._idp_saml is None:
            from infra.idp_saml import SamlIdpStandIn

            self._idp_saml = SamlIdpStandIn(base=f"{self.url}/_local/idp/saml")
        return self._idp_saml

    @property
    def idp_oidc(self) -> Any:
        """The OpenID Connect provider stand-in (``infra.idp_oidc``), its issuer /_local/idp/oidc, made on first use."""
        if self._idp_oidc is None:
            from infra.idp_oidc import OidcProvider

            self._idp_oidc = OidcProvider(issuer=f"{self.url}/_local/idp/oidc")
        return self._idp_oidc

    @property
    def url(self) -> str:
        """By name: browsers allow passkeys (WebAuthn's relying party id) and ``SameSite=None; Secure`` cookies (the
        SAML sign-in's) on ``localhost``, not on an IP address. It listens on 127.0.0.1, where localhost leads."""
        return f"http://localhost:{self.port}"

    def start(self) -> LocalServer:
        self.oncall.subscribe()
        self.dns.start()
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="local-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.dns.stop()

    def call_function(self, prefix: str, method: str, url: str, headers: dict[str, str], body: bytes, ip: str):
        """One request at a time per function, like one Lambda container (Chalice keeps per-request state). The
        mail jobs an API request queued run right after it (``MailFunction``'s SQS mapping does it in the cloud)."""
        with self._locks[prefix]:
            reply = gateway.invoke(self._functions[prefix], method, url, headers=headers, body=body, source_ip=ip)
        if prefix == "/api":
            with self._mail_lock:
                self._mail.pump()
        return reply


def load_functions() -> dict[str, Callable]:
    for folder in FUNCTION_DIRS:
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import api
    import webhooks

    return {"/api": api.app, "/webhooks": webhooks.app}


class _Handler(BaseHTTPRequestHandler):
    server_app: LocalServer
    protocol_version = "HTTP/1.1"
    server_version = "protu-local"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("PROTU_ACCESS_LOG") == "1":
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, PROPFIND, one made up) goes where its path goes, as the ones above do: the API
        answers it with its own JSON 405 (``Allow``, the security headers), as it answers a method a route does not
        take, and the SPA with its 405. http.server's own answer would be an HTML 501."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        if body is None:
            return
        prefix = "/" + path.split("/", 2)[1] if path.count("/") >= 1 else "/"
        if prefix in self.server_app._functions and gateway.proxy_resource(path):
            headers = {k: v for k, v in self.headers.items()}
            answer = self.server_app.call_function(
                prefix, self.command, self.path, headers, body, self.client_address[0]
            )
            self._send(answer.status, answer.headers, answer.body, answer.multi_headers)
        elif path.startswith("/_local/"):
            self._local(path, body)
        elif prefix in self.server_app._functions:
            self._send(
                404,
                {"Content-Type": "application/json", "Cache-Control": "no-store"},
                b'{"error":{"code":"route_not_found","message":"No such endpoint."}}',
            )
        elif self.command in ("GET", "HEAD") and self.headers.get("Host", "").startswith("127.0.0.1:"):
            # A page opened at http://127.0.0.1:<port> is taken to the origin the app runs on (``url``).
            self._send(302, {"Location": f"{self.server_app.url}{self.path}", "Cache-Control": "no-store"}, b"")
        else:
            self._static(path)

    def _body(self) -> bytes | None:
        """The request's body, read by its Content-Length or its chunks (``Transfer-Encoding: chunked``, as clients
        send an empty form), or None once the request is refused. A body the server does not read whole (over the
        size limit, framed in a way it cannot read) ends the connection after the answer: left on it, its bytes
        would be read as the next request (smuggled past whatever looked at this one, or answered with an HTML 400
        that the client takes for the answer to its own next request)."""
        given = self.headers.get_all("Content-Length") or []
        coding = [c.strip().lower() for c in ",".join(self.headers.get_all("Transfer-Encoding") or []).split(",")]
        if coding != [""]:
            if coding != ["chunked"] or given:  # both framings at once: which one ends the body is a smuggler's choice
                return self._refuse(400, "bad_request", "The request's Transfer-Encoding is not one this API reads.")
            return self._chunked()
        if len(given) > 1 or (given and not given[0].strip().isdigit()):
            return self._refuse(400, "bad_request", "The request's Content-Length is not valid.")
        if given and int(given[0]) > MAX_REQUEST_BYTES:
            return self._refuse(413, "payload_too_large", "The request body is too large.")
        return self.rfile.read(int(given[0])) if given and int(given[0]) else b""

    def _chunked(self) -> bytes | None:
        """A chunked body (RFC 9112 7.1): size lines in hex, each chunk and its CRLF, a last chunk of size 0, then
        trailer lines (ignored) up to an empty one."""
        body = b""
        while True:
            line = self.rfile.readline(1026).split(b";", 1)[0].strip()
            if not line or len(line) > 8 or any(c not in b"0123456789abcdefABCDEF" for c in line):
                return self._refuse(400, "bad_request", "The request's chunked body is not valid.")
            size = int(line, 16)
            if size == 0:
                break
            if len(body) + size > MAX_REQUEST_BYTES:
                return self._refuse(413, "payload_too_large", "The request body is too large.")
            body += self.rfile.read(size)
            if self.rfile.readline(3) != b"\r\n":
                return self._refuse(400, "bad_request", "The request's chunked body is not valid.")
        while True:
            trailer = self.rfile.readline(8192)
            if trailer in (b"\r\n", b"\n", b""):
                return body
            if not trailer.endswith(b"\n"):
                return self._refuse(400, "bad_request", "The request's chunked body is not valid.")

    def _refuse(self, status: int, code: str, message: str) -> None:
        self.close_connection = True
        self._json(status, {"error": {"code": code, "message": message}})
        return None

    def _local(self, path: str, body: bytes) -> None:
        outbox = self.server_app.outbox
        if path == "/_local/outbox" and self.command == "GET":
            self._json(200, outbox.list())
        elif path == "/_local/oncall" and self.command == "GET":
            self._json(200, self.server_app.oncall.list())
        elif path.startswith("/_local/mailgun/v3/") and path.endswith("/messages") and self.command == "POST":
            message = outbox.add(_form(self.headers.get("Content-Type", ""), body))
            print(f"mail  -> {message['to']}: {message['subject']}  (see /_local/outbox)", flush=True)
            self._json(200, {"id": message["id"], "message": "Queued. Thank you."})
        elif path.startswith("/_local/stripe/"):
            self._stripe(path.removeprefix("/_local/stripe"), body)
        elif path.startswith("/_local/idp/saml/"):
            where = self.path.removeprefix("/_local/idp/saml")  # with its query (the HTTP-Redirect binding's)
            text = body.decode("utf-8", "replace")
            self._send(*self.server_app.idp_saml.answer(self.command, where, text, dict(self.headers)))
        elif path.startswith("/_local/idp/oidc/"):
            where = self.path.removeprefix("/_local/idp/oidc")  # with its query (the authorization request's)
            text = body.decode("utf-8", "replace")
            self._send(*self.server_app.idp_oidc.answer(self.command, where, text, dict(self.headers)))
        elif path == "/_local/dns" or path.startswith("/_local/dns/"):
            status, document = self.server_app.dns.answer(self.command, path, body.decode("utf-8", "replace"), {})
            self._json(status, document) if status != 204 else self._send(204, {}, b"")
        elif path == "/_local/siem" and self.command in ("GET", "DELETE"):
            if self.command == "DELETE":
                self.server_app.siem.clear()
                self._send(204, {}, b"")
            else:
                self._json(200, self.server_app.siem.list())
        elif path.startswith("/_local/siem/") and len(path) > len("/_local/siem/") and self.command == "POST":
            name = path.removeprefix("/_local/siem/")
            received = self.server_app.siem.add(name, {k.lower(): v for k, v in self.headers.items()}, body)
            print(f"siem  <- {name}: {received['headers'].get('webhook-id', '')}  (see /_local/siem)", flush=True)
            self._json(200, {"received": True})
        else:
            self._json(404, {"error": {"code": "not_found", "message": "Not found."}})

    def _stripe(self, path: str, body: bytes) -> None:
        """Stripe's API, and stand-ins for the pages Stripe hosts (Checkout, the billing portal)."""
        from infra import stripe_local

        stripe = self.server_app.stripe
        if path.startswith("/v1/"):
            query = urlsplit(self.path).query  # a GET's parameters (the invoices of a customer)
            where = path + (f"?{query}" if query else "")
            status, document = stripe.answer(self.command, where, body.decode("utf-8", "replace"), dict(self.headers))
            self._send(status, {"Content-Type": "application/json"}, json.dumps(document).encode())
            return
        kind, _, session_id = path.strip("/").partition("/")
        if kind == "invoice" and self.command == "GET":
            invoice = stripe.invoices.get(session_id.removesuffix("/pdf"))
            if invoice is None:
                self._json(404, {"error": {"code": "not_found", "message": "No such invoice."}})
            else:
                page = stripe_local.invoice_page(invoice).encode()
                self._send(200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}, page)
            return
        session = stripe.sessions.get(session_id)
        if kind not in ("checkout", "portal") or session is None:
            self._json(404, {"error": {"code": "not_found", "message": "No such Stripe session."}})
            return
        if self.command == "POST":
            action = _form(self.headers.get("Content-Type", ""), body).get("action", "")
            target = stripe_local.act(stripe, kind, session, action)
            print(f"stripe -> {kind} {action}: events sent to /webhooks/stripe", flush=True)
            self._send(303, {"Location": target, "Cache-Control": "no-store"}, b"")
            return
        page = stripe_local.page(stripe, kind, session).encode()
        self._send(200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}, page)

    def _static(self, path: str) -> None:
        from protu.http.headers import SPA_HEADERS

        if self.command not in ("GET", "HEAD"):
            self._send(405, {"Allow": "GET, HEAD", **SPA_HEADERS}, b"")
            return
        target = (FRONTEND / path.lstrip("/")).resolve()
        inside = target.is_relative_to(FRONTEND.resolve())
        if not (inside and target.is_file()):
            if "." in path.rsplit("/", 1)[-1]:
                self._send(404, {"Content-Type": "text/plain; charset=utf-8", **SPA_HEADERS}, b"Not found")
                return
            target = FRONTEND / "index.html"  # a client-side route: the SPA decides
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
            kind += "; charset=utf-8"
        cache = "no-cache" if target.name == "index.html" else "public, max-age=300"
        self._send(200, {"Content-Type": kind, "Cache-Control": cache, **SPA_HEADERS}, target.read_bytes())

    def _json(self, status: int, value: Any) -> None:
        from protu.http.headers import API_HEADERS

        self._send(status, {"Content-Type": "application/json", **API_HEADERS}, json.dumps(value).encode())

    def _send(
        self, status: int, headers: dict[str, str], body: bytes, multi: dict[str, list[str]] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if multi and name in multi and len(multi[name]) > 1:
                continue
            self.send_header(name, value)
        for name, values in (multi or {}).items():
            if len(values) > 1:
                for value in values:
                    self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:  # the client asked to close (Connection: close): say so, so it reuses nothing
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _form(content_type: str, body: bytes) -> dict[str, str]:
    """Mailgun's messages API takes urlencoded or multipart form fields."""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=email_policy).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                fields[name] = part.get_content() if isinstance(part.get_content(), str) else ""
        return fields
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


# ---------------------------------------------------------------------------------------------- make run
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_local_cloud(app_origin: str) -> Any:
    """Start a moto server in this process, point every AWS client at it and provision the template into it."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    # MOTO_PORT: moto's Step Functions call its own Lambda API over HTTP on that port while they execute.
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "MOTO_PORT": str(moto_port),
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_REGION": "eu-central-1",
        }
    )
    from infra import stepfunctions
    from infra.cloud import LocalCloud

    # State machines execute, their Lambda tasks run the functions' handlers here (before provisioning: with
    # docker off, moto keeps functions elsewhere).
    stepfunctions.configure_server(f"http://127.0.0.1:{moto_port}")
    # The real Mailgun client posts to this server's Mailgun stand-in, which fills the outbox.
    parameters = {
        "AppOrigin": app_origin,
        "MailgunApiBase": app_origin + "/_local/mailgun/v3",
        "StripeApiBase": app_origin + "/_local/stripe",
    }
    cloud = LocalCloud(parameters=parameters).provision()
    os.environ.update(cloud.environment())
    # Local only (never in the template): audit streams may deliver to this server's SIEM receiver over plain HTTP.
    os.environ["AUDIT_STREAMS_LOCAL_ORIGIN"] = app_origin
    from protu.settings import reload

    reload()
    return moto, cloud


def main() -> int:
    port = int(os.environ.get("PORT") or 8000)
    started = time.monotonic()
    url = f"http://localhost:{port}"  # LocalServer.url: the name browsers allow passkeys on
    print("Protu local: starting the local cloud (moto) from template.yaml ...", flush=True)
    moto, cloud = start_local_cloud(url)
    from infra.ops import LOCAL_STATE

    # protu-ops run in another terminal acts on this cloud while it is up (infra/ops.py).
    keep = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION")
    state = {"url": url, "environment": {**cloud.environment(), **{k: os.environ[k] for k in keep}}}
    LOCAL_STATE.write_text(json.dumps(state, indent=1))
    server = LocalServer(port)
    os.environ["DNS_NAMESERVERS"] = server.dns.address  # company domains are verified against /_local/dns
    from protu.settings import reload

    reload()
    from infra import idp_oidc
    from infra.seed import seed

    demo = seed(cloud)
    server.start()
    from infra.background import Background

    background = Background(cloud).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1 <pid>: where every thread is, on stderr
    print(f"\nProtu is running on {url}  (ready in {time.monotonic() - started:.1f}s)", flush=True)
    print(f"  API health:   {url}/api/health", flush=True)
    print(f"  Email outbox: {url}/_local/outbox", flush=True)
    print(f"  On-call pages: {url}/_local/oncall", flush=True)
    print(f"  SIEM receiver: {url}/_local/siem  (point an audit stream at {url}/_local/siem/demo)", flush=True)
    print(
        f"  OIDC provider: issuer {url}/_local/idp/oidc  (client id {idp_oidc.CLIENT_ID}, "
        f"secret {idp_oidc.CLIENT_SECRET})",
        flush=True,
    )
    for line in demo:
        print(f"  {line}", flush=True)
    print("Stop with Ctrl-C.", flush=True)
    stop.wait()
    print("Protu local: stopping ...", flush=True)
    background.stop()
    server.stop()
    moto.stop()
    LOCAL_STATE.unlink(missing_ok=True)
    print("Protu local: stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
