"""The part of IAM the local cloud enforces: DynamoDB requests signed by a company's session of ``TenantDataRole``.

moto accepts every request whatever its credentials, and forgets the session tags of ``AssumeRole``. For the tenant
fence (``protu.store.scope``) to be real locally too, ``install()`` teaches moto two things:

* STS ``AssumeRole`` remembers each new session's access key, role and tags;
* DynamoDB checks every request signed by such a session against the role's policies as the template provisioned
  them (``iam.get_role_policy``), evaluated by ``allowed`` below with the session's tags for
  ``${aws:PrincipalTag/...}`` and the request's partition keys as ``dynamodb:LeadingKeys``. A refusal is the
  ``AccessDeniedException`` DynamoDB answers.

Requests signed by other credentials (the functions' own) are not checked locally: one process plays every
function there, so it cannot tell whose they are. ``tests/infra/test_template.py`` checks those roles' policies
with the same ``allowed``.

``allowed`` evaluates what the template's policies use: Allow and Deny statements, ``Action``/``Resource`` with
``*`` and ``?`` wildcards, policy variables, and the condition operators StringEquals, StringLike, ArnLike and
ArnEquals, their negations (StringNotLike, ArnNotLike...), Bool and the Numeric ones, alone, with ``IfExists``, or with
``ForAllValues:``/``ForAnyValue:`` (resource policies too: ``tests/infra/test_edge.py`` evaluates the tables' and
buckets' denials with it). Anything else raises, so a policy it cannot read fails loudly instead of being waved
through.
"""

from __future__ import annotations

import json
import re
import threading
from functools import cache
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_sessions: dict[str, tuple[str, dict[str, str]]] = {}  # access key id -> (role ARN, session tags)
_lock = threading.Lock()
# the action IAM authorises each item of a transaction as
_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_installed = False


# ------------------------------------------------------------------------------------------------ evaluation
def allowed(
    policies: list[dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, list[str]] | None = None,
    variables: dict[str, str] | None = None,
) -> bool:
    """Whether identity ``policies`` allow ``action`` on ``resource``: an explicit Deny wins, then any Allow."""
    context, variables = context or {}, variables or {}
    verdict = False
    for policy in policies:
        for statement in _list(policy.get("Statement")):
            if _applies(statement, action, resource, context, variables):
                if statement.get("Effect") == "Deny":
                    return False
                verdict = verdict or statement.get("Effect") == "Allow"
    return verdict


def _applies(statement: dict, action: str, resource: str, context: dict, variables: dict) -> bool:
    for unsupported in ("NotAction", "NotResource", "NotPrincipal"):
        if unsupported in statement:
            raise NotImplementedError(f"the local IAM does not evaluate {unsupported}")
    if not any(_like(pattern.lower(), action.lower(), {}) for pattern in _list(statement.get("Action"))):
        return False
    if not any(_like(pattern, resource, variables) for pattern in _list(statement.get("Resource"))):
        return False
    return all(
        _condition(operator, key, _list(wanted), context, variables)
        for operator, block in (statement.get("Condition") or {}).items()
        for key, wanted in block.items()
    )


def _condition(operator: str, key: str, wanted: list[str], context: dict, variables: dict) -> bool:
    quantifier, _, test = operator.rpartition(":")
    if_exists = test.endswith("IfExists")
    test = test.removesuffix("IfExists")
    negated = test in ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike")
    test = test.replace("Not", "", 1) if negated else test
    if test not in ("StringEquals", "StringLike", "ArnLike", "ArnEquals", "Bool", *_NUMERIC):
        raise NotImplementedError(f"the local IAM does not evaluate the condition operator {operator}")
    values = context.get(key)
    if if_exists and not values:
        return True  # ...IfExists: a key the request does not have satisfies the condition

    def matches(value: str) -> bool:
        if test in _NUMERIC:
            return any(_NUMERIC[test](float(value), float(w)) for w in wanted)
        if test == "Bool":
            return any(str(w).lower() == str(value).lower() for w in wanted)
        if test.endswith("Equals"):
            return any(_substitute(w, variables) == value for w in wanted)
        return any(_like(w, value, variables) for w in wanted)

    def holds(value: str) -> bool:
        return matches(value) != negated

    if quantifier == "ForAllValues":
        return all(holds(v) for v in values or [])  # no values at all: true, as in IAM
    if quantifier == "ForAnyValue":
        return any(holds(v) for v in values or [])
    if quantifier:
        raise NotImplementedError(f"the local IAM does not evaluate the condition operator {operator}")
    if not values:
        return negated  # a missing key: a negated operator holds (IAM), any other does not
    return len(values) == 1 and holds(values[0])


_NUMERIC = {
    "NumericEquals": lambda value, wanted: value == wanted,
    "NumericLessThan": lambda value, wanted: value < wanted,
    "NumericLessThanEquals": lambda value, wanted: value <= wanted,
    "NumericGreaterThan": lambda value, wanted: value > wanted,
    "NumericGreaterThanEquals": lambda value, wanted: value >= wanted,
}


def _like(pattern: str, value: str, variables: dict[str, str]) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one; policy variables filled in first. A variable
    the request does not define matches nothing (IAM's behaviour)."""
    regex = _pattern(pattern, tuple(sorted(variables.items())))
    return regex is not None and regex.fullmatch(value) is not None


@cache
def _pattern(pattern: str, variables: tuple[tuple[str, str], ...]) -> re.Pattern[str] | None:
    known = dict(variables)
    parts: list[str] = []
    position = 0
    for found in _VARIABLE.finditer(pattern):
        parts.append(_wildcards(pattern[position : found.start()]))
        name = found.group(1)
        literal = {"*": "*", "?": "?", "$": "$"}.get(name)
        if literal is None:
            literal = known.get(name)
            if literal is None:
                return None
        parts.append(re.escape(literal))
        position = found.end()
    parts.append(_wildcards(pattern[position:]))
    return re.compile("".join(parts), re.DOTALL)


def _wildcards(text: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def _substitute(text: str, variables: dict[str, str]) -> str | None:
    missing = False

    def fill(found: re.Match[str]) -> str:
        nonlocal missing
        name = found.group(1)
        if name in ("*", "?", "$"):
            return name
        if name not in variables:
            missing = True
            return ""
        return variables[name]

    filled = _VARIABLE.sub(fill, text)
    return None if missing else filled


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------------------------------------ DynamoDB
def accesses(target: str, body: dict[str, Any], hash_key: Any) -> list[tuple[str, str, str | None, list[str]]]:
    """What one DynamoDB request does, as IAM sees it: (action, table, index, leading keys) per part.
    ``hash_key(table, index)`` names the partition key attribute. A transaction is one part per item, each with
    the action of its kind (IAM authorises each item so)."""

    def lead(table: str, key: dict[str, Any], index: str | None = None) -> list[str]:
        value = (key or {}).get(hash_key(table, index)) or {}
        return [str(next(iter(value.values())))] if value else []

    if target in ("GetItem", "DeleteItem", "UpdateItem"):
        return [(target, body["TableName"], None, lead(body["TableName"], body.get("Key")))]
    if target == "PutItem":
        return [(target, body["TableName"], None, lead(body["TableName"], body.get("Item")))]
    if target == "Query":
        table, index = body["TableName"], body.get("IndexName")
        return [(target, table, index, _query_leading_key(body, hash_key(table, index)))]
    if target == "BatchGetItem":
        return [
            (target, table, None, [k for key in spec.get("Keys", []) for k in lead(table, key)])
            for table, spec in body.get("RequestItems", {}).items()
        ]
    if target == "BatchWriteItem":
        return [
            (target, table, None, [k for r in requests for k in lead(table, _batch_key(r))])
            for table, requests in body.get("RequestItems", {}).items()
        ]
    if target in ("TransactWriteItems", "TransactGetItems"):
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        kinds["Get"] = "GetItem"
        found = []
        for item in body.get("TransactItems", []):
            for kind, spec in item.items():
                table = spec["TableName"]
                found.append((kinds[kind], table, None, lead(table, spec.get("Key") or spec.get("Item"))))
        return found
    table = body.get("TableName")
    return [(target, table, None, [])] if table else [(target, "*", None, [])]


def _batch_key(request: dict[str, Any]) -> dict[str, Any]:
    if "PutRequest" in request:
        return request["PutRequest"].get("Item", {})
    return request.get("DeleteRequest", {}).get("Key", {})


def _query_leading_key(body: dict[str, Any], attribute: str) -> list[str]:
    names = body.get("ExpressionAttributeNames") or {}
    values = body.get("ExpressionAttributeValues") or {}
    expression = body.get("KeyConditionExpression") or ""
    for name, placeholder in re.findall(r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)", expression):
        if names.get(name, name) == attribute and placeholder in values:
            return [str(next(iter(values[placeholder].values())))]
    legacy = (body.get("KeyConditions") or {}).get(attribute)
    if legacy:
        return [str(next(iter(legacy["AttributeValueList"][0].values())))]
    return []


# ------------------------------------------------------------------------------------------------ moto
def install() -> None:
    """Teach moto's STS to remember session tags and its DynamoDB to check tenant sessions (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoHandler
    from moto.sts.responses import TokenResponse

    original_assume = TokenResponse.assume_role

    def assume_role(self: Any) -> Any:
        result = original_assume(self)
        tags = {tag["Key"]: tag["Value"] for tag in self._get_param("Tags", []) or []}
        with _lock:
            credentials = self.backend.assumed_roles[-1]
            _sessions[credentials.access_key_id] = (credentials.role_arn, tags)
        return result

    original_call = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        refusal = _refusal(self)
        if refusal is not None:
            body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "message": refusal})
            return 400, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original_call(self)

    TokenResponse.assume_role = assume_role
    DynamoHandler.call_action = call_action
    _installed = True


def _refusal(handler: Any) -> str | None:
    """The AccessDenied message for a request a tenant session may not make, or None."""
    found = _CREDENTIAL.search(handler.headers.get("Authorization") or handler.headers.get("authorization") or "")
    session = _sessions.get(found.group(1)) if found else None
    if session is None:
        return None
    role_arn, tags = session
    from moto.dynamodb.models import dynamodb_backends
    from moto.iam.models import iam_backends

    account, region = handler.current_account, handler.region
    role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
    policies = [json.loads(document) for document in role.policies.values()]
    backend = dynamodb_backends[account][region]
    body = handler.body if isinstance(handler.body, dict) else json.loads(handler.body or "{}")
    target = handler.get_endpoint_name(handler.headers) or ""

    def hash_key(table: str, index: str | None) -> str:
        found_table = backend.get_table(table)
        if index:
            for spec in found_table.global_indexes + found_table.indexes:
                if spec.name == index:
                    return next(k["AttributeName"] for k in spec.schema if k["KeyType"] == "HASH")
        return found_table.hash_key_attr

    variables = {f"aws:PrincipalTag/{key}": value for key, value in tags.items()}
    for action, table, index, keys in accesses(target, body, hash_key):
        resource = f"arn:aws:dynamodb:{region}:{account}:table/{table}" + (f"/index/{index}" if index else "")
        if not allowed(policies, f"dynamodb:{action}", resource, {"dynamodb:LeadingKeys": keys}, variables):
            return (
                f"User: {role_arn} (tenant session) is not authorized to perform: dynamodb:{action} on resource: "
                f"{resource} with the leading keys {keys}"
            )
    return None
