"""The incidents that concern the caller's company: ``/api/incidents`` (permission ``incidents``: owners).

Owners see what ``protu.security.response.sync_company_view`` keeps for their company: title, severity, status,
times, the timeline, their own part of the scope, the security team's notes for customers and the regular updates
sent. Other companies' parts and the operators' internal notes never reach them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from protu import errors
from protu.http.routing import Call, Router

if TYPE_CHECKING:  # imported where used: the API's cold start does not pay for the incident rules
    from protu.security.incidents import CompanyIncident

router = Router("incidents")


class TimelineEntry(msgspec.Struct):
    at: int
    step: str
    note: str


class CustomerNote(msgspec.Struct):
    at: int
    text: str


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
    notes: list[CustomerNote] = []  # the security team's notes for customers, oldest first
    updates_sent: int = 0  # the regular updates emailed to the owners told
    last_update_at: int | None = None


class IncidentsOut(msgspec.Struct):
    items: list[IncidentOut]


def _out(item: CompanyIncident) -> IncidentOut:
    return msgspec.convert(item.view, IncidentOut)


@router.get("/api/incidents", permission="incidents", response=IncidentsOut)
def list_incidents(call: Call) -> IncidentsOut:
    """Security incidents that concern your company, newest first."""
    from protu.security import incidents  # imported where used: cold start

    return IncidentsOut([_out(item) for item in incidents.company_incidents(call.principal.tenant_id)])


@router.get("/api/incidents/{id}", permission="incidents", response=IncidentOut)
def read_incident(call: Call) -> IncidentOut:
    """One incident: its status, timeline and what of your company it concerned."""
    from protu.security import incidents  # imported where used: cold start

    item = incidents.company_incident(call.principal.tenant_id, call.params["id"])
    if item is None:
        raise errors.NotFound("No such incident.")
    return _out(item)
