"""Roles and permissions: one table.

Owner has every permission. Admin manages the company's people data (roles, teams, employees, candidates,
assessments) and nothing of billing, settings, users or the audit log. ``self`` is what any signed-in user may do
to their own account (profile, password, two-factor, sessions).
"""

from __future__ import annotations

OWNER, ADMIN = "owner", "admin"
ROLES = (OWNER, ADMIN)

PERMISSIONS = frozenset(
    {
        "self",
        "roles",
        "teams",
        "employees",
        "candidates",
        "assessments",
        "billing",
        "settings",
        "users",
        "audit",
        "incidents",
        "exports",
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    OWNER: PERMISSIONS,
    ADMIN: frozenset({"self", "roles", "teams", "employees", "candidates", "assessments"}),
}


def allows(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
