"""Module-scoped people for API tests that share accounts across a module (each account costs several writes):
``mail`` (Mailgun captured for the module), ``owner`` (a company's owner, signed in), ``admin`` (invited by that
owner, signed in) and ``stranger`` (the owner of another company)."""

from __future__ import annotations

import pytest

from tests.api.people import invite, sign_up
from tests.conftest import capture_mailgun


@pytest.fixture(scope="module")
def mail(cloud):
    with capture_mailgun() as capture:
        yield capture


@pytest.fixture(scope="module")
def owner(api, mail):
    return sign_up(api, mail)


@pytest.fixture(scope="module")
def admin(owner, mail):
    return invite(owner, mail, "admin")


@pytest.fixture(scope="module")
def stranger(api, mail):
    return sign_up(api, mail)
