"""Security services that work before (or beside) a tenant context: rate limits, sign-in brute-force protection
and security signals.

Public API::

    ratelimit.hit(scope, key, *, limit, window_seconds, now=None) -> Decision(allowed, count, limit, retry_after)
    ratelimit.count(scope, key, *, window_seconds, now=None) -> int
    ratelimit.reset(scope, key, *, window_seconds, now=None)
    login_guard.check(email, source_ip)                 # raises errors.RateLimited("too_many_attempts")
    login_guard.record_failure(email, source_ip) -> FailureOutcome(locked_now, account_failures, address_failures)
    login_guard.record_success(email, source_ip)
    signals.raise_signal(kind, *, tenant_id, user_id, source_ip, details) -> document
    signals.list_signals(tenant_id, *, since, limit) / signals.list_global(day)

Their items live in the data table: counters under ``RL#`` (not company data), signals under the tenant
(``T#<tenant>#SIGNALS``) or ``SIGNALS#GLOBAL#<day>``. None of them is an audit event; callers record those.
"""

from protu.security import login_guard, ratelimit, signals

__all__ = ["login_guard", "ratelimit", "signals"]
