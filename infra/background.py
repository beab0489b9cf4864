"""What the cloud runs on its own, run locally on a thread: DynamoDB stream consumers (the audit mirror; audit
streams to SIEMs and their retries; a company's export and erasure requests; security signals into incident
workflows), the mail queue's retries, and the copies to the DR region (``infra.replication``).

In the cloud these are event source mappings in ``template.yaml``; here one loop reads each stream and calls the
same handler with the same event shape.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from protu.logging import get_logger

log = get_logger(__name__)
RETRY_SECONDS = 30.0  # audit-stream retries whose backoff has passed (the cloud's schedule: every 5 minutes)


class Background:
    def __init__(self, cloud: Any, interval: float = 1.0) -> None:
        from infra.queues import mail_pump
        from infra.server import load_functions
        from infra.streams import pumps

        load_functions()
        import jobs

        # Every DynamoDB event source of the template, read as its mapping reads it (start, retries, bisection,
        # record age, on-failure queue); the mail queue: the server runs each request's mail jobs at once, this
        # retries what failed.
        self._pumps = [*pumps(cloud), mail_pump()]
        if cloud.dr_region:  # what S3 replication and the key table's global replica copy to the DR region
            from infra.replication import Replication

            self._pumps.append(Replication(cloud))
        self._interval = interval
        self._retry = jobs.audit_stream_retry  # the template's 5-minute schedule, run every RETRY_SECONDS here
        self._retried_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-background", daemon=True)

    def start(self) -> Background:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_once(self) -> int:
        done = sum(pump.pump() for pump in self._pumps)
        if time.monotonic() - self._retried_at >= RETRY_SECONDS:
            self._retried_at = time.monotonic()
            self._retry({}, None)
        return done

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - keep the local cloud alive; the error is logged
                log.exception("background work failed")
