"""The jobs' tests run in a stack of their own (same moto, other tables): a backup scans whole tables, and the
shared tables hold everything every other test of the worker wrote. Every module here asks for ``own_cloud``
(``tests.conftest``); ``api`` and ``webhooks`` call into it."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def in_own_cloud(own_cloud):
    """Every test of tests/ops runs in its module's ``own_cloud``, whether or not it asks for it."""
    return own_cloud
