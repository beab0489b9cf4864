"""The incidents that concern the caller's company: ``/api/incidents`` (permission ``incidents``: owners).

Owners see what ``protu.security.response.sync_company_view`` keeps for their company: title, severity, status,
times, the timeline and their own part of the scope. Other companies' parts never reach them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec

from protu import errors
from protu.http.routing import Call, Router
from protu.store.base import tenant_pk

if TYPE_CHECKING:  # imported where used: the API's cold start does not pay for the incident rules
    from protu.security.incidents import CompanyIncident

router = Router("incidents")
INCIDENT_ID = re.compile(r"inc-[0-9]{8}-[0-9a-f]{10}")


class TimelineEntry(msgspec.Struct):
    at: int
    step: str
    note: str


class IncidentOut(msgspec.Struct):
    id: str
    title: str
    severity: str
    status: str
    detected_at: int
    contained_at: int | None
    notified_at: int | None
    resolved_at: int | None
    timeline: list[TimelineEntry]
    affected: dict[str, Any]


class IncidentsOut(msgspec.Struct):
    items: list[IncidentOut]


def _out(item: CompanyIncident) -> IncidentOut:
    return msgspec.convert(item.view, IncidentOut)


@router.get("/api/incidents", permission="incidents", response=IncidentsOut)
def list_incidents(call: Call) -> IncidentsOut:
    """Security incidents that concern your company, newest first."""
    from protu.security.incidents import INDEX, CompanyIncident

    found = CompanyIncident.query(tenant_pk(call.principal.tenant_id, INDEX), consistent_read=True, limit=200)
    items = sorted(found, key=lambda item: -int(item.detected_at))
    return IncidentsOut([_out(item) for item in items])


@router.get("/api/incidents/{id}", permission="incidents", response=IncidentOut)
def read_incident(call: Call) -> IncidentOut:
    """One incident: its status, timeline and what of your company it concerned."""
    from protu.security.incidents import CompanyIncident

    incident_id = call.params["id"]
    if not INCIDENT_ID.fullmatch(incident_id):
        raise errors.NotFound("No such incident.")
    try:
        item = CompanyIncident.get(*CompanyIncident.key(call.principal.tenant_id, incident_id), consistent_read=True)
    except CompanyIncident.DoesNotExist:
        raise errors.NotFound("No such incident.") from None
    return _out(item)
