"""schemathesis against ``/api/openapi.json``: generated requests for every operation, sent over HTTP to the real
local server as a signed-in owner, must never get a 5xx nor an answer that breaks its documented schema.

The number of examples is bounded (``EXAMPLES`` per operation) to keep the suite fast; a run is still a few hundred
requests across every route, valid and invalid ones alike.
"""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.conftest import providers_on_local_server

EXAMPLES = 8


@pytest.fixture(scope="module")
def served(local_server):
    with providers_on_local_server(local_server):
        yield local_server


@pytest.fixture(scope="module")
def owner_headers(served):
    from protu.identity import accounts

    from infra.seed import add_company

    email, password = "fuzz-owner@example.com", "fuzzing harbour lantern 9"
    if accounts.find_account(email) is None:
        add_company("c-fuzz-owner", "Fuzz Ltd", [("owner", "Fuzz Owner", email)], password)
    agent = {"User-Agent": "schemathesis"}  # the session is bound to its client: the same agent throughout
    signed_in = requests.post(
        f"{served}/api/auth/login", json={"email": email, "password": password}, headers=agent, timeout=10
    )
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['access_token']}", **agent}


@pytest.fixture(scope="module")
def api_schema(served):
    document = requests.get(f"{served}/api/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(document)


def test_no_5xx_and_every_answer_matches_its_schema(api_schema, served, owner_headers):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 40
    # Random passwords and codes where the caller confirms who they are count as guesses: five sign the session
    # out (a stolen session is no password oracle). Those operations run last, after the session's check.
    guarded = {("POST", "/api/auth/reauthenticate"), ("DELETE", "/api/me/mfa/totp")}
    operations.sort(key=lambda op: (op.method.upper(), op.path) in guarded)
    statuses: list[int] = []
    checked = False
    for operation in operations:
        if (operation.method.upper(), operation.path) in guarded and not checked:
            assert requests.get(f"{served}/api/me", headers=owner_headers, timeout=10).status_code == 200
            checked = True
        run = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)(
            given(case=operation.as_strategy())(lambda case: statuses.append(call(case, served, owner_headers)))
        )
        run()
    # it really exercised the API as a signed-in owner: many requests, many of them accepted
    assert len(statuses) >= 4 * len(operations)
    assert sum(200 <= status < 300 for status in statuses) >= len(operations), sorted(set(statuses))


def call(case, served: str, owner_headers: dict[str, str]) -> int:
    if case.path in ("/api/auth/logout", "/api/me/sessions") and case.method in ("POST", "DELETE"):
        headers = {"User-Agent": "schemathesis"}  # would end the owner's own session for the rest of the run
    else:
        headers = owner_headers
    response = case.call_and_validate(
        base_url=served, headers=headers, checks=[not_a_server_error, response_schema_conformance]
    )
    return response.status_code
