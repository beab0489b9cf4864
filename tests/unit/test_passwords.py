"""Password policy and hashing (``protu.identity.passwords``), through its public functions only.

argon2 at OWASP's parameters costs ~20-30 ms per hash or verification, so the hashing tests use few examples.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import argon2
import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from protu.errors import ValidationFailed
from protu.identity import passwords
from protu.identity.passwords import (
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
)

ROOT = Path(__file__).resolve().parents[2]
STRONG = "zq8#vx2m-lantern-okapi"
# Eight different accented letters typed decomposed (letter + combining mark): 16 code points, 8 after NFKC.
DECOMPOSED_8 = "e\u0301a\u0300o\u0302u\u0308i\u0301n\u0303c\u0327a\u030a"
DECOMPOSED_16 = DECOMPOSED_8 + "e\u0300o\u0308u\u0302i\u0308o\u0301u\u0300a\u0302e\u0308"


def rejection(password: str, **context: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        check_policy(password, **context)
    return caught.value


def code_of(password: str, **context: str) -> str | None:
    try:
        check_policy(password, **context)
    except ValidationFailed as error:
        return error.code
    return None


# --- length -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("zq8#vx2", "password_too_short"),  # 7
        ("zq8#vx2m", None),  # 8
        (hashlib.sha512(b"protu").hexdigest(), None),  # 128
        ("zq8#" * 32 + "x", "password_too_long"),  # 129
        ("", "password_too_short"),
    ],
)
def test_length_boundaries(password, code):
    assert code_of(password) == code


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("🙂" * 7, "password_too_short"),  # one code point each
        ("🙂🐢🌵🎈🦊🍋🚲🎻", None),  # (different ones: "🙂" * 8 is a repeat, refused as password_weak)
        ("👍🏽👋🏿✌🏻👌🏾", None),  # hand + skin-tone modifier: two code points per visible emoji, 8 in all
        ("e\u0301" * 7, "password_too_short"),  # 14 code points as typed, 7 "é" after NFKC
        (DECOMPOSED_8, None),  # 16 as typed, 8 after NFKC
        (DECOMPOSED_16 * 8, None),  # 256 as typed, 128 after NFKC: not too long
        ("\ufb01\ufb02\ufb00\ufb06", None),  # the "fi", "fl", "ff", "st" ligatures: 4 as typed, NFKC makes 8 letters
        ("\ufb01" * 3, "password_too_short"),
    ],
)
def test_length_counts_code_points_after_nfkc(password, code):
    assert code_of(password) == code


def test_a_rejection_names_the_field_and_never_the_password():
    error = rejection("zq8#vx2")
    assert (error.code, error.status, error.details) == ("password_too_short", 422, {"field": "password"})
    assert "zq8#vx2" not in str(error) and "zq8#vx2" not in repr(error.to_body())
    assert error.message == "The password must be at least 8 characters long."


# --- common passwords ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "Password",
        "PASSWORD",
        "qwerty123",
        "QwErTy123",
        "iloveyou",
        "football1",
        "trustno1",
        "bluenote",  # rank ~10,000: more than the ASVS minimum is bundled
        "weihnachtsbaum",  # rank ~29,900: the whole list of 30,000 is used
        "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44",  # fullwidth "password": NFKC folds it to ASCII
    ],
)
def test_common_passwords_are_rejected_in_any_case(password):
    error = rejection(password)
    assert (error.code, error.details) == ("password_common", {"field": "password"})


def test_no_composition_rules():
    for password in ("lowercase letters only here", "908172635447", "ÜBERGRÖSSENTRÄGER", "зелёный слон летит"):
        check_policy(password)


# --- context-specific passwords -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "context"),
    [
        ("Acme2024!", {"company": "Acme Corp"}),
        ("ACME-12345678", {"company": "Acme Corp"}),  # only digits and symbols besides the company name
        ("AcmeCorp2024", {"company": "Acme Corp"}),  # "Corp" is a legal form, "Acme" still matches
        ("A1c2m3e4", {"company": "Acme"}),  # the letters alone spell the company
        ("johnsmith1", {"name": "John Smith"}),
        ("Smith!!2024", {"name": "John Smith"}),
        ("Li#2024!!", {"name": "Li Wei"}),  # short names match when they are all the letters there are
        ("JaneDoe2024", {"email": "jane.doe@example.com"}),
        ("example123!", {"email": "jane.doe@example.com"}),  # the domain's name
        ("jane.doe@example.com", {"email": "jane.doe@example.com"}),
        ("picard1987", {"email": "jl.picard+work@starfleet.org"}),
        ("Müller2024!", {"name": "Ana Müller"}),
    ],
)
def test_contextual_passwords_are_rejected(password, context):
    error = rejection(password, **context)
    assert (error.code, error.details) == ("password_contextual", {"field": "password"})
    # Without that context it is not contextual (most of these are still refused, as easy to guess).
    assert code_of(password) != "password_contextual"


@pytest.mark.parametrize(
    ("password", "context"),
    [
        ("remarkable horse battery staple", {"name": "Mark Twain"}),  # "mark" inside a word of a passphrase
        ("acme rockets launch at dawn over the bay", {"company": "Acme Corp"}),  # stands on its own
        ("corporate lunch basket tree", {"company": "Acme Corp"}),  # "corp" is not the user's context
        ("alpaca lamp 8", {"name": "Al Li"}),  # short name parts are not searched inside words
        ("correct horse battery staple", {"email": "jane@example.com", "name": "Jane Doe", "company": "Doe Ltd"}),
        ("908172635447", {"email": "x@y.io", "name": "X", "company": "Y"}),
    ],
)
def test_unrelated_passwords_pass_with_context(password, context):
    check_policy(password, **context)


def test_context_is_checked_after_the_common_list():
    assert code_of("password", name="Pass Word") == "password_common"


# --- easy to guess (zxcvbn's estimate) ----------------------------------------------------------------------------

WEAK_LEAD = "This password is too easy to guess."


@pytest.mark.parametrize(
    ("password", "code", "reason"),
    [
        ("aaaaaaaa", "password_weak", 'Repeated characters like "aaa" are easy to guess.'),
        ("a" * 128, "password_weak", 'Repeated characters like "aaa"'),  # long, but only a repeat
        ("12121212", "password_weak", 'Repeated groups like "abcabc"'),
        ("abcabcabcabc", "password_weak", 'Repeated groups like "abcabc"'),
        ("zyxwvuts", "password_weak", 'Sequences like "abcd" or "6543" are easy to guess.'),
        ("98765432", "password_weak", "Avoid sequences."),
        ("qwertyuiop", "password_common", None),  # the list has it already
        ("asdfghjkl;", "password_weak", 'Rows of keys like "qwerty" are easy to guess.'),
        ("zxcvbnm,./", "password_weak", "Avoid keyboard patterns."),
        ("abcd1234efgh", "password_weak", "It is a common password or word with a few"),
        ("12345678910", "password_common", None),
        ("1234567891011", "password_weak", "It is a common password or word with a few"),
        ("Password1!", "password_weak", "It is a common password or word with a few letters, digits or symbols"),
        ("Summer2024!", "password_weak", "Capital letters do not make it much harder to guess."),
        ("P@ssw0rd123", "password_weak", 'Look-alike swaps such as "@" for "a"'),
        ("drowssap99", "password_weak", "Words spelled backwards are not much harder to guess."),
        ("ELEPHANT12", "password_weak", "All capitals are almost as easy to guess as all lowercase."),
        ("Jennifer!!", "password_weak", "Common names are easy to guess."),
        ("19871225ab", "password_weak", "Dates are easy to guess."),
    ],
)
def test_repeats_sequences_keyboard_patterns_and_decorated_common_passwords_are_refused(password, code, reason):
    """ASVS 5.0 6.2.4 (common passwords: also with digits, symbols, capitals or look-alikes added) and 6.2.5 (still no
    composition rule: the reason is the pattern, never a missing kind of character).

    Refused with ``password_weak`` (or ``password_common`` when the list already has it); the message says why in
    plain words, from zxcvbn's feedback, and never contains the password.
    """
    error = rejection(password)
    assert (error.code, error.status, error.details) == (code, 422, {"field": "password"})
    if code == "password_weak":
        assert error.message.startswith(WEAK_LEAD + " ") and reason in error.message
        assert "Add another word or two; uncommon words are best." in error.message
    assert password not in error.message and password.casefold() not in error.message.casefold()
    assert password not in repr(error.to_body())
    assert not re.search(r"zxcvbn|l33t|top-10|[{}\[\]]|\\u", error.message)  # plain words, nothing internal


def test_the_weak_message_is_whole_sentences_in_plain_words():
    message = rejection("aaaaaaaa").message
    assert message == (
        "This password is too easy to guess. "
        'Repeated characters like "aaa" are easy to guess. '
        "Add another word or two; uncommon words are best. "
        "Avoid repeated words and characters."
    )


def test_the_users_own_words_count_against_the_estimate():
    """ASVS 5.0 6.2.11: the context words (email, name, company) go to zxcvbn too, which also sees them reversed.

    "lixev-nroz" gets past the contextual rule (nothing in it is the user's words as written) but is their email
    backwards; for anyone else it is ten random-looking characters.
    """
    error = rejection("lixev-nroz", email="qx.zorn@vexil.io")
    assert error.code == "password_weak"
    assert "It uses your name, email address or company name." in error.message
    assert "Words spelled backwards are not much harder to guess." in error.message
    assert "vexil" not in error.message and "zorn" not in error.message
    assert check_policy("lixev-nroz") is None


@pytest.mark.parametrize(
    "password",
    [
        "zq8#vx2m",  # 8 random characters: the shortest allowed still passes (zxcvbn: 10^8 guesses)
        "k7#Qv2pZ",
        "Xk9mQ2pL7v",  # random, 10 characters
        "h4Tq9zWm2r",
        "river tiger candle",  # three words
        "purple monkey dishwasher",
        "correct horse battery staple",  # four words
        "violet harbour lantern 42",
        "lantern okapi violet harbour",
        "quiet orange bicycle 9",
        "a new long passphrase 7",
        "Wandering-Pelican-Teacup",
        "zeppelin marmalade 1987 okapi",
        "4@8({[</369&#!1|0$5+7%2/",  # every look-alike zxcvbn knows
    ],
)
def test_random_passwords_and_passphrases_pass(password):
    """ASVS 5.0 6.2.1 (8 characters are enough when they are not guessable) and 6.2.5 (any composition)."""
    assert check_policy(password, email="jane.doe@example.com", name="Jane Doe", company="Doe Ltd") is None


WORST_INPUTS = [
    ("4@8({[</369&#!1|0$5+7%2/" * 6)[:128],  # every look-alike: 2+ seconds for zxcvbn on 64 of them
    "".join(sorted("4@8({[<3691!|70$5+%2")) * 6 + "ab" * 4,
    "1" * 128,
    "a" * 128,
    ("19871225" * 16)[:128],
    "90817263" * 16,
    hashlib.sha512(b"protu").hexdigest(),
]


@pytest.mark.parametrize("password", WORST_INPUTS)
def test_zxcvbn_looks_up_a_bounded_number_of_substrings_whatever_the_input(password, monkeypatch):
    """zxcvbn is estimated on a bounded prefix: its look-alike matching is exponential in the symbols present. The
    work is counted where zxcvbn does it (every word-list pass over every substring: ``dictionary_match``, called
    as written, reversed and once per look-alike reading); ``make bench`` times the same inputs."""
    import zxcvbn.matching

    looked_up = []
    real = zxcvbn.matching.dictionary_match

    def counted(text, *args, **kwargs):
        looked_up.append(len(text) * (len(text) + 1) // 2)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(zxcvbn.matching, "dictionary_match", counted)
    code_of(password, email="jane.doe@example.com", name="Jane Doe", company="Doe Ltd")
    assert looked_up, "zxcvbn estimated nothing"
    assert sum(looked_up) <= passwords.ESTIMATE_BUDGET


# One message per code, taken from known examples: any other rejection must carry exactly the same text
# (password_weak's message says why, so it varies; it is checked on its own).
MESSAGES = {
    error.code: error.message
    for error in (
        rejection("short"),
        rejection("x" * 129),
        rejection("password"),
        rejection("Acme2024!", company="Acme"),
    )
}


@hsettings(max_examples=100, deadline=None)
@given(
    password=st.text(max_size=140),
    email=st.emails() | st.text(max_size=30),
    name=st.text(max_size=30),
    company=st.text(max_size=30),
)
def test_rejections_are_constant_and_never_echo_the_password(password, email, name, company):
    """Whatever the input, a rejection carries one of the fixed (code, message, details): no password in it.

    A password_weak message is whole sentences from a fixed set: it starts with the same one and holds no password.
    """
    try:
        check_policy(password, email=email, name=name, company=company)
    except ValidationFailed as error:
        if error.code == "password_weak":
            assert error.message.startswith(WEAK_LEAD)
            assert unicodedata.normalize("NFKC", password) not in error.message and password not in error.message
        else:
            assert error.message == MESSAGES[error.code]
        assert error.details == {"field": "password"}
        assert error.headers == {}


# --- hashing ------------------------------------------------------------------------------------------------------

PHC = re.compile(r"^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$")


def test_hashes_are_salted_argon2id_with_owasp_parameters():
    first, second = hash_password(STRONG), hash_password(STRONG)
    assert PHC.match(first) and PHC.match(second)
    assert first != second
    assert STRONG not in first


def test_verify_accepts_the_password_and_nothing_else():
    stored = hash_password(STRONG)
    assert verify_password(stored, STRONG) is True
    assert verify_password(stored, STRONG.upper()) is False
    assert verify_password(stored, STRONG + " ") is False
    assert verify_password(stored, "") is False


def test_the_same_password_in_another_unicode_composition_verifies():
    composed = unicodedata.normalize("NFC", "crème brûlée à la carte")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert verify_password(hash_password(composed), decomposed) is True


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "garbage",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "$argon2id$v=19$m=19456,t=2,p=1$not-base64$!!",
        "$argon2id$v=19$m=1,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "ünïcode",
        None,
    ],
)
def test_verify_against_an_invalid_hash_is_false(stored):
    assert verify_password(stored, STRONG) is False


def test_needs_rehash_for_other_parameters():
    assert needs_rehash(hash_password(STRONG)) is False
    weaker = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(STRONG)
    assert needs_rehash(weaker) is True
    assert verify_password(weaker, STRONG) is True  # old hashes keep working until they are replaced
    argon2i = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=argon2.Type.I).hash(STRONG)
    assert needs_rehash(argon2i) is True
    assert needs_rehash("garbage") is True


@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(password=st.text(min_size=8, max_size=64))
def test_any_accepted_password_round_trips(password):
    try:
        check_policy(password)
    except ValidationFailed:
        assume(False)
    stored = hash_password(password)
    assert verify_password(stored, password) is True
    assert verify_password(stored, password + "x") is False


# --- cold start ---------------------------------------------------------------------------------------------------


def test_import_loads_neither_zxcvbn_nor_argon2_and_the_list_loads_on_first_check():
    code = (
        "import sys\n"
        "def loaded(*names): return sorted(m for m in sys.modules if m.split('.')[0] in names)\n"
        "import protu.identity.passwords as passwords\n"
        "assert not loaded('zxcvbn', 'argon2', '_argon2_cffi_bindings'), loaded('zxcvbn', 'argon2')\n"
        "passwords.check_policy('zq8#vx2m-lantern-okapi')\n"
        "assert loaded('zxcvbn'), 'the common-password list was not loaded'\n"
        "assert not loaded('argon2'), 'checking the policy imported argon2'\n"
    )
    env = os.environ | {"PYTHONPATH": str(ROOT / "layers/core")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
