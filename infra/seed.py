"""Demo data for ``make run``: what a newcomer needs to see every capability that exists.

A demo company with an Owner and an Admin who can sign in at once (email verified, no two-factor yet), created
through the same identity records and audited transaction as a real sign-up. Seeding is idempotent (a fixed demo
tenant; people who already exist are left as they are) and returns the lines ``make run`` prints.

The demo password is printed and documented on purpose: it exists only in the throwaway local cloud of one
``make run``, never in a deployed stage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DEMO_TENANT = "demo-company"
DEMO_COMPANY = "Demo Company"
DEMO_PASSWORD = "lantern harbour quietly 42"  # noqa: S105 - the throwaway local cloud only, printed on purpose
DEMO_PEOPLE = (
    ("owner", "Olivia Owner", "owner@demo.protu.test"),
    ("admin", "Adam Admin", "admin@demo.protu.test"),
)


def seed(cloud: Any) -> list[str]:
    from protu import crypto, errors
    from protu.identity import accounts

    version = crypto.ensure_tenant_key(DEMO_TENANT)
    try:
        accounts.get_company(DEMO_TENANT)
    except errors.NotFound:  # a fresh cloud
        add_company(DEMO_TENANT, DEMO_COMPANY, DEMO_PEOPLE, DEMO_PASSWORD)
    lines = [f"Demo company: {DEMO_COMPANY} ({DEMO_TENANT}, tenant key v{version})"]
    for role, _, email in DEMO_PEOPLE:
        lines.append(f"  {role.capitalize():<6} {email}  password: {DEMO_PASSWORD}")
    return lines


def add_company(tenant_id: str, company_name: str, people: Iterable[tuple[str, str, str]], password: str) -> list[Any]:
    """A company and its people (``(role, name, email)``, the first one its owner), emails verified, all with
    ``password``, written in one transaction with one ``system.seed`` audit event about the owner. Answers the
    users in the order given. For the demo and for tests that need people who can sign in at once."""
    from protu.identity import accounts, passwords
    from protu.store.tx import Transaction

    password_hash = passwords.hash_password(password)
    (_, owner_name, owner_email), *others = people
    company, owner = accounts.new_company(
        tenant_id, company_name, owner_name, owner_email, password_hash, email_verified=True
    )
    users = [owner] + [
        accounts.new_member(company, name, email, role, password_hash, email_verified=True)
        for role, name, email in others
    ]
    with Transaction(tenant_id, actor="system") as tx:
        accounts.save_member(tx, company, owner)
        for user in users[1:]:
            accounts.save_member(tx, None, user)
        tx.audit("system.seed", f"user:{owner.id}", details={"roles": [user.role for user in users]})
    return users
