"""``protu.schemas``: the shared request types, and the patterns the API document states for rules that functions
enforce. Each pattern must accept exactly what its function accepts (the document says what the API accepts), read
by Python's ``re`` and by an ECMA-262 engine (``jsonschema_rs``, which schemathesis validates with) alike.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import jsonschema_rs
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protu import errors, schemas
from protu.http import audit as audit_routes
from protu.http import auth as auth_routes
from protu.http import settings as settings_routes
from protu.identity import company_settings, passwords
from protu.mail import client as mail_client

TRICKY = (
    ':/.wW@ ,;<>()[]\\"-_0aZ\t\n\r\x0b\x0c\x1c\x1f\x00\x01\x7f\x85\xa0\u1680\u2000\u2028\u3000\ufeff'
    "\u02b7\u24e6\uff57\uff37\U0001d430\U0001d416\u33be\u33dd\u2024\u2025\u2026\ufe52\uff0e\ufe55\uff1a\uff0f"
    "\u0301\u0308\u0307\u2100\u2488\u2a74ß\u0130\u212a\u017f\ufb00é"
)
"""Characters the rules are about: look-alikes of ':', '/', '.', 'w' under NFKC, whitespace and controls as Python
and ECMA-262 each see them, combining marks, letters that change under case folding."""
TEXT = st.text(st.sampled_from(TRICKY) | st.characters(exclude_categories=["Cs"]), max_size=14)  # JSON text
EVERY_CHARACTER = "".join(map(chr, range(0x110000)))
RUNS = settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def documented(kind: Any) -> dict[str, Any]:
    """What the API document states for ``kind``: msgspec's schema with the ``documented`` rules written over it."""
    schema = msgspec.json.schema(kind)
    return schema | schema.get(schemas.DOCUMENTED, {})


def both_engines(pattern: str):
    """``pattern`` as a JSON Schema validator reads it (ECMA-262) and as Python reads it: they must agree."""
    ecma = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})

    def matches(value: str) -> bool:
        python = re.search(pattern, value) is not None
        assert python == ecma.is_valid(value), (pattern, value)
        return python

    return matches


def refuses(check, *args) -> bool:
    try:
        check(*args)
    except (errors.ValidationFailed, msgspec.ValidationError):
        return True
    return False


# ------------------------------------------------------------------------------------------------ NFKC classes
def test_the_web_address_classes_hold_every_character_nfkc_makes_into_what_check_name_looks_for():
    """``NO_WEB_ADDRESS`` spells out the characters whose NFKC form is, starts or ends with ':', '/', '.', 'w'; this
    recomputes them from the Unicode tables of this Python (a new Unicode version may add some)."""
    wanted: dict[str, set[str]] = {"w": set(), "ends w": set(), "starts .": set(), "ends :": set(), "/": set()}
    for code in range(0x110000):
        folded = unicodedata.normalize("NFKC", chr(code)).lower()
        if folded == "w":
            wanted["w"].add(chr(code))
        if folded.endswith("w"):
            wanted["ends w"].add(chr(code))
        if folded.startswith("."):
            wanted["starts ."].add(chr(code))
        if folded.endswith(":"):
            wanted["ends :"].add(chr(code))
        if folded.startswith("/"):
            wanted["/"].add(chr(code))
        assert "//" not in folded and "ww" not in folded and "w." not in folded and ":/" not in folded, hex(code)

    def members(spelled: str) -> set[str]:
        return set(re.findall(f"[{spelled}]", EVERY_CHARACTER))

    assert members(schemas._W) == wanted["w"]
    assert members(schemas._ENDS_WITH_W) == wanted["ends w"]
    assert members(schemas._STARTS_WITH_DOT) == wanted["starts ."]
    assert members(schemas._ENDS_WITH_COLON) == wanted["ends :"]
    assert members(schemas._SLASH) == wanted["/"]


def test_whitespace_is_what_python_strips():
    assert set(re.findall(f"[{schemas.WHITESPACE}]", EVERY_CHARACTER)) == set(filter(str.isspace, EVERY_CHARACTER))


# ------------------------------------------------------------------------------------------------ names
@RUNS
@given(TEXT)
def test_the_name_pattern_is_what_sign_up_and_invitations_accept(value):
    """A name must not be blank (msgspec) nor a web address (``schemas.check_name``, on the stripped name)."""
    rule = documented(schemas.Name)
    accepted = not refuses(msgspec.convert, value, schemas.Name) and not refuses(schemas.check_name, value.strip())
    assert both_engines(rule["pattern"])(value) == accepted


@RUNS
@given(TEXT)
def test_the_company_name_pattern_is_what_the_settings_accept(value):
    rule = documented(schemas.CompanyName)
    assert both_engines(rule["pattern"])(value) == (not refuses(company_settings.normalise_name, value))


@pytest.mark.parametrize(
    "name", ["www.acme.com", "WWW.x", "https://acme.com", "ｗｗｗ．ａｃｍｅ", "a：／／b", "㎾ww.x", "ʷʷʷ․x"]
)
def test_a_web_address_is_refused_by_the_pattern_and_the_function_alike(name):
    assert refuses(schemas.check_name, name)
    assert not both_engines(documented(schemas.Name)["pattern"])(name)


# ------------------------------------------------------------------------------------------------ email
def test_the_mailer_holds_addresses_to_the_schemas_rule():
    assert mail_client._ADDRESS.pattern == schemas.MAILBOX


@RUNS
@given(st.builds(lambda local, domain: f"{local}@{domain}", TEXT, TEXT) | TEXT)
def test_the_email_pattern_is_what_the_mailer_accepts(value):
    """msgspec holds ``Email`` to the pattern; the mailer sends to what matches it. Only case folding, which can
    lengthen an address, is left to ``mailable``."""
    matches = both_engines(msgspec.json.schema(schemas.Email)["pattern"])(value)
    assert matches == (mail_client._ADDRESS.fullmatch(value) is not None)
    if matches and len(value) <= schemas.MAX_EMAIL:  # what msgspec lets through
        mail_client._address(value)  # the mailer sends to it as typed
        folded = value.casefold()
        fits = len(folded) <= schemas.MAX_EMAIL and mail_client._ADDRESS.fullmatch(folded) is not None
        assert refuses(schemas.mailable, value) == (not fits)
        assert fits or len(folded) > len(value)  # only folding that lengthens it breaks the rule


def test_mailable_refuses_an_address_case_folding_takes_over_the_bounds():
    assert schemas.mailable(" Ana@Example.COM") == "ana@example.com"
    assert refuses(schemas.mailable, "ß" * 40 + "@example.com")  # 40 characters typed, 80 once folded
    assert not refuses(msgspec.convert, "ß" * 40 + "@example.com", schemas.Email)  # the schema cannot say so


# ------------------------------------------------------------------------------------------------ others
def test_a_new_password_is_documented_with_the_policys_bounds_and_checked_by_it():
    rule = documented(auth_routes.NewSecret)
    assert (rule["minLength"], rule["maxLength"]) == (passwords.MIN_LENGTH, passwords.MAX_LENGTH)
    assert msgspec.convert("x" * 1024, auth_routes.NewSecret) == "x" * 1024  # the policy answers it, with its code


@RUNS
@given(TEXT | st.from_regex(r"[A-Za-z0-9.-]{1,20}", fullmatch=True))
def test_the_domain_pattern_is_what_the_settings_accept(value):
    rule = documented(settings_routes.DomainText)
    accepted = not refuses(company_settings.normalise_domain, value, "domain")
    assert both_engines(rule["pattern"])(value) == accepted


@RUNS
@given(TEXT | st.from_regex(r"[0-9]{1,14}", fullmatch=True))
def test_the_audit_cursor_pattern_is_what_the_audit_log_reads(value):
    (query,), components = msgspec.json.schema_components([audit_routes.EventsQuery])
    cursor = components["EventsQuery"]["properties"]["cursor"]
    text = next(member for member in cursor["anyOf"] if member.get("type") == "string")
    pattern = (text | text.get(schemas.DOCUMENTED, {}))["pattern"]
    assert both_engines(pattern)(value) == (not refuses(audit_routes._cursor, value))


def test_record_ids_are_short_and_url_safe():
    class Call:
        params = {"user_id": "u-" + "a" * 62}

    assert schemas.record_id(Call, "user_id", "No such user.") == "u-" + "a" * 62
    for bad in ("u" * 65, "", "a/b", "é"):
        Call.params = {"user_id": bad}
        with pytest.raises(errors.NotFound):
            schemas.record_id(Call, "user_id", "No such user.")
