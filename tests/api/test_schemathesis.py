"""schemathesis against ``/api/openapi.json``: generated requests for every operation, sent over HTTP to the real
local server as a signed-in owner, must never get a 5xx nor an answer that breaks its documented schema, and the
document must say what the API accepts:

* a request the document allows is refused only as the document says it can be (``declared_refusals``): with a
  status every request can get (401, 403, 404, 409, 413, 429), or with a refusal the route declares under its
  status (``x-refusals``: a token that is not valid, a plan limit, a record that does not exist...), never with a
  generic validation error (422 ``validation_failed``, 400 ``invalid_json``...) the schema did not predict;
* a request the document forbids is refused (schemathesis' ``negative_data_rejection``);
* every status answered is documented for its operation (``status_code_conformance``).

Three of schemathesis' phases, each bounded to keep the suite fast (``EXAMPLES``, ``COVERAGE``, ``STATEFUL``): the
fuzzing phase (random valid requests for every operation), the coverage phase (boundary values, valid and invalid,
for every operation with a body or a query) and the stateful phase (sequences that follow the document's links:
create a role, then read, change and delete it by the id the creation answered). Operations that would end the
run's own session or company (signing out, ending sessions, erasing the company) are left out or sent anonymously.

The requests come from an address of their own (``FROM``, another loopback address): the sign-ups, sign-ins and
links they ask for count against that address's limits, not against 127.0.0.1's, which the browser tests on the
same local cloud sign up from.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import uuid

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    ensure_resource_availability,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

from tests.conftest import providers_on_local_server

FROM = "127.0.0.42"

EXAMPLES = 8
COVERAGE = {GenerationMode.POSITIVE: 4, GenerationMode.NEGATIVE: 3}  # boundary cases per operation and mode
STATEFUL = {"max_examples": 20, "stateful_step_count": 8}  # scenarios, and calls per scenario
ANY_REQUEST = {401, 403, 404, 409, 413, 429}
"""What any request, however valid, can be answered: not signed in, not allowed, no such record, a conflict with
the current state, over the size limit (no schema bounds a whole body), too many requests."""
ENDS_THE_RUN = {
    ("POST", "/api/auth/logout"),
    ("DELETE", "/api/me/sessions"),
    ("DELETE", "/api/me/sessions/{session_id}"),
    ("POST", "/api/company/erase"),
}
"""Operations that would sign the run's owner out or erase their company."""
GUESSES = {("POST", "/api/auth/reauthenticate"), ("DELETE", "/api/me/mfa/totp"), ("POST", "/api/company/erase")}
"""Random passwords and codes where the caller confirms who they are (erasing the company asks for one every time)
count as guesses: five sign the session out (a stolen session is no password oracle)."""
SPARED = ENDS_THE_RUN | GUESSES
"""What the coverage and stateful runs leave out (the fuzzing run sends them last, or anonymously)."""
CAPPED = {("POST", "/api/users/invitations"), ("POST", "/api/audit-streams")}
"""Creations a company may make only so many of (the plan's seats, its streams): once the cap is met, a scenario
hypothesis replays finds the record it made before refused (402, 409), its link bundle empty, and calls the whole
stateful run flaky. The stateful run leaves them out; the fuzzing and coverage runs and their own tests send them."""


class FromAddress(requests.adapters.HTTPAdapter):
    """Connections from ``FROM`` (all of 127.0.0.0/8 is this machine's loopback)."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (FROM, 0)
        return super().init_poolmanager(*args, **kwargs)


HTTP = requests.Session()
HTTP.mount("http://", FromAddress())
HTTP.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))  # each request as sent: no cookie jar
# A connection per request: one exchange the local server gets wrong cannot leave bytes for the next to read (CI saw
# a 303 followed by an HTML error page on one kept-alive connection once; API Gateway is not the local server).
HTTP.headers["Connection"] = "close"


@pytest.fixture(scope="module")
def served(local_server):
    with providers_on_local_server(local_server):
        yield local_server


@pytest.fixture(scope="module")
def owner_headers(served):
    return signed_in(served, "c-fuzz-owner", "fuzz-owner@example.com")


def signed_in(served: str, tenant_id: str, email: str) -> dict[str, str]:
    """A company of its own with ``email`` as its owner, signed in: the headers of their requests."""
    from protu.identity import accounts

    from infra.seed import add_company

    password = "fuzzing harbour lantern 9"
    if accounts.find_account(email) is None:
        add_company(tenant_id, "Fuzz Ltd", [("owner", "Fuzz Owner", email)], password)
    agent = {"User-Agent": "schemathesis"}  # the session is bound to its client: the same agent throughout
    signed_in = HTTP.post(
        f"{served}/api/auth/login", json={"email": email, "password": password}, headers=agent, timeout=10
    )
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['access_token']}", **agent}


@pytest.fixture
def fresh_owner(served):
    """The owner of a new company: a run that changes its settings or fills its plan leaves the others alone."""
    suffix = uuid.uuid4().hex[:10]
    return signed_in(served, f"c-fuzz-{suffix}", f"fuzz-{suffix}@example.com")


@pytest.fixture(scope="module")
def document(served):
    return HTTP.get(f"{served}/api/openapi.json", timeout=10).json()


@pytest.fixture(scope="module")
def api_schema(document):
    # Only the document's own links: the stateful phase is about them (schemathesis would infer more on its own).
    # A refusal the document lists is judged by ``declared_refusals``, so 413 is an expected answer to invalid data.
    config = SchemathesisConfig.from_dict(
        {
            "phases": {"stateful": {"inference": {"algorithms": []}}},
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": ["400", "401", "403", "404", "405", "409", "413", "415", "422", "429"]
                }
            },
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


def declared_refusals(ctx, response, case) -> None:
    """A request the document allows is refused only as the document says it can be: with a status any request
    can get (``ANY_REQUEST``), or with a refusal its operation declares under that status (``x-refusals``: the code,
    and the field when the refusal names one). The "29 refused" of the issue were such requests: an address the
    schema allowed and the mailer did not, a password shorter than the policy, a name with a web address..."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    status = response.status_code
    if status < 400 or status >= 500 or status in ANY_REQUEST:
        return
    operation = case.operation.definition.raw
    answer = operation["responses"].get(str(status), {})
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        error = {}
    field = (error.get("details") or {}).get("field") if isinstance(error.get("details"), dict) else None
    for refusal in answer.get("x-refusals", []):
        if refusal["code"] == error.get("code") and refusal.get("field", field) == field:
            return
    raise AssertionError(
        f"{case.method} {case.path}: a request the document allows was refused with {status} {error} "
        f"(declared: {[r['code'] for r in answer.get('x-refusals', [])]})"
    )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
    declared_refusals,
]


def test_no_5xx_and_every_answer_matches_its_schema(api_schema, served, owner_headers):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 40
    # The guesses run last, after the session's check.
    operations.sort(key=lambda op: (op.method.upper(), op.path) in GUESSES)
    statuses: list[int] = []
    checked = False
    for operation in operations:
        if (operation.method.upper(), operation.path) in GUESSES and not checked:
            assert HTTP.get(f"{served}/api/me", headers=owner_headers, timeout=10).status_code == 200
            checked = True
        # The headers it is sent with are fixed, not generated (any generated value would be replaced on sending):
        # an operation that takes nothing else is one request, which hypothesis then sends once, not EXAMPLES times.
        headers = sent_with(operation, owner_headers)
        run = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)(
            given(case=operation.as_strategy(headers=headers))(sender(statuses, served, headers))
        )
        run()
    # it really exercised the API as a signed-in owner: many requests, many of them accepted
    assert len(statuses) >= 4 * len(operations)
    assert sum(200 <= status < 300 for status in statuses) >= len(operations), sorted(set(statuses))


def sent_with(operation, owner_headers: dict[str, str]) -> dict[str, str]:
    """The owner's headers, or only the agent where the owner's token would end their own session for the rest of
    the run (the token is then generated, as anyone's)."""
    if (operation.method.upper(), operation.path) in {("POST", "/api/auth/logout"), ("DELETE", "/api/me/sessions")}:
        return {"User-Agent": owner_headers["User-Agent"]}
    return owner_headers


def sender(statuses: list[int], served: str, headers: dict[str, str]):
    return lambda case: statuses.append(call(case, served, headers))


def call(case, served: str, headers: dict[str, str]) -> int:
    response = case.call_and_validate(base_url=served, session=HTTP, headers=headers, checks=CHECKS)
    return response.status_code


def test_coverage_phase_boundary_values_are_answered_as_the_document_says(api_schema, served, fresh_owner):
    """schemathesis' coverage phase: for every operation that takes a body or a query, its first boundary cases in
    each mode (the example, the shortest and longest strings, each bound crossed, wrong types, missing fields). The
    valid ones must not be refused beyond what the document declares, the invalid ones must be refused."""
    operations = [
        op
        for op in (result.ok() for result in api_schema.get_all_operations())
        if (op.method.upper(), op.path) not in SPARED and (op.body or op.query)
    ]
    assert len(operations) >= 30
    answered: dict[GenerationMode, list[int]] = {mode: [] for mode in COVERAGE}
    for operation in sorted(operations, key=lambda op: op.path == "/api/settings"):  # its changes come last
        generation = api_schema.config.generation_for(operation=operation, phase="coverage")
        for mode, count in COVERAGE.items():
            cases = api_schema.iter_coverage_cases(operation, generation_modes=[mode], generation_config=generation)
            for case in itertools.islice(cases, count):
                response = case.call_and_validate(base_url=served, session=HTTP, headers=fresh_owner, checks=CHECKS)
                answered[mode].append(response.status_code)
    positive, negative = answered[GenerationMode.POSITIVE], answered[GenerationMode.NEGATIVE]
    assert len(negative) >= 2 * len(operations)
    assert sum(400 <= status < 500 for status in negative) >= 0.9 * len(negative), sorted(set(negative))
    assert sum(200 <= status < 300 for status in positive) >= len(operations) // 2, sorted(set(positive))
    assert HTTP.get(f"{served}/api/me", headers=fresh_owner, timeout=10).status_code == 200


def test_stateful_phase_follows_the_documents_links_to_the_records_it_made(api_schema, served, fresh_owner):
    """schemathesis' stateful phase over the document's links: a creation's answer gives the id the next calls use
    (``protu.http.openapi.links``), so sequences reach the routes of real records, nested ones included, with the
    same checks, and schemathesis' own stateful ones: a record just made can be read, a deleted one cannot."""
    reached: list[tuple[str, str, int]] = []
    linked = api_schema.exclude(lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in SPARED | CAPPED)

    class Run(linked.as_state_machine()):
        def setup(self):
            # Each scenario in a company of its own: hypothesis replays scenarios and must meet the same answers
            # again (a company that kept the records, seats and limits of earlier scenarios answered otherwise, and
            # the run was called flaky).
            suffix = uuid.uuid4().hex[:10]
            self.owner = signed_in(served, f"c-fuzz-{suffix}", f"fuzz-{suffix}@example.com")

        def get_call_kwargs(self, case):
            # A case whose headers are the invalid part (no Authorization) is sent as generated: the owner's token
            # added back would make it a valid request, answered 200, and a false "invalid data accepted".
            if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
                return {"base_url": served, "session": HTTP, "headers": {"User-Agent": self.owner["User-Agent"]}}
            return {"base_url": served, "session": HTTP, "headers": self.owner}

        def after_call(self, response, case):
            super().after_call(response, case)
            reached.append((case.method.upper(), case.operation.path, response.status_code))

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                checks=[*CHECKS, use_after_free, ensure_resource_availability],
                transport_kwargs=kwargs or None,
                recorder=getattr(self, "recorder", None),
            )

    Run.run(
        settings=settings(
            **STATEFUL, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
        )
    )
    found = {(method, path) for method, path, status in reached if 200 <= status < 300}
    assert len({path for _, path in found if "{" in path}) >= 3, sorted(found)  # records made, reached by their id
    assert HTTP.get(f"{served}/api/me", headers=fresh_owner, timeout=10).status_code == 200
