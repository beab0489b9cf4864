"""Module-scoped people for API tests that share accounts across a module (each account costs several writes),
their mail caught by ``module_mailgun`` (``tests.conftest``): ``owner`` (a company's owner, signed in), ``admin``
(invited by that owner, signed in) and ``stranger`` (the owner of another company)."""

from __future__ import annotations

import pytest

from tests.api.people import invite, sign_up


@pytest.fixture(scope="module")
def owner(api, module_mailgun):
    return sign_up(api, module_mailgun)


@pytest.fixture(scope="module")
def admin(owner, module_mailgun):
    return invite(owner, module_mailgun, "admin")


@pytest.fixture(scope="module")
def stranger(api, module_mailgun):
    return sign_up(api, module_mailgun)
