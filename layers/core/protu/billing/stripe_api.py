"""Stripe, through the stripe library only (it signs nothing we verify by hand and retries what is safe to retry).

* Keys: the ``StripeKeys`` secret (``STRIPE_SECRET_ID``, JSON ``{"secret_key", "webhook_secret"}``), read from
  Secrets Manager and cached for ``KEY_CACHE_SECONDS``; never logged.
* Client: ``stripe.StripeClient`` against ``STRIPE_API_BASE``, timeouts of ``TIMEOUT`` seconds, the library's own
  retries (``RETRIES``) with backoff on connection errors, 409, 429 and 5xx; each call names an idempotency key,
  so a retried call (ours or the library's) creates nothing twice.
* Failures become errors a person understands: Stripe unreachable or failing (connection, timeout, 429, 5xx) is
  503 ``billing_unavailable`` ("nothing was charged"); a refusal we cannot fix by retrying (bad key, bad request)
  is 502 ``billing_rejected`` and an error log line with Stripe's error code, never the key.
``stripe`` is imported on first use: most invocations never talk to Stripe.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import msgspec

from protu import aws, caches, errors
from protu.logging import get_logger
from protu.settings import settings

KEY_CACHE_SECONDS = 300
TIMEOUT = 8
RETRIES = 2

log = get_logger(__name__)
_lock = threading.Lock()
_keys: dict[str, tuple[float, StripeKeys]] = {}


class BillingRejected(errors.ProtuError):
    status, code, message = 502, "billing_rejected", "Our payment provider refused this request. We have been told."


def unavailable() -> errors.ServiceUnavailable:
    return errors.ServiceUnavailable(
        "Our payment provider could not be reached. Nothing was charged; try again in a moment.",
        code="billing_unavailable",
    )


class StripeKeys(msgspec.Struct, frozen=True):
    secret_key: str
    webhook_secret: str

    def __repr__(self) -> str:  # never the keys themselves (logs, tracebacks)
        return "StripeKeys(...)"


def keys() -> StripeKeys:
    secret_id = settings().stripe_secret_id
    now = time.monotonic()
    with _lock:
        cached = _keys.get(secret_id)
    if cached and cached[0] > now:
        return cached[1]
    # cold start: loaded on first use
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        raw = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        body = json.loads(raw)
        found = StripeKeys(str(body.get("secret_key") or ""), str(body.get("webhook_secret") or ""))
    except (BotoCoreError, ClientError) as error:
        log.error("stripe keys could not be read", extra={"aws_error": type(error).__name__})
        raise unavailable() from None
    except (ValueError, AttributeError):
        log.error("the StripeKeys secret is not a JSON object {secret_key, webhook_secret}")
        raise unavailable() from None
    with _lock:
        _keys[secret_id] = (now + KEY_CACHE_SECONDS, found)
    return found


@caches.register
def _forget_keys() -> None:
    with _lock:
        _keys.clear()


def client() -> Any:
    # cold start: loaded on first use
    import stripe

    return stripe.StripeClient(
        keys().secret_key,
        base_addresses={"api": settings().stripe_api_base},
        max_network_retries=RETRIES,
        http_client=stripe.RequestsClient(timeout=TIMEOUT),
    )


def call(what: str, operation: Any) -> Any:
    """Run ``operation(client)`` and translate Stripe's failures (see the module doc)."""
    # cold start: loaded on first use
    import stripe

    try:
        return operation(client())
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        log.warning("stripe unavailable", extra={"operation": what, "error_type": type(error).__name__})
        raise unavailable() from None
    except stripe.StripeError as error:
        status = getattr(error, "http_status", None) or 0
        if status >= 500 or status == 409:
            log.warning("stripe failed", extra={"operation": what, "http_status": status})
            raise unavailable() from None
        log.error(
            "stripe refused a request",
            extra={"operation": what, "http_status": status, "stripe_code": getattr(error, "code", None)},
        )
        raise BillingRejected() from None
