"""What a session's User-Agent string says in words (``protu.identity.agents``): the common browsers and systems,
tools named by their own product token, and nothing made up from a string that names nothing."""

from __future__ import annotations

import time

import pytest
from protu.identity import agents, sessions
from protu.identity.models import Session

COMMON = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
        "Safari/537.36",
        ("Chrome", "126", "Windows"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 "
        "Safari/537.36",
        ("Chrome", "125", "macOS"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 "
        "Mobile Safari/537.36",
        ("Chrome", "126", "Android 14"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
        ("Chrome", "126", "iOS 17.5"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
        "Safari/537.36 Edg/126.0.2592.68",
        ("Edge", "126", "Windows"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile "
        "Safari/537.36 EdgA/126.0.2592.80",
        ("Edge", "126", "Android 10"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
        "Safari/537.36 OPR/111.0.0.0",
        ("Opera", "111", "Windows"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 "
        "Chrome/121.0.0.0 Mobile Safari/537.36",
        ("Samsung Internet", "25", "Android 14"),
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", ("Firefox", "128", "Linux")),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", ("Firefox", "127", "Linux")),
    ("Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0", ("Firefox", "128", "Android 14")),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_7_8 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "FxiOS/127.0 Mobile/15E148 Safari/605.1.15",
        ("Firefox", "127", "iOS 16.7"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 "
        "Safari/605.1.15",
        ("Safari", "17", "macOS"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        ("Safari", "17", "iOS 17.5"),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
        "Mobile/15E148 Safari/604.1",
        ("Safari", "16", "iOS 16"),
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
        "Safari/537.36",
        ("Chrome", "126", "ChromeOS"),
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.139 "
        "Safari/537.36",
        ("Chrome", "131", "Linux"),
    ),
    ("curl/8.5.0", ("curl", "8", None)),
    ("python-requests/2.32.3", ("python-requests", "2", None)),
]


@pytest.mark.parametrize(("user_agent", "expected"), COMMON, ids=[e[1][0] + " " + str(e[1][2]) for e in COMMON])
def test_common_browsers_and_systems_are_named(user_agent, expected):
    assert agents.parse(user_agent) == agents.Agent(*expected)


@pytest.mark.parametrize("user_agent", ["", None, "schemathesis", "Mozilla/5.0", "<script>alert(1)</script>", "-"])
def test_a_string_that_names_nothing_gives_nothing(user_agent):
    assert agents.parse(user_agent) == agents.Agent(None, None, None)


def test_a_long_or_hostile_string_is_quick_and_bounded():
    started = time.perf_counter()
    for hostile in ("iPhone OS " * 5000, "Version/1" + ".1" * 5000, "a" * 100_000, "Android " * 9000):
        parsed = agents.parse(hostile)
        assert all(value is None or len(value) <= 40 for value in (parsed.browser, parsed.version, parsed.system))
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("ip", "network"),
    [
        ("203.0.113.7", "203.0.0.0/16"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
        ("not an address", None),
        ("", None),
    ],
)
def test_the_network_is_the_coarse_one_the_session_is_bound_to(ip, network):
    session = Session("pk", "sk", ip=ip, user_agent="curl/8.5.0", sign_in_method=None)
    assert sessions.described(session)["network"] == network
    assert sessions.fingerprint("curl/8.5.0", ip).endswith(f"|{network or '-'}")
