"""Domain errors with stable codes, mapped once to HTTP statuses.

Every error a client can see is a ``ProtuError``: a stable machine ``code``, a human ``message`` and the HTTP
``status`` it maps to. Handlers never build error bodies themselves; ``protu.http`` turns any ``ProtuError`` into
``{"error": {"code", "message", "details"?}}``.
"""

from __future__ import annotations

from typing import Any


class ProtuError(Exception):
    status = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        if code:
            self.code = code
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ProtuError):
    status, code, message = 400, "bad_request", "The request is malformed."


class InvalidJson(BadRequest):
    code, message = "invalid_json", "The request body is not valid JSON."


class ValidationFailed(ProtuError):
    status, code, message = 422, "validation_failed", "The request does not match the expected schema."


class Unauthorized(ProtuError):
    status, code, message = 401, "unauthorized", "Authentication is required."


class Forbidden(ProtuError):
    status, code, message = 403, "forbidden", "You do not have permission to do this."


class NotFound(ProtuError):
    status, code, message = 404, "not_found", "Not found."


class MethodNotAllowed(ProtuError):
    status, code, message = 405, "method_not_allowed", "This method is not allowed on this resource."


class PaymentRequired(ProtuError):
    """The company's plan does not cover this (a limit reached): upgrading makes it possible."""

    status, code, message = 402, "plan_limit_reached", "Your plan's limit is reached. Upgrade to do this."


class Conflict(ProtuError):
    status, code, message = 409, "conflict", "The resource changed or already exists."


class Gone(ProtuError):
    status, code, message = 410, "gone", "This resource is no longer available."


class PayloadTooLarge(ProtuError):
    status, code, message = 413, "payload_too_large", "The request body is too large."


class UnsupportedMediaType(ProtuError):
    status, code, message = 415, "unsupported_media_type", "Send the body as application/json."


class RateLimited(ProtuError):
    status, code, message = 429, "rate_limited", "Too many requests. Try again later."


class ServiceUnavailable(ProtuError):
    status, code, message = 503, "service_unavailable", "A service we depend on is unavailable. Try again."


class KeyDestroyed(ProtuError):
    """The key that protected this data was destroyed on purpose (erasure): the data is gone for good."""

    status, code, message = 410, "key_destroyed", "This data was erased and can no longer be read."


class DecryptionFailed(ProtuError):
    """Ciphertext did not authenticate under the expected key and context (tampered, or not ours)."""

    status, code, message = 422, "decryption_failed", "Encrypted data could not be authenticated."


class AuditChainBroken(ProtuError):
    status, code, message = 409, "audit_chain_broken", "The audit chain does not verify."
