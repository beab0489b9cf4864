"""Per-process caches: one registry, one reset.

A warm Lambda container keeps what it learned between invocations: the settings read from the environment, boto3
clients, the companies' role credentials, unwrapped tenant keys, the JWT signing keys, the Mailgun and Stripe keys,
companies' session policies, the health checks of the jobs. Each of those caches registers how it is emptied::

    @caches.register
    @functools.cache
    def settings() -> Settings: ...

    @caches.register
    def _forget() -> None:
        _keys.clear()

and ``reset()`` empties all of them, as a new process would start: after the environment changed on purpose (the
local cloud after provisioning, ``protu.settings.reload``), and in tests that play "another container".

Memoised pure functions of the code (msgspec types built from declarations, word lists, the password hasher) hold
nothing that can go stale and stay plain ``functools.cache``. This module imports nothing of Protu: everything
below it can register.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_lock = threading.Lock()
_resets: dict[str, Callable[[], object]] = {}


def register[F: Callable[..., object]](cache: F) -> F:
    """Register a cache: a ``functools.cache``-decorated function (its ``cache_clear`` empties it) or a function
    that empties one. Returns it unchanged, so it works as a decorator."""
    clear = getattr(cache, "cache_clear", cache)
    with _lock:
        _resets[f"{cache.__module__}.{cache.__qualname__}"] = clear
    return cache


def registered() -> list[str]:
    """The registered caches' names (``module.function``), for the operator and the tests."""
    with _lock:
        return sorted(_resets)


def reset() -> None:
    """Empty every registered cache of this process."""
    with _lock:
        clears = list(_resets.values())
    for clear in clears:
        clear()
