"""Password policy and hashing (OWASP ASVS 5.0 section 6.2; DESIGN.md "Identity and sessions").

Policy (``check_policy``), checked in this order, each failure a ``ValidationFailed`` with a stable code and
``details={"field": "password"}``:

- ``password_too_short`` / ``password_too_long``: 8..128 characters, counted as Unicode code points after NFKC
  normalisation (not bytes: "é" is one whether typed composed or not). 15+ is recommended, not required.
- ``password_common``: one of the 30,000 most common passwords (the ranked list ``zxcvbn`` ships), any case.
- ``password_contextual``: built from the user's own email, name or company (rule in ``_is_contextual``).

There are deliberately no composition rules ("must contain a digit"): they push users to predictable patterns.

Hashing is argon2id with OWASP's parameters (19 MiB, 2 iterations, 1 lane). Passwords are NFKC-normalised before
hashing as well as before the policy check, so the same password typed on systems that compose accents
differently still verifies.

Cold start: neither ``zxcvbn`` (~20 ms and 30k strings) nor ``argon2`` is imported here; both load on first use,
so only the routes that handle passwords pay for them. Nothing in this module logs, and no error message or
detail ever contains the password.
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from typing import TYPE_CHECKING

from protu.errors import ValidationFailed

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 8
MAX_LENGTH = 128

# OWASP Password Storage Cheat Sheet, argon2id option 1: m=19 MiB, t=2, p=1.
MEMORY_COST_KIB = 19456
TIME_COST = 2
PARALLELISM = 1

# Context tokens shorter than this only count when they are all the letters of the password (see
# ``_is_contextual``): removing a two-letter name from anywhere in a password would reject unrelated passwords.
MIN_SUBSTRING_TOKEN = 4

# Legal forms and filler words in company names: "corp" is not something a user at "Acme Corp" picked.
_COMPANY_STOPWORDS = frozenset(
    {
        "and", "company", "corp", "corporation", "gmbh", "group", "holding", "holdings",
        "inc", "incorporated", "limited", "llc", "ltd", "plc", "sarl", "the",
    }
)  # fmt: skip

_MESSAGES = {
    "password_too_short": f"The password must be at least {MIN_LENGTH} characters long.",
    "password_too_long": f"The password must be at most {MAX_LENGTH} characters long.",
    "password_common": "This password is too common. Choose a less predictable one, such as a few random words.",
    "password_contextual": "The password must not be based on your email address, name or company name.",
}

_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits, in any script


def check_policy(password: str, *, email: str = "", name: str = "", company: str = "") -> None:
    """Raise ``ValidationFailed`` if ``password`` breaks the policy; the context arguments are the user's own."""
    normalised = _normalise(password)
    if len(normalised) < MIN_LENGTH:
        _fail("password_too_short")
    if len(normalised) > MAX_LENGTH:
        _fail("password_too_long")
    folded = normalised.casefold()
    if folded in _common_passwords():
        _fail("password_common")
    if _is_contextual(folded, _context_tokens(email=email, name=name, company=company)):
        _fail("password_contextual")


def hash_password(password: str) -> str:
    """The argon2id PHC string to store for ``password`` (salted; the parameters are encoded in it)."""
    return _hasher().hash(_encode(password))


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; False, never an exception, for a mismatch or a bad hash.

    Every call costs about one argon2 verification, even for a hash that is missing or unparseable: a fast "no"
    would let a caller tell such accounts from others by timing (see ``burn_verify_time``).
    """
    from argon2.exceptions import Argon2Error, VerifyMismatchError

    if not isinstance(stored_hash, str) or not isinstance(password, str):
        burn_verify_time()
        return False
    try:
        return _hasher().verify(stored_hash, _encode(password))
    except VerifyMismatchError:  # the wrong password: argon2 already took its time
        return False
    except (Argon2Error, ValueError):  # not a usable argon2 hash (unparseable, bad parameters, non-ASCII text)
        burn_verify_time()
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether ``stored_hash`` was made with other parameters than today's (rehash it after a successful login).

    A missing or unparseable hash also needs replacing, so it answers True.
    """
    if not isinstance(stored_hash, str):
        return True
    try:
        return _hasher().check_needs_rehash(stored_hash)
    except ValueError:  # InvalidHashError, UnsupportedParametersError
        return True


def burn_verify_time() -> None:
    """Spend the time of one verification, for a login whose email matches no account (ASVS 6.3.8).

    Without it, "unknown email" answers in microseconds and "wrong password" in tens of milliseconds, which tells
    an attacker which emails have accounts.
    """
    verify_password(_dummy_hash(), "not the dummy password")


def _fail(code: str) -> None:
    # The message and details are constants: the password never reaches an error, a log line or Sentry.
    raise ValidationFailed(_MESSAGES[code], code=code, details={"field": "password"})


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _encode(password: str) -> bytes:
    # surrogatepass: a lone surrogate (possible in JSON) must hash and verify like any other input, not raise.
    return _normalise(password).encode("utf-8", "surrogatepass")


@functools.cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM, type=Type.ID)


@functools.cache
def _dummy_hash() -> str:
    # Same parameters as real hashes, so verifying against it costs the same; its password is thrown away.
    return hash_password(secrets.token_urlsafe(32))


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (all lowercase in the list), loaded on first use."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _context_tokens(*, email: str, name: str, company: str) -> set[str]:
    """Casefolded strings a guesser would try first for this user.

    - each value whole, as typed ("jane.doe@example.com", "john smith", "acme corp");
    - email: the local part's words ("john.smith" gives "john", "smith") and all of them joined ("johnsmith"), and
      the words of the domain's labels except the top-level one ("acme" from "mail.acme.com", "gmail" from
      "gmail.com"), and those joined;
    - name: its words and all of them joined;
    - company: its words except legal forms ("Acme Corp" gives "acme"), and all of its words joined ("acmecorp").
    """
    email, name, company = (_normalise(value).casefold().strip() for value in (email, name, company))
    local, _, domain = email.rpartition("@")
    if not local:  # no "@": treat the whole value as a local part
        local, domain = domain, ""
    company_words = _WORD.findall(company)
    groups = [
        _WORD.findall(local),
        _WORD.findall(" ".join(domain.split(".")[:-1])),
        _WORD.findall(name),
        [word for word in company_words if word not in _COMPANY_STOPWORDS],
    ]
    tokens = {email, name, company, "".join(company_words)}
    for words in groups:
        tokens.update(words)
        tokens.add("".join(words))
    return {token for token in tokens if len(token) >= 2}


def _is_contextual(folded: str, tokens: set[str]) -> bool:
    """The rule: the password is contextual if the user's own words carry it.

    1. Remove every context token of at least ``MIN_SUBSTRING_TOKEN`` characters from the password (longest first).
       If something was removed and what remains is shorter than ``MIN_LENGTH`` or has no letters (only digits,
       symbols, spaces), the password is contextual: "Acme2024!" for Acme Corp leaves "2024!", "johnsmith1" for
       John Smith leaves "1", "Acme-12345678" leaves only digits and symbols.
    2. The password's letters alone equal a token of any length: "Li#2024!!" for Li Wei, "A1c2m3e4" for Acme.

    A passphrase that merely contains a name keeps enough of its own to pass: "remarkable horse battery staple"
    for a user named Mark leaves 27 characters.
    """
    if not tokens:
        return False
    remainder = folded
    for token in sorted(tokens, key=len, reverse=True):
        if len(token) >= MIN_SUBSTRING_TOKEN:
            remainder = remainder.replace(token, "")
    if remainder != folded and (len(remainder) < MIN_LENGTH or not any(char.isalpha() for char in remainder)):
        return True
    letters = "".join(char for char in folded if char.isalpha())
    return letters in tokens
