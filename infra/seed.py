"""Demo data for ``make run``: what a newcomer needs to see every capability that exists.

Seeding is idempotent (a fixed demo tenant), and returns the lines ``make run`` prints (credentials, ids).
"""

from __future__ import annotations

from typing import Any

DEMO_TENANT = "demo-company"


def seed(cloud: Any) -> list[str]:
    from protu import audit, crypto

    version = crypto.ensure_tenant_key(DEMO_TENANT)
    audit.record(DEMO_TENANT, "system.seed", target=f"tenant:{DEMO_TENANT}", actor="system", outcome="success")
    return [f"Demo company: {DEMO_TENANT} (tenant key v{version}, audit chain started)"]
