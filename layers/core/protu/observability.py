"""Error reporting to Sentry, with nothing secret in what leaves the process.

``init_sentry()`` is a no-op without ``SENTRY_DSN`` and then never imports ``sentry_sdk`` (cold start: the SDK and
its integrations cost import time that a function without Sentry should not pay).

What Sentry is told, and why:

* ``send_default_pii`` left at its default (off; sentry-sdk 2.7x deprecates passing it, and its replacement,
  ``data_collection``, would switch off the SDK's own ``EventScrubber``, which we keep as a second layer) and
  ``max_request_body_size="never"``: integrations attach no bodies, cookies, IPs or user data.
* ``include_local_variables=False``: frame locals hold passwords, tokens and decrypted answers by nature. (Should
  someone turn them on, ``before_send`` still redacts ``vars`` like any other part of the event.)
* ``before_send`` / ``before_send_transaction`` / ``before_send_log``: drop ``request.data`` and ``request.cookies``,
  drop secret-named headers, scrub the query string, drop ``logentry.params`` (the raw logging arguments; the
  scrubbed ``formatted`` message stays), then pass the whole event through ``protu.logging.redact`` — extra,
  contexts, tags, breadcrumbs, exception values, stack frames, messages: every key judged by its name, every
  string scrubbed of recognisable secrets. ``before_breadcrumb`` does the same to each breadcrumb as it is made.
* ``integrations``: the SDK's defaults (logging, threading, the standard library...) and, by name, the two the
  functions' libraries call for (``INTEGRATIONS``: Chalice and botocore); ``auto_enabling_integrations=False``, so
  the SDK does not try to import ~40 integrations for libraries Lambda never runs, and the built layer ships only
  the integrations these need (``infra/build.py`` keeps what ``init_sentry`` loads).
"""

from __future__ import annotations

import os
from typing import Any

from protu.logging import is_secret_key, redact, scrub_text
from protu.settings import settings

TRACES_SAMPLE_RATE = 0.05
"""Performance tracing, sampled low: ``SENTRY_TRACES_SAMPLE_RATE`` (0..1) overrides it."""
_active = False


def release() -> str:
    """The deployed version: ``PROTU_RELEASE`` (set at deploy), ``dev`` otherwise. Health reports it; Sentry tags
    events with it (and with the environment, the Stage)."""
    return os.environ.get("PROTU_RELEASE", "").strip() or "dev"


def traces_sample_rate() -> float:
    try:
        rate = float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "").strip() or TRACES_SAMPLE_RATE)
    except ValueError:
        return TRACES_SAMPLE_RATE
    return min(max(rate, 0.0), 1.0) if rate == rate else TRACES_SAMPLE_RATE  # NaN -> default


def _clean_request(request: dict[str, Any]) -> None:
    request.pop("data", None)
    request.pop("cookies", None)
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {name: value for name, value in headers.items() if not is_secret_key(name)}
    query = request.get("query_string")
    if isinstance(query, str) and query:
        # A "?" in front lets scrub_text treat key=, code= and sig= as URL parameters, as they are.
        request["query_string"] = scrub_text("?" + query.lstrip("?"))[1:]


def before_send(event: dict[str, Any], hint: Any = None) -> dict[str, Any]:
    """Strip and redact an event (error, transaction or log) before it leaves the process."""
    request = event.get("request")
    if isinstance(request, dict):
        _clean_request(request)
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        logentry.pop("params", None)
    return redact(event)


def before_breadcrumb(crumb: dict[str, Any], hint: Any = None) -> dict[str, Any]:
    """Redact a breadcrumb (log records, HTTP calls with URLs, boto3 calls) when it is recorded."""
    return redact(crumb)


def init_sentry(service: str | None = None, *, transport: Any = None) -> bool:
    """Start Sentry once per process when ``SENTRY_DSN`` is set; return whether it is active.

    Events carry the release (``release()``), the environment (``SENTRY_ENVIRONMENT``, the Stage) and the tag
    ``service`` (api, webhooks, jobs, incidents: the metrics' ``Service``). ``transport`` is for tests, which
    capture envelopes in memory; the privacy options cannot be overridden.
    """
    global _active
    if _active:
        return True
    config = settings()
    if not config.sentry_dsn:
        return False
    # cold start: loaded on first use
    import sentry_sdk
    from sentry_sdk.integrations.boto3 import Boto3Integration
    from sentry_sdk.integrations.chalice import ChaliceIntegration

    options: dict[str, Any] = {
        "dsn": config.sentry_dsn,
        "environment": config.sentry_environment,
        "release": release(),
        "max_request_body_size": "never",
        "include_local_variables": False,
        "traces_sample_rate": traces_sample_rate(),
        "before_send": before_send,
        "before_send_transaction": before_send,
        "before_send_log": before_send,
        "before_breadcrumb": before_breadcrumb,
        "integrations": [ChaliceIntegration(), Boto3Integration()],
        "auto_enabling_integrations": False,
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    if service:
        sentry_sdk.get_global_scope().set_tag("service", service)
    _active = True
    return True
