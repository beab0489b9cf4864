"""The isolation fence below the code: a request acts for one company, and its DynamoDB calls are signed as that
company's session of ``TenantDataRole``, whose policy (as ``template.yaml`` declares it and the local cloud
provisions it) allows only that company's leading keys.

The local cloud checks every request of such a session as IAM would (``infra/iam.py``), so these tests use the
same credentials a request uses and show what DynamoDB lets them do.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from protu.settings import settings
from protu.store import scope, tenant_pk

from tests.api.people import sign_up


@pytest.fixture(scope="module")
def two_companies(api, module_mailgun):
    return sign_up(api, module_mailgun), sign_up(api, module_mailgun)


def company(account) -> str:
    return account.me["company"]["id"]


def dynamodb_as(tenant_id: str):
    """A DynamoDB client signed exactly as a request bound to ``tenant_id`` signs its calls."""
    frozen = scope.tenant_credentials(tenant_id).get_frozen_credentials()
    return boto3.client(
        "dynamodb",
        region_name=settings().region,
        aws_access_key_id=frozen.access_key,
        aws_secret_access_key=frozen.secret_key,
        aws_session_token=frozen.token,
    )


def denied(call) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] == "AccessDeniedException"
    return False


def test_the_api_reaches_company_data_only_through_the_tenant_role(cloud, two_companies):
    first, _ = two_companies
    assert first.browser.post("/api/roles", {"title": "Analyst"}).status == 201
    iam = boto3.client("iam", region_name=settings().region)
    role = settings().tenant_role_arn.rsplit("/", 1)[1]
    granted = iam.get_role_policy(RoleName=role, PolicyName="one-company")["PolicyDocument"]
    iam.delete_role_policy(RoleName=role, PolicyName="one-company")
    try:  # the role can do nothing now: neither can the API, although the function's own role is untouched
        refused = first.browser.get("/api/roles")
    finally:
        iam.put_role_policy(RoleName=role, PolicyName="one-company", PolicyDocument=json.dumps(granted))
    assert refused.status == 503 and refused.json()["error"]["code"] == "service_unavailable"
    assert first.browser.get("/api/roles").json()["items"][0]["title"] == "Analyst"


def test_a_company_session_reaches_its_own_items_and_no_other_companys(two_companies):
    first, second = two_companies
    ddb = dynamodb_as(company(first))
    data, audit = settings().data_table, settings().audit_table
    own = ddb.query(
        TableName=data,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"T#{company(first)}#USERS"}},
    )
    assert own["Count"] == 1
    assert ddb.get_item(TableName=audit, Key={"pk": {"S": f"T#{company(first)}"}, "sk": {"S": "HEAD"}})["Item"]

    theirs = {"pk": {"S": f"T#{company(second)}#USERS"}, "sk": {"S": f"U#{second.me['id']}"}}
    assert denied(lambda: ddb.get_item(TableName=data, Key=theirs))
    assert denied(
        lambda: ddb.query(
            TableName=data,
            KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": "pk"},
            ExpressionAttributeValues={":v": {"S": f"T#{company(second)}#USERS"}},
        )
    )
    assert denied(lambda: ddb.get_item(TableName=audit, Key={"pk": {"S": f"T#{company(second)}"}, "sk": {"S": "HEAD"}}))
    assert denied(lambda: ddb.scan(TableName=data))  # no leading key to fence on: not granted at all
    # a company id that begins like another one's is still another company
    assert denied(
        lambda: ddb.get_item(TableName=data, Key={"pk": {"S": f"T#{company(first)}x#USERS"}, "sk": {"S": "U#1"}})
    )


def test_one_forbidden_item_refuses_the_whole_transaction(two_companies):
    first, second = two_companies
    ddb = dynamodb_as(company(first))
    mine = {"pk": {"S": f"T#{company(first)}#NOTES"}, "sk": {"S": "n1"}}
    theirs = {"pk": {"S": f"T#{company(second)}#NOTES"}, "sk": {"S": "n1"}}
    items = [{"Put": {"TableName": settings().data_table, "Item": key}} for key in (mine, theirs)]
    assert denied(lambda: ddb.transact_write_items(TransactItems=items))
    assert "Item" not in ddb.get_item(TableName=settings().data_table, Key=mine)


def test_a_request_bound_to_one_company_cannot_name_another():
    with scope.request():
        tenant_pk("acme-one")
        tenant_pk("acme-one", "ROLE")
        assert scope.current() == "acme-one"
        with pytest.raises(scope.CrossTenantAccess):
            tenant_pk("acme-two", "ROLE")
    assert scope.current() is None
    tenant_pk("acme-one") and tenant_pk("acme-two")  # outside a request (jobs, operators) many companies are fine
