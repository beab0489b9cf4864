"""Typed settings read from environment variables.

The names are the ones ``template.yaml`` gives the functions (Globals and each function's Environment), so the
cloud, the local server and the tests configure the code the same way. Read once per process (a registered cache,
``protu.caches``); ``reload()`` is for processes that change their environment on purpose (the local cloud after
provisioning).
"""

from __future__ import annotations

import json
import os
from functools import cache

import msgspec

from protu import caches


class Settings(msgspec.Struct, frozen=True):
    region: str
    stage: str
    data_table: str
    audit_table: str
    key_table: str
    audit_bucket: str
    backup_bucket: str
    kms_key_id: str
    signing_secret_id: str
    app_origin: str
    sentry_dsn: str
    sentry_environment: str
    log_level: str
    max_body_bytes: int
    key_cache_seconds: int
    key_rotation_days: int  # a company's data key older than this is rotated (protu.ops.key_rotation)
    mailgun_api_base: str
    mailgun_domain: str
    mail_from: str
    mailgun_secret_id: str
    tenant_role_arn: str
    stripe_secret_id: str
    stripe_api_base: str
    incident_state_machine: str
    incident_update_seconds: int  # an open incident's regular update to the owners told (the workflow's input)
    mail_queue_url: str
    oncall_topic: str
    audit_signing_key_id: str  # the asymmetric KMS key of the audit digests (protu.audit.digests)
    audit_digest_function: str  # the only function that signs digests (protu.ops.audit_exports asks it for one)
    stripe_prices: dict[str, str]  # plan -> Stripe price id (protu.billing.plans)
    # stream source -> the SQS queue its failed batches go to (template.yaml; protu-ops redrive, infra/redrive.py)
    failure_queues: dict[str, str]
    # The disaster-recovery region (template.yaml's DrRegion; empty when none) and the backups' copy there
    # (BackupReplicaBucket): what the DR drill restores from (protu.ops.dr_drill).
    dr_region: str = ""
    dr_backup_bucket: str = ""
    # Local only, never in template.yaml: the local server's origin (http://127.0.0.1:<port>), to which audit streams
    # may deliver (its /_local/siem/ receiver) when the stage is local. Empty everywhere else.
    audit_streams_local_origin: str = ""
    # The DNS servers that verify company domains for single sign-on (protu.identity.domains), "host:port" comma
    # separated; empty: the system's resolver. Locally, infra/dns_local.py's stand-in nameserver.
    dns_nameservers: str = ""

    @property
    def is_local(self) -> bool:
        return self.stage == "local"


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _names(name: str) -> dict[str, str]:
    """A JSON object of names to strings (``{}`` when unset); anything else is a deploy error, said at once."""
    found = json.loads(_env(name) or "{}")
    if not isinstance(found, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
        raise ValueError(f"{name} is a JSON object of names to strings")
    return found


@caches.register
@cache
def settings() -> Settings:
    return Settings(
        region=_env("AWS_REGION", _env("AWS_DEFAULT_REGION", "eu-central-1")),
        stage=_env("PROTU_STAGE", "local"),
        data_table=_env("DATA_TABLE", "protu-data"),
        audit_table=_env("AUDIT_TABLE", "protu-audit"),
        key_table=_env("KEY_TABLE", "protu-keys"),
        audit_bucket=_env("AUDIT_BUCKET", "protu-audit"),
        backup_bucket=_env("BACKUP_BUCKET", "protu-backups"),
        kms_key_id=_env("KMS_KEY_ID", "alias/protu-data"),
        signing_secret_id=_env("SIGNING_SECRET_ID", "protu/signing-keys"),
        app_origin=_env("APP_ORIGIN", "http://localhost:8000").rstrip("/"),
        sentry_dsn=_env("SENTRY_DSN"),
        sentry_environment=_env("SENTRY_ENVIRONMENT", _env("PROTU_STAGE", "local")),
        log_level=_env("LOG_LEVEL", "INFO").upper(),
        max_body_bytes=int(_env("MAX_BODY_BYTES", "65536")),
        key_cache_seconds=int(_env("KEY_CACHE_SECONDS", "300")),
        key_rotation_days=int(_env("KEY_ROTATION_DAYS", "365")),
        mailgun_api_base=_env("MAILGUN_API_BASE", "https://api.eu.mailgun.net/v3").rstrip("/"),
        mailgun_domain=_env("MAILGUN_DOMAIN", "mg.protu.io"),
        mail_from=_env("MAIL_FROM", "Protu <no-reply@mg.protu.io>"),
        mailgun_secret_id=_env("MAILGUN_SECRET_ID", "protu/mailgun-keys"),
        tenant_role_arn=_env("TENANT_ROLE_ARN"),
        stripe_secret_id=_env("STRIPE_SECRET_ID", "protu/stripe-keys"),
        stripe_api_base=_env("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/"),
        incident_state_machine=_env("INCIDENT_STATE_MACHINE"),
        incident_update_seconds=int(_env("INCIDENT_UPDATE_SECONDS", "86400")),
        mail_queue_url=_env("MAIL_QUEUE_URL"),
        oncall_topic=_env("ONCALL_TOPIC_ARN"),
        audit_signing_key_id=_env("AUDIT_SIGNING_KEY_ID"),
        audit_digest_function=_env("AUDIT_DIGEST_FUNCTION"),
        stripe_prices={
            "team": _env("STRIPE_PRICE_TEAM", "price_team_monthly"),
            "business": _env("STRIPE_PRICE_BUSINESS", "price_business_monthly"),
        },
        failure_queues=_names("FAILURE_QUEUES"),
        dr_region=_env("DR_REGION"),
        dr_backup_bucket=_env("DR_BACKUP_BUCKET"),
        audit_streams_local_origin=_env("AUDIT_STREAMS_LOCAL_ORIGIN").rstrip("/"),
        dns_nameservers=_env("DNS_NAMESERVERS"),
    )


def reload() -> Settings:
    """Forget every per-process cache (``protu.caches``: the settings, the clients and credentials built from them,
    the keys read with them) and read the settings again: after the environment changed on purpose."""
    caches.reset()
    return settings()
