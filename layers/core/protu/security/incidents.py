"""Incidents: security signals turned into incidents with a severity, by rules kept in one place (``RULES``).

Every stored signal reaches ``detect`` (the data table's stream, ``functions/incidents/incidents.py``). Its rule
decides whether it opens an incident, joins the open one with the same *dedupe key* (a duplicate never opens a
second incident), or only counts towards a threshold (``Aggregate``: distinct accounts failing from one address,
lockouts across accounts). A new incident starts the response workflow (``statemachines/incident.asl.json``).

Response targets (the security page): Critical immediate (automated containment, on-call alert), High within 1
hour, Medium within 4 hours, Low by the next business day. Each incident records when it was detected, contained,
notified and resolved, and whether each target was met (``targets``).

Layout (data table; written by the incident functions with their own role, never by a company's session)::

    INCIDENT#<id>               INCIDENT        the incident (rule, severity, status, times, scope, timeline)
    INCIDENT#OPEN#<dedupe key>  OPEN            which incident is open for a dedupe key (deleted at close)
    INCIDENT#AGG#<rule>#<key>   <window start>  a threshold's counter (distinct members), expiring
    T#<company>#INCIDENTS       I#<id>          what the company's owners see of it (``company_view``)

``gsi1`` (``INCIDENTS`` / ``<detected_at>#<id>``) lists incidents newest first for operators.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from protu import errors
from protu.logging import get_logger
from protu.security import access
from protu.store import dynamo
from protu.store.base import tenant_pk
from protu.store.items import DataItem

log = get_logger(__name__)

CRITICAL, HIGH, MEDIUM, LOW = "critical", "high", "medium", "low"
SEVERITIES = (CRITICAL, HIGH, MEDIUM, LOW)
# Critical is "immediate": automated containment, which must have run within 5 minutes of detection (the
# workflow's own retries included). Low: the next business day (``respond_by``).
RESPONSE_SECONDS = {CRITICAL: 5 * 60, HIGH: 3600, MEDIUM: 4 * 3600}
NOTIFY_SECONDS = 72 * 3600  # affected customers are told within 72 hours of detection
MAX_SIGNALS = 50  # signal ids kept on an incident (the count goes on)
MAX_TIMELINE = 200
INDEX = "INCIDENTS"
INCIDENT_ID = re.compile(r"inc-[0-9]{8}-[0-9a-f]{10}")  # "inc-<YYYYMMDD of detection>-<10 hex>" (``_open``)


# ------------------------------------------------------------------------------------------------ rules
class Rule(msgspec.Struct, frozen=True):
    """What a signal kind means. ``threshold``: members (distinct ``member`` values) of the same ``key`` needed
    within ``window`` seconds before an incident opens; ``escalate``: a predicate on the signal's details that
    raises the severity to Critical (``escalated_rule`` names it then)."""

    name: str
    title: str
    severity: str
    scope: str  # the dedupe key's parts: "user" (company+user), "company", "address", "global", "signal"
    threshold: int = 0
    window: int = 600
    member: str = ""  # what is counted towards the threshold: "account" (details.account), "user"
    escalate: Any = None
    escalated_rule: str = ""
    escalated_title: str = ""


def _mass_read(details: dict[str, Any]) -> bool:
    return int(details.get("opened") or 0) >= 4 * access.READS_LIMIT  # read at the time: configuration


RULES: dict[str, Rule] = {
    # A burst of failed sign-ins from one address across many accounts: credential stuffing.
    "login.failed": Rule(
        "credential_stuffing",
        "Failed sign-ins from one address across many accounts (credential stuffing)",
        CRITICAL,
        "address",
        threshold=10,
        window=600,
        member="account",
    ),
    "login.locked": Rule("account_locked", "An account was locked after repeated failed sign-ins", LOW, "user"),
    "login.step_up": Rule(
        "account_step_up", "Repeated failed sign-ins to one account: its next sign-in needs a step-up", LOW, "user"
    ),
    "reauth.failed_burst": Rule(
        "reauth_guessing", "Several wrong passwords in a session's re-authentication", MEDIUM, "user"
    ),
    "refresh.reused": Rule("session_token_reuse", "A stolen session token was used again", HIGH, "user"),
    "session.fingerprint_changed": Rule("session_hijack_suspected", "A session changed device mid-way", MEDIUM, "user"),
    "session.suspicious_signout": Rule("suspicious_session", "A session was signed out as suspicious", MEDIUM, "user"),
    "mfa.failed_burst": Rule("mfa_guessing", "Several wrong two-factor codes in a row", MEDIUM, "user"),
    "passkey.cloned": Rule("passkey_cloned", "A passkey was used with a counter that went back", HIGH, "user"),
    "access.unusual": Rule(
        "unusual_data_access",
        "A user opened far more sensitive records than usual",
        HIGH,
        "user",
        escalate=_mass_read,
        escalated_rule="mass_data_access",
        escalated_title="Mass access to sensitive records by one user",
    ),
    "access.off_hours": Rule("off_hours_access", "Sensitive records opened at an unusual hour", LOW, "user"),
    "backup.restore_failed": Rule("backup_integrity", "A backup failed its restore test", HIGH, "global"),
    "webhook.bad_signature": Rule("forged_webhooks", "Webhooks with signatures that do not verify", LOW, "global"),
    "security.report_received": Rule("security_report", "A security report to triage", LOW, "signal"),
}


def rule_for(signal: dict[str, Any]) -> Rule | None:
    kind = signal.get("kind", "")
    reason = (signal.get("details") or {}).get("reason")
    if kind == "session.suspicious_signout" and reason in RULES:
        kind = reason  # the sign-out answers the signal raised with it: it joins that signal's incident
    rule = RULES.get(kind)
    if rule is not None and rule.escalate is not None and rule.escalate(signal.get("details") or {}):
        return Rule(rule.escalated_rule, rule.escalated_title, CRITICAL, rule.scope)
    return rule


def dedupe_key(rule: Rule, signal: dict[str, Any]) -> str:
    parts = {
        "user": (signal.get("tenant") or "-", signal.get("user") or "-"),
        "company": (signal.get("tenant") or "-",),
        "address": (signal.get("source_ip") or "-",),
        "global": (),
        "signal": (signal.get("id") or secrets.token_hex(8),),
    }[rule.scope]
    return "#".join((rule.name, *parts))


# ------------------------------------------------------------------------------------------------ models
class ByDetection(GlobalSecondaryIndex):
    """``gsi1``: every incident under ``INCIDENTS``, by detection time."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Incident(DataItem):
    id = UnicodeAttribute()
    rule = UnicodeAttribute()
    title = UnicodeAttribute()
    severity = UnicodeAttribute()
    status = UnicodeAttribute()  # open | contained | resolved
    dedupe_key = UnicodeAttribute()
    detected_at = NumberAttribute()
    respond_by = NumberAttribute()
    notify_by = NumberAttribute()
    contained_at = NumberAttribute(null=True)
    acknowledged_at = NumberAttribute(null=True)  # an operator took it up (``protu-ops incidents acknowledge``)
    assessed_at = NumberAttribute(null=True)
    notified_at = NumberAttribute(null=True)
    escalated_at = NumberAttribute(null=True)
    resolved_at = NumberAttribute(null=True)
    signal_count = NumberAttribute(default=0)
    signal_ids = ListAttribute(of=UnicodeAttribute, default=list)
    signal_kinds = UnicodeSetAttribute(default=set)
    companies = UnicodeSetAttribute(default=set)
    notified_companies = UnicodeSetAttribute(default=set)  # whose owners were sent the notice (never twice)
    users = UnicodeSetAttribute(default=set)  # "<company>:<user>"
    source_ips = UnicodeSetAttribute(default=set)
    scope = JSONAttribute(null=True)  # what assess found: per company, the users and records concerned
    timeline = JSONAttribute(default=list)  # [{"at", "step", "note"}]
    execution_arn = UnicodeAttribute(null=True)
    waiting_step = UnicodeAttribute(null=True)
    task_token = UnicodeAttribute(null=True)  # the operator's step waiting (remediate, review)
    notes = JSONAttribute(default=dict)  # step -> the operator's notes (internal: never shown to customers)
    customer_notes = JSONAttribute(default=list)  # [{"at", "text"}]: for customers (``add_customer_note``)
    updates_sent = NumberAttribute(default=0)  # the regular updates sent (the last period done, ``send_update``)
    last_update_at = NumberAttribute(null=True)
    customer_notes_sent = NumberAttribute(default=0)  # the customer notes an update carried already (a cursor)
    update_period = NumberAttribute(null=True)  # the update being sent, what it says, the companies sent it already
    update_news = JSONAttribute(null=True)
    update_companies = UnicodeSetAttribute(default=set)
    failures = JSONAttribute(default=list)  # [{"step", "error"}]: steps that failed after their retries
    gsi1pk = UnicodeAttribute(default=INDEX)
    gsi1sk = UnicodeAttribute()
    gsi1 = ByDetection()

    @staticmethod
    def key(incident_id: str) -> tuple[str, str]:
        return f"INCIDENT#{incident_id}", "INCIDENT"

    def document(self) -> dict[str, Any]:
        """Everything an operator sees of it (no task token: it resumes the workflow)."""
        return {
            "id": self.id,
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "detected_at": int(self.detected_at),
            "respond_by": int(self.respond_by),
            "notify_by": int(self.notify_by),
            "contained_at": _int(self.contained_at),
            "acknowledged_at": _int(self.acknowledged_at),
            "assessed_at": _int(self.assessed_at),
            "notified_at": _int(self.notified_at),
            "escalated_at": _int(self.escalated_at),
            "resolved_at": _int(self.resolved_at),
            "signal_count": int(self.signal_count),
            "signal_kinds": sorted(self.signal_kinds or ()),
            "companies": sorted(self.companies or ()),
            "users": sorted(self.users or ()),
            "source_ips": sorted(self.source_ips or ()),
            "scope": self.scope or {},
            "timeline": list(self.timeline or []),
            "waiting_step": self.waiting_step,
            "notes": dict(self.notes or {}),
            "customer_notes": list(self.customer_notes or []),
            "updates_sent": int(self.updates_sent or 0),
            "last_update_at": _int(self.last_update_at),
            "failures": list(self.failures or []),
            "targets": targets(self),
            "execution_arn": self.execution_arn,
        }


class OpenIncident(DataItem):
    incident_id = UnicodeAttribute()

    @staticmethod
    def key(dedupe: str) -> tuple[str, str]:
        return f"INCIDENT#OPEN#{dedupe}", "OPEN"


class Aggregate(DataItem):
    members = UnicodeSetAttribute(null=True)
    subjects = UnicodeSetAttribute(null=True)
    expires_at = NumberAttribute()


class CompanyIncident(DataItem):
    """What a company's owners see of an incident that concerns it (``company_view``)."""

    id = UnicodeAttribute()
    view = JSONAttribute()
    detected_at = NumberAttribute()

    @staticmethod
    def key(tenant_id: str, incident_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id, INDEX), f"I#{incident_id}"


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# ------------------------------------------------------------------------------------------------ detection
def detect(signal: dict[str, Any], now: float | None = None) -> tuple[Incident | None, bool]:
    """Apply the signal's rule: answers (the incident it opened or joined, whether it is new), or (None, False)
    when it opens nothing (no rule, or a threshold not reached yet)."""
    rule = rule_for(signal)
    if rule is None:
        return None, False
    now = time.time() if now is None else now
    key = dedupe_key(rule, signal)
    subjects: set[str] = set()
    if rule.threshold:
        reached, subjects = _reached(rule, key, signal, now)
        if not reached:
            return None, False
    try:
        found = OpenIncident.get(*OpenIncident.key(key), consistent_read=True)
        incident = Incident.get(*Incident.key(found.incident_id), consistent_read=True)
        if incident.status != "resolved":
            return _join(incident, signal), False
    except (OpenIncident.DoesNotExist, Incident.DoesNotExist):
        pass
    return _open(rule, key, signal, now, subjects)


def _reached(rule: Rule, key: str, signal: dict[str, Any], now: float) -> tuple[bool, set[str]]:
    """Count the signal's member towards the rule's threshold in the current window. Answers whether it is
    reached and the window's subjects so far (``<company>:<user>`` of the signals that named an account), so the
    incident that opens involves every account of the burst, not only the last one."""
    details = signal.get("details") or {}
    member = str(details.get(rule.member) or signal.get(rule.member) or signal.get("id") or "")
    window = int(now) - int(now) % rule.window
    item = Aggregate(f"INCIDENT#AGG#{key}", str(window))
    actions = [Aggregate.members.add({member[:80]}), Aggregate.expires_at.set(window + 2 * rule.window)]
    if signal.get("tenant") and signal.get("user"):
        actions.append(Aggregate.subjects.add({f"{signal['tenant']}:{signal['user']}"}))
    item.update(actions=actions)
    return len(item.members or ()) >= rule.threshold, set(item.subjects or ())


def _open(rule: Rule, key: str, signal: dict[str, Any], now: float, subjects: set[str]) -> tuple[Incident, bool]:
    detected = int(now)
    incident_id = "inc-" + datetime.fromtimestamp(detected, UTC).strftime("%Y%m%d") + "-" + secrets.token_hex(5)
    incident = Incident(
        *Incident.key(incident_id),
        id=incident_id,
        rule=rule.name,
        title=rule.title,
        severity=rule.severity,
        status="open",
        dedupe_key=key,
        detected_at=detected,
        respond_by=respond_by(rule.severity, detected),
        notify_by=detected + NOTIFY_SECONDS,
        signal_count=0,
        timeline=[_entry(detected, "detected", f"{rule.title} ({signal.get('kind')})")],
        gsi1sk=f"{detected:012d}#{incident_id}",
    )
    _add_signal_fields(incident, signal)
    if subjects:
        incident.users = set(incident.users or ()) | subjects
        incident.companies = set(incident.companies or ()) | {subject.partition(":")[0] for subject in subjects}
    index = OpenIncident(*OpenIncident.key(key), incident_id=incident_id)
    try:
        with dynamo.write_transaction() as tx:
            tx.save(index, condition=OpenIncident.pk.does_not_exist())
            tx.save(incident, condition=Incident.pk.does_not_exist())
    except Exception as error:  # noqa: BLE001 - another signal opened it at the same moment: join that one
        if dynamo.cancellation(error) is None:
            raise
        found = OpenIncident.get(*OpenIncident.key(key), consistent_read=True)
        return _join(Incident.get(*Incident.key(found.incident_id), consistent_read=True), signal), False
    log.warning(
        "incident opened",
        extra={"incident": incident_id, "rule": rule.name, "severity": rule.severity, "signal": signal.get("id")},
    )
    return incident, True


def _add_signal_fields(incident: Incident, signal: dict[str, Any]) -> None:
    incident.signal_count = int(incident.signal_count or 0) + 1
    if len(incident.signal_ids) < MAX_SIGNALS and signal.get("id"):
        incident.signal_ids.append(signal["id"])
    incident.signal_kinds = set(incident.signal_kinds or ()) | {signal.get("kind", "")}
    if signal.get("tenant"):
        incident.companies = set(incident.companies or ()) | {signal["tenant"]}
        if signal.get("user"):
            incident.users = set(incident.users or ()) | {f"{signal['tenant']}:{signal['user']}"}
    if signal.get("source_ip"):
        incident.source_ips = set(incident.source_ips or ()) | {signal["source_ip"]}


def _join(incident: Incident, signal: dict[str, Any]) -> Incident:
    """A duplicate signal joins the open incident: counted, its company, user and address added. Once: a signal
    delivered again (a stream batch retried or redriven) is recognised by its id among the incident's ``signal_ids``
    and changes nothing (past ``MAX_SIGNALS`` ids, the count may then grow by a redelivery)."""
    if signal.get("id") and signal["id"] in (incident.signal_ids or []):
        return incident
    actions = [Incident.signal_count.add(1)]
    condition = None
    if signal.get("id") and len(incident.signal_ids or []) < MAX_SIGNALS:
        actions.append(Incident.signal_ids.set(Incident.signal_ids.append([signal["id"]])))
        condition = ~Incident.signal_ids.contains(signal["id"])
    actions.append(Incident.signal_kinds.add({signal.get("kind", "")}))
    if signal.get("tenant"):
        actions.append(Incident.companies.add({signal["tenant"]}))
        if signal.get("user"):
            actions.append(Incident.users.add({f"{signal['tenant']}:{signal['user']}"}))
    if signal.get("source_ip"):
        actions.append(Incident.source_ips.add({signal["source_ip"]}))
    try:
        incident.update(actions=actions, condition=condition)
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        incident.refresh(consistent_read=True)  # the same signal joined meanwhile (a concurrent redelivery)
    return incident


# ------------------------------------------------------------------------------------------------ lifecycle
def respond_by(severity: str, detected: int) -> int:
    """The response target: immediate, 1 hour, 4 hours, or the next business day (09:00 UTC, Monday-Friday)."""
    if severity in RESPONSE_SECONDS:
        return detected + RESPONSE_SECONDS[severity]
    day = datetime.fromtimestamp(detected, UTC).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return int(datetime(day.year, day.month, day.day, 9, tzinfo=UTC).timestamp())


def targets(incident: Incident) -> dict[str, Any]:
    """Whether each response target was met (None while it is still open and not yet late). The response is the
    automated containment for Critical, an operator taking the incident up (acknowledging it, or finishing a step)
    for the others."""
    now = int(time.time())
    responded = incident.contained_at if incident.severity == CRITICAL else incident.acknowledged_at

    def met(done: Any, due: int) -> bool | None:
        if done is not None:
            return int(done) <= due
        return False if now > due else None

    needs_notice = bool(incident.companies)
    return {
        "response": {"due": int(incident.respond_by), "met": met(responded, int(incident.respond_by))},
        "notification": {
            "due": int(incident.notify_by),
            "required": needs_notice,
            "met": met(incident.notified_at, int(incident.notify_by)) if needs_notice else None,
        },
    }


def load(incident_id: str) -> Incident:
    return Incident.get(*Incident.key(incident_id), consistent_read=True)


def record(incident_id: str, step: str, note: str, *, now: float | None = None, **fields: Any) -> Incident:
    """Add a timeline entry and set ``fields`` (``contained_at=...``, ``status=...``) in one update."""
    at = int(time.time() if now is None else now)
    incident = load(incident_id)
    timeline = list(incident.timeline or [])[-(MAX_TIMELINE - 1) :] + [_entry(at, step, note)]
    actions = [Incident.timeline.set(timeline)]
    for name, value in fields.items():
        attribute = getattr(Incident, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    incident.update(actions=actions)
    return incident


def acknowledge(incident_id: str, *, now: float | None = None) -> Incident:
    """An operator takes the incident up: the response target's clock stops (the first time only)."""
    incident = load(incident_id)
    if incident.acknowledged_at is not None:
        return incident
    at = int(time.time() if now is None else now)
    return record(incident_id, "acknowledged", "An operator is investigating.", now=at, acknowledged_at=at)


MAX_CUSTOMER_NOTE = 1000  # characters of one note for customers
MAX_CUSTOMER_NOTES = 100  # notes for customers on one incident


def customer_text(text: str | None) -> str:
    """A note for customers as it will be sent: trimmed, 1 to ``MAX_CUSTOMER_NOTE`` printable characters (line
    breaks allowed, other control characters not)."""
    text = (text or "").strip()
    if not text:
        raise errors.ValidationFailed("Write the note for customers.", details={"field": "for_customers"})
    if len(text) > MAX_CUSTOMER_NOTE:
        raise errors.ValidationFailed(
            f"A note for customers is at most {MAX_CUSTOMER_NOTE} characters long.",
            details={"field": "for_customers"},
        )
    if not all(char.isprintable() or char == "\n" for char in text):
        raise errors.ValidationFailed(
            "A note for customers cannot contain control characters.", details={"field": "for_customers"}
        )
    return text


def add_customer_note(incident_id: str, text: str | None, *, now: float | None = None) -> Incident:
    """An operator's note for customers: the Incidents page of every company concerned shows it, and the next
    regular update (``response.send_update``) sends it to the owners who were sent the notice. Unlike the
    operators' own ``notes``, it reaches every company the incident concerns: written for all of them.
    ``ValidationFailed`` for a bad text, ``NotFound`` for no such incident, ``Conflict`` (``incident_resolved``)
    once it is resolved (the closing update was the last message)."""
    text = customer_text(text)
    try:
        incident = load(incident_id)
    except Incident.DoesNotExist:
        raise errors.NotFound(f"No incident {incident_id}.", code="incident_not_found") from None
    if incident.status == "resolved":
        raise errors.Conflict("The incident is resolved: its closing update was sent.", code="incident_resolved")
    notes = list(incident.customer_notes or [])
    if len(notes) >= MAX_CUSTOMER_NOTES:
        raise errors.Conflict(
            f"An incident keeps at most {MAX_CUSTOMER_NOTES} notes for customers.", code="too_many_notes"
        )
    at = int(time.time() if now is None else now)
    notes.append({"at": at, "text": text})
    return record(incident_id, "customer_note", "A note for customers was added.", now=at, customer_notes=notes)


def close(incident_id: str, *, now: float | None = None) -> Incident:
    """Resolved: the open index goes, so the next signal of its kind opens a new incident."""
    incident = record(incident_id, "resolved", "Incident resolved.", now=now, status="resolved")
    if incident.resolved_at is None:
        incident.update(actions=[Incident.resolved_at.set(int(time.time() if now is None else now))])
    try:
        OpenIncident(*OpenIncident.key(incident.dedupe_key)).delete(condition=OpenIncident.incident_id == incident.id)
    except Exception as error:  # noqa: BLE001 - already gone
        if not dynamo.condition_failed(error):
            raise
    return incident


def listing(*, limit: int = 50, status: str | None = None) -> list[Incident]:
    """Incidents newest first (operators)."""
    found = Incident.gsi1.query(INDEX, scan_index_forward=False, limit=limit * 4 if status else limit)
    items = [item for item in found if status is None or item.status == status]
    return items[:limit]


# ------------------------------------------------------------------------------------------------ companies' view
COMPANY_LIMIT = 200  # the incidents a company's owners are shown at most


def company_incidents(tenant_id: str, *, limit: int = COMPANY_LIMIT) -> list[CompanyIncident]:
    """What the company's owners see of the incidents that concern it (``CompanyIncident``), newest first."""
    found = CompanyIncident.query(tenant_pk(tenant_id, INDEX), consistent_read=True, limit=limit)
    return sorted(found, key=lambda item: -int(item.detected_at))


def company_incident(tenant_id: str, incident_id: str) -> CompanyIncident | None:
    """What the company's owners see of one incident, or None when it does not concern the company (or is no
    incident id at all)."""
    if not isinstance(incident_id, str) or not INCIDENT_ID.fullmatch(incident_id):
        return None
    try:
        return CompanyIncident.get(*CompanyIncident.key(tenant_id, incident_id), consistent_read=True)
    except CompanyIncident.DoesNotExist:
        return None


def _entry(at: int, step: str, note: str) -> dict[str, Any]:
    return {"at": at, "step": step, "note": note[:500]}


def short_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]
