"""Metrics through the public interfaces: each request to the API or the webhooks function writes one EMF line on
stdout with the names the alarms and the dashboard read (``protu.metrics``), and sign-ins, lockouts, webhook
outcomes and KMS calls are counted where they happen."""

from __future__ import annotations

import json
import time
import uuid

from protu import caches, metrics
from protu.crypto import keystore
from protu.http.app import ProtuApp
from protu.http.routing import PUBLIC, Router, install

from tests.api.people import STRONG, Browser, new_email
from tests.api.test_mailgun_webhook import event, signing_key, webhook  # noqa: F401 - signing_key is a fixture
from tests.conftest import Client
from tests.unit.test_metrics import emf, emf_documents, values


def test_a_request_counts_with_its_latency_and_no_error(api, capsys):
    capsys.readouterr()
    assert api.get("/api/health").status == 200
    out = capsys.readouterr().out
    (doc,) = emf_documents(out)
    assert doc["route"] == "/api/health" and doc["status"] == 200 and doc["request_id"]
    assert values(out, "Requests", Service="api") == [1]
    assert values(out, "Errors", Service="api") == [0]
    assert values(out, "ClientErrors", Service="api") == [0]
    (latency,) = values(out, "Latency", Service="api")
    assert 0 < latency < 60_000
    assert not [m for m in emf(out) if m[0] == "ErrorsByCode"]


def test_client_errors_are_counted_by_their_stable_code(api, capsys):
    capsys.readouterr()
    assert api.post("/api/auth/login", json={"email": "not-an-email"}).status == 422
    assert api.get("/api/nowhere").status == 404
    out = capsys.readouterr().out
    assert values(out, "ClientErrors", Service="api") == [1, 1]
    assert values(out, "Errors", Service="api") == [0, 0]
    assert values(out, "ErrorsByCode", Service="api", Code="validation_failed") == [1]
    assert values(out, "ErrorsByCode", Service="api", Code="route_not_found") == [1]
    assert "not-an-email" not in out


def test_server_errors_are_counted_as_errors(cloud, capsys):
    router = Router("boom")

    @router.get("/api/boom", permission=PUBLIC)
    def boom(call):
        raise RuntimeError("boom")

    app = ProtuApp("protu-api")
    install(app, router)
    capsys.readouterr()
    assert Client(app).get("/api/boom").status == 500
    out = capsys.readouterr().out
    assert values(out, "Errors", Service="api") == [1]
    assert values(out, "ErrorsByCode", Service="api", Code="internal_error") == [1]


def test_sign_ins_failures_and_lockouts_are_counted(api, owner, capsys):
    browser = Browser(api)
    capsys.readouterr()
    assert browser.login(owner.email, owner.password).status == 200
    assert browser.login(owner.email, "wrong " + STRONG).status == 401
    out = capsys.readouterr().out
    assert values(out, "SignIns", Service="api") == [1]
    assert values(out, "SignInFailures", Service="api") == [1]
    assert values(out, "ErrorsByCode", Service="api", Code="invalid_credentials") == [1]
    assert owner.email not in out

    # Unknown accounts reach the failure limit exactly like known ones: the fifth failure counts, once; one
    # address guessing one account waits after three.
    unknown = new_email("nobody")
    for _ in range(5):
        assert Browser(api).login(unknown, "wrong " + STRONG).status == 401  # each from its own address
    guesser = Browser(api)
    for _ in range(3):
        assert guesser.login(unknown, "wrong " + STRONG).status == 401
    assert guesser.login(unknown, "wrong " + STRONG).status == 429
    out = capsys.readouterr().out
    assert values(out, "SignInFailures", Service="api") == [1] * 8
    assert values(out, "Lockouts", Service="api") == [1]
    assert values(out, "ErrorsByCode", Service="api", Code="too_many_attempts") == [1]
    assert unknown not in out


def test_webhook_outcomes_are_counted_by_provider(webhooks, signing_key, capsys):  # noqa: F811
    body = webhook(signing_key, event("delivered", new_email("nobody")))
    capsys.readouterr()
    assert webhooks.post("/webhooks/mailgun", json=body).status == 200
    again = webhook(signing_key, json.loads(json.dumps(body["event-data"])))  # a retry: same event, new token
    assert webhooks.post("/webhooks/mailgun", json=again).json() == {"status": "duplicate"}
    body["signature"]["signature"] = "0" * 64
    assert webhooks.post("/webhooks/mailgun", json=body).status == 400
    stamp = int(time.time())
    stripe = webhooks.post(
        "/webhooks/stripe", body='{"id": "evt_1"}', headers={"Stripe-Signature": f"t={stamp},v1={'0' * 64}"}
    )
    assert stripe.status == 400
    out = capsys.readouterr().out
    for outcome in ("accepted", "duplicate", "rejected"):
        assert values(out, "WebhookEvents", Service="webhooks", Provider="mailgun", Outcome=outcome) == [1], outcome
    assert values(out, "WebhookEvents", Service="webhooks", Provider="stripe", Outcome="rejected") == [1]
    assert values(out, "Requests", Service="webhooks") == [1, 1, 1, 1]
    assert values(out, "ClientErrors", Service="webhooks") == [0, 0, 1, 1]


def test_kms_calls_are_counted_but_cache_hits_are_not(cloud, capsys):
    tenant = "t-" + uuid.uuid4().hex[:12]
    capsys.readouterr()
    with metrics.invocation("api"):
        version = keystore.ensure_tenant_key(tenant)  # GenerateDataKey
        keystore.tenant_key(tenant, version)  # cached: no call
    with metrics.invocation("api"):
        caches.reset()
        keystore.tenant_key(tenant, version)  # Decrypt
        keystore.tenant_key(tenant, version)  # cached
    assert values(capsys.readouterr().out, "KmsCalls", Service="api") == [1, 1]
