"""An erased company's audit streams go with it (issue 17): its key is destroyed at once, so no run can open an
endpoint's secret any more (the stream job leaves them alone without failing), and the erasure job deletes them
with the company's other partitions."""

from __future__ import annotations

import jobs
from protu.ops.audit_streams.model import PARTITION, AuditStream
from protu.settings import settings

from infra.streams import StreamPump
from tests.api.people import sign_up


def test_an_erased_companys_streams_are_deleted_and_the_stream_job_does_not_fail_meanwhile(api, mailgun):
    requests = StreamPump(settings().data_table, jobs.company_requests, starting_position="LATEST")
    streams = StreamPump(settings().audit_table, jobs.audit_stream, starting_position="LATEST")
    owner = sign_up(api, mailgun)
    tenant = owner.me["company"]["id"]
    created = owner.browser.post("/api/audit-streams", {"url": "https://siem.example.test/in"})
    assert created.status == 201, created.body

    erase = {"confirmation": owner.company, "password": owner.password}
    assert owner.browser.post("/api/company/erase", erase).status == 202
    streams.pump()  # the erasure's events: the endpoint's secret no longer opens, and that is no failure of the job
    requests.pump()  # the erasure job deletes every partition of the company
    streams.pump()
    assert list(AuditStream.query(f"T#{tenant}#{PARTITION}")) == []
    assert list(AuditStream.gsi1.query("AUDITSTREAM#DUE")) == []
