"""Every live company, without scanning the data table: the sparse index ``models.EveryCompany`` (``gsi1``,
``COMPANIES`` / ``<company id>``) on the company item itself. It is written with the company
(``accounts.new_company``) and removed in the transaction that starts its erasure (``ops.erasure.start``), so an
erased company is never in it. ``index_missing`` (``protu-ops reindex``) adds companies created before the index
existed: a one-off scan of company items, like the directory's reindex.
"""

from __future__ import annotations

from collections.abc import Iterator

from protu.identity.models import COMPANIES, Company
from protu.store.base import tenant_pk
from protu.store.items import DataItem

PAGE = 100


def every_company() -> Iterator[Company]:
    """Each live company, in id order, read a page of ``PAGE`` at a time (eventually consistent: a company created
    a moment ago may show a moment later)."""
    return Company.every.query(COMPANIES, page_size=PAGE)


def index_missing() -> int:
    """Put companies created before the index into it (skipping those whose erasure has started); answers how many."""
    added = 0
    for company in Company.scan(Company.sk == "COMPANY", page_size=PAGE):
        if company.gsi1pk or not company.pk.startswith("T#"):
            continue
        erasing = DataItem.query(
            tenant_pk(company.id, "REQUESTS"), DataItem.sk.startswith("ERASURE#"), limit=1, consistent_read=True
        )
        if next(iter(erasing), None) is not None:
            continue
        company.update(
            actions=[Company.gsi1pk.set(COMPANIES), Company.gsi1sk.set(company.id)], condition=Company.pk.exists()
        )
        added += 1
    return added
