"""The jobs' tests run in a stack of their own (same moto, other tables): a backup scans whole tables, and the
shared tables hold everything every other test of the worker wrote."""

from __future__ import annotations

import pytest

from tests.conftest import Client, own_stack


@pytest.fixture(scope="module")
def cloud(cloud):
    """This module's own stack (``tests.conftest.own_stack``)."""
    with own_stack() as own:
        yield own


@pytest.fixture(scope="module")
def api(cloud):
    """The API function over this module's stack (as ``tests.conftest.api``)."""
    import api as api_module

    from infra.queues import mail_pump

    return Client(api_module.app, after=mail_pump().pump)


@pytest.fixture(scope="module")
def webhooks(cloud):
    """The webhooks function over this module's stack (as ``tests.conftest.webhooks``)."""
    import webhooks as webhooks_module

    return Client(webhooks_module.app)
