"""Demo data for ``make run``: what a newcomer needs to see every capability that exists.

A demo company with an Owner and an Admin who can sign in at once (email verified, no two-factor yet), created
through the same identity records and audited transaction as a real sign-up. Seeding is idempotent (a fixed demo
tenant; people who already exist are left as they are) and returns the lines ``make run`` prints.

The demo password is printed and documented on purpose: it exists only in the throwaway local cloud of one
``make run``, never in a deployed stage.
"""

from __future__ import annotations

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
    from protu.identity import accounts, passwords
    from protu.store.tx import Transaction

    version = crypto.ensure_tenant_key(DEMO_TENANT)
    password_hash = passwords.hash_password(DEMO_PASSWORD)
    try:
        company = accounts.get_company(DEMO_TENANT)
    except errors.NotFound:
        company = None  # a fresh cloud: the first person below creates it
    lines = [f"Demo company: {DEMO_COMPANY} ({DEMO_TENANT}, tenant key v{version})"]
    for role, name, email in DEMO_PEOPLE:
        if accounts.find_account(email) is None:
            if company is None:
                company, user = accounts.new_company(
                    DEMO_TENANT, DEMO_COMPANY, name, email, password_hash, email_verified=True
                )
                new_company = company
            else:
                user = accounts.new_member(company, name, email, role, password_hash, email_verified=True)
                new_company = None
            with Transaction(DEMO_TENANT, actor="system") as tx:
                accounts.save_member(tx, new_company, user)
                tx.audit("system.seed", f"user:{user.id}", details={"role": role})
        lines.append(f"  {role.capitalize():<6} {email}  password: {DEMO_PASSWORD}")
    return lines
