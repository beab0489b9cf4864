"""Rate counters, sign-in brute-force protection and security signals, through their public API on the local
cloud. Each test uses fresh keys (uuid-based emails and addresses), so tests share the cloud without resetting it.
The raw table is read with boto3, as someone with table access would see it.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from protu import aws, errors
from protu.security import login_guard, ratelimit, signals
from protu.settings import settings

WINDOW = 60
T0 = 1_700_000_100  # a window start for WINDOW = 60 and for the guard's 900 s
NOW = T0 + 100  # the guard's tests pass a fixed time, so no window boundary can fall inside a test
assert T0 % WINDOW == 0 and T0 % login_guard.WINDOW_SECONDS == 0


def fresh_email() -> str:
    return f"user-{uuid4().hex}@example.com"


def fresh_ip() -> str:
    """A fresh private IPv4 address (10.x.y.z, 24 random bits): distinct enough between tests."""
    b = uuid4().bytes
    return f"10.{b[0]}.{b[1]}.{b[2]}"


def raw_items(prefix: str) -> list[dict]:
    """Every data-table item whose pk starts with ``prefix``, as DynamoDB JSON (a full scan: moto is small)."""
    client = aws.client("dynamodb")
    items, kwargs = [], {"TableName": settings().data_table}
    while True:
        page = client.scan(**kwargs)
        items += [item for item in page["Items"] if item["pk"]["S"].startswith(prefix)]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# -- ratelimit ----------------------------------------------------------------------------------------------------


def test_hits_count_within_a_window_and_are_refused_past_the_limit(cloud):
    key = fresh_email()
    decisions = [ratelimit.hit("test", key, limit=3, window_seconds=WINDOW, now=T0 + 10) for _ in range(4)]

    assert [d.count for d in decisions] == [1, 2, 3, 4]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.retry_after for d in decisions[:3]] == [0, 0, 0]
    assert decisions[3].retry_after == 50  # the window ends at T0 + 60
    assert decisions[3].limit == 3
    assert ratelimit.count("test", key, window_seconds=WINDOW, now=T0 + 59) == 4


def test_a_new_window_starts_from_zero(cloud):
    key = fresh_ip()
    for _ in range(3):
        ratelimit.hit("test", key, limit=2, window_seconds=WINDOW, now=T0)

    later = ratelimit.hit("test", key, limit=2, window_seconds=WINDOW, now=T0 + WINDOW)
    assert (later.allowed, later.count, later.retry_after) == (True, 1, 0)
    assert ratelimit.count("test", key, window_seconds=WINDOW, now=T0 + WINDOW - 1) == 3


def test_counting_does_not_increment_and_reset_forgets_the_window(cloud):
    key = fresh_email()
    assert ratelimit.count("test", key, window_seconds=WINDOW, now=T0) == 0
    ratelimit.hit("test", key, limit=5, window_seconds=WINDOW, now=T0)
    assert ratelimit.count("test", key, window_seconds=WINDOW, now=T0) == 1
    assert ratelimit.count("test", key, window_seconds=WINDOW, now=T0) == 1

    ratelimit.reset("test", key, window_seconds=WINDOW, now=T0)
    assert ratelimit.count("test", key, window_seconds=WINDOW, now=T0) == 0
    ratelimit.reset("test", key, window_seconds=WINDOW, now=T0)  # nothing to reset is fine


def test_scopes_are_separate_counters(cloud):
    key = fresh_email()
    ratelimit.hit("scope-a", key, limit=5, window_seconds=WINDOW, now=T0)
    assert ratelimit.count("scope-b", key, window_seconds=WINDOW, now=T0) == 0


@pytest.mark.parametrize("scope", ["", "a#b", "UPPER", "x" * 60])
def test_scopes_that_could_forge_keys_are_refused(cloud, scope):
    with pytest.raises(ValueError):
        ratelimit.hit(scope, "k", limit=1, window_seconds=WINDOW)


def test_items_expire_by_ttl_after_their_window_and_keys_are_hashed(cloud):
    email, ip = fresh_email(), fresh_ip()
    before = time.time()
    ratelimit.hit("test", email, limit=5, window_seconds=WINDOW)
    ratelimit.hit("test", ip, limit=5, window_seconds=WINDOW)

    items = raw_items("RL#test#")
    mine = [i for i in items if i["pk"]["S"].endswith((ratelimit.key_hash(email), ratelimit.key_hash(ip)))]
    assert len(mine) == 2
    for item in mine:
        expires_at = int(item["expires_at"]["N"])
        assert before < expires_at <= before + WINDOW + ratelimit.EXPIRY_GRACE_SECONDS + 1
        assert item["sk"]["S"].startswith("W#")
        assert len(item["pk"]["S"].split("#")[2]) == 32
    dumped = json.dumps(items)
    assert email not in dumped and ip not in dumped


def test_concurrent_hits_get_distinct_counts(cloud):
    """Many threads hitting one counter each get their own count, and none is lost.

    DynamoDB applies each UpdateItem to an item atomically; moto does not by itself, so the local cloud gives it
    that atomicity (``infra.cloud.make_moto_atomic``). What this checks is our code: one UpdateItem per hit, no
    read-modify-write of our own (which the per-call lock would not cover).
    """
    key, counts, lock = fresh_ip(), [], threading.Lock()

    def worker():
        for _ in range(10):
            decision = ratelimit.hit("test", key, limit=1000, window_seconds=3600, now=T0)
            with lock:
                counts.append(decision.count)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(counts) == list(range(1, 161))
    assert ratelimit.count("test", key, window_seconds=3600, now=T0) == 160


# -- login guard --------------------------------------------------------------------------------------------------


def refused(email: str, ip: str) -> errors.RateLimited:
    with pytest.raises(errors.RateLimited) as info:
        login_guard.check(email, ip, now=NOW)
    return info.value


def test_five_failures_put_an_account_under_step_up_without_refusing_anyone(cloud):
    """ASVS 5.0 6.3.1 without a denial of service: failures spread over addresses never refuse the account's
    sign-ins; the fifth puts it under step-up, said exactly once."""
    email = fresh_email()
    outcomes = []
    for _ in range(login_guard.ACCOUNT_LIMIT):
        assert login_guard.check(email, fresh_ip(), now=NOW).step_up is False
        outcomes.append(login_guard.record_failure(email, fresh_ip(), now=NOW))

    assert [o.account_failures for o in outcomes] == [1, 2, 3, 4, 5]
    assert [o.step_up_now for o in outcomes] == [False, False, False, False, True]
    assert login_guard.check(email, fresh_ip(), now=NOW).step_up is True  # not refused: asked for more
    assert login_guard.record_failure(email, fresh_ip(), now=NOW).step_up_now is False  # said once
    login_guard.step_up_done(email)
    assert login_guard.check(email, fresh_ip(), now=NOW).step_up is False


def test_the_email_is_normalised(cloud):
    email = fresh_email()
    for variant in (email.upper(), f"  {email}\t", email.title(), email, email.upper()):
        login_guard.record_failure(variant, fresh_ip(), now=NOW)
    assert login_guard.check(email, fresh_ip(), now=NOW).step_up
    assert login_guard.check(f" {email.upper()} ", fresh_ip(), now=NOW).step_up


def test_one_address_guessing_one_account_waits_longer_each_time(cloud):
    email, ip = fresh_email(), fresh_ip()
    waits = []
    now = NOW
    for _ in range(login_guard.PAIR_FREE + 4):
        try:
            login_guard.check(email, ip, now=now)
        except errors.RateLimited as error:
            wait = int(error.headers["Retry-After"])
            waits.append(wait)
            now += wait  # the attacker waits exactly as told
            login_guard.check(email, ip, now=now)
        login_guard.record_failure(email, ip, now=now)
    assert waits == [2, 4, 8, 16]  # free guesses first, then doubling delays
    login_guard.check(email, fresh_ip(), now=now)  # the account's holder elsewhere is never made to wait
    assert login_guard.delay(100) == login_guard.MAX_DELAY_SECONDS


def test_known_and_unknown_accounts_get_the_same_answer(cloud):
    """The guard never looks at accounts: a delayed unknown email and a delayed known one are refused alike."""
    known, unknown, ip = fresh_email(), fresh_email(), fresh_ip()  # the guard can't tell which would exist
    for email in (known, unknown):
        for _ in range(login_guard.PAIR_FREE):
            login_guard.record_failure(email, ip, now=NOW)

    answers = [refused(email, ip) for email in (known, unknown)]
    shapes = [(e.status, e.code, e.message, e.to_body(), sorted(e.headers)) for e in answers]
    assert shapes[0] == shapes[1]
    assert shapes[0][4] == ["Retry-After"]
    assert all(int(e.headers["Retry-After"]) > 0 for e in answers)


def test_an_address_is_refused_after_thirty_failures_across_many_accounts(cloud):
    ip = fresh_ip()
    outcomes = [login_guard.record_failure(fresh_email(), ip, now=NOW) for _ in range(login_guard.ADDRESS_LIMIT)]

    assert outcomes[-1].address_failures == login_guard.ADDRESS_LIMIT
    assert not any(o.step_up_now for o in outcomes)  # no single account reached its limit
    address_error = refused(fresh_email(), ip)  # a never-seen account from that address
    login_guard.check(fresh_email(), fresh_ip(), now=NOW)  # other addresses are unaffected

    # Whether the address or the pair was over its limit cannot be told from the answer.
    email, other = fresh_email(), fresh_ip()
    for _ in range(login_guard.PAIR_FREE):
        login_guard.record_failure(email, other, now=NOW)
    pair_error = refused(email, other)
    assert (address_error.code, address_error.message, address_error.to_body()) == (
        pair_error.code,
        pair_error.message,
        pair_error.to_body(),
    )


def test_an_ipv6_subscriber_counts_as_its_slash_64(cloud):
    net = f"2001:db8:{uuid4().hex[:4]}:{uuid4().hex[:4]}"
    for i in range(login_guard.ADDRESS_LIMIT):
        login_guard.record_failure(fresh_email(), f"{net}::{i + 1:x}", now=NOW)
    refused(fresh_email(), f"{net}:ffff:ffff:ffff:ffff")
    assert login_guard.address_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_success_clears_the_pair_but_not_the_account_or_the_address(cloud):
    email, ip = fresh_email(), fresh_ip()
    for _ in range(login_guard.PAIR_FREE):
        login_guard.record_failure(email, ip, now=NOW)
    refused(email, ip)
    login_guard.record_success(email, ip, now=NOW)
    login_guard.check(email, ip, now=NOW)  # the pair's delay is gone

    outcome = login_guard.record_failure(email, ip, now=NOW)
    assert outcome.account_failures == login_guard.PAIR_FREE + 1  # the account's count goes on
    assert outcome.address_failures == login_guard.PAIR_FREE + 1


def test_an_address_limit_ends_with_its_window(cloud):
    ip = fresh_ip()
    for _ in range(login_guard.ADDRESS_LIMIT):
        login_guard.record_failure(fresh_email(), ip, now=NOW)
    with pytest.raises(errors.RateLimited) as info:
        login_guard.check(fresh_email(), ip, now=NOW)
    assert info.value.headers["Retry-After"] == str(login_guard.WINDOW_SECONDS - (NOW - T0))

    next_window = T0 + login_guard.WINDOW_SECONDS
    login_guard.check(fresh_email(), ip, now=next_window)
    assert login_guard.record_failure(fresh_email(), ip, now=next_window).address_failures == 1


def test_guard_counters_store_neither_email_nor_address(cloud):
    email, ip = fresh_email(), fresh_ip()
    login_guard.record_failure(email, ip, now=NOW)
    dumped = json.dumps(raw_items("RL#login-"))
    assert ratelimit.key_hash(email) in dumped and ratelimit.key_hash(ip) in dumped
    assert email not in dumped and ip not in dumped


# -- signals ------------------------------------------------------------------------------------------------------


def test_signals_are_stored_under_their_tenant_and_listed_newest_first(cloud, tenant_id):
    first = signals.raise_signal("login.failed", tenant_id=tenant_id, user_id="u-1", source_ip="203.0.113.9")
    second = signals.raise_signal("login.locked", tenant_id=tenant_id, user_id="u-1", details={"failures": 5})

    listed = signals.list_signals(tenant_id)
    assert [s["id"] for s in listed] == [second["id"], first["id"]]
    assert listed[0] == second
    assert listed[1]["source_ip"] == "203.0.113.9" and listed[0]["details"] == {"failures": 5}
    assert signals.list_signals(tenant_id, since=second["time"]) == [second]
    assert signals.list_signals(tenant_id, limit=1) == [second]

    (item,) = [i for i in raw_items(f"T#{tenant_id}#SIGNALS") if i["id"]["S"] == first["id"]]
    assert item["sk"]["S"] == f"{first['time']}#{first['id']}"
    days = (int(item["expires_at"]["N"]) - time.time()) / 86400
    assert signals.TTL_DAYS - 1 < days <= signals.TTL_DAYS


def test_signals_without_a_tenant_go_to_the_days_global_partition(cloud, tenant_id):
    signal = signals.raise_signal("login.failed", source_ip=fresh_ip())
    day = datetime.now(UTC).date()

    assert signal["id"] in [s["id"] for s in signals.list_global(day)]
    assert signal["id"] in [s["id"] for s in signals.list_global(day.isoformat())]
    assert signals.list_signals(tenant_id) == []
    assert raw_items(f"SIGNALS#GLOBAL#{signal['time'][:10]}")


def test_unknown_kinds_are_refused(cloud, tenant_id):
    with pytest.raises(ValueError, match="unknown security signal kind"):
        signals.raise_signal("login.faild", tenant_id=tenant_id)
    assert signals.list_signals(tenant_id) == []


def test_a_signal_logs_one_warning_line_without_secrets(cloud, tenant_id, capsys):
    password, token = "hunter2-" + uuid4().hex, "tok-" + uuid4().hex
    capsys.readouterr()
    signal = signals.raise_signal(
        "refresh.reused",
        tenant_id=tenant_id,
        user_id="u-7",
        source_ip="198.51.100.4",
        details={"password": password, "refresh_token": token, "session": "s-1"},
    )

    out = capsys.readouterr().out
    (line,) = [json.loads(x) for x in out.splitlines() if '"security signal"' in x]
    assert line["level"] == "WARNING"
    assert (line["kind"], line["tenant"], line["user"], line["source_ip"]) == (
        "refresh.reused",
        tenant_id,
        "u-7",
        "198.51.100.4",
    )
    assert line["details"]["session"] == "s-1"
    assert password not in out and token not in out
    # Nor are they stored.
    assert password not in json.dumps(signal) and token not in json.dumps(raw_items(f"T#{tenant_id}#SIGNALS"))


def test_every_documented_kind_can_be_raised(cloud, tenant_id):
    for kind in signals.KINDS:
        signals.raise_signal(kind, tenant_id=tenant_id)
    assert sorted(s["kind"] for s in signals.list_signals(tenant_id)) == sorted(signals.KINDS)
