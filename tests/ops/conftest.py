"""The jobs' tests run in a stack of their own (same moto, other tables): a backup scans whole tables, and the
shared tables hold everything every other test of the worker wrote. Every module here asks for ``own_cloud``
(``tests.conftest``); ``api`` and ``webhooks`` call into it."""

from __future__ import annotations

import jobs
import pytest
from protu.settings import settings

from infra.streams import StreamPump


@pytest.fixture(scope="module", autouse=True)
def in_own_cloud(own_cloud):
    """Every test of tests/ops runs in its module's ``own_cloud``, whether or not it asks for it."""
    return own_cloud


@pytest.fixture(scope="module")
def mirror(own_cloud):
    """The audit table's stream into the mirror, as its event source mapping feeds it: the digest job signs only
    events whose Object-Lock copies the mirror has written."""
    return StreamPump(settings().audit_table, jobs.mirror_audit)


@pytest.fixture
def hourly(mirror):
    """The hourly digest job, run after the mirror caught up (as it does within seconds in the cloud)."""

    def run() -> dict:
        mirror.pump()
        return jobs.audit_digests({}, None)

    return run
