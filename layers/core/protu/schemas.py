"""The request types the routers share, and the rules of their fields, declared once.

msgspec validates requests against these types and ``protu.http.openapi`` documents them from the very same types,
so what the API document says a field accepts is what the API accepts. Where a rule lives in a function as well
(the mailer's address rule, the password policy, "a name is not a web address"), the type states the same rule:

* in its ``msgspec.Meta`` (pattern, bounds) when msgspec may refuse with the generic 422 ``validation_failed``:
  ``Email`` carries the mailer's own address pattern;
* as a rule for the document only (``documented(...)``) when the function's own error code must stay the answer
  (``name_contains_link``, ``password_too_short``...): msgspec keeps its looser bounds, the function refuses the
  rest, and the document states the rule. ``tests/unit/test_schemas.py`` checks each such pattern against its
  function.

Patterns are read the same by Python's ``re`` (msgspec, the tests) and by ECMA-262 (JSON Schema validators and
generators such as schemathesis): no ``\\s``, ``\\S``, ``\\w`` (the two engines' sets differ), explicit classes
instead, and ``END`` rather than a bare ``$`` (Python's ``$`` also matches before a final newline).

This module sits below ``protu.http`` (the directory's kinds and the mail client use it without importing the web
layer) and imports only msgspec, ``protu.errors`` and ``protu.emails``: it is on every function's cold start.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

import msgspec

from protu import errors
from protu.emails import normalise as normalise_email

DOCUMENTED = "x-protu-documented"
"""The key under which ``documented`` hands ``protu.http.openapi`` the rules it writes over msgspec's own."""


def documented(**rules: Any) -> msgspec.Meta:
    """JSON Schema ``rules`` the document states for a type that a function enforces (not msgspec, whose error
    code would replace the function's): ``documented(minLength=8)``. msgspec writes its own constraints over
    ``extra_json_schema``, so they travel under ``DOCUMENTED`` and ``protu.http.openapi`` applies them."""
    return msgspec.Meta(extra_json_schema={DOCUMENTED: rules})


# ------------------------------------------------------------------------------------------------ character classes
WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""What Python's ``str.isspace`` (and ``str.strip``, and ``re``'s ``\\s``) calls whitespace, spelled out."""
CONTROL = r"\x00-\x1f\x7f"
END = r"$(?!\n)"
"""The end of the value, in both engines."""
NOT_BLANK = f"[^{WHITESPACE}]"
"""A value with at least one character that ``strip()`` keeps (a search pattern)."""

# A name may not be a web address (``check_name``: "://" or "www.", any case, after NFKC).
# The classes hold every character whose NFKC form is (or ends or starts with) the character the rule looks for;
# ``tests/unit/test_schemas.py`` recomputes them from the Unicode tables.
_W = (
    "wW\u02b7\u1d42\u24cc\u24e6\uff37\uff57\U0001f146"
    + "".join(chr(code) for code in range(0x1D416, 0x1D6A1, 52))  # mathematical W, bold to monospace
    + "".join(chr(code) for code in range(0x1D430, 0x1D6A1, 52))  # mathematical w
)
_ENDS_WITH_W = _W + "\u33ba-\u33bf"  # the squared pW, nW, μW, mW, kW, MW
_STARTS_WITH_DOT = ".\u2024\u2025\u2026\ufe19\ufe30\ufe52\uff0e"
_ENDS_WITH_COLON = ":\ufe13\ufe55\uff1a"
_SLASH = "/\uff0f"
NO_WEB_ADDRESS = (
    rf"^(?![\s\S]*[{_ENDS_WITH_COLON}][{_SLASH}][{_SLASH}])"
    rf"(?![\s\S]*[{_ENDS_WITH_W}][{_W}][{_W}][{_STARTS_WITH_DOT}])"
)
"""The start of a pattern that refuses what ``check_name`` refuses."""

_LINKISH = re.compile(r"://|www\.", re.IGNORECASE)


def check_name(name: str, field: str = "name") -> None:
    """A person's or a company's name may not be a web address: names travel into mail to other people (an
    invitation names its company and inviter; the templates also render them unlinkable), and Protu must not carry
    a stranger's link to anyone."""
    if _LINKISH.search(unicodedata.normalize("NFKC", name)):
        raise errors.ValidationFailed(
            "A name cannot contain a web address.", code="name_contains_link", details={"field": field}
        )


# ------------------------------------------------------------------------------------------------ email
MAILBOX = (
    rf'[^@{WHITESPACE},;:<>()\[\]\\"]{{1,64}}'  # one address: no display name, no list (Mailgun reads "a@x, b@y")
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+"  # an ASCII host name with a dot
)
"""One address the mailer sends to (``protu.mail.client`` holds addresses to it: one rule, no drift)."""

MAX_EMAIL = 254
_MAILBOX = re.compile(MAILBOX)
Email = Annotated[
    str,
    msgspec.Meta(
        max_length=MAX_EMAIL,
        pattern=f"^{MAILBOX}{END}",
        description="One email address we can send mail to: at most 64 characters before the @, and an ASCII "
        "domain name (an address whose case-folded form breaks these bounds is refused as well).",
    ),
]


def mailable(email: str) -> str:
    """The address as accounts key it (``protu.emails``) when mail can be sent to it, 422 otherwise. ``Email``
    holds the mailer's rule, but case folding can lengthen an address ("ß" becomes "ss"): without this check an
    account would be saved and the request would then fail with a 500 on its email. Used where an address gets an
    account (sign-up, invitations)."""
    normalised = normalise_email(email)
    if len(normalised) > MAX_EMAIL or not _MAILBOX.fullmatch(normalised):  # what the mailer holds addresses to
        raise errors.ValidationFailed("Enter a single email address we can send mail to.", details={"field": "email"})
    return normalised


# ------------------------------------------------------------------------------------------------ names
Name = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=100, pattern=NOT_BLANK),
    documented(pattern=f"{NO_WEB_ADDRESS}[\\s\\S]*{NOT_BLANK}", description="A name, not a web address."),
]
"""A person's or a company's name at sign-up; ``check_name`` refuses a web address (422 ``name_contains_link``)."""

_NAME_EDGE = f"[^{WHITESPACE}{CONTROL}]"
CompanyName = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=120, pattern=NOT_BLANK),
    documented(
        pattern=f"{NO_WEB_ADDRESS}[{WHITESPACE}]*{_NAME_EDGE}(?:[^{CONTROL}]*{_NAME_EDGE})?[{WHITESPACE}]*{END}",
        description="The company's name: no line breaks or control characters, not a web address.",
    ),
]
"""The company's name in its settings (``company_settings.normalise_name``)."""

# ------------------------------------------------------------------------------------------------ passwords
PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH = 8, 128  # code points after NFKC (``protu.identity.passwords``)
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]  # a password to check: any length is judged
NewSecret = Annotated[
    Secret,
    documented(
        minLength=PASSWORD_MIN_LENGTH,
        maxLength=PASSWORD_MAX_LENGTH,
        description=f"A new password: {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters (counted after "
        "NFKC normalisation), not a common or easily guessed one, nor built from your name, email or company.",
    ),
]
"""A password being set: ``passwords.check_policy`` judges it (422 ``password_too_short``, ``password_weak``...)."""

# ------------------------------------------------------------------------------------------------ records
Version = Annotated[int, msgspec.Meta(ge=1)]
"""The version of a record as read: a change names it, and a stale one is a 409."""

RECORD_ID = r"[A-Za-z0-9_-]{1,64}"
"""A path id of a user or a session (short and URL-safe)."""
_RECORD_ID = re.compile(RECORD_ID)


def record_id(call: Any, name: str, message: str) -> str:
    """The path parameter ``name`` naming a record (user and session ids are short, URL-safe). An id no record can
    have is the same 404 as an unknown one, answered without asking the table: DynamoDB answers a key over its size
    limit (sort keys: 1,024 bytes) with a ValidationException, which would be a 503 for a bad URL."""
    value = call.params[name]
    if not _RECORD_ID.fullmatch(value):
        raise errors.NotFound(message)
    return value


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    """The base of every request body and query: a field the endpoint does not take is a 422, not ignored."""
