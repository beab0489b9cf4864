"""Regular incident updates (issue 20, part 4): while an incident that sent a notice is open, the owners told get an
update at every ``update_interval_seconds`` with what changed, fed by the operators' notes for customers, until the
closing update.

The workflow runs for real (``statemachines/incident.asl.json`` in moto, its tasks the handlers of
``functions/incidents/incidents.py``). Time is moved with the execution's input: the interval is one second here,
24 hours by default (the template's ``INCIDENT_UPDATE_SECONDS``). Each test makes its own companies and incident
and stops the executions it started."""

from __future__ import annotations

import json
import time

import pytest
from protu import aws, mail
from protu.security import incidents, response, signals
from protu.settings import settings

from infra import ops, stepfunctions
from tests.api.people import Browser, invite, sign_up
from tests.security.test_incident_workflow import address

UPDATE_SUBJECT = "Update on the security incident for "
RESOLVED_SUBJECT = "Security incident resolved "
TIMEOUT = 30


@pytest.fixture
def people(api, module_mailgun):
    """Company A (an owner, a second owner, an admin: the admin is the user involved) and company C (an owner,
    never involved)."""
    owner = sign_up(api, module_mailgun)
    admin = invite(owner, module_mailgun, "admin")
    owner2 = invite(owner, module_mailgun, "owner", name="Olga Owner", browser=Browser(api))
    other = sign_up(api, module_mailgun)
    return owner, owner2, admin, other


def opened(admin) -> incidents.Incident:
    """A High incident about A's admin (a stolen session token used again): its notice goes to A's owners. Opened
    as the detector opens it; its workflow is started by the test."""
    me = admin.me
    signal = signals.raise_signal(
        "refresh.reused", tenant_id=me["company"]["id"], user_id=me["id"], source_ip=address()
    )
    incident, new = incidents.detect(signal)
    assert new and incident.severity == incidents.HIGH
    return incident


@pytest.fixture
def executions():
    """``start(incident, seconds)`` runs the incident's workflow with updates every ``seconds``; every execution
    started is stopped afterwards (the 72-hour watch waits on)."""
    started: list[str] = []

    def start(incident: incidents.Incident, seconds: int) -> str:
        payload = {**response.workflow_input(incident), "update_interval_seconds": seconds}
        started.append(stepfunctions.start(settings().incident_state_machine, payload, name=incident.id))
        return started[-1]

    yield start
    sfn = aws.client("stepfunctions")
    for arn in started:
        if sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            sfn.stop_execution(executionArn=arn)


def updates(mailgun, incident_id: str, to: str | None = None) -> list[dict]:
    return [
        m
        for m in mailgun.messages
        if m["subject"].startswith(UPDATE_SUBJECT) and incident_id in m["text"] and to in (None, m["to"])
    ]


def eventually(check, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.05)
    return found


# ------------------------------------------------------------------------------------------------ the loop
def test_owners_told_get_regular_updates_with_the_notes_for_customers_until_the_closing_update(
    module_mailgun, people, executions
):
    owner, owner2, admin, other = people
    incident = opened(admin)
    arn = executions(incident, 1)
    stepfunctions.wait_for(arn, state="Remediate", event="TaskSubmitted", timeout=TIMEOUT)

    # the first update (nothing new yet) goes to the owners told, nobody else
    first = eventually(lambda: updates(module_mailgun, incident.id, owner.email))[0]
    assert "Nothing new since our last update: we are still working on it" in first["text"]
    assert "Open: we are investigating" in first["text"] and owner.company in first["subject"]
    assert "Nothing new since our last update" in first["html"] and first["html"].startswith("<!DOCTYPE html>")

    # the operator remediates: an internal note, and one for customers
    internal, public = "Rotated the WAF rule 17 after the leak from vendor X.", "We reset the passwords concerned."
    command = ["incidents", "advance", incident.id, "--notes", internal, "--for-customers", public]
    assert ops.main(command) == 0
    carried = eventually(lambda: [m for m in updates(module_mailgun, incident.id, owner.email) if public in m["text"]])
    eventually(
        lambda: [
            m for m in updates(module_mailgun, incident.id, owner2.email) if "We remediated the cause." in m["text"]
        ]
    )
    assert public in carried[0]["html"]

    # the owners' page shows the note for customers, never the internal one
    # (the update is recorded on the incident once its emails are out: a moment after the emails arrive)
    def page_with_the_update() -> dict | None:
        found = owner.browser.get(f"/api/incidents/{incident.id}").json()
        return found if "update_sent" in [e["step"] for e in found["timeline"]] else None

    seen = eventually(page_with_the_update)
    assert [n["text"] for n in seen["notes"]] == [public] and seen["updates_sent"] >= 1
    assert internal not in json.dumps(seen)

    # reviewed and resolved: the closing update is the last message, and the loop ends
    stepfunctions.wait_for(arn, state="Review", event="TaskSubmitted", timeout=TIMEOUT)
    assert ops.main(["incidents", "advance", incident.id, "--notes", "Reviewed."]) == 0
    stepfunctions.wait_for(arn, state="Handled", timeout=TIMEOUT)  # resolved, the closing update sent
    stepfunctions.wait_for(arn, state="UpdatesDone", timeout=TIMEOUT)  # the loop ended
    time.sleep(1.5)  # longer than the interval: nothing more comes
    done = incidents.load(incident.id)
    for email in (owner.email, owner2.email):
        mine = [m for m in module_mailgun.to(email) if incident.id in m["text"]]
        assert mine[-1]["subject"].startswith(RESOLVED_SUBJECT), [m["subject"] for m in mine]
        assert len(updates(module_mailgun, incident.id, email)) == int(done.updates_sent)
        assert not [m for m in mine if internal in m["text"] or internal in m["html"]]
        assert len([m for m in mine if public in m["text"]]) == 1  # a note is news once
    # only the owners told: not the admin of the same company, not another company's owner
    recipients = {m["to"] for m in updates(module_mailgun, incident.id)}
    assert recipients == {owner.email, owner2.email}
    assert not [m for m in module_mailgun.to(other.email) if incident.id in m["text"]]
    assert done.last_update_at is not None and done.updates_sent >= 2


def test_no_updates_without_a_notice(module_mailgun, api, executions):
    """A Low incident sends no notice, so no updates: its update branch ends at once."""
    owner = sign_up(api, module_mailgun)
    me = owner.me
    signal = signals.raise_signal("login.locked", tenant_id=me["company"]["id"], user_id=me["id"], source_ip=address())
    incident, _ = incidents.detect(signal)
    arn = executions(incident, 1)
    execution = stepfunctions.wait_for(arn, state="UpdatesDone", timeout=TIMEOUT)
    assert "WaitForUpdate" not in execution.entered and not updates(module_mailgun, incident.id)


# ------------------------------------------------------------------------------------------------ the task
def test_the_update_task_sends_each_period_once_and_nothing_after_the_closing_update(module_mailgun, people, capsys):
    import incidents as functions  # functions/incidents/incidents.py, as Lambda imports it

    owner, owner2, admin, _ = people
    incident = opened(admin)
    event = {"incident_id": incident.id}
    assert functions.notify(event)["owners_notified"] == 2  # the notice

    assert functions.notify({**event, "period": 1}) == {"open": True, "period": 2}
    assert functions.notify({**event, "period": 1}) == {"open": True, "period": 2}  # redelivered: not sent again
    assert len(updates(module_mailgun, incident.id, owner.email)) == 1
    assert len(updates(module_mailgun, incident.id, owner2.email)) == 1

    assert ops.main(["incidents", "note", incident.id, "--for-customers", "The cause is found."]) == 0
    assert functions.notify({**event, "period": 2}) == {"open": True, "period": 3}
    assert functions.notify({**event, "period": 2}) == {"open": True, "period": 3}
    sent = updates(module_mailgun, incident.id, owner.email)
    assert len(sent) == 2 and "The cause is found." in sent[-1]["text"]
    stored = incidents.load(incident.id)
    assert stored.updates_sent == 2 and stored.last_update_at is not None
    capsys.readouterr()
    assert ops.main(["incidents", "show", incident.id]) == 0
    shown = capsys.readouterr().out
    assert "The cause is found." in shown and "2 regular update(s) sent" in shown

    functions.step({"step": "close", "incident_id": incident.id})  # the closing update
    assert functions.notify({**event, "period": 3}) == {"open": False, "period": 3}
    mine = [m for m in module_mailgun.to(owner.email) if incident.id in m["text"]]
    assert mine[-1]["subject"].startswith(RESOLVED_SUBJECT) and len(updates(module_mailgun, incident.id)) == 4


@pytest.mark.parametrize("period", [0, -1, "1", True, None])
def test_the_update_task_refuses_a_bad_period(period):
    import incidents as functions  # functions/incidents/incidents.py, as Lambda imports it

    with pytest.raises(ValueError):
        functions.notify({"incident_id": "inc-20260101-0123456789", "period": period})


# ------------------------------------------------------------------------------------------------ the command
@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("   ", "Write the note for customers."),
        ("x" * (incidents.MAX_CUSTOMER_NOTE + 1), "at most 1000 characters"),
        ("We fixed it.\x1b[2J", "control characters"),
        ("Bell\x07", "control characters"),
    ],
)
def test_a_bad_note_for_customers_is_refused_and_nothing_is_written(module_mailgun, api, capsys, text, said):
    owner = sign_up(api, module_mailgun)
    incident = opened(invite(owner, module_mailgun, "admin"))
    assert ops.main(["incidents", "note", incident.id, "--for-customers", text]) == 1
    assert said in capsys.readouterr().err
    stored = incidents.load(incident.id)
    assert stored.customer_notes == [] and "customer_note" not in [e["step"] for e in stored.timeline]


def test_a_note_for_customers_needs_an_open_incident(module_mailgun, api, capsys):
    assert ops.main(["incidents", "note", "inc-20260101-0123456789", "--for-customers", "Hello."]) == 1
    assert "(incident_not_found)" in capsys.readouterr().err
    owner = sign_up(api, module_mailgun)
    incident = opened(invite(owner, module_mailgun, "admin"))
    assert ops.main(["incidents", "note", incident.id, "--for-customers", "Line one.\nLine two."]) == 0
    assert incidents.load(incident.id).customer_notes[0]["text"] == "Line one.\nLine two."
    incidents.close(incident.id)
    assert ops.main(["incidents", "note", incident.id, "--for-customers", "Too late."]) == 1
    assert "(incident_resolved)" in capsys.readouterr().err
    assert ops.main(["incidents", "advance", "--task-token", "t", "--notes", "x", "--for-customers", "y"]) == 1


# ------------------------------------------------------------------------------------------------ the defaults
def test_the_workflow_input_carries_the_interval_of_the_template():
    from infra import template as tpl

    variables = tpl.load()["Resources"]["IncidentDetectFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["INCIDENT_UPDATE_SECONDS"] == "86400"  # every 24 hours
    assert settings().incident_update_seconds == 86400
    incident = incidents.Incident(id="inc-20260101-0123456789", severity="high", rule="r", notify_by=0)
    assert response.workflow_input(incident)["update_interval_seconds"] == 86400


def test_the_update_mail_escapes_what_it_is_given_and_says_when_nothing_changed():
    hostile = "<script>alert(1)</script>\n\nCall +1 555"
    rendered = mail.render(
        "security_incident_update",
        company="Acme",
        what="Stolen token",
        status="open",
        news=[hostile],
        reference="inc-20260101-0123456789",
    )
    assert "<script>" not in rendered.html and "&lt;script&gt;alert(1)&lt;/script&gt; Call +1 555" in rendered.html
    assert "\n\nCall" not in rendered.text
    quiet = mail.render("security_incident_update", company="A", what="W", status="contained", news=[], reference="r")
    assert "Nothing new since our last update" in quiet.text
    for bad in ({"status": "resolved"}, {"news": "text"}, {"news": [1]}):
        args = {"company": "A", "what": "W", "status": "open", "news": [], "reference": "r", **bad}
        with pytest.raises(ValueError):
            mail.render("security_incident_update", **args)
