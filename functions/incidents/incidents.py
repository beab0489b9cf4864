"""Incident response: the detector (DynamoDB Streams of the data table: new security signals) and the tasks of
the workflow ``statemachines/incident.asl.json``. Thin: each parses its input and calls ``protu.security``.

Every task receives ``{"incident_id": ..., ...}``; an exception fails the task, and the state machine's Retry and
Catch decide what follows (the incident is never lost: a failed step is recorded and the workflow goes on).
"""

from __future__ import annotations

import json
from typing import Any

from protu import metrics
from protu.observability import init_sentry

init_sentry("incidents")


@metrics.handler("incidents")
def detect(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """New security signals -> incidents (``protu.security.incidents.RULES``); a new incident starts its
    workflow. Raising makes Lambda redeliver the batch (a signal joins its incident once: it is known by its id)."""
    # cold start: loaded on first use
    from protu.security import incidents, response

    opened, joined = [], 0
    for signal in signals_in(event.get("Records") or []):
        incident, new = incidents.detect(signal)
        if incident is None:
            continue
        if new:
            response.start_workflow(incident)
            opened.append(incident.id)
        else:
            joined += 1
    return {"opened": opened, "joined": joined}


def signals_in(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The signal documents of a stream batch's INSERTs (other records are ignored)."""
    # cold start: loaded on first use
    from boto3.dynamodb.types import TypeDeserializer
    from protu.security.signals import RECORD_TYPE

    read = TypeDeserializer()
    found = []
    for record in records:
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        if record.get("eventName") != "INSERT" or image.get("record_type", {}).get("S") != RECORD_TYPE:
            continue
        values = {name: read.deserialize(value) for name, value in image.items() if name != "details"}
        details = image.get("details", {}).get("S")
        values["details"] = json.loads(details) if details else {}
        found.append(values)
    return found


def _incident(event: dict[str, Any]) -> str:
    incident_id = (event or {}).get("incident_id")
    if not isinstance(incident_id, str) or not incident_id.startswith("inc-"):
        raise ValueError("the task's input names no incident")
    return incident_id


@metrics.handler("incidents")
def contain(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # cold start: loaded on first use
    from protu.security import response

    return response.contain(_incident(event))


@metrics.handler("incidents")
def assess(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    # cold start: loaded on first use
    from protu.security import response

    return response.assess(_incident(event))


@metrics.handler("incidents")
def notify(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The owners' mail: the notice, or with ``period`` (the workflow's update loop) the regular update."""
    # cold start: loaded on first use
    from protu.security import response

    incident_id = _incident(event)
    if "period" not in event:
        return response.notify(incident_id)
    period = event["period"]
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError("the update's period is a whole number from 1")
    return response.send_update(incident_id, period)


@metrics.handler("incidents")
def step(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The workflow's bookkeeping, by ``step``: alert, check_notice, escalate, wait (an operator's step, with the
    task token), note (the operator's notes), record_failure (with the caught error), close."""
    # cold start: loaded on first use
    from protu.security import response

    incident_id = _incident(event)
    name = event.get("step")
    if name == "alert":
        return response.alert(incident_id, reason=str(event.get("reason") or ""))
    if name == "check_notice":
        return response.check_notice(incident_id)
    if name == "escalate":
        return response.escalate(incident_id)
    if name == "wait":
        return response.wait(incident_id, str(event["operator_step"]), str(event["token"]))
    if name == "note":
        notes = (event.get("result") or {}).get("notes", "")
        return response.note(incident_id, str(event["operator_step"]), str(notes))
    if name == "record_failure":
        return response.record_failure(incident_id, str(event.get("failed_step")), event.get("error"))
    if name == "close":
        return response.close(incident_id)
    raise ValueError(f"unknown incident step {name!r}")
