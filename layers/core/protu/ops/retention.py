"""The daily retention job: remove what the product promises not to keep, and nothing else.

* **Expired items** of the data table: every item with a TTL attribute (``expires_at``) in the past by more than
  ``GRACE_SECONDS`` — sessions, sign-in and invitation tokens, magic links, rate-limit counters, signals, webhook
  markers, access-hour marks, invitation indexes and refusals. DynamoDB's TTL removes them within about two days;
  this job removes what it has not yet and reports how much that was, by kind.
* **Candidates past retention**: a company keeps a candidate for ``candidate_retention_months`` (a setting,
  default 24) after their last change. Each is erased as an owner's erasure does (``protu.directory.service.erase``:
  their personal key first, then their responses and their record, each step audited in the company's log with
  the actor ``system:retention``), acting for the company through its tenant session.
* **Never**: the audit table (events are kept 7 years, by its own TTL and the Object-Lock bucket), the key table,
  anything without an expiry.

``dry_run`` reports without deleting. Bounded: it works in scan pages and stops at ``deadline``; the next run goes
on (what is left is still expired). Idempotent: a re-run finds nothing more to do.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from protu import aws, errors
from protu.audit import context
from protu.logging import get_logger
from protu.ops.backup import pages
from protu.principal import Principal
from protu.settings import settings

GRACE_SECONDS = 3600
ACTOR = "system:retention"
MONTH_SECONDS = 30.44 * 86400
log = get_logger(__name__)


def kind_of(pk: str) -> str:
    """What an item is, from its partition key, for the report."""
    for prefix, kind in (
        ("TOKEN#", "tokens"),
        ("RL#", "rate_limit_counters"),
        ("SIGNALS#", "signals"),
        ("MAILGUN#", "mail_records"),
        ("STRIPE#", "stripe_markers"),
        ("SUPPRESS#", "suppressions"),
        ("EMAIL#", "sign_in_index"),
        ("INVITED#", "invitation_index"),
        ("NOINVITE#", "invitation_refusals"),
        ("MAINTENANCE#", "maintenance_notices"),
    ):
        if pk.startswith(prefix):
            return kind
    if pk.endswith("#SESSIONS"):
        return "sessions"
    if pk.endswith("#SIGNALS"):
        return "signals"
    if pk.endswith("#ACCESS_HOURS"):
        return "access_hours"
    if pk.endswith("#REQUESTS"):
        return "export_requests"
    return "other"


def run(*, now: float | None = None, dry_run: bool = False, deadline: float | None = None) -> dict[str, Any]:
    started = time.monotonic()
    now = time.time() if now is None else now
    client = aws.client("dynamodb")
    table = settings().data_table
    expired: Counter[str] = Counter()
    candidates: Counter[str] = Counter()
    past: list[tuple[str, str]] = []
    retention = _retention_months()
    complete = True
    for page in pages(table, ProjectionExpression="pk, sk, expires_at, updated_at"):
        if deadline is not None and time.monotonic() > deadline:
            complete = False
            break
        doomed = []
        for item in page:
            pk = item["pk"]["S"]
            expires = item.get("expires_at", {}).get("N")
            if expires is not None and float(expires) < now - GRACE_SECONDS:
                expired[kind_of(pk)] += 1
                doomed.append({"pk": item["pk"], "sk": item["sk"]})
            elif pk.endswith("#CAND") and "updated_at" in item:
                company = pk.split("#", 2)[1]
                months = retention.get(company, 24)
                if float(item["updated_at"]["N"]) < now - months * MONTH_SECONDS:
                    candidates[company] += 1
                    past.append((company, item["sk"]["S"]))
        if doomed and not dry_run:
            _delete(client, table, doomed)
    erased: Counter[str] = Counter()
    if not dry_run:
        for company, candidate_id in past:
            if deadline is not None and time.monotonic() > deadline:
                complete = False
                break
            if _erase_candidate(company, candidate_id):
                erased[company] += 1
    summary = {
        "dry_run": dry_run,
        "complete": complete,
        "expired_removed" if not dry_run else "expired_found": dict(sorted(expired.items())),
        "candidates_past_retention": dict(sorted(candidates.items())),
        "candidates_erased": dict(sorted(erased.items())),
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("retention done", extra=summary)
    return summary


def _erase_candidate(company: str, candidate_id: str) -> bool:
    """Erase one candidate for their company (its tenant session); False when they could not be (logged)."""
    # cold start: loaded on first use
    from protu.directory import kinds, service
    from protu.store import scope

    with scope.acting_for(company), context.bound(actor=ACTOR):
        try:
            service.erase(Principal.system(company, ACTOR), kinds.CANDIDATES, candidate_id)
        except errors.NotFound:
            return False  # erased meanwhile
        except errors.ProtuError as error:
            log.warning("candidate not erased", extra={"tenant": company, "code": error.code})
            return False
    return True


def _retention_months() -> dict[str, int]:
    """Each company's candidate retention (months), from the company items."""
    found: dict[str, int] = {}
    companies = pages(
        settings().data_table,
        FilterExpression="sk = :company",
        ExpressionAttributeValues={":company": {"S": "COMPANY"}},
        ProjectionExpression="pk, candidate_retention_months",
    )
    for page in companies:
        for item in page:
            months = item.get("candidate_retention_months", {}).get("N")
            found[item["pk"]["S"].split("#", 2)[1]] = int(float(months)) if months else 24
    return found


def _delete(client: Any, table: str, keys: list[dict]) -> None:
    for begin in range(0, len(keys), 25):
        pending = {table: [{"DeleteRequest": {"Key": key}} for key in keys[begin : begin + 25]]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
