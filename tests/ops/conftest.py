"""The jobs' tests run in a stack of their own (same moto, other tables): a backup scans whole tables, and the
shared tables hold everything every other test of the worker wrote."""

from __future__ import annotations

import pytest

from tests.conftest import own_stack


@pytest.fixture(scope="module")
def cloud(cloud):
    """This module's own stack (``tests.conftest.own_stack``)."""
    with own_stack() as own:
        yield own
