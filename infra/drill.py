"""``protu-ops dr-drill``: the disaster-recovery drill (``protu.ops.dr_drill``) with an operator's proof on top.

After the restore in the DR region, a second API (the API function, in this process, called through
``infra.gateway`` exactly as API Gateway calls it) runs with its settings pointed at the drill's tables, the key
table's replica and the keys' replicas; the drill signs in there over HTTP as a company's owner (the demo owner of
``make run`` by default) and lists the company's candidates: their sealed notes must come back opened. Only counts
are kept (no personal data in the output or the result file).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infra.seed import DEMO_PASSWORD, DEMO_PEOPLE

DEMO_OWNER = DEMO_PEOPLE[0][2]
__all__ = ["DEMO_OWNER", "DEMO_PASSWORD", "api_check"]
AGENT = "protu-ops dr-drill"


def api_check(email: str, password: str) -> Callable[[], dict[str, Any]]:
    """The read-back through a second API, to run inside ``dr_drill.in_dr``."""

    def check() -> dict[str, Any]:
        from infra import gateway
        from infra.server import load_functions

        app = load_functions()["/api"]
        headers = {"User-Agent": AGENT, "Content-Type": "application/json"}
        body = json.dumps({"email": email, "password": password})
        login = gateway.invoke(app, "POST", "/api/auth/login", headers=headers, body=body, source_ip="127.0.0.1")
        token = (login.json() or {}).get("access_token") if login.body else None
        if login.status != 200 or not token:
            return {"signed_in": False, "problems": [f"the owner's sign-in to the DR API answered {login.status}"]}
        headers = {"User-Agent": AGENT, "Authorization": f"Bearer {token}"}
        listing = gateway.invoke(app, "GET", "/api/candidates?limit=100", headers=headers, source_ip="127.0.0.1")
        if listing.status != 200:
            return {"signed_in": True, "problems": [f"the DR API's candidate list answered {listing.status}"]}
        records = listing.json().get("items", [])
        sealed = sum(1 for record in records if record.get("notes"))
        problems = [] if sealed else ["no sealed field was read back through the DR API"]
        return {"signed_in": True, "records": len(records), "sealed_read": sealed, "problems": problems}

    return check
