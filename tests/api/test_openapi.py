"""``GET /api/openapi.json``: the OpenAPI 3.1 document generated from the declarations that route and validate.

It must describe every route the app really has (no more, no less), each with its permission; its request
examples must pass the very validation the API applies; and real answers must match the schemas it documents.
"""

from __future__ import annotations

import jsonschema
import msgspec
import pytest
from openapi_spec_validator import validate as validate_openapi
from protu.http.routing import PUBLIC

from tests.api.people import sign_up


@pytest.fixture(scope="module")
def doc(api):
    reply = api.get("/api/openapi.json")
    assert reply.status == 200 and reply.header("Content-Type") == "application/json"
    return reply.json()


def answer_schema(doc, path: str, method: str, status: int) -> dict:
    schema = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    return {**schema, "components": doc["components"]}  # so "#/components/..." references resolve


def assert_matches(doc, path: str, method: str, reply) -> None:
    jsonschema.validate(reply.json(), answer_schema(doc, path, method, reply.status))


def test_the_document_is_valid_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1")
    validate_openapi(doc)


def test_every_route_of_the_app_is_documented_and_nothing_else(api, doc):
    registered = {(path, method.lower()) for path, methods in api.handler.routes.items() for method in methods}
    documented = {(path, method) for path, operations in doc["paths"].items() for method in operations}
    assert registered == documented
    assert ("/api/openapi.json", "get") in documented


def test_each_operation_states_its_permission_and_security(api, doc):
    for ep in api.handler.endpoints:
        operation = doc["paths"][ep.path][ep.method.lower()]
        assert operation["x-permission"] == ep.permission
        assert operation["security"] == ([] if ep.permission == PUBLIC else [{"bearer": []}])
        assert operation["summary"], f"{ep.method} {ep.path} has no summary (the handler's docstring)"
        if ep.permission != PUBLIC:
            assert {"401", "403"} <= set(operation["responses"])


def test_every_request_body_has_an_example_that_passes_the_apis_own_validation(api, doc):
    with_body = [ep for ep in api.handler.endpoints if ep.body is not None]
    assert len(with_body) >= 15
    for ep in with_body:
        content = doc["paths"][ep.path][ep.method.lower()]["requestBody"]["content"]["application/json"]
        assert "example" in content, f"{ep.method} {ep.path} has no example"
        msgspec.json.decode(msgspec.json.encode(content["example"]), type=ep.body, strict=True)  # what the API runs
        jsonschema.validate(content["example"], {**content["schema"], "components": doc["components"]})


def test_the_documented_schemas_refuse_what_the_api_refuses(doc):
    login = {"$ref": "#/components/schemas/LoginIn", "components": doc["components"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"email": "ana@acme.example", "password": "x" * 10, "admin": True}, login)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"email": "not an email", "password": "long enough"}, login)


def test_real_answers_match_their_documented_schemas(api, doc, mailgun):
    owner = sign_up(api, mailgun)
    assert_matches(doc, "/api/health", "get", api.get("/api/health"))
    assert_matches(doc, "/api/me", "get", owner.browser.get("/api/me"))
    assert_matches(doc, "/api/me/sessions", "get", owner.browser.get("/api/me/sessions"))
    assert_matches(doc, "/api/users", "get", owner.browser.get("/api/users"))
    assert_matches(doc, "/api/auth/login", "post", owner.browser.login(owner.email))
    refused = owner.browser.post("/api/auth/login", {"email": owner.email, "password": "not the password"})
    assert refused.status == 401
    assert_matches(doc, "/api/auth/login", "post", refused)
    invalid = owner.browser.post("/api/users/invitations", {"email": "nope", "role": "admin"})
    assert invalid.status == 422
    assert_matches(doc, "/api/users/invitations", "post", invalid)
