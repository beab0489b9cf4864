"""The password policy's check on the slowest inputs known (``tests/unit/test_passwords.WORST_INPUTS``: look-alike
characters make zxcvbn's matching exponential; the policy bounds the prefix it estimates) against the check of an
ordinary passphrase. Best of several runs, zxcvbn's lists loaded first."""

from __future__ import annotations

import time

RUNS = 5


def _best_ms(password: str) -> float:
    from protu.errors import ValidationFailed
    from protu.identity.passwords import check_policy

    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        try:
            check_policy(password, email="jane.doe@example.com", name="Jane Doe", company="Doe Ltd")
        except ValidationFailed:
            pass
        best = min(best, time.perf_counter() - started)
    return best * 1000


def measure() -> list[dict]:
    from tests.unit.test_passwords import WORST_INPUTS

    ordinary = _best_ms("violet harbour lantern 42")
    return [
        {
            "name": "password check, slowest input",
            "value": max(_best_ms(password) for password in WORST_INPUTS),
            "unit": "ms",
            "baseline": "the check of an ordinary passphrase",
            "baseline_value": ordinary,
            "budget": "under 100 ms (the ratio shows the bound's cost)",
        }
    ]
