"""DynamoDB plumbing in one place: the connection multi-item transactions go through, and what a refused write means.

Models read and write through their own PynamoDB connections. ``TransactWriteItems`` and ``TransactGetItems`` span
models, so they go through ``connection()``: one per process (and endpoint), signed like every other DynamoDB call
(``protu.store.scope``: the request's company role while a request is bound). Every unit of work uses it::

    with dynamo.write_transaction() as tw:          # protu.store.tx.Transaction adds the audit events and head
        tw.save(item, condition)

    try: ... except TransactWriteError as error:
        cancelled = dynamo.cancellation(error)      # None: not a cancelled transaction (DynamoDB failed: re-raise)
        if cancelled and cancelled.only_conditions: # a condition did not hold: someone else got there first
            ...

``condition_failed`` says the same of a single conditional write (``PutError``, ``UpdateError``, ``DeleteError``).
"""

from __future__ import annotations

import os
import uuid
from functools import cache
from typing import Any

import msgspec

from protu import caches
from protu.settings import settings

CONDITION = "ConditionalCheckFailed"
CONFLICT = "TransactionConflict"


def connection() -> Any:
    """The process's PynamoDB ``Connection`` for transactions (region and endpoint as botocore would use them)."""

    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL") or None
    return _connection(settings().region, endpoint)


@caches.register
@cache
def _connection(region: str, endpoint: str | None) -> Any:
    from pynamodb.connection import Connection  # cold start: only the first transaction needs it

    return Connection(region=region, host=endpoint)


def write_transaction() -> Any:
    """A PynamoDB ``TransactWrite`` on ``connection()``. Its fresh client request token makes botocore's own
    retries of this attempt idempotent on DynamoDB's side (a retried attempt never applies twice)."""
    from pynamodb.transactions import TransactWrite  # cold start: only writers of several items need it

    return TransactWrite(connection=connection(), client_request_token=uuid.uuid4().hex)


def read_transaction() -> Any:
    """A PynamoDB ``TransactGet`` on ``connection()``: several items in one consistent round trip (it needs only
    ``dynamodb:GetItem``, unlike ``BatchGetItem``)."""
    from pynamodb.transactions import TransactGet  # cold start: as above

    return TransactGet(connection=connection())


class Cancellation(msgspec.Struct, frozen=True):
    """Why DynamoDB cancelled a transaction: one code per item, in the order PynamoDB sent them (condition checks,
    deletes, puts, updates), ``""`` for an item that was fine."""

    codes: tuple[str, ...]

    @property
    def failed_conditions(self) -> tuple[int, ...]:
        """The positions of the items whose condition did not hold."""
        return tuple(i for i, code in enumerate(self.codes) if code == CONDITION)

    @property
    def conflicted(self) -> bool:
        """Another transaction was writing one of the items at the same moment (worth trying again)."""
        return CONFLICT in self.codes

    @property
    def only_conditions(self) -> bool:
        """Cancelled because conditions did not hold, and for no other reason."""
        return bool(self.failed_conditions) and all(code in ("", CONDITION) for code in self.codes)


def cancellation(error: BaseException) -> Cancellation | None:
    """The reasons of a cancelled transaction (``TransactWriteError``/``TransactGetError``); None for any other
    failure (DynamoDB unreachable, throttled, refusing the request), which callers re-raise (503)."""
    if getattr(error, "cause_response_code", None) != "TransactionCanceledException":
        return None
    reasons = getattr(error, "cancellation_reasons", None) or []
    return Cancellation(tuple("" if r is None or r.code in (None, "None") else r.code for r in reasons))


def condition_failed(error: BaseException) -> bool:
    """Whether a single PynamoDB write failed only because its condition did not hold (an expected race), as opposed
    to DynamoDB being unreachable or refusing the request (which must surface as 503, not as "wrong code")."""
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"
