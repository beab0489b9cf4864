"""The incident-response workflow executed for real: ``statemachines/incident.asl.json`` as the template declares
it, run by moto's Step Functions, each Lambda task the handler of ``functions/incidents/incidents.py`` (registered
by the local cloud from the template). Signals reach the detector as in the cloud: written to the data table, read
from its stream and handed to ``incidents.detect`` (``infra.streams.StreamPump``).

Time is moved with the workflow's input (``notify_deadline``), never by sleeping; retries run without their pauses
(``stepfunctions.quick_retries``). Each test stops the executions it leaves waiting for an operator."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from protu import aws
from protu.directory.kinds import KINDS
from protu.security import incidents, signals
from protu.security.access import READS_LIMIT
from protu.settings import settings

from infra import ops, stepfunctions
from infra.streams import StreamPump
from tests.api.people import STRONG, Browser, invite, link_token, new_email, sign_up

NOTICE_SUBJECT = "Security notice for "
TIMEOUT = 30


@pytest.fixture(scope="module")
def firms(api, module_mailgun):
    """Three companies: A (an owner, an admin, a second owner), B (an owner), C (an owner, never involved)."""
    a_owner = sign_up(api, module_mailgun)
    a_admin = invite(a_owner, module_mailgun, "admin")
    a_owner2 = invite(a_owner, module_mailgun, "owner", name="Olga Owner", browser=Browser(api))
    b_owner = sign_up(api, module_mailgun)
    c_owner = sign_up(api, module_mailgun)
    return {"a": (a_owner, a_admin, a_owner2), "b": (b_owner,), "c": (c_owner,)}


@pytest.fixture(scope="module")
def oncall(cloud):
    """What the pager would receive (``make run``'s on-call queue, ``infra.server.OnCallPager``): ``oncall()``
    answers every message so far, oldest first."""
    from infra.server import OnCallPager

    pager = OnCallPager()
    pager.subscribe()
    return lambda: [page["message"] for page in reversed(pager.list())]


@pytest.fixture
def detector(cloud):
    """The detector on the data table's stream from now on; ``detector()`` delivers what was written since and
    answers the incidents it opened."""
    import incidents as functions  # functions/incidents/incidents.py, as Lambda imports it

    opened: list[str] = []

    def handler(event, context):
        opened.extend(functions.detect(event, context)["opened"])

    pump = StreamPump(cloud.physical_id("DataTable"), handler, starting_position="LATEST")

    def deliver() -> list[incidents.Incident]:
        before = len(opened)
        pump.pump()
        return [incidents.load(incident_id) for incident_id in opened[before:]]

    yield deliver
    sfn = aws.client("stepfunctions")  # executions left waiting (operators, the 72-hour watch) are stopped
    running = sfn.list_executions(stateMachineArn=settings().incident_state_machine, statusFilter="RUNNING")
    for execution in running["executions"]:
        sfn.stop_execution(executionArn=execution["executionArn"])


def address() -> str:
    """A source address for one incident: from a range no other test uses, since a containment blocks it for a day
    and other tests sign in from fixed addresses (192.0.2.x)."""
    number = uuid.uuid4().int
    return f"100.64.{number % 250}.{number // 250 % 250 + 1}"


def waiting_for_operator(incident: incidents.Incident, step: str = "Remediate") -> stepfunctions.Execution:
    return stepfunctions.wait_for(incident.execution_arn, state=step, event="TaskSubmitted", timeout=TIMEOUT)


def notices(mailgun, incident_id: str) -> dict[str, dict]:
    """The incident notices sent, by recipient."""
    return {
        m["to"]: m for m in mailgun.messages if m["subject"].startswith(NOTICE_SUBJECT) and incident_id in m["text"]
    }


def exited(execution: stepfunctions.Execution, state: str) -> int:
    return next(n for n, e in enumerate(execution.history) if e.get("stateExitedEventDetails", {}).get("name") == state)


def entered(execution: stepfunctions.Execution, state: str) -> int:
    return next(
        n for n, e in enumerate(execution.history) if e.get("stateEnteredEventDetails", {}).get("name") == state
    )


def opens_a_response(owner, reader) -> None:
    """The owner records an assessment response about a candidate; ``reader`` opens it (an audited read)."""
    candidate = owner.browser.post("/api/candidates", KINDS["candidates"].example).json()["id"]
    assessment = owner.browser.post("/api/assessments", KINDS["assessments"].example).json()["id"]
    body = {**KINDS["responses"].example, "subject_id": candidate}
    created = owner.browser.post(f"/api/assessments/{assessment}/responses", body)
    assert created.status == 201, created.body
    listed = reader.browser.get(f"/api/assessments/{assessment}/responses")
    assert listed.status == 200, listed.body


# ------------------------------------------------------------------------------------------------ critical
def test_credential_stuffing_is_contained_before_assessment_and_owners_are_told(
    api, module_mailgun, firms, oncall, detector
):
    (a_owner, a_admin, a_owner2), (b_owner,), (c_owner,) = firms["a"], firms["b"], firms["c"]
    admin_id, b_me = a_admin.me["id"], b_owner.me
    opens_a_response(a_owner, a_admin)  # before the attack: A's admin opened one response
    attacker = Browser(api, ip=address())
    victims = [a_admin.email, b_owner.email] + [new_email("nobody") for _ in range(8)]
    for email in victims:  # ten accounts, one address, wrong passwords: credential stuffing
        assert attacker.login(email, "Tr0ub4dor&3-guess").status == 401

    (incident,) = detector()
    assert incident.severity == incidents.CRITICAL and incident.rule == "credential_stuffing"
    execution = waiting_for_operator(incident)

    # containment ran to its end before assessment started, and before anyone was told
    assert exited(execution, "Contain") < entered(execution, "Assess") < entered(execution, "Notify")
    contained = json.loads(execution.history[exited(execution, "Contain")]["stateExitedEventDetails"]["output"])
    assert contained["containment"] == {
        "sessions_revoked": 0,
        "accounts_locked": 0,
        "accounts_stepped_up": 2,
        "addresses_blocked": 1,
    }
    # containment acts on the source: the address is blocked; the accounts it named keep their sessions, their
    # holders are told, and their next sign-in asks for an email link (ASVS 5.0 6.3.1, no denial of service)
    assert a_admin.browser.get("/api/me").status == 200
    assert b_owner.browser.get("/api/me").status == 200
    stepped = Browser(api).login(a_admin.email)
    assert (stepped.status, stepped.json()) == (200, {"step_up_required": True, "method": "email_link"})
    told = [m for m in module_mailgun.to(b_owner.email) if m["subject"].startswith("Failed attempts to sign in")]
    assert told and "network we have now blocked" in told[-1]["text"] and "not locked" in told[-1]["text"]
    blocked = attacker.login(c_owner.email, STRONG)
    assert blocked.status == 429 and blocked.json()["error"]["code"] == "address_blocked"
    # nobody else is touched
    assert a_owner.browser.get("/api/me").status == 200 and c_owner.browser.get("/api/me").status == 200
    audit = a_owner.browser.get("/api/audit-events?action=incident.step_up_required").json()["items"]
    assert [e["target"] for e in audit] == [f"user:{admin_id}"] and audit[0]["actor"] == "system:incident-response"
    assert a_owner.browser.get("/api/audit-events?action=incident.account_locked").json()["items"] == []

    # exactly the owners of the companies concerned are told, each about their own company
    sent = notices(module_mailgun, incident.id)
    assert set(sent) == {a_owner.email, a_owner2.email, b_owner.email}
    assert "opened 1 record(s) (1 response)" in sent[a_owner.email]["text"]
    assert "no records of your company" in sent[b_owner.email]["text"]
    assert a_owner.company in sent[a_owner.email]["subject"] and b_owner.company not in sent[a_owner.email]["text"]

    # on-call is paged, with ids and counts only
    (page,) = [m for m in oncall() if m["incident"] == incident.id]
    assert page["severity"] == "critical" and page["companies"] == 2 and page["users"] == 2
    assert a_admin.email not in json.dumps(page) and attacker.ip in incident.source_ips

    # the owners see their own part, nothing of the other company's
    seen = a_owner.browser.get(f"/api/incidents/{incident.id}").json()
    assert seen["status"] == "contained" and seen["affected"]["users"] == [admin_id]
    assert seen["affected"]["records_opened"] == 1
    assert incidents.load(incident.id).scope[b_me["company"]["id"]]["users"] == [b_me["id"]]
    assert b_owner.company not in json.dumps(seen)
    assert c_owner.browser.get(f"/api/incidents/{incident.id}").status == 404

    # the operator remediates and reviews from the command line; the incident is resolved, the notes kept
    assert ops.main(["incidents", "advance", incident.id, "--notes", "Forced password resets; WAF rule added."]) == 0
    waiting_for_operator(incident, "Review")
    assert ops.main(["incidents", "advance", incident.id, "--notes", "Rate limits lowered."]) == 0
    stepfunctions.wait_for(incident.execution_arn, state="Handled", timeout=TIMEOUT)
    done = incidents.load(incident.id)
    assert done.status == "resolved" and done.notes == {
        "remediate": "Forced password resets; WAF rule added.",
        "review": "Rate limits lowered.",
    }
    assert done.contained_at <= done.assessed_at <= done.notified_at <= done.resolved_at
    assert incidents.targets(done)["response"]["met"] and incidents.targets(done)["notification"]["met"]
    view = a_owner.browser.get(f"/api/incidents/{incident.id}").json()
    assert view["status"] == "resolved" and view["resolved_at"] == done.resolved_at
    assert [e["step"] for e in view["timeline"]] == [
        "detected",
        "contained",
        "assessed",
        "notified",
        "acknowledged",  # the operator's first step took it up
        "remediate_done",
        "review_done",
        "resolved",
    ]
    assert "WAF" not in json.dumps(view)  # operators' notes stay with operators
    resolved = [
        m["to"]
        for m in module_mailgun.messages
        if m["subject"].startswith("Security incident resolved ") and incident.id in m["text"]
    ]
    assert sorted(resolved) == sorted([a_owner.email, a_owner2.email, b_owner.email])  # the closing update

    # a block can be lifted early by an operator (a false alarm, a shared office address)
    assert ops.main(["incidents", "unblock", "--address", attacker.ip]) == 0
    assert attacker.login(c_owner.email, STRONG).status == 200


def test_a_sign_in_burst_cannot_lock_chosen_accounts_but_one_the_attacker_got_into_is_locked(
    api, module_mailgun, oncall, detector
):
    """Issue 15, attack 1 (ASVS 5.0 6.3.1, brute-force controls without denial of service). From one address, one
    wrong password for each victim (an owner among them), padded with invented emails up to ten: before, the
    Critical incident's containment signed the victims out and locked them (403 ``account_locked``, magic links
    refused). Now it acts on the source; only an account the attacking address signed in to with its password is
    locked, and its holder unlocks it at once from their mailbox."""
    owner, other = sign_up(api, module_mailgun), sign_up(api, module_mailgun)
    reused = sign_up(api, module_mailgun)  # reused its password elsewhere: the attacker has it
    attacker_ip = address()
    assert Browser(api, ip=attacker_ip).login(reused.email, reused.password).status == 200
    attacker = Browser(api, ip=attacker_ip)
    victims = [owner.email, other.email] + [new_email("invented") for _ in range(8)]
    for email in victims:
        assert attacker.login(email, "Tr0ub4dor&3-guess").status == 401

    (incident,) = detector()
    execution = waiting_for_operator(incident)
    contained = json.loads(execution.history[exited(execution, "Contain")]["stateExitedEventDetails"]["output"])
    assert contained["containment"]["accounts_stepped_up"] == 2 and contained["containment"]["accounts_locked"] == 1

    # the chosen victims: signed in where they were, and their own way in still works
    for victim in (owner, other):
        assert victim.browser.get("/api/me").status == 200
        again = Browser(api, ip=victim.browser.ip).login(victim.email)
        assert again.json() == {"step_up_required": True, "method": "email_link"}
        confirm = module_mailgun.to(victim.email)[-1]
        assert "confirm it is you" in confirm["subject"].lower()
        back = Browser(api, ip=victim.browser.ip).post("/api/auth/magic-link/verify", {"token": link_token(confirm)})
        assert back.status == 200, back.body

    # the account the attacker got into: signed out everywhere and locked...
    assert reused.browser.get("/api/me").status == 401
    holder = Browser(api, ip=reused.browser.ip)
    locked = holder.login(reused.email)
    assert (locked.status, locked.json()["error"]["code"]) == (403, "account_locked")
    assert reused.email in notices(module_mailgun, incident.id)  # its company's owners are told
    # ...until its holder proves their mailbox, at once
    assert holder.post("/api/auth/magic-link", {"email": reused.email}).status == 202
    unlocked = holder.post("/api/auth/magic-link/verify", {"token": link_token(module_mailgun.to(reused.email)[-1])})
    assert unlocked.status == 200, unlocked.body
    assert "auth.unlocked" in [e["action"] for e in holder.get("/api/audit-events").json()["items"]]
    assert Browser(api, ip=reused.browser.ip).login(reused.email).status == 200


# ------------------------------------------------------------------------------------------------ each severity
SEVERITIES = {
    # severity: (signal kind, details, states it must pass, states it must not)
    "critical": ("access.unusual", {"opened": 4 * READS_LIMIT}, ["Contain", "Alert", "Assess", "Notify"], []),
    "high": ("refresh.reused", None, ["Alert", "Assess", "Notify"], ["Contain"]),
    "medium": ("session.suspicious_signout", None, ["Assess"], ["Contain", "Alert", "Notify"]),
    "low": ("login.locked", None, ["Assess"], ["Contain", "Alert", "Notify"]),
}


@pytest.mark.parametrize("severity", list(SEVERITIES))
def test_each_severity_takes_its_own_path(api, module_mailgun, oncall, detector, severity):
    kind, details, passes, skips = SEVERITIES[severity]
    owner = sign_up(api, module_mailgun)
    me = owner.me
    signals.raise_signal(kind, tenant_id=me["company"]["id"], user_id=me["id"], source_ip=address(), details=details)

    (incident,) = detector()
    assert incident.severity == severity
    execution = waiting_for_operator(incident)
    assert [s for s in passes if s in execution.entered] == passes
    assert not [s for s in skips if s in execution.entered]
    assert execution.entered.index("Assess") > max((execution.entered.index(s) for s in passes[:-2]), default=-1)

    stored = incidents.load(incident.id)
    assert stored.assessed_at is not None and stored.waiting_step == "remediate" and not stored.failures
    told = severity in ("critical", "high")
    assert set(notices(module_mailgun, incident.id)) == ({owner.email} if told else set())
    assert (stored.notified_at is not None) == told
    paged = [m for m in oncall() if m["incident"] == incident.id]
    assert [m["severity"] for m in paged] == ([severity] if told else [])
    if severity == "critical":  # contained: signed out, locked; the response target met by the containment
        assert owner.browser.get("/api/me").status == 401 and Browser(api).login(owner.email).status == 403
        assert incidents.targets(stored)["response"]["met"] is True
        return
    # the others: the response target is met when an operator takes the incident up
    assert incidents.targets(stored)["response"]["met"] is None
    assert ops.main(["incidents", "acknowledge", incident.id]) == 0
    assert incidents.targets(incidents.load(incident.id))["response"]["met"] is True
    view = owner.browser.get(f"/api/incidents/{incident.id}").json()
    assert view["severity"] == severity and view["status"] == "open"


# ------------------------------------------------------------------------------------------------ failures
def test_a_failing_task_is_retried_then_caught_and_the_incident_goes_on(api, module_mailgun, oncall, detector, cloud):
    owner = sign_up(api, module_mailgun)
    me = owner.me
    attempts = []

    def broken(event, context):
        attempts.append(event["incident_id"])
        raise RuntimeError("audit table unavailable")

    signals.raise_signal("refresh.reused", tenant_id=me["company"]["id"], user_id=me["id"], source_ip=address())
    with stepfunctions.quick_retries(), stepfunctions.override(cloud.physical_id("IncidentAssessFunction"), broken):
        (incident,) = detector()
        execution = waiting_for_operator(incident)

    assert attempts == [incident.id] * 3  # the first try and its two retries
    assert ["Assess", "AssessFailed", "AssumeNoticeNeeded", "Respond"] == [
        s for s in execution.entered if s in ("Assess", "AssessFailed", "AssumeNoticeNeeded", "Respond")
    ]
    stored = incidents.load(incident.id)
    assert [(f["step"], f["error"]) for f in stored.failures] == [("assess", "RuntimeError")]
    assert stored.assessed_at is None and stored.waiting_step == "remediate"  # not lost: it waits for an operator
    assert set(notices(module_mailgun, incident.id)) == {owner.email}  # the scope unknown, the company known is told
    reasons = [m["reason"] for m in oncall() if m["incident"] == incident.id]
    assert reasons == ["new incident", "step assess failed"]


# ------------------------------------------------------------------------------------------------ 72 hours
def late(incident: incidents.Incident, hours: float) -> dict:
    """The workflow's input as if the incident had been detected ``hours`` ago."""
    from protu.security import response

    deadline = datetime.now(UTC) + timedelta(hours=72 - hours)
    return {**response.workflow_input(incident), "notify_deadline": deadline.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_a_notice_not_sent_within_72_hours_is_escalated(api, module_mailgun, oncall, detector, cloud):
    owner = sign_up(api, module_mailgun)
    me = owner.me

    def mail_down(event, context):
        raise ConnectionError("mail provider unreachable")

    signals.raise_signal("refresh.reused", tenant_id=me["company"]["id"], user_id=me["id"], source_ip=address())
    with stepfunctions.quick_retries(), stepfunctions.override(cloud.physical_id("IncidentNotifyFunction"), mail_down):
        (incident,) = detector()
        waiting_for_operator(incident)  # its own run: the deadline 72 hours away, nothing escalated yet
        assert incidents.load(incident.id).escalated_at is None
        # the same incident's watch, 73 hours after detection
        arn = stepfunctions.start(settings().incident_state_machine, late(incident, 73), name=f"{incident.id}-late")
        execution = stepfunctions.wait_for(arn, state="Watched", timeout=TIMEOUT)

    assert {"NotifyFailed", "CheckNotice", "Escalate"} <= set(execution.entered)
    stored = incidents.load(incident.id)
    assert stored.escalated_at is not None and stored.notified_at is None
    reasons = [m["reason"] for m in oncall() if m["incident"] == incident.id]
    assert "customer notice overdue (72 hours)" in reasons


def test_a_notice_sent_in_time_is_not_escalated_nor_sent_twice(api, module_mailgun, oncall, detector):
    owner = sign_up(api, module_mailgun)
    me = owner.me
    signals.raise_signal("refresh.reused", tenant_id=me["company"]["id"], user_id=me["id"], source_ip=address())
    (incident,) = detector()
    waiting_for_operator(incident)
    assert set(notices(module_mailgun, incident.id)) == {owner.email}

    arn = stepfunctions.start(settings().incident_state_machine, late(incident, 73), name=f"{incident.id}-late")
    execution = stepfunctions.wait_for(arn, state="Watched", timeout=TIMEOUT)
    assert "CheckNotice" in execution.entered and "Escalate" not in execution.entered
    assert incidents.load(incident.id).escalated_at is None
    assert (
        len([m for m in module_mailgun.messages if incident.id in m["text"]]) == 1
    )  # the re-run did not send it again


# ------------------------------------------------------------------------------------------------ reports
def test_a_security_report_is_acknowledged_and_opens_a_low_incident_for_triage(api, module_mailgun, oncall, detector):
    reporter = new_email("researcher")
    body = {"description": "The export link can be guessed.", "contact": reporter, "impact": "Data of any company."}
    reply = api.post("/api/security/reports", json=body, source_ip=address())
    assert reply.status == 202, reply.body
    report = reply.json()["id"]
    assert report in module_mailgun.to(reporter)[-1]["subject"]  # acknowledged at once

    (incident,) = detector()
    assert (incident.severity, incident.rule) == (incidents.LOW, "security_report")
    waiting_for_operator(incident)
    stored = incidents.load(incident.id)
    assert stored.companies == set() and not notices(
        module_mailgun, incident.id
    )  # nobody's data is known to be concerned
    assert not [m for m in oncall() if m["incident"] == incident.id]  # Low: the next business day, no page
    assert "The export link" not in json.dumps(stored.document())  # the report itself stays in its own record
