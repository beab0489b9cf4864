"""Password policy and hashing (OWASP ASVS 5.0 section 6.2; DESIGN.md "Identity and sessions").

Policy (``check_policy``), checked in this order, each failure a ``ValidationFailed`` with a stable code and
``details={"field": "password"}``:

- ``password_too_short`` / ``password_too_long``: 8..128 characters, counted as Unicode code points after NFKC
  normalisation (not bytes: "é" is one whether typed composed or not). 15+ is recommended, not required.
- ``password_common``: one of the 30,000 most common passwords (the ranked list ``zxcvbn`` ships), any case.
- ``password_contextual``: built from the user's own email, name or company (rule in ``_is_contextual``).
- ``password_weak``: zxcvbn's estimate is under ``MIN_GUESSES`` (10^8) guesses: repeats ("aaaaaaaa"), sequences
  ("abcd1234efgh"), keyboard patterns ("qwertyuiop"), dates, and common words or passwords with digits or symbols
  added ("Password1!"). The user's email, name and company words are given to zxcvbn as its ``user_inputs``. The
  message says why in plain words, built only from fixed sentences chosen by zxcvbn's feedback (``_weak_message``).

There are deliberately no composition rules ("must contain a digit"): they push users to predictable patterns.

The threshold: zxcvbn's score 3 ("safely unguessable") starts at 10^8 + 5 guesses, but zxcvbn rates a character it
sees no pattern in at 10 guesses, so every 8-character password would score 2 and the minimum length would silently
become 9. Refusing under 10^8 is the same line without that offset: a patternless 8-character password passes,
anything estimated under 10^8 guesses does not. Random 10+ character passwords and three or four random words pass.

Work is bounded: zxcvbn's time grows with the square of the length times the number of ways its look-alike
("l33t") table can read the characters ("4@8({[<3691!|70$5+%2" has 736): 64 such characters take over 2 seconds, a
known denial of service that its own 72-character limit does not prevent. So only the longest prefix of at most
``ESTIMATE_MAX_LENGTH`` (64) characters whose estimated cost fits ``ESTIMATE_BUDGET`` is estimated
(``_estimated_prefix``): the slowest inputs found take about 30 ms (40 on a busy machine). The rest only adds to
what a guesser must find; a prefix cut short by the budget is at least 10 characters, dense in digits and symbols.

Hashing is argon2id with OWASP's parameters (19 MiB, 2 iterations, 1 lane). Passwords are NFKC-normalised before
hashing as well as before the policy check, so the same password typed on systems that compose accents
differently still verifies.

Cold start: neither ``zxcvbn`` (~30 ms: its word lists) nor ``argon2`` is imported here; both load on first use,
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
from protu.schemas import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH, MAX_LENGTH = PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH  # declared with the request types

# OWASP Password Storage Cheat Sheet, argon2id option 1: m=19 MiB, t=2, p=1.
MEMORY_COST_KIB = 19456
TIME_COST = 2
PARALLELISM = 1

# zxcvbn's estimate: refuse a password it expects to guess in fewer tries (the module docstring says why 10^8).
MIN_GUESSES = 10**8
# Estimate at most this many characters, and fewer when zxcvbn's look-alike table would make them slow (see
# ``_estimated_prefix``; the budget counts zxcvbn's dictionary passes times substrings, 1-2 microseconds each).
ESTIMATE_MAX_LENGTH = 64
ESTIMATE_BUDGET = 20_000

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

# password_weak: the first sentence, then what zxcvbn's feedback points at, in our words. zxcvbn's own texts are
# keys only: a text it adds in a later version (or translates) is left out, so a message holds nothing else.
_WEAK_LEAD = "This password is too easy to guess."
_WEAK_WARNINGS = {
    "Straight rows of keys are easy to guess.": 'Rows of keys like "qwerty" are easy to guess.',
    "Short keyboard patterns are easy to guess.": 'Keyboard patterns like "1qaz2wsx" are easy to guess.',
    'Repeats like "aaa" are easy to guess.': 'Repeated characters like "aaa" are easy to guess.',
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".':
        'Repeated groups like "abcabc" are hardly harder to guess than "abc".',
    'Sequences like "abc" or "6543" are easy to guess.': 'Sequences like "abcd" or "6543" are easy to guess.',
    "Recent years are easy to guess.": "Recent years are easy to guess.",
    "Dates are often easy to guess.": "Dates are easy to guess.",
    "This is a top-10 common password.": "It is one of the most common passwords.",
    "This is a top-100 common password.": "It is one of the most common passwords.",
    "This is a very common password.": "It is a very common password.",
    "This is similar to a commonly used password.":
        "It is a common password or word with a few letters, digits or symbols changed or added.",
    "A word by itself is easy to guess.": "A single word is easy to guess.",
    "Names and surnames by themselves are easy to guess.": "A name by itself is easy to guess.",
    "Common names and surnames are easy to guess.": "Common names are easy to guess.",
}  # fmt: skip
_WEAK_CONTEXT = "It uses your name, email address or company name."
_WEAK_SUGGESTIONS = {
    "Add another word or two. Uncommon words are better.": "Add another word or two; uncommon words are best.",
    "Use a few words, avoid common phrases.": "Use a few words, avoid common phrases.",
    "Use a longer keyboard pattern with more turns.": "Avoid keyboard patterns.",  # zxcvbn's advice is a pattern
    "Avoid repeated words and characters.": "Avoid repeated words and characters.",
    "Avoid sequences.": "Avoid sequences.",
    "Avoid recent years.": "Avoid recent years.",
    "Avoid years that are associated with you.": "Avoid dates and years that mean something to you.",
    "Avoid dates and years that are associated with you.": "Avoid dates and years that mean something to you.",
    "Capitalization doesn't help very much.": "Capital letters do not make it much harder to guess.",
    "All-uppercase is almost as easy to guess as all-lowercase.":
        "All capitals are almost as easy to guess as all lowercase.",
    "Reversed words aren't much harder to guess.": "Words spelled backwards are not much harder to guess.",
    "Predictable substitutions like '@' instead of 'a' don't help very much.":
        'Look-alike swaps such as "@" for "a" or "0" for "o" do not help much.',
}  # fmt: skip
_WEAK_DEFAULT_SUGGESTION = _WEAK_SUGGESTIONS["Add another word or two. Uncommon words are better."]

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
    tokens = _context_tokens(email=email, name=name, company=company)
    if _is_contextual(folded, tokens):
        _fail("password_contextual")
    weakness = _weakness(normalised, tokens)
    if weakness is not None:
        _fail("password_weak", weakness)


def hash_password(password: str) -> str:
    """The argon2id PHC string to store for ``password`` (salted; the parameters are encoded in it)."""
    return _hasher().hash(_encode(password))


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; False, never an exception, for a mismatch or a bad hash.

    Every call costs about one argon2 verification, even for a hash that is missing or unparseable: a fast "no"
    would let a caller tell such accounts from others by timing (see ``burn_verify_time``).
    """
    # cold start: loaded on first use
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


def _fail(code: str, message: str | None = None) -> None:
    # The message (one of _MESSAGES, or _weak_message's fixed sentences) and details are constants: the password
    # never reaches an error, a log line or Sentry.
    raise ValidationFailed(message or _MESSAGES[code], code=code, details={"field": "password"})


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _encode(password: str) -> bytes:
    # surrogatepass: a lone surrogate (possible in JSON) must hash and verify like any other input, not raise.
    return _normalise(password).encode("utf-8", "surrogatepass")


@functools.cache
def _hasher() -> PasswordHasher:
    # cold start: loaded on first use
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM, type=Type.ID)


@functools.cache
def _dummy_hash() -> str:
    # Same parameters as real hashes, so verifying against it costs the same; its password is thrown away.
    return hash_password(secrets.token_urlsafe(32))


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (all lowercase in the list), loaded on first use."""
    # cold start: loaded on first use
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _weakness(normalised: str, tokens: set[str]) -> str | None:
    """The ``password_weak`` message if zxcvbn expects fewer than ``MIN_GUESSES`` guesses, else None."""
    # cold start: loaded on first use
    from zxcvbn import zxcvbn

    # Sorted: zxcvbn ranks user_inputs by position, and a set's order changes from one process to the next.
    result = zxcvbn(_estimated_prefix(normalised), user_inputs=sorted(tokens))
    if result["guesses"] >= MIN_GUESSES:
        return None
    uses_context = any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"])
    return _weak_message(result["feedback"], uses_context=uses_context)


def _weak_message(feedback: dict, *, uses_context: bool) -> str:
    """Plain sentences from ``_WEAK_*`` only, chosen by zxcvbn's feedback: never any part of the password."""
    sentences = [_WEAK_LEAD, _WEAK_WARNINGS.get(feedback.get("warning") or "")]
    if uses_context:
        sentences.append(_WEAK_CONTEXT)
    sentences += [_WEAK_SUGGESTIONS.get(text) for text in feedback.get("suggestions") or ()]
    if _WEAK_DEFAULT_SUGGESTION not in sentences:
        sentences.append(_WEAK_DEFAULT_SUGGESTION)
    return " ".join(dict.fromkeys(sentence for sentence in sentences if sentence))


def _estimated_prefix(normalised: str) -> str:
    """The longest prefix, at most ``ESTIMATE_MAX_LENGTH`` long, whose estimation cost fits ``ESTIMATE_BUDGET``.

    zxcvbn looks every substring (n(n+1)/2 of them) up in its word lists: twice (as written and reversed), then once
    more for each reading of the look-alike characters present ("4" or "@" for "a", "1" for "i" or "l"...). The cost
    is those passes times the substrings, with ``_readings_bound`` for the readings. Without look-alikes all 64
    characters fit (4,160); 64 random digits keep 56, random printable characters about 50, and the worst order of
    all 20 look-alikes keeps 10 (random, that is 10^10 guesses to zxcvbn).
    """
    # cold start: loaded on first use
    from zxcvbn.matching import L33T_TABLE

    look_alikes = {character for characters in L33T_TABLE.values() for character in characters}
    prefix = normalised[:ESTIMATE_MAX_LENGTH]
    present: set[str] = set()
    readings = 0
    for length, character in enumerate(prefix, start=1):
        if character in look_alikes and character not in present:
            present.add(character)
            readings = _readings_bound(present, L33T_TABLE)
        if (2 + readings) * length * (length + 1) // 2 > ESTIMATE_BUDGET:
            return prefix[: length - 1]
    return prefix


def _readings_bound(present: set[str], table: dict[str, list[str]]) -> int:
    """At least as many readings as zxcvbn's ``enumerate_l33t_subs`` yields for ``present`` (at most 2.5 times).

    It follows that function: letter by letter, in the table's order, each reading so far branches into one per
    look-alike of the letter present, and into two when that look-alike was already given to an earlier letter
    ("1" for "i", then for "l"). Counting them exactly takes zxcvbn up to 20 ms.
    """
    bound, earlier = 1, set()
    for characters in table.values():
        relevant = [character for character in characters if character in present]
        if relevant:
            bound *= len(relevant) + sum(character in earlier for character in relevant)
            earlier.update(relevant)
    return bound


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
