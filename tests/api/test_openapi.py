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
        media = "application/x-www-form-urlencoded" if ep.form else "application/json"  # a form: a SAML response
        content = doc["paths"][ep.path][ep.method.lower()]["requestBody"]["content"][media]
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


# ------------------------------------------------------------------------------------------------ what it accepts
def test_rules_that_functions_enforce_are_stated_by_the_schemas(doc):
    """An address the mailer cannot use, a password the policy refuses for its length, a name that is a web
    address, a domain that is not one: the document refuses them as the API does (``protu.schemas``)."""

    def allows(component: str, value: dict) -> bool:
        try:
            jsonschema.validate(value, {"$ref": f"#/components/schemas/{component}", "components": doc["components"]})
        except jsonschema.ValidationError:
            return False
        return True

    signup = {"company_name": "Acme Ltd", "name": "Ana Smith", "email": "ana@acme.example", "password": "x" * 12}
    signup["accept_terms"] = True
    assert allows("SignupIn", signup)
    for refused in (
        {"email": "x" * 70 + "@example.com"},  # more than 64 characters before the "@"
        {"email": "a,b@example.com"},
        {"email": "ana@exa_mple.com"},
        {"password": "x" * 7},
        {"password": "x" * 129},
        {"name": "www.acme.com"},
        {"company_name": "https://acme.example"},
        {"name": "ｗｗｗ．ａｃｍｅ"},  # the same after NFKC
        {"name": " \u3000 "},
        {"accept_terms": False},
    ):
        assert not allows("SignupIn", {**signup, **refused}), refused
    assert allows("LoginIn", {"email": "ana@acme.example", "password": "x"})  # signing in judges any password
    assert allows("SettingsPatchIn", {"version": 1, "allowed_email_domains": ["Acme.example", "xn--bcher-kva.ch"]})
    for domain in ("localhost", "10.0.0.1", "*.acme.com", "ana@acme.com", "acme .com", "acme.com\n"):
        assert not allows("SettingsPatchIn", {"version": 1, "allowed_email_domains": [domain]}), domain
    assert not allows("SettingsPatchIn", {"version": 1, "company_name": "Acme\nLtd"})


def test_every_operation_lists_the_errors_any_request_can_get(api, doc):
    for ep in api.handler.endpoints:
        statuses = set(doc["paths"][ep.path][ep.method.lower()]["responses"])
        assert {"413", "422", "503"} <= statuses, (ep.method, ep.path)  # too large, a query string, an outage
        if ep.body is None or ep.body is not bytes:
            assert "400" in statuses, (ep.method, ep.path)  # a body it does not take, or one that is not JSON
        if ep.body is not None and ep.body is not bytes:
            assert "415" in statuses, (ep.method, ep.path)


def test_every_declared_refusal_is_listed_under_its_status(api, doc):
    declared = [(ep, refusal) for ep in api.handler.endpoints for refusal in ep.errors]
    assert len(declared) >= 40
    for ep, refusal in declared:
        answer = doc["paths"][ep.path][ep.method.lower()]["responses"][str(refusal.status)]
        listed = {(r["code"], r.get("field")) for r in answer["x-refusals"]}
        assert (refusal.code, refusal.field) in listed, (ep.method, ep.path, refusal)
        if refusal.why:
            assert refusal.why in answer["description"]
    responses = doc["paths"]["/api/users/invitations"]["post"]["responses"]
    assert [r["code"] for r in responses["402"]["x-refusals"]] == ["seat_limit_reached"]
    assert "candidate_limit_reached" in [
        r["code"] for r in doc["paths"]["/api/candidates"]["post"]["responses"]["402"]["x-refusals"]
    ]
    assert "invalid_token" in [
        r["code"] for r in doc["paths"]["/api/auth/verify-email"]["post"]["responses"]["400"]["x-refusals"]
    ]


def test_a_handler_that_answers_nothing_is_documented_as_204(doc):
    assert set(doc["paths"]["/api/auth/logout"]["post"]["responses"]) & {"200", "204"} == {"204"}


def test_a_creation_links_to_the_routes_of_the_record_it_made(doc):
    """OpenAPI links, for clients that follow them (schemathesis' stateful phase): the id a creation answers is the
    path parameter of its record's routes; a nested record's parent comes from the creation's own path."""
    operations = {op["operationId"] for methods in doc["paths"].values() for op in methods.values()}
    roles = doc["paths"]["/api/roles"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in roles.values()} == {
        "get_api_roles_id",
        "patch_api_roles_id",
        "delete_api_roles_id",
    }
    assert all(link["parameters"] == {"id": "$response.body#/id"} for link in roles.values())
    assert roles["patch_api_roles_id"]["requestBody"] == {"version": "$response.body#/version"}
    nested = doc["paths"]["/api/assessments/{id}/responses"]["post"]["responses"]["201"]["links"]
    assert nested["get_api_assessments_id_responses_response_id"]["parameters"] == {
        "id": "$request.path.id",
        "response_id": "$response.body#/id",
    }
    invited = doc["paths"]["/api/users/invitations"]["post"]["responses"]["201"]["links"]
    assert invited["delete_api_users_user_id"]["parameters"] == {"user_id": "$response.body#/id"}
    for methods in doc["paths"].values():
        for operation in methods.values():
            for answer in operation["responses"].values():
                for link in answer.get("links", {}).values():
                    assert link["operationId"] in operations


def test_a_route_declares_a_refusal_by_its_error_class_too():
    from protu import errors
    from protu.http.openapi import document
    from protu.http.routing import Refusal, Router

    router = Router("example")

    @router.get("/api/example/{id}", permission=PUBLIC, errors=(errors.Gone, Refusal(409, "stale", "It changed.")))
    def example(call) -> None:
        """An example."""

    responses = document(router.endpoints)["paths"]["/api/example/{id}"]["get"]["responses"]
    assert responses["410"]["x-refusals"] == [{"code": "gone", "description": errors.Gone.message}]
    assert responses["409"]["x-refusals"] == [{"code": "stale", "description": "It changed."}]
    assert {"204", "400", "404", "413", "422", "503"} <= set(responses)
