"""The edge and the data plane, proven from the templates: ``template.yaml`` (eu-central-1) and ``edge.yaml``
(us-east-1, what CloudFront takes only from there).

* CloudFront: HTTPS only on every behaviour, the strictest TLS policy, HTTP/2 and HTTP/3, the security headers of
  ``protu.http.headers`` (the same values as the local server sends), a private SPA bucket read only through
  origin access control, ``/api/*`` and ``/webhooks/*`` uncached and sent to the API;
* WAF: the CloudFront-scope web ACL (managed rules, a rate limit per address, a tighter one on sign-in and security
  reports) attached to the distribution, and a regional one on the API stage that refuses what did not come
  through CloudFront;
* the certificate from ACM, with an alarm before it expires;
* the data plane: every table, bucket and the data key refuse principals that are not this stack's roles (or the
  operators'), evaluated with ``infra.iam.allowed``, and every bucket refuses plain HTTP.

The checkers return a list of problems; the last tests break a copy of a template and show each checker notices.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from protu.http.headers import API_HEADERS, SPA_HEADERS

from infra import template as tpl

ROOT = Path(__file__).resolve().parents[2]
EDGE = ROOT / "edge.yaml"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
API_PATHS = ("/api/*", "/webhooks/*")
MANAGED_RULES = {
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
}
ITEM_ACTIONS = ["GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]
TLS = {"aws:SecureTransport": ["true"], "s3:TlsVersion": ["1.3"]}
STACK_ROLES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-*"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return tpl.load()


@pytest.fixture(scope="module")
def edge() -> dict[str, Any]:
    return tpl.load(EDGE)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def tables(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each table and the settings of each of its copies: a table's own properties, or each replica of a global
    table (a conditional replica, ``Fn::If``, as it is when its condition holds)."""
    found = {name: [spec["Properties"]] for name, spec in resources(template, "AWS::DynamoDB::Table").items()}
    for name, spec in resources(template, "AWS::DynamoDB::GlobalTable").items():
        replicas = [r["Fn::If"][1] if "Fn::If" in r else r for r in spec["Properties"]["Replicas"]]
        found[name] = replicas
    return found


def the(template: dict[str, Any], kind: str) -> dict[str, Any]:
    [(_, found)] = resources(template, kind).items()
    return found["Properties"]


def sub(value: Any) -> Any:
    return value["Fn::Sub"] if isinstance(value, dict) and "Fn::Sub" in value else value


# ------------------------------------------------------------------------------------------------ checkers
def distribution_problems(template: dict[str, Any]) -> list[str]:
    """What keeps the distribution from being the HTTPS-only, strict, uncached-for-the-API edge it should be."""
    problems: list[str] = []
    config = the(template, "AWS::CloudFront::Distribution")["DistributionConfig"]
    default = config["DefaultCacheBehavior"]
    behaviours = {"default": default} | {b["PathPattern"]: b for b in config.get("CacheBehaviors", [])}
    for path, behaviour in behaviours.items():
        if behaviour.get("ViewerProtocolPolicy") != "redirect-to-https":
            problems.append(f"{path}: viewer protocol {behaviour.get('ViewerProtocolPolicy')}")
        if "ResponseHeadersPolicyId" not in behaviour:
            problems.append(f"{path}: no response headers policy")
    if config.get("HttpVersion") != "http2and3":
        problems.append(f"HTTP version {config.get('HttpVersion')}")
    condition, with_certificate, _ = config["ViewerCertificate"]["Fn::If"]
    if with_certificate.get("MinimumProtocolVersion") != "TLSv1.3_2025":
        problems.append(f"TLS policy {with_certificate.get('MinimumProtocolVersion')}")
    if with_certificate.get("SslSupportMethod") != "sni-only":
        problems.append("certificate not SNI-only")
    if with_certificate.get("AcmCertificateArn") != {"Ref": "EdgeCertificateArn"}:
        problems.append("certificate not the edge stack's ACM certificate")
    origins = {o["Id"]: o for o in config["Origins"]}
    spa_origin = origins.get(default["TargetOriginId"], {})
    if "S3OriginConfig" not in spa_origin or "OriginAccessControlId" not in spa_origin:
        problems.append("the SPA origin is not the bucket through origin access control")
    if default.get("CachePolicyId") != CACHING_OPTIMIZED:
        problems.append("the SPA is not cached with CachingOptimized")
    if not any(f.get("EventType") == "viewer-request" for f in default.get("FunctionAssociations", [])):
        problems.append("no SPA fallback function on the default behaviour")
    for path in API_PATHS:
        behaviour = behaviours.get(path)
        if behaviour is None:
            problems.append(f"{path}: no behaviour")
            continue
        origin = origins.get(behaviour["TargetOriginId"], {})
        if "${ProtuApi}.execute-api." not in str(sub(origin.get("DomainName"))):
            problems.append(f"{path}: not routed to the API")
        if origin.get("CustomOriginConfig", {}).get("OriginProtocolPolicy") != "https-only":
            problems.append(f"{path}: the API origin is not HTTPS only")
        if behaviour.get("CachePolicyId") != CACHING_DISABLED:
            problems.append(f"{path}: cached")
        if behaviour.get("OriginRequestPolicyId") != ALL_VIEWER_EXCEPT_HOST:
            problems.append(f"{path}: the viewer's request is not forwarded")
        if set(behaviour.get("AllowedMethods", [])) != ALL_METHODS:
            problems.append(f"{path}: not every method allowed")
        if "FunctionAssociations" in behaviour:
            problems.append(f"{path}: the SPA fallback would rewrite the API's answers")
    if config.get("WebACLId") != {"Ref": "EdgeWebAclArn"}:
        problems.append("no web ACL on the distribution")
    return problems


def bucket_problems(template: dict[str, Any], bucket: str) -> list[str]:
    """What keeps the SPA bucket from being private, readable by this distribution only."""
    problems: list[str] = []
    props = template["Resources"][bucket]["Properties"]
    block = props.get("PublicAccessBlockConfiguration", {})
    for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        if block.get(setting) is not True:
            problems.append(f"{setting} is not on")
    if props.get("OwnershipControls") != {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}:
        problems.append("object ACLs are not disabled")
    if not props.get("BucketEncryption"):
        problems.append("not encrypted")
    [policy] = [
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    for statement in allows:
        if statement.get("Principal") != {"Service": "cloudfront.amazonaws.com"}:
            problems.append(f"{statement.get('Sid')}: allows {statement.get('Principal')}")
        source = statement.get("Condition", {}).get("StringEquals", {}).get("AWS:SourceArn")
        if ":distribution/${SpaDistribution}" not in str(sub(source)):
            problems.append(f"{statement.get('Sid')}: not limited to this distribution")
        if statement.get("Action") not in ("s3:GetObject", ["s3:GetObject"]):
            problems.append(f"{statement.get('Sid')}: allows {statement.get('Action')}")
    if not allows:
        problems.append("CloudFront may not read the bucket")
    return problems


def web_acl_problems(edge: dict[str, Any]) -> list[str]:
    """What the CloudFront-scope web ACL lacks: its managed rule groups, the rate limits, metrics."""
    problems: list[str] = []
    acl = the(edge, "AWS::WAFv2::WebACL")
    if acl["Scope"] != "CLOUDFRONT":
        problems.append(f"scope {acl['Scope']}")
    rules = acl["Rules"]
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in rules
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    for missing in sorted(MANAGED_RULES - managed):
        problems.append(f"no {missing}")
    for rule in rules:
        if "ManagedRuleGroupStatement" in rule["Statement"] and rule.get("OverrideAction") != {"None": {}}:
            problems.append(f"{rule['Name']} only counts")
        visibility = rule.get("VisibilityConfig", {})
        if not (visibility.get("CloudWatchMetricsEnabled") and visibility.get("SampledRequestsEnabled")):
            problems.append(f"{rule['Name']}: no metrics")
    rate_rules = [r for r in rules if "RateBasedStatement" in r["Statement"]]
    per_address = [r for r in rate_rules if "ScopeDownStatement" not in r["Statement"]["RateBasedStatement"]]
    scoped = [r for r in rate_rules if "ScopeDownStatement" in r["Statement"]["RateBasedStatement"]]
    if not per_address:
        problems.append("no rate limit per address")
    if not scoped:
        problems.append("no tighter rate limit on sign-in and security reports")
    for rule in rate_rules:
        statement = rule["Statement"]["RateBasedStatement"]
        if rule.get("Action") != {"Block": {}} or statement.get("AggregateKeyType") != "IP":
            problems.append(f"{rule['Name']}: does not block per source address")
    for rule in scoped:
        scope = rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
        wrong = [path for path, tight in TIGHT_PATHS.items() if path_matches(scope, path) != tight]
        if wrong:
            problems.append(f"{rule['Name']}: wrong for {wrong}")
    return problems


# Paths and whether the tighter rate limit must count them: everything that guesses a credential or sends an email,
# and the public report form; not what needs a session already (an office behind one address refreshes all day).
TIGHT_PATHS = {
    "/api/auth/login": True,
    "/API/Auth/Login": True,
    "/api/auth/mfa": True,
    "/api/auth/magic-link": True,
    "/api/auth/magic-link/verify": True,
    "/api/auth/password/forgot": True,
    "/api/auth/password/reset": True,
    "/api/auth/signup": True,
    "/api/auth/reauthenticate": True,
    "/api/auth/invitations/accept": True,
    "/api/auth/invitations/refuse": True,
    "/api/security/reports": True,
    "/api/auth/refresh": False,
    "/api/auth/logout": False,
    "/api/auth/refresh/": False,
    "/api/security/reports/x": False,
    "/api/roles": False,
    "/": False,
}


def path_matches(statement: dict[str, Any], path: str) -> bool:
    """WAF's verdict on a URI path for the statements the templates use (byte and regex matches on UriPath,
    LOWERCASE or NONE, under And/Or/Not); anything else raises."""
    ((kind, body),) = statement.items()
    if kind == "OrStatement":
        return any(path_matches(s, path) for s in body["Statements"])
    if kind == "AndStatement":
        return all(path_matches(s, path) for s in body["Statements"])
    if kind == "NotStatement":
        return not path_matches(body["Statement"], path)
    assert body["FieldToMatch"] == {"UriPath": {}}, body
    transforms = {t["Type"] for t in body["TextTransformations"]}
    assert transforms <= {"LOWERCASE", "NONE"}, transforms
    value = path.lower() if "LOWERCASE" in transforms else path
    if kind == "RegexMatchStatement":
        return re.search(body["RegexString"], value) is not None
    assert kind == "ByteMatchStatement", kind
    search, where = body["SearchString"], body["PositionalConstraint"]
    return {
        "EXACTLY": value == search,
        "STARTS_WITH": value.startswith(search),
        "ENDS_WITH": value.endswith(search),
        "CONTAINS": search in value,
    }[where]


def common_rule_set_exceptions(acl: dict[str, Any]) -> tuple[set[str], tuple[str, str] | None]:
    """What the ACL's AWS common rule set lets through: the rules only counted, and the one path it skips."""
    (rule,) = [
        r
        for r in acl["Rules"]
        if r["Statement"].get("ManagedRuleGroupStatement", {}).get("Name") == "AWSManagedRulesCommonRuleSet"
    ]
    group = rule["Statement"]["ManagedRuleGroupStatement"]
    counted = {o["Name"] for o in group.get("RuleActionOverrides", []) if o["ActionToUse"] == {"Count": {}}}
    skipped = group.get("ScopeDownStatement", {}).get("NotStatement", {}).get("Statement", {}).get("ByteMatchStatement")
    return counted, (skipped["PositionalConstraint"], skipped["SearchString"]) if skipped else None


def limit(edge: dict[str, Any], rule: dict[str, Any]) -> int:
    value = rule["Statement"]["RateBasedStatement"]["Limit"]
    return int(edge["Parameters"][value["Ref"]]["Default"] if isinstance(value, dict) else value)


def data_plane_problems(template: dict[str, Any]) -> list[str]:
    """Each table, bucket and the data key must deny data access to principals outside this stack (and the
    operators' role), and each bucket must deny plain HTTP."""
    problems: list[str] = []

    def fences(statements: list[dict[str, Any]], action: str) -> bool:
        for s in statements:
            condition = s.get("Condition", {})
            principals = condition.get("ArnNotLike", {}).get("aws:PrincipalArn", [])
            if (
                s["Effect"] == "Deny"
                and s.get("Principal") == "*"
                and any(_covers(a, action) for a in _list(s["Action"]))
                and STACK_ROLES in [sub(p) for p in principals]
            ):
                return True
        return False

    for name, copies in tables(template).items():
        for table in copies:
            statements = table.get("ResourcePolicy", {}).get("PolicyDocument", {}).get("Statement", [])
            for action in ITEM_ACTIONS:
                if not fences(statements, f"dynamodb:{action}"):
                    problems.append(f"{name}: dynamodb:{action} not fenced to this stack")
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in resources(template, "AWS::S3::BucketPolicy").values()}
    for name in resources(template, "AWS::S3::Bucket"):
        statements = policies[name]["Properties"]["PolicyDocument"]["Statement"] if name in policies else []
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"):
            if not fences(statements, action):
                problems.append(f"{name}: {action} not fenced to this stack")
        insecure = [
            s for s in statements if s["Effect"] == "Deny" and s.get("Principal") == "*" and s["Action"] == "s3:*"
        ]
        if {"Bool": {"aws:SecureTransport": "false"}} not in [s.get("Condition") for s in insecure]:
            problems.append(f"{name}: plain HTTP not refused")
    for name, key in resources(template, "AWS::KMS::Key").items():
        statements = key["Properties"]["KeyPolicy"]["Statement"]
        if key["Properties"].get("KeyUsage") == "SIGN_VERIFY":
            # A signing key encrypts nothing: what must be fenced is signing, to one role of this stack.
            signers = [
                sub(p)
                for s in statements
                if s["Effect"] == "Deny" and s.get("Principal") == "*" and "kms:Sign" in _list(s["Action"])
                for p in _list(s.get("Condition", {}).get("ArnNotLike", {}).get("aws:PrincipalArn", []))
            ]
            if not signers or not all(str(p).startswith(STACK_ROLES.removesuffix("*")) for p in signers):
                problems.append(f"{name}: kms:Sign not fenced to a role of this stack")
            continue
        for action in ("kms:Decrypt", "kms:GenerateDataKey"):
            if not fences(statements, action):
                problems.append(f"{name}: {action} not fenced to this stack")
    secret_policies = {
        p["Properties"]["SecretId"]["Ref"]: p["Properties"]
        for p in resources(template, "AWS::SecretsManager::ResourcePolicy").values()
    }
    for name in resources(template, "AWS::SecretsManager::Secret"):
        if name == "OriginVerifyKey":  # CloudFormation reads it for the distribution and the API's WAF (below)
            continue
        policy = secret_policies.get(name, {})
        for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"):
            if not fences(policy.get("ResourcePolicy", {}).get("Statement", []), action):
                problems.append(f"{name}: {action} not fenced to this stack")
        if policy and policy.get("BlockPublicPolicy") is not True:
            problems.append(f"{name}: a public policy is not blocked")
    return problems


def _covers(pattern: str, action: str) -> bool:
    from infra.iam import _like

    return _like(pattern.lower(), action.lower(), {})


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------------------------------------ the templates
def test_both_templates_lint_clean():
    from cfnlint.api import ManualArgs, lint_file

    for path, region in ((ROOT / "template.yaml", "eu-central-1"), (EDGE, "us-east-1")):
        matches = lint_file(path, config=ManualArgs(regions=[region]))
        assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == [], path.name


def test_make_lint_lints_the_edge_template_for_us_east_1():
    makefile = (ROOT / "Makefile").read_text()
    assert "cfn-lint edge.yaml --regions us-east-1" in makefile


def test_the_distribution_is_https_only_strict_and_uncached_for_the_api(template):
    assert distribution_problems(template) == []


def test_every_behaviour_redirects_to_https_with_tls_1_3_and_http_3(template):
    config = the(template, "AWS::CloudFront::Distribution")["DistributionConfig"]
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert {b["ViewerProtocolPolicy"] for b in behaviours} == {"redirect-to-https"}
    assert config["HttpVersion"] == "http2and3"
    condition, custom, default = config["ViewerCertificate"]["Fn::If"]
    assert custom["MinimumProtocolVersion"] == "TLSv1.3_2025"  # the strictest CloudFront has: TLS 1.3 only
    assert default == {"CloudFrontDefaultCertificate": True}  # only without a DomainName (the *.cloudfront.net name)
    assert config["Aliases"] == {"Fn::If": ["HasDomain", [{"Ref": "DomainName"}], {"Ref": "AWS::NoValue"}]}
    assert template["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "EdgeCertificateArn"}, ""]}]}


def _headers(policy: dict[str, Any]) -> dict[str, str]:
    """The headers a response headers policy sets, as HTTP names and values."""
    config = policy["ResponseHeadersPolicyConfig"]
    security = config["SecurityHeadersConfig"]
    hsts = security["StrictTransportSecurity"]
    hsts_value = f"max-age={hsts['AccessControlMaxAgeSec']}"
    hsts_value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
    hsts_value += "; preload" if hsts.get("Preload") else ""
    headers = {
        "Strict-Transport-Security": hsts_value,
        "Content-Security-Policy": " ".join(security["ContentSecurityPolicy"]["ContentSecurityPolicy"].split()),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": security["FrameOptions"]["FrameOption"],
        "Referrer-Policy": security["ReferrerPolicy"]["ReferrerPolicy"],
    }
    headers |= {item["Header"]: item["Value"] for item in config["CustomHeadersConfig"]["Items"]}
    overridden = [v.get("Override") for v in security.values()] + [
        i["Override"] for i in config["CustomHeadersConfig"]["Items"]
    ]
    assert all(overridden), "a header the origin sent could replace the policy's"
    return headers


def test_the_security_headers_are_the_apps_own(template):
    policies = template["Resources"]
    assert _headers(policies["SpaHeadersPolicy"]["Properties"]) == SPA_HEADERS
    assert _headers(policies["ApiHeadersPolicy"]["Properties"]) == API_HEADERS
    assert SPA_HEADERS["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains; preload"  # 2 years
    config = the(template, "AWS::CloudFront::Distribution")["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {"Ref": "SpaHeadersPolicy"}
    for behaviour in config["CacheBehaviors"]:
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "ApiHeadersPolicy"}, behaviour["PathPattern"]


def test_the_spa_fallback_is_the_local_servers_rule(template):
    """The CloudFront Function sends a path whose last segment has no dot to /index.html, as infra/server.py does;
    run here with a tiny JavaScript-to-Python reading of its one rule on the paths the SPA uses."""
    code = template["Resources"]["SpaRoutesFunction"]["Properties"]["FunctionCode"]
    assert 'request.uri.split("/").pop()' in code and 'last.indexOf(".") === -1' in code
    assert 'request.uri = "/index.html"' in code
    assert template["Resources"]["SpaRoutesFunction"]["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"

    def rewritten(uri: str) -> str:
        return "/index.html" if "." not in uri.split("/")[-1] else uri

    assert rewritten("/") == "/index.html"
    assert rewritten("/employees/42") == "/index.html"
    assert rewritten("/app.js") == "/app.js"
    assert rewritten("/.well-known/security.txt") == "/.well-known/security.txt"
    assert (ROOT / "frontend" / ".well-known" / "security.txt").is_file()


def test_the_spa_bucket_is_private_and_read_only_through_the_distribution(template):
    assert bucket_problems(template, "SpaBucket") == []
    for spec in resources(template, "AWS::S3::BucketPolicy").values():
        for statement in spec["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}
    oac = the(template, "AWS::CloudFront::OriginAccessControl")["OriginAccessControlConfig"]
    assert oac["OriginAccessControlOriginType"] == "s3"
    assert oac["SigningBehavior"] == "always" and oac["SigningProtocol"] == "sigv4"


def test_the_edge_web_acl_has_managed_rules_and_both_rate_limits(edge):
    assert web_acl_problems(edge) == []
    rules = {r["Name"]: r for r in the(edge, "AWS::WAFv2::WebACL")["Rules"]}
    assert limit(edge, rules["RateLimitPerAddress"]) == 2000
    assert limit(edge, rules["RateLimitSensitive"]) == 100
    window = {
        r["Statement"]["RateBasedStatement"]["EvaluationWindowSec"]
        for r in rules.values()
        if "RateBasedStatement" in r["Statement"]
    }
    assert window == {300}
    # the tighter limit is evaluated first, so a sign-in flood is blocked before the wider limit counts it
    assert rules["RateLimitSensitive"]["Priority"] < rules["RateLimitPerAddress"]["Priority"]
    assert edge["Outputs"]["WebAclArn"]["Value"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}


def test_the_common_rules_block_everything_but_what_the_app_validates_itself(edge, template):
    """Large bodies (the app's own limit is 64 KB) and markup in free text (an answer with code, a report about an
    XSS) are counted, not blocked; the signed webhooks skip the common rules (a block would lose a payment)."""
    counted = {"SizeRestrictions_BODY", "CrossSiteScripting_BODY"}
    assert common_rule_set_exceptions(the(edge, "AWS::WAFv2::WebACL")) == (counted, ("STARTS_WITH", "/webhooks/"))
    api = template["Resources"]["ApiWebAcl"]["Properties"]  # behind CloudFront's origin path: /live/webhooks/...
    assert common_rule_set_exceptions(api) == (counted, ("CONTAINS", "/webhooks/"))


def test_the_main_stack_takes_the_edge_web_acl_and_certificate_from_us_east_1(template):
    import re

    parameters = template["Parameters"]
    acl = re.compile(parameters["EdgeWebAclArn"]["AllowedPattern"])
    assert "Default" not in parameters["EdgeWebAclArn"]  # no distribution without its web ACL
    assert acl.match(
        "arn:aws:wafv2:us-east-1:123456789012:global/webacl/protu-edge-edge/0a1b2c3d-1111-2222-3333-444455556666"
    )
    assert not acl.match("arn:aws:wafv2:eu-central-1:123456789012:regional/webacl/x/0a1b2c3d")
    certificate = re.compile(parameters["EdgeCertificateArn"]["AllowedPattern"])
    assert certificate.match("arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666")
    assert certificate.match("")  # no domain: CloudFront's own certificate
    assert not certificate.match("arn:aws:acm:eu-central-1:123456789012:certificate/0a1b2c3d")  # CloudFront refuses


def test_the_certificate_comes_from_acm_with_dns_validation_and_an_expiry_alarm(edge):
    certificate = the(edge, "AWS::CertificateManager::Certificate")
    assert certificate["ValidationMethod"] == "DNS"  # ACM renews it by itself while the record stays
    assert certificate["DomainValidationOptions"] == [
        {"DomainName": {"Ref": "DomainName"}, "HostedZoneId": {"Ref": "HostedZoneId"}}
    ]
    alarms = [
        a["Properties"]
        for a in resources(edge, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "DaysToExpiry"
    ]
    [alarm] = alarms
    assert alarm["Namespace"] == "AWS/CertificateManager"
    assert alarm["Dimensions"] == [{"Name": "CertificateArn", "Value": {"Ref": "Certificate"}}]
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 30
    topic = {"Ref": "EdgeOnCallTopic"}
    assert alarm["AlarmActions"] == [topic]
    assert the(edge, "AWS::SNS::Subscription")["TopicArn"] == topic
    assert edge["Outputs"]["CertificateArn"]["Value"] == {"Fn::If": ["HasDomain", {"Ref": "Certificate"}, ""]}


def test_the_api_cannot_be_reached_around_the_distribution(template):
    acl = template["Resources"]["ApiWebAcl"]["Properties"]
    assert acl["Scope"] == "REGIONAL"
    association = template["Resources"]["ApiWebAclAssociation"]
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}
    assert "/restapis/${ProtuApi}/stages/live" in sub(association["Properties"]["ResourceArn"])
    first = min(acl["Rules"], key=lambda r: r["Priority"])
    assert first["Action"] == {"Block": {}}
    match = first["Statement"]["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert match["FieldToMatch"] == {"SingleHeader": {"Name": "x-origin-verify"}}
    assert match["PositionalConstraint"] == "EXACTLY"
    config = the(template, "AWS::CloudFront::Distribution")["DistributionConfig"]
    [api_origin] = [o for o in config["Origins"] if o["Id"] == "api"]
    [header] = api_origin["OriginCustomHeaders"]
    assert header["HeaderName"].lower() == "x-origin-verify"
    assert header["HeaderValue"] == match["SearchString"]  # the same secret on both sides
    assert "{{resolve:secretsmanager:${OriginVerifyKey}:SecretString:value}}" == sub(header["HeaderValue"])
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= managed


# ------------------------------------------------------------------------------------------------ data plane
def test_every_table_bucket_secret_and_the_key_refuse_principals_outside_this_stack(template):
    assert data_plane_problems(template) == []


def _resource_policies(cloud) -> dict[str, dict[str, Any]]:
    """Each table's, bucket's and key's resource policy as CloudFormation would deploy it (resolved for the local
    cloud's stack)."""
    found = {}
    for name, spec in cloud.template["Resources"].items():
        props = spec.get("Properties", {})
        if spec["Type"] == "AWS::DynamoDB::Table":
            found[name] = cloud.resolver.resolve(props["ResourcePolicy"]["PolicyDocument"])
        elif spec["Type"] == "AWS::DynamoDB::GlobalTable":  # the home replica's (the others': data_plane_problems)
            found[name] = cloud.resolver.resolve(props["Replicas"][0]["ResourcePolicy"]["PolicyDocument"])
        elif spec["Type"] == "AWS::S3::BucketPolicy":
            found[props["Bucket"]["Ref"]] = cloud.resolver.resolve(props["PolicyDocument"])
        elif spec["Type"] == "AWS::KMS::Key":
            found[name] = cloud.resolver.resolve(props["KeyPolicy"])
        elif spec["Type"] == "AWS::SecretsManager::ResourcePolicy":
            found[props["SecretId"]["Ref"]] = cloud.resolver.resolve(props["ResourcePolicy"])
    return found


def _denied(policy: dict[str, Any], action: str, resource: str, context: dict[str, list[str]]) -> bool:
    from infra.iam import allowed

    everything = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    return not allowed(
        [everything, {"Statement": [s for s in policy["Statement"] if s["Effect"] == "Deny"]}],
        action,
        resource,
        context,
    )


def test_the_fence_lets_this_stacks_roles_and_operators_in_and_keeps_everyone_else_out(cloud):
    import boto3

    from infra.cloud import ACCOUNT

    iam = boto3.client("iam", region_name="eu-central-1")
    roles = [
        role for page in iam.get_paginator("list_roles").paginate() for role in page["Roles"]
    ]  # every stack's: more than a page
    own = [r["Arn"] for r in roles if r["RoleName"].startswith(f"{cloud.stack}-")]
    assert len(own) >= 10  # every function's role, TenantDataRole, the state machine's, the replication role
    # CloudFormation's names for the same roles: <stack>-<LogicalId>-<suffix>, SAM's <stack>-<Function>Role-<suffix>
    own += [f"arn:aws:iam::{ACCOUNT}:role/{cloud.stack}-ApiFunctionRole-1A2B3C4D5E6F"]
    operator = f"arn:aws:iam::{ACCOUNT}:role/protu-operator"
    outsiders = [
        f"arn:aws:iam::{ACCOUNT}:role/someone-else",
        f"arn:aws:iam::{ACCOUNT}:user/alice",
        f"arn:aws:iam::{ACCOUNT}:root",
        f"arn:aws:iam::999999999999:role/{cloud.stack}-ApiFunctionRole-1A2B3C4D5E6F",  # same name, other account
    ]
    actions = {
        "table": [f"dynamodb:{a}" for a in ITEM_ACTIONS] + ["dynamodb:ExportTableToPointInTime"],
        "bucket": ["s3:GetObject", "s3:PutObject", "s3:DeleteObjectVersion", "s3:ListBucket"],
        "key": ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"],
        "secret": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
    }
    kinds = {
        "AWS::DynamoDB::Table": "table",
        "AWS::DynamoDB::GlobalTable": "table",
        "AWS::S3::Bucket": "bucket",
        "AWS::KMS::Key": "key",
        "AWS::SecretsManager::Secret": "secret",
    }
    policies = _resource_policies(cloud)
    assert {"SigningKeys", "MailgunKeys", "StripeKeys"} <= set(policies)
    for name, policy in policies.items():
        kind = kinds[cloud.template["Resources"][name]["Type"]]
        if cloud.template["Resources"][name]["Properties"].get("KeyUsage") == "SIGN_VERIFY":
            # A signing key encrypts nothing; signing is one role's (the audit digests' job: SAM's name for it, and
            # the local cloud's), not the stack's.
            arn = cloud.resources[name].attributes["Arn"]
            signer = f"arn:aws:iam::{ACCOUNT}:role/{cloud.stack}-AuditDigestFunctionRole-1A2B3C4D5E6F"
            for principal in [*own, operator, *outsiders]:
                context = {"aws:PrincipalArn": [principal], "aws:PrincipalIsAWSService": ["false"]} | TLS
                may_sign = principal.startswith(f"arn:aws:iam::{ACCOUNT}:role/{cloud.stack}-AuditDigestFunction")
                assert _denied(policy, "kms:Sign", arn, context) != may_sign, (name, principal)
            own_signer = {"aws:PrincipalArn": [signer], "aws:PrincipalIsAWSService": ["false"]} | TLS
            assert not _denied(policy, "kms:Sign", arn, own_signer), name
            continue
        resource = cloud.physical_id(name) if kind == "secret" else cloud.resources[name].attributes["Arn"]
        resource += "/x" if kind == "bucket" else ""
        for action in actions[kind]:

            def denied(principal: str, **extra: list[str]) -> bool:
                context = {"aws:PrincipalArn": [principal], "aws:PrincipalIsAWSService": ["false"]} | TLS | extra
                return _denied(policy, action, resource, context)  # noqa: B023 - used at once

            for role in [*own, operator]:
                assert not denied(role), (name, action, role)
            for principal in outsiders:
                assert denied(principal), (name, action, principal)
            service = {"aws:PrincipalIsAWSService": ["true"]} | TLS  # CloudFront's OAC, CloudWatch Logs, replication
            # No AWS service reads the secrets on its own account.
            assert _denied(policy, action, resource, service) == (kind == "secret"), (name, action)
        if kind == "bucket":  # plain HTTP is refused even to this stack's own roles
            plain = {"aws:PrincipalArn": [own[0]], "aws:PrincipalIsAWSService": ["false"]} | TLS
            assert _denied(policy, "s3:GetObject", resource, plain | {"aws:SecureTransport": ["false"]}), name
            assert _denied(policy, "s3:GetObject", resource, plain | {"s3:TlsVersion": ["1.1"]}), name
        if kind == "key":  # used through the services it encrypts for, whose own policies fence the caller
            via = {"kms:ViaService": ["dynamodb.eu-central-1.amazonaws.com"]}
            assert not denied(outsiders[0], **via)
        if kind == "table":  # configuration stays CloudFormation's, whoever deploys
            assert not _denied(policy, "dynamodb:UpdateTable", resource, {"aws:PrincipalArn": [outsiders[0]]})


def test_the_local_tables_and_secrets_carry_their_resource_policies(cloud):
    import boto3

    ddb = boto3.client("dynamodb", region_name="eu-central-1")
    for name in tables(cloud.template):
        arn = cloud.resources[name].attributes["Arn"]
        policy = json.loads(ddb.get_resource_policy(ResourceArn=arn)["Policy"])
        assert [s["Sid"] for s in policy["Statement"]] == ["DataOnlyForThisStack"], name
    secrets = boto3.client("secretsmanager", region_name="eu-central-1")
    for name in ("SigningKeys", "MailgunKeys", "StripeKeys"):
        policy = json.loads(secrets.get_resource_policy(SecretId=cloud.physical_id(name))["ResourcePolicy"])
        assert [s["Sid"] for s in policy["Statement"]] == ["SecretOnlyForThisStack"], name


def test_architecture_states_the_data_plane_trade_off():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    assert "## Edge and data plane" in text
    section = text.split("## Edge and data plane", 1)[1].split("\n## ", 1)[0]
    assert "VPC" in section and "cold start" in section


# ------------------------------------------------------------------------------------------------ the checks can fail
def _broken(template: dict[str, Any], change) -> dict[str, Any]:
    copied = copy.deepcopy(template)
    change(copied)
    return copied


def _distribution(t: dict[str, Any]) -> dict[str, Any]:
    return the(t, "AWS::CloudFront::Distribution")["DistributionConfig"]


def _api_behaviour(t: dict[str, Any]) -> dict[str, Any]:
    return next(b for b in _distribution(t)["CacheBehaviors"] if b["PathPattern"] == "/api/*")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda t: _distribution(t)["DefaultCacheBehavior"].update(ViewerProtocolPolicy="allow-all"),
            "default: viewer protocol allow-all",
        ),
        (lambda t: _api_behaviour(t).update(ViewerProtocolPolicy="allow-all"), "/api/*: viewer protocol allow-all"),
        (
            lambda t: _distribution(t)["ViewerCertificate"]["Fn::If"][1].update(MinimumProtocolVersion="TLSv1"),
            "TLS policy TLSv1",
        ),
        (lambda t: _distribution(t).update(HttpVersion="http2"), "HTTP version http2"),
        (lambda t: _api_behaviour(t).update(CachePolicyId=CACHING_OPTIMIZED), "/api/*: cached"),
        (lambda t: _api_behaviour(t).update(TargetOriginId="spa"), "/api/*: not routed to the API"),
        (lambda t: _distribution(t)["CacheBehaviors"].pop(), "/webhooks/*: no behaviour"),
        (lambda t: _distribution(t).pop("WebACLId"), "no web ACL on the distribution"),
    ],
)
def test_the_distribution_checker_catches_a_weaker_edge(template, change, problem):
    assert problem in distribution_problems(_broken(template, change))


def test_the_bucket_checker_catches_a_public_bucket(template):
    def public(t):
        t["Resources"]["SpaBucket"]["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] = False
        statement = t["Resources"]["SpaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        statement["Principal"] = "*"

    assert bucket_problems(_broken(template, public), "SpaBucket") == [
        "RestrictPublicBuckets is not on",
        "ReadThroughThisDistributionOnly: allows *",
    ]


def test_the_web_acl_checker_catches_a_missing_rule(edge):
    def weaker(t):
        acl = the(t, "AWS::WAFv2::WebACL")
        acl["Rules"] = [
            r for r in acl["Rules"] if r["Name"] not in ("RateLimitSensitive", "AWSManagedRulesAmazonIpReputationList")
        ]
        next(r for r in acl["Rules"] if "OverrideAction" in r)["OverrideAction"] = {"Count": {}}

    problems = web_acl_problems(_broken(edge, weaker))
    assert "no AWSManagedRulesAmazonIpReputationList" in problems
    assert "no tighter rate limit on sign-in and security reports" in problems
    assert any(p.endswith("only counts") for p in problems)

    def statements(t):
        rule = next(r for r in the(t, "AWS::WAFv2::WebACL")["Rules"] if r["Name"] == "RateLimitSensitive")
        return rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["OrStatement"]["Statements"]

    def no_reports(t):
        statements(t).pop()

    def refresh_too(t):
        statements(t)[0] = statements(t)[0]["AndStatement"]["Statements"][0]

    assert web_acl_problems(_broken(edge, no_reports)) == ["RateLimitSensitive: wrong for ['/api/security/reports']"]
    assert web_acl_problems(_broken(edge, refresh_too)) == [
        "RateLimitSensitive: wrong for ['/api/auth/refresh', '/api/auth/logout', '/api/auth/refresh/']"
    ]


def test_the_data_plane_checker_catches_an_unfenced_table_bucket_and_secret(template):
    def unfenced(t):
        t["Resources"]["KeyTable"]["Properties"]["Replicas"][0].pop("ResourcePolicy")
        statements = t["Resources"]["BackupBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        statements[:] = [s for s in statements if s.get("Sid") != "DataOnlyForThisStack"]

        t["Resources"].pop("StripeKeysPolicy")
        t["Resources"]["MailgunKeysPolicy"]["Properties"]["BlockPublicPolicy"] = False

    problems = data_plane_problems(_broken(template, unfenced))
    assert "KeyTable: dynamodb:GetItem not fenced to this stack" in problems
    assert "BackupBucket: s3:GetObject not fenced to this stack" in problems
    assert "StripeKeys: secretsmanager:GetSecretValue not fenced to this stack" in problems
    assert "MailgunKeys: a public policy is not blocked" in problems
    assert not any(p.startswith(("DataTable", "AuditTable", "AuditBucket", "SigningKeys")) for p in problems)


def test_the_fence_evaluation_catches_a_fence_that_lets_everyone_in(cloud):
    policy = copy.deepcopy(_resource_policies(cloud)["DataTable"])
    policy["Statement"][0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"].append("arn:aws:iam::*:*")
    arn = cloud.resources["DataTable"].attributes["Arn"]
    outsider = {
        "aws:PrincipalArn": ["arn:aws:iam::123456789012:role/someone-else"],
        "aws:PrincipalIsAWSService": ["false"],
    }
    assert not _denied(policy, "dynamodb:GetItem", arn, outsider)
    assert _denied(_resource_policies(cloud)["DataTable"], "dynamodb:GetItem", arn, outsider)
