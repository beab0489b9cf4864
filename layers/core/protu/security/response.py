"""The steps of the incident-response workflow (``statemachines/incident.asl.json``), one function each; the
handlers in ``functions/incidents/incidents.py`` only parse the task's input and call them.

* ``contain`` (Critical, at once): the source addresses blocked for ``blocks.BLOCK_SECONDS``. What happens to the
  accounts depends on the evidence against each one. A sign-in burst (credential stuffing) names accounts chosen
  by the attacker, so it is no evidence against them: each is put under step-up (its next sign-in needs an email
  link or the second factor) and its holder is told, while its sessions keep working; only an account with a
  session started from the attacking source (the attacker got in) is signed out and locked. For the other
  Critical rules the account itself did it (mass data access): every session revoked, the account locked. A lock
  is lifted by its holder from their mailbox (a sign-in link or a password reset). Each company's part is audited
  in its own log, acting through that company's tenant session.
* ``assess``: the scope from the audit log: per company concerned, which users and how many records they opened
  since shortly before detection.
* ``notify``: the owners of each company concerned get the notice (what happened, what data, what is being done,
  a contact and the reference); the company's Incidents page shows it. Within 72 hours of detection.
* ``send_update``: while the incident is open, at every ``update_interval_seconds`` (the workflow's loop; 24 hours
  unless the execution's input says otherwise), the owners who were sent the notice get an update: what was done and
  the operators' notes for customers since the last one (``note_for_customers``), or word that it is still being
  worked on. Once per period; it ends the loop once the incident is resolved (the closing update is the last mail).
* ``check_notice`` / ``escalate``: at the 72-hour deadline, an incident that should have been notified and was
  not is escalated to on-call.
* ``alert``: the on-call topic (SNS) for Critical and High, for failures and escalations.
* ``wait`` / ``note``: an operator's step (remediate, review) waits on its task token; the operator's notes are
  recorded when they send it back (``protu-ops incidents advance``).
* ``record_failure``: a step that failed after its retries is recorded on the incident, which goes on.

Nothing personal goes to on-call messages: ids and counts only.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from protu import aws, errors
from protu.audit import context
from protu.audit.log import events
from protu.identity.models import User
from protu.logging import get_logger
from protu.security import blocks, incidents, login_guard
from protu.security.addresses import address_key
from protu.security.incidents import Incident
from protu.settings import settings
from protu.store import scope
from protu.store.tx import Transaction

log = get_logger(__name__)
ACTOR = "system:incident-response"
LOOKBACK_SECONDS = 24 * 3600  # assess reads the audit log from this long before detection
LOCK_SECONDS = 7 * 24 * 3600


def workflow_input(incident: Incident) -> dict[str, Any]:
    """What the workflow starts with (also what a test may shape to move time: ``notify_deadline``)."""
    return {
        "incident_id": incident.id,
        "severity": incident.severity,
        "rule": incident.rule,
        "notify_deadline": _iso(int(incident.notify_by)),
        "update_interval_seconds": settings().incident_update_seconds,
    }


def start_workflow(incident: Incident) -> str:
    """Start the incident's execution (named after the incident: starting it twice is refused, not doubled)."""
    client = aws.client("stepfunctions")
    try:
        arn = client.start_execution(
            stateMachineArn=settings().incident_state_machine,
            name=incident.id,
            input=json.dumps(workflow_input(incident)),
        )["executionArn"]
    except client.exceptions.ExecutionAlreadyExists:
        return incident.execution_arn or ""
    incident.update(actions=[Incident.execution_arn.set(arn)])
    return arn


# ------------------------------------------------------------------------------------------------ steps
SOURCE_RULES = frozenset({"credential_stuffing"})  # incidents whose accounts were named by the attacker


def contain(incident_id: str, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    incident = incidents.load(incident_id)
    addresses = sorted(incident.source_ips or ())
    got_in: set[str] = set()  # accounts the attacking addresses signed in to: their passwords are known
    for address in addresses:
        got_in |= login_guard.signed_in_from(address, now=now)
    if got_in - set(incident.users or ()):  # they are part of the incident: assessed and notified too
        companies = {member.partition(":")[0] for member in got_in}
        incident.update(actions=[Incident.users.add(got_in), Incident.companies.add(companies)])
    by_company: dict[str, list[str]] = {}
    for member in sorted(set(incident.users or ()) | got_in):
        company, _, user_id = member.partition(":")
        by_company.setdefault(company, []).append(user_id)
    totals = {"sessions_revoked": 0, "accounts_locked": 0, "accounts_stepped_up": 0}
    for company, user_ids in by_company.items():
        for name, value in _contain_company(company, user_ids, incident, addresses, got_in, now).items():
            totals[name] += value
    for address in addresses:
        blocks.block(address, reason=f"incident {incident.id}", now=now)
    result = {**totals, "addresses_blocked": len(addresses)}
    note = (
        f"Contained: {len(addresses)} address(es) blocked, {totals['accounts_stepped_up']} account(s) asked to "
        f"confirm their next sign-in, {totals['accounts_locked']} account(s) locked and "
        f"{totals['sessions_revoked']} session(s) revoked on evidence of compromise."
    )
    incidents.record(incident_id, "contained", note, now=now, contained_at=int(now), status="contained")
    log.warning("incident contained", extra={"incident": incident_id, **result})
    return result


def _contain_company(
    company: str, user_ids: list[str], incident: Incident, addresses: list[str], got_in: set[str], now: float
) -> dict[str, int]:
    sources = {address_key(address) for address in addresses}
    done = {"sessions_revoked": 0, "accounts_locked": 0, "accounts_stepped_up": 0}
    with scope.acting_for(company), context.bound(actor=ACTOR):
        for user_id in user_ids:
            try:
                user = User.get(*User.key(company, user_id), consistent_read=True)
            except User.DoesNotExist:
                continue  # the user is gone: nothing to contain
            if incident.rule in SOURCE_RULES and not _got_in(company, user_id, got_in, sources):
                _step_up(company, user, incident, now)
                done["accounts_stepped_up"] += 1
                continue
            revoked, locked = _lock(company, user, incident, now)
            done["sessions_revoked"] += revoked
            done["accounts_locked"] += locked
    return done


def _got_in(company: str, user_id: str, got_in: set[str], sources: set[str]) -> bool:
    """Evidence that the attacking addresses got into this account: a password sign-in from them, or a live
    session started from them."""
    # cold start: loaded on first use
    from protu.identity import sessions

    if f"{company}:{user_id}" in got_in:
        return True
    return any(address_key(s.ip) in sources for s in sessions.live_for(company, user_id))


def _step_up(company: str, user: Any, incident: Incident, now: float) -> None:
    """An account named in a sign-in burst, with no sign of the attacker inside: its next sign-in needs a step-up,
    its holder is told, its sessions go on."""
    # cold start: loaded on first use
    from protu.identity import accounts

    login_guard.require_step_up(user.email, reason="incident", now=now)
    with Transaction(company, actor=ACTOR) as tx:
        tx.audit("incident.step_up_required", f"user:{user.id}", details={"incident": incident.id})
    accounts.send("sign_in_attempts", user.email, attempts=0, blocked=True)


def _lock(company: str, user: Any, incident: Incident, now: float) -> tuple[int, int]:
    """Evidence that the account itself is compromised: every session ends and the account is locked until its
    holder proves their mailbox."""
    # cold start: loaded on first use
    from protu.identity import accounts

    revoked = accounts.end_sessions(
        company, user.id, actor=ACTOR, reason="incident_containment", action="incident.sessions_revoked"
    )
    try:
        with Transaction(company, actor=ACTOR) as tx:
            tx.update(user, [User.locked_until.set(int(now + LOCK_SECONDS))], condition=User.pk.exists())
            tx.audit("incident.account_locked", f"user:{user.id}", details={"incident": incident.id})
    except errors.Conflict:  # removed meanwhile: nothing to lock
        return revoked, 0
    return revoked, 1


def assess(incident_id: str, now: float | None = None) -> dict[str, Any]:
    """Scope from the audit log: per company, the users concerned and the records they opened."""
    now = time.time() if now is None else now
    incident = incidents.load(incident_id)
    since = int(incident.detected_at) - LOOKBACK_SECONDS
    users: dict[str, set[str]] = {}
    for member in incident.users or ():
        company, _, user_id = member.partition(":")
        users.setdefault(company, set()).add(user_id)
    scope: dict[str, Any] = {}
    for company in sorted(incident.companies or ()):
        scope[company] = _company_scope(company, users.get(company, set()), since)
    needs_notice = bool(scope) and incident.severity in (incidents.CRITICAL, incidents.HIGH)
    records = sum(part["records_opened"] for part in scope.values())
    note = f"Assessed: {len(scope)} company(ies), {sum(len(p['users']) for p in scope.values())} user(s), "
    note += f"{records} record(s) opened by them since {_iso(since)}."
    incidents.record(incident_id, "assessed", note, now=now, assessed_at=int(now), scope=scope)
    for company in scope:
        sync_company_view(company, incident_id)
    return {"companies": sorted(scope), "needs_notice": needs_notice, "records_opened": records}


def _company_scope(company: str, user_ids: set[str], since: int) -> dict[str, Any]:
    opened: dict[str, int] = {}
    with scope.acting_for(company):
        cursor = None
        while True:
            page, cursor = events(company, limit=100, cursor=cursor)
            for event in page:
                if _epoch(event.get("time")) < since:
                    cursor = None
                    break
                if event.get("actor") in user_ids and event.get("action", "").endswith((".read", ".exported")):
                    entity = event["action"].split(".", 1)[0]
                    records = (event.get("details") or {}).get("records")
                    count = len(records) if isinstance(records, list) else 1
                    opened[entity] = opened.get(entity, 0) + count
            if cursor is None:
                break
    return {"users": sorted(user_ids), "records_opened": sum(opened.values()), "by_entity": opened}


def notify(incident_id: str, now: float | None = None) -> dict[str, Any]:
    """The notice to the owners of every company concerned that was not told yet (a retry or a re-run never
    sends it twice). Raises when mail cannot be sent (the workflow retries, then records the failure; the 72-hour
    watch escalates)."""
    # cold start: loaded on first use
    from protu import mail

    now = time.time() if now is None else now
    incident = incidents.load(incident_id)
    sent = 0
    for company in sorted(set(incident.companies or ()) - set(incident.notified_companies or ())):
        found = _owners(company)
        if found is None:
            log.info("incident notice skipped: company gone", extra={"incident": incident_id, "tenant": company})
            continue
        name, emails = found
        part = (incident.scope or {}).get(company, {})
        for email in emails:
            mail.send(
                "security_incident",
                email,
                company=name,
                what=incident.title,
                data=_data_sentence(part),
                actions=_actions_sentence(incident),
                reference=incident.id,
            )
            sent += 1
        incident.update(actions=[Incident.notified_companies.add({company})])  # this company is told
    if not sent and incident.notified_at is not None:
        return {"owners_notified": 0}
    first = int(incident.notified_at) if incident.notified_at is not None else int(now)
    incidents.record(incident_id, "notified", f"Notice sent to {sent} owner(s).", now=now, notified_at=first)
    for company in incident.companies or ():
        sync_company_view(company, incident_id)
    return {"owners_notified": sent}


def send_update(incident_id: str, period: int, now: float | None = None) -> dict[str, Any]:
    """The regular update number ``period`` to the owners of the companies that were sent the notice: the steps
    done and the notes for customers added since the last update, the status, or that it is still being worked on.
    Answers ``{"open", "period"}``: whether the loop goes on (not once the incident is resolved: the closing update
    stays the last message) and the period of the next update.

    Idempotent per period: a company is marked once its owners were sent this period's update, and the period once
    every company was (``updates_sent``), so a redelivered task sends nothing twice. Raises when mail cannot be
    sent (the workflow retries the companies not yet sent, records the failure and waits for the next period)."""
    # cold start: loaded on first use
    from protu import mail

    now = time.time() if now is None else now
    incident = incidents.load(incident_id)
    if incident.status == "resolved":
        return {"open": False, "period": period}
    if period <= int(incident.updates_sent or 0):  # sent already (a redelivery, or a re-run catching up)
        return {"open": True, "period": period + 1}
    if not incident.notified_companies:  # no notice went out: nobody to update yet
        return {"open": True, "period": period}
    done = set(incident.update_companies or ())  # the companies sent this period's update already
    if incident.update_period != period:  # this period starts: what it says is fixed now, for every company
        news, notes = _news(incident)
        incident = incidents.record(
            incident_id,
            "update_started",
            f"Update {period} to the owners told.",
            now=now,
            update_period=period,
            update_news=news,
            update_companies=None,
            customer_notes_sent=notes,
        )
        done = set()
    news = list(incident.update_news or [])
    sent = 0
    for company in sorted(set(incident.notified_companies) - done):
        if incidents.load(incident_id).status == "resolved":  # closed meanwhile: its closing update is the last
            return {"open": False, "period": period}
        found = _owners(company)
        if found is not None:
            name, emails = found
            for email in emails:
                mail.send(
                    "security_incident_update",
                    email,
                    company=name,
                    what=incident.title,
                    status=incident.status,
                    news=news,
                    reference=incident.id,
                )
                sent += 1
        incident.update(actions=[Incident.update_companies.add({company})])
    incidents.record(
        incident_id,
        "update_sent",
        f"Update {period} sent to {sent} owner(s).",
        updates_sent=period,
        last_update_at=int(now),
    )
    for company in incident.companies or ():
        sync_company_view(company, incident_id)
    return {"open": True, "period": period + 1}


def _news(incident: Incident) -> tuple[list[str], int]:
    """What changed since the last update (or the notice), in the owners' words: the steps done since its mark on
    the timeline, then the notes for customers no update carried yet (never the operators' own notes). Answers
    them and how many notes for customers are carried now."""
    timeline = list(incident.timeline or [])
    marks = [n for n, entry in enumerate(timeline) if entry.get("step") in ("update_started", "notified")]
    after = timeline[marks[-1] + 1 :] if marks else timeline
    steps = [OWNER_STEPS[e["step"]] for e in after if e.get("step") in OWNER_STEPS and e["step"] != "update_sent"]
    notes = [note["text"] for note in incident.customer_notes or []]
    return list(dict.fromkeys(steps)) + notes[int(incident.customer_notes_sent or 0) :], len(notes)


def note_for_customers(incident_id: str, text: str | None) -> dict[str, Any]:
    """An operator's note for customers (``incidents.add_customer_note``): on the Incidents page of every company
    concerned at once, and in the next regular update."""
    incident = incidents.add_customer_note(incident_id, text)
    for company in incident.companies or ():
        sync_company_view(company, incident_id)
    return {"customer_notes": len(incident.customer_notes or [])}


def _owners(company: str) -> tuple[str, list[str]] | None:
    """The company's name and its active owners' emails; None when the company is gone."""
    # cold start: loaded on first use
    from protu.identity import company_settings
    from protu.identity.users import list_users

    with scope.acting_for(company):
        try:
            name = company_settings.get(company).name
        except errors.NotFound:
            return None
        return name, [u.email for u in list_users(company) if u.role == "owner" and u.status == "active"]


def _send_resolved(incident: Incident) -> None:
    """The closing update to the owners of the companies that were sent the notice. Best effort: the incident is
    resolved whatever happens to this mail (a failure is logged, and their Incidents page says it)."""
    # cold start: loaded on first use
    from protu import mail

    for company in sorted(incident.notified_companies or ()):
        try:
            found = _owners(company)
            if found is None:
                continue
            name, emails = found
            for email in emails:
                mail.send("security_incident_resolved", email, company=name, what=incident.title, reference=incident.id)
        except Exception:  # noqa: BLE001 - see above
            log.exception("incident resolution update failed", extra={"incident": incident.id, "tenant": company})


def _data_sentence(part: dict[str, Any]) -> str:
    opened = int(part.get("records_opened") or 0)
    if not opened:
        return "We found no records of your company opened by the accounts concerned."
    kinds = ", ".join(f"{count} {entity}" for entity, count in sorted((part.get("by_entity") or {}).items()))
    return f"The accounts concerned opened {opened} record(s) ({kinds}) around the time of the incident."


def _actions_sentence(incident: Incident) -> str:
    if incident.contained_at and incident.rule in SOURCE_RULES:
        return (
            "We blocked the addresses the attempts came from and will ask the accounts concerned to confirm their "
            "next sign-in by email or two-factor code; accounts the attacker got into were signed out and locked. "
            "We are investigating."
        )
    if incident.contained_at:
        return "We signed the accounts concerned out, locked them until they confirm by email, and are investigating."
    return "We are investigating and will tell you what we find."


def check_notice(incident_id: str) -> dict[str, Any]:
    incident = incidents.load(incident_id)
    return {"notified": incident.notified_at is not None}


def escalate(incident_id: str, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    incident = incidents.record(
        incident_id, "escalated", "The 72-hour customer notice is overdue.", now=now, escalated_at=int(now)
    )
    alert(incident_id, reason="customer notice overdue (72 hours)", incident=incident)
    return {"escalated": True}


def alert(incident_id: str, *, reason: str = "", incident: Incident | None = None) -> dict[str, Any]:
    """Page on-call (SNS). Ids, severity and counts only: nothing personal."""
    incident = incident or incidents.load(incident_id)
    subject = f"[{incident.severity.upper()}] {incident.title}"[:100]
    message = {
        "incident": incident.id,
        "severity": incident.severity,
        "rule": incident.rule,
        "reason": reason or "new incident",
        "status": incident.status,
        "companies": len(incident.companies or ()),
        "users": len(incident.users or ()),
        "addresses": len(incident.source_ips or ()),
        "signals": int(incident.signal_count or 0),
        "detected_at": _iso(int(incident.detected_at)),
    }
    aws.client("sns").publish(TopicArn=settings().oncall_topic, Subject=subject, Message=json.dumps(message))
    incidents.record(incident_id, "alerted", f"On-call alerted: {message['reason']}.")
    return {"alerted": True}


def wait(incident_id: str, step: str, token: str) -> dict[str, Any]:
    """An operator's step begins: the token that resumes the workflow is kept on the incident."""
    incidents.record(
        incident_id, f"{step}_started", f"Waiting for an operator to {step}.", waiting_step=step, task_token=token
    )
    return {"waiting": step}


def note(incident_id: str, step: str, notes: str) -> dict[str, Any]:
    incident = incidents.load(incident_id)
    recorded = {**(incident.notes or {}), step: str(notes)[:4000]}
    incidents.record(
        incident_id,
        f"{step}_done",
        f"{step.capitalize()} recorded.",
        notes=recorded,
        waiting_step=None,
        task_token=None,
    )
    return {"recorded": step}


def record_failure(incident_id: str, step: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """A step failed after its retries: recorded, on-call told, and the workflow goes on."""
    incident = incidents.load(incident_id)
    failure = {"step": step, "error": str((error or {}).get("Error") or "unknown")[:100], "at": int(time.time())}
    failures = list(incident.failures or []) + [failure]
    incidents.record(incident_id, "step_failed", f"{step} failed: {failure['error']}.", failures=failures)
    try:
        alert(incident_id, reason=f"step {step} failed")
    except Exception:  # noqa: BLE001 - the failure is recorded; the alert is best effort here
        log.exception("on-call alert failed", extra={"incident": incident_id})
    return {"failed": step}


def close(incident_id: str) -> dict[str, Any]:
    """Resolved: the owners' pages say so, and the owners who were sent the notice get the closing update."""
    already = incidents.load(incident_id).status == "resolved"
    incident = incidents.close(incident_id)
    for company in incident.companies or ():
        sync_company_view(company, incident_id)
    if not already:
        _send_resolved(incident)
    return {"status": "resolved"}


# ------------------------------------------------------------------------------------------------ owners' view
def sync_company_view(company: str, incident_id: str) -> None:
    """What the company's owners see of the incident: its title, severity, status, times, their part of the
    scope and the timeline (other companies' parts left out)."""

    incident = incidents.load(incident_id)
    document = incident.document()
    view = {
        key: document[key]
        for key in (
            "id",
            "title",
            "severity",
            "status",
            "detected_at",
            "contained_at",
            "notified_at",
            "resolved_at",
        )
    }
    view["timeline"] = _owners_timeline(document["timeline"])
    view["notes"] = document["customer_notes"]  # the operators' notes for customers (their own stay internal)
    view["updates_sent"] = document["updates_sent"]
    view["last_update_at"] = document["last_update_at"]
    view["affected"] = (incident.scope or {}).get(company, {})
    with scope.acting_for(company):
        incidents.CompanyIncident(
            *incidents.CompanyIncident.key(company, incident_id),
            id=incident_id,
            view=view,
            detected_at=int(incident.detected_at),
        ).save()


# What owners read of each step: the same words for every company (the operators' notes and counts can span
# several companies, so they stay on the incident); steps not listed (alerts, failures, waits) are internal.
OWNER_STEPS = {
    "acknowledged": "Our security team is investigating.",
    "contained": "The source addresses were blocked and the accounts involved secured.",
    "assessed": "We assessed which of your users and records were concerned.",
    "notified": "We sent the notice to your company's owners.",
    "remediate_done": "We remediated the cause.",
    "review_done": "We reviewed the incident and how we handled it.",
    "update_sent": "We sent your company's owners an update.",
    "resolved": "The incident is resolved.",
}


def _owners_timeline(timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = []
    for entry in timeline:
        step = entry.get("step")
        if step == "detected":
            entries.append({"at": entry["at"], "step": step, "note": "We detected the incident."})
        elif step in OWNER_STEPS:
            entries.append({"at": entry["at"], "step": step, "note": OWNER_STEPS[step]})
    return entries


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _epoch(value: Any) -> float:
    if not value:
        return 0.0
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
