"""The local server of `make run`: functions behind a stand-in API Gateway, the SPA, the outbox."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from protu.http.headers import API_HEADERS, SPA_CSP

from infra.server import free_port

ROOT = Path(__file__).resolve().parents[2]


def fetch(url, *, method="GET", data=None, headers=None):
    request = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_client_that_asks_to_close_is_told_the_connection_closes(local_server):
    """HTTP/1.1: an answer to ``Connection: close`` says ``Connection: close``, or a client would put the connection
    back in its pool and send its next request down a socket the server has closed."""
    assert fetch(local_server + "/api/health", headers={"Connection": "close"})[1].get("Connection") == "close"
    assert fetch(local_server + "/", headers={"Connection": "close"})[1].get("Connection") == "close"


def _exchange(base: str, raw: bytes) -> bytes:
    """Send ``raw`` on one connection and read until the server closes it (or stops answering for 3 s)."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(base)
    with socket.create_connection((where.hostname, where.port), timeout=3) as conn:
        conn.sendall(raw)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except TimeoutError:
            pass  # kept open: the server is waiting for more
    return answer


SMUGGLED = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n"


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 20000000\r\n",  # over the size limit: refused without reading the body
        b"Content-Length: -1\r\n",
        b"Content-Length: 12abc\r\n",
        b"Transfer-Encoding: chunked\r\n",  # and what follows is not a chunk
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",  # two framings: which one ends the body?
        b"Transfer-Encoding: gzip, chunked\r\n",
    ],
    ids=["too-large", "negative", "not-a-number", "not-chunks", "both-framings", "gzip"],
)
def test_a_body_the_server_does_not_read_ends_the_connection(local_server, headers):
    """What follows headers whose body the server does not read (too large, an unreadable length or framing) is that
    body, not another request: the server answers once, says ``Connection: close`` and closes. Kept open, it read
    the body as the next request (smuggled past whatever looked at the first) or, when the body was not a request,
    answered an HTML 400 that a client took for the answer to its own next request."""
    head = b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" + headers
    answer = _exchange(local_server, head + b"\r\n" + SMUGGLED)
    assert answer.count(b"HTTP/1.1 ") == 1, answer[:600]
    status = int(answer.split(b" ", 2)[1])
    assert status in (400, 411, 413), answer[:600]
    assert b"\r\nConnection: close\r\n" in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"]


def test_a_chunked_body_is_read_whole_and_the_connection_stays_in_step(local_server):
    """Clients send some bodies in chunks (an empty form, a stream): the server reads every chunk and the last one,
    so the next request on the connection is answered as itself. Before, it ignored the chunks: the empty form's
    last chunk (``0``) was read as a request and answered with an HTML 400, which the fuzzer's client took for the
    answer to its next request."""
    body = b'{"email": "nobody@example.com"}'
    chunks = b"%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (10, body[:10], len(body) - 10, body[10:])
    first = b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    first += b"Transfer-Encoding: chunked\r\n\r\n" + chunks
    second = b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    answer = _exchange(local_server, first + second + first.replace(b"/api/auth/login", b"/api/health"))
    replies = answer.split(b"HTTP/1.1 ")[1:]
    assert [int(reply.split(b" ", 1)[0]) for reply in replies] == [422, 200], answer[:800]
    assert b'"password"' in replies[0]  # the body reached the API: the field it lacks is named
    assert b"Connection: close" in replies[1]


def test_api_health_through_http(local_server):
    status, headers, body = fetch(local_server + "/api/health")
    assert status == 200
    assert json.loads(body)["status"] == "ok"
    assert headers["Strict-Transport-Security"].startswith("max-age=63072000")
    assert headers["Cache-Control"] == "no-store"


def test_spa_is_served_with_a_strict_csp(local_server):
    status, headers, body = fetch(local_server + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"] == SPA_CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b'<main id="app"' in body


def test_client_side_routes_get_the_spa_and_missing_files_a_404(local_server):
    status, _, body = fetch(local_server + "/employees/123")
    assert status == 200 and b'<main id="app"' in body
    assert fetch(local_server + "/missing.js")[0] == 404
    assert fetch(local_server + "/../pyproject.toml")[0] in (400, 404)


def test_unknown_api_paths_are_json_404s(local_server):
    status, _, body = fetch(local_server + "/api/nope")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "route_not_found"
    status, _, body = fetch(local_server + "/webhooks/nope", method="POST", data=b"{}")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "route_not_found"


def test_mail_sent_to_the_local_mailgun_lands_in_the_outbox_newest_first(local_server):
    import urllib.parse

    for subject in ("first", "second"):
        form = urllib.parse.urlencode(
            {
                "from": "Protu <no-reply@protu.test>",
                "to": "ana@example.com",
                "subject": subject,
                "text": "hello",
                "html": "<p>hello</p>",
            }
        ).encode()
        status, _, body = fetch(
            local_server + "/_local/mailgun/v3/mg.protu.test/messages",
            method="POST",
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 200 and json.loads(body)["id"]
    status, _, body = fetch(local_server + "/_local/outbox")
    messages = json.loads(body)
    assert status == 200
    assert [m["subject"] for m in messages[:2]] == ["second", "first"]
    assert {"to", "subject", "text", "html", "sent_at"} <= set(messages[0])
    assert messages[0]["to"] == "ana@example.com" and messages[0]["html"] == "<p>hello</p>"


def test_what_the_on_call_topic_pages_is_readable_locally_newest_first(local_server):
    from protu import aws
    from protu.settings import settings

    for n in (1, 2):
        message = json.dumps({"incident": f"inc-local-{n}", "severity": "high", "reason": "new incident"})
        aws.client("sns").publish(TopicArn=settings().oncall_topic, Subject=f"[HIGH] page {n}", Message=message)
    status, headers, body = fetch(local_server + "/_local/oncall")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    pages = [p for p in json.loads(body) if p["subject"].startswith("[HIGH] page ")]
    assert [p["subject"] for p in pages] == ["[HIGH] page 2", "[HIGH] page 1"]
    assert pages[0]["message"] == {"incident": "inc-local-2", "severity": "high", "reason": "new incident"}
    assert pages[0]["sent_at"]
    _, _, again = fetch(local_server + "/_local/oncall")  # reading does not consume them
    assert [p["subject"] for p in json.loads(again) if p["subject"].startswith("[HIGH] page ")] == [
        "[HIGH] page 2",
        "[HIGH] page 1",
    ]


def test_make_run_serves_health_and_the_spa_then_stops_cleanly_on_sigterm():
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATA_", "KEY_", "AUDIT_", "KMS_"))}
    env |= {"PORT": str(port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.server"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Stop with Ctrl-C" in line:
                break
        printed = "".join(output)
        assert "Protu is running" in printed, printed
        url = f"http://localhost:{port}"  # by name: browsers allow passkeys there, not on an IP address
        assert f"Protu is running on {url}" in printed, printed
        status, _, body = fetch(url + "/api/health")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert fetch(url + "/")[0] == 200
        # A page opened at the address it listens on is taken there; the API answers on both.
        assert fetch(f"http://127.0.0.1:{port}/api/health")[0] == 200
        opened = urllib.request.urlopen(f"http://127.0.0.1:{port}/signin", timeout=10)
        assert opened.status == 200 and opened.url == f"{url}/signin"

        # The demo people it printed can sign in, each with their role.
        credentials = re.findall(r"(Owner|Admin)\s+(\S+@\S+)\s+password: (.+)", printed)
        assert [role for role, _, _ in credentials] == ["Owner", "Admin"], printed
        for role, email, password in credentials:
            status, _, body = fetch(
                url + "/api/auth/login",
                method="POST",
                data=json.dumps({"email": email, "password": password.strip()}).encode(),
                headers={"Content-Type": "application/json"},
            )
            assert status == 200, body
            user = json.loads(body)["user"]
            assert (user["role"], user["company"]["name"], user["email_verified"]) == (
                role.lower(),
                "Demo Company",
                True,
            )
        process.send_signal(signal.SIGTERM)
        try:
            rest, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # say where it hangs: every thread's stack (infra/server.py, SIGUSR1)
            process.send_signal(signal.SIGUSR1)
            time.sleep(1)
            process.kill()
            stuck, _ = process.communicate()
            pytest.fail("make run did not stop within 20 s of SIGTERM:\n" + stuck[-8000:])
        assert process.returncode == 0, rest
        assert "stopped" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("missing", ["/favicon.ico"])
def test_assets_that_do_not_exist_are_not_the_spa(local_server, missing):
    assert fetch(local_server + missing)[0] == 404


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "BREW"])
def test_a_method_the_api_does_not_serve_is_the_apis_json_405_not_an_html_501(local_server, method):
    """TRACE, WebDAV's PROPFIND or a made-up method reach the API as any method does: its JSON 405, with Allow and
    the security headers of every API answer, the same as for a method the route does not take (PUT)."""
    status, headers, body = fetch(local_server + "/api/health", method=method)
    assert (status, headers["Content-Type"]) == (405, "application/json"), body[:200]
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    assert headers["Allow"] == "GET"
    assert {name: headers.get(name) for name in API_HEADERS} == API_HEADERS
    assert headers["X-Request-Id"]
    _, known, body_of_put = fetch(local_server + "/api/health", method="PUT")  # a method the API knows
    assert json.loads(body_of_put)["error"]["code"] == "method_not_allowed"
    assert {name: known.get(name) for name in API_HEADERS} == API_HEADERS

    status, headers, body = fetch(local_server + "/api/users/u-1", method=method)
    assert status == 405 and json.loads(body)["error"]["code"] == "method_not_allowed"
    assert set(headers["Allow"].split(", ")) == {"PATCH", "DELETE"}


def test_a_method_the_spa_does_not_serve_is_a_405_too(local_server):
    status, headers, _ = fetch(local_server + "/employees", method="TRACE")
    assert (status, headers["Allow"]) == (405, "GET, HEAD")
