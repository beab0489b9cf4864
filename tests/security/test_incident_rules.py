"""The rules that turn security signals into incidents (``protu.security.incidents.RULES``): severities,
thresholds, duplicates joining the open incident, and response targets. Signals are raised by the real signal
module and fed to ``incidents.detect`` as the detector's stream hands them over (the workflow is tested in
``tests/security/test_incident_workflow.py``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from protu.security import incidents, signals


def tenant() -> str:
    return f"c-{uuid.uuid4().hex[:20]}"


def address() -> str:
    return f"198.51.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def test_one_locked_account_is_a_low_incident_and_its_duplicates_join_it(cloud):
    company = tenant()
    first = signals.raise_signal("login.locked", tenant_id=company, user_id="u-1", source_ip=address())
    incident, new = incidents.detect(first)
    assert new and incident.severity == incidents.LOW and incident.rule == "account_locked"
    again = signals.raise_signal("login.locked", tenant_id=company, user_id="u-1", source_ip=address())
    joined, new = incidents.detect(again)
    assert not new and joined.id == incident.id
    stored = incidents.load(incident.id)
    assert stored.signal_count == 2 and len(stored.source_ips) == 2 and stored.companies == {company}
    other, new = incidents.detect(signals.raise_signal("login.locked", tenant_id=company, user_id="u-2"))
    assert new and other.id != incident.id  # another account: another incident


def test_failed_sign_ins_across_many_accounts_from_one_address_open_a_critical_incident(cloud):
    source = address()
    opened = []
    for n in range(incidents.RULES["login.failed"].threshold):
        signal = signals.raise_signal("login.failed", source_ip=source, details={"account": f"acct-{n}"})
        opened.append(incidents.detect(signal))
    assert all(found is None for found, _ in opened[:-1])  # below the threshold: nothing yet
    incident, new = opened[-1]
    assert new and incident.severity == incidents.CRITICAL and incident.rule == "credential_stuffing"
    assert incident.source_ips == {source}
    # the same account again and again from another address is not stuffing
    other = address()
    for _ in range(15):
        found, _ = incidents.detect(signals.raise_signal("login.failed", source_ip=other, details={"account": "a"}))
        assert found is None


def test_mass_access_escalates_to_critical(cloud):
    from protu.security.access import READS_LIMIT

    company = tenant()
    usual = signals.raise_signal(
        "access.unusual", tenant_id=company, user_id="u-1", details={"opened": READS_LIMIT + 5}
    )
    assert incidents.detect(usual)[0].severity == incidents.HIGH
    mass = signals.raise_signal("access.unusual", tenant_id=company, user_id="u-9", details={"opened": 5 * READS_LIMIT})
    incident, _ = incidents.detect(mass)
    assert incident.severity == incidents.CRITICAL and incident.rule == "mass_data_access"


def test_every_signal_kind_has_a_rule():
    assert set(incidents.RULES) == set(signals.KINDS)
    assert {rule.severity for rule in incidents.RULES.values()} <= set(incidents.SEVERITIES)


@pytest.mark.parametrize(
    ("severity", "detected", "due"),
    [
        ("critical", "2026-11-26T10:00:00", "2026-11-26T10:05:00"),  # immediate: contained automatically
        ("high", "2026-11-26T10:00:00", "2026-11-26T11:00:00"),
        ("medium", "2026-11-26T10:00:00", "2026-11-26T14:00:00"),
        ("low", "2026-11-26T10:00:00", "2026-11-27T09:00:00"),  # Thursday -> Friday 09:00
        ("low", "2026-11-27T18:00:00", "2026-11-30T09:00:00"),  # Friday evening -> Monday 09:00
    ],
)
def test_response_targets_follow_the_severity(severity, detected, due):
    def epoch(text: str) -> int:
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())

    assert incidents.respond_by(severity, epoch(detected)) == epoch(due)


def test_a_resolved_incident_no_longer_collects_signals(cloud):
    company = tenant()
    incident, _ = incidents.detect(signals.raise_signal("mfa.failed_burst", tenant_id=company, user_id="u-1"))
    incidents.close(incident.id)
    assert incidents.load(incident.id).status == "resolved"
    later, new = incidents.detect(signals.raise_signal("mfa.failed_burst", tenant_id=company, user_id="u-1"))
    assert new and later.id != incident.id


def test_a_signal_delivered_again_joins_its_incident_once(cloud):
    """A stream batch retried or redriven (protu-ops redrive) hands the detector the same signals again."""
    company = tenant()
    first = signals.raise_signal("login.locked", tenant_id=company, user_id="u-1", source_ip=address())
    second = signals.raise_signal("login.locked", tenant_id=company, user_id="u-1", source_ip=address())
    incident, _ = incidents.detect(first)
    for signal in (second, first, second, first):
        joined, new = incidents.detect(signal)
        assert not new and joined.id == incident.id
    stored = incidents.load(incident.id)
    assert stored.signal_count == 2 and stored.signal_ids == [first["id"], second["id"]]


def test_a_suspicious_sign_out_joins_the_incident_of_what_caused_it(cloud):
    company = tenant()
    reuse, new = incidents.detect(signals.raise_signal("refresh.reused", tenant_id=company, user_id="u-1"))
    assert new and reuse.severity == incidents.HIGH
    signout = signals.raise_signal(
        "session.suspicious_signout", tenant_id=company, user_id="u-1", details={"reason": "refresh.reused"}
    )
    joined, new = incidents.detect(signout)
    assert not new and joined.id == reuse.id and incidents.load(reuse.id).signal_count == 2
    # without a known cause it is an incident of its own
    alone, new = incidents.detect(signals.raise_signal("session.suspicious_signout", tenant_id=company, user_id="u-1"))
    assert new and alone.rule == "suspicious_session" and alone.severity == incidents.MEDIUM
