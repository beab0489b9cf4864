"""What a new container's first authenticated read costs, by structure (``make bench`` measures the time): one
botocore session serves every client, PynamoDB's included, and the request makes five AWS calls: the signing keys,
the company's role credentials, the session, the company's policy and the page."""

from __future__ import annotations

import botocore.session
from protu import caches

from tests.api.people import sign_up
from tests.conftest import aws_calls


def test_a_new_containers_first_authenticated_read_builds_one_botocore_session(api, mailgun, monkeypatch):
    owner = sign_up(api, mailgun)
    assert owner.browser.post("/api/roles", {"title": "Analyst"}).status == 201
    caches.reset()  # another container: no clients, credentials, signing keys or policies yet

    made = []
    real = botocore.session.Session.__init__

    def counting(self, *args, **kwargs):
        made.append(self)
        real(self, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "__init__", counting)
    with aws_calls() as calls:
        reply = owner.browser.get("/api/roles")
    assert reply.status == 200, reply.body
    assert [role["title"] for role in reply.json()["items"]] == ["Analyst"]
    assert len(made) == 1  # PynamoDB's clients too: a session of their own cost ~12 ms of this request
    assert sorted(calls) == [
        "dynamodb.GetItem",  # the company's policy
        "dynamodb.GetItem",  # the session
        "dynamodb.Query",  # the page
        "secretsmanager.GetSecretValue",  # the signing keys
        "sts.AssumeRole",  # the company's role credentials
    ]

    with aws_calls() as calls:
        assert owner.browser.get("/api/roles").status == 200
    assert sorted(calls) == ["dynamodb.GetItem", "dynamodb.Query"]  # warm: the session and the page
