"""Audit streams: every new audit event of a company, delivered to the company's SIEM (issue 17).

An owner adds an HTTPS endpoint (``POST /api/audit-streams``, recent sign-in required, every owner emailed); from then
on each event the company's chain gets is POSTed to it, signed as the Standard Webhooks specification signs
(``webhook-id`` ``<company>:<seq>``, stable across retries; ``webhook-timestamp``; ``webhook-signature``, HMAC-SHA256
under a per-endpoint secret ``whsec_...`` shown once), at least once and in order: an endpoint stops at the first
event it does not accept and retries it with backoff; after 24 hours of failing it is ``failed``, its owners are
told, and an owner resumes it from where it stopped.

* ``model``     the endpoint item (``T#<company>#AUDITSTREAMS`` / ``STREAM#<id>``), its due index, the clock;
* ``urls``      which addresses an endpoint may have, and which addresses a delivery may connect to (SSRF);
* ``transport`` one signed POST, connected only to the global addresses checked at connection time;
* ``endpoints`` what owners do (create, list, delete, rotate the secret, resume, test);
* ``delivery``  the jobs: the audit table's stream (``jobs.audit_stream``) and the retry schedule
  (``jobs.audit_stream_retry``).

Nothing here runs inside the audit write: the stream job reads the committed chain, so an endpoint that is down
never blocks nor loses an audit event.
"""
