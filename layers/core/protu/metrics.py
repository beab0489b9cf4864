"""CloudWatch metrics as Embedded Metric Format (EMF) log lines: no API call, no extra dependency.

A Lambda's stdout goes to CloudWatch Logs, and CloudWatch turns every JSON line carrying an ``_aws`` block into
metrics (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
So each entry point runs inside ``invocation(service)``: the metrics recorded meanwhile (``count``, ``timing``)
are buffered, summed per name and dimensions, and written at its end as ONE line (more only past EMF's 100
metrics a line, or when two metrics need different values of one dimension). Locally (``make run``, tests) the
lines go to stdout the same way, where a test can parse them. Each line also has the fields of ``protu.logging``'s
lines (``time``, ``level``, ``logger`` ``protu.metrics``, ``message`` ``metrics``, ``request_id``), so whatever
reads the logs line by line reads these too. A metric recorded outside any invocation (an
operator's CLI, a unit test calling the core directly) is dropped: there is no CloudWatch behind it.

Written by hand rather than with Powertools' ``Metrics``: the format is a small documented JSON shape, and
``aws_lambda_powertools.metrics`` costs 13-75 ms of import at cold start, this module about nothing.

The contract (namespace ``Protu``; the alarms and the dashboard in ``template.yaml`` read these names):

=================================  ===========  ======================================  ==========================
metric                             unit         dimension set                           recorded by
=================================  ===========  ======================================  ==========================
Requests, Errors (5xx),            Count        Service                                 ``ProtuApp`` (api,
ClientErrors (4xx)                                                                      webhooks), every request
Latency                            Milliseconds Service                                 ``ProtuApp``
ErrorsByCode                       Count        Service, Code (stable error code)       ``ProtuApp``, 4xx and 5xx
SignIns, SignInFailures            Count        Service                                 ``identity.accounts``
Lockouts                           Count        Service                                 ``security.login_guard``
WebhookEvents                      Count        Service, Provider (stripe|mailgun),     the webhook routes
                                                Outcome (accepted|duplicate|rejected)
JobRuns, JobFailures               Count        Service, Job (backup, restore-test,     ``job`` (functions/jobs)
                                                retention, company-requests,
                                                mirror-audit)
KmsCalls                           Count        Service                                 ``crypto.keystore``, each
                                                                                        real KMS call
=================================  ===========  ======================================  ==========================

``Service`` is the function's role: ``api``, ``webhooks``, ``jobs`` or ``incidents``, named by the entry point
(``ProtuApp``'s app name, the jobs' and incidents' handlers); the environment variable ``PROTU_SERVICE``, when
set, overrides it for the whole process. Errors, ClientErrors and JobFailures are also written as 0 when nothing
failed, so averages are rates and a quiet period is not "missing data".

Nothing personal goes into a line: dimension values must look like labels (letters, digits, ``_.:/-``, at most
100 characters; anything else, an email address for one, is written as ``other``), and the only properties are
the request id, the route template and the HTTP status.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec

from protu.logging import get_logger

NAMESPACE = "Protu"
MAX_METRICS_PER_LINE = 100  # EMF: at most 100 metrics in one directive / line
MAX_VALUES = 100  # EMF: at most 100 values in one metric's array
SERVICES = ("api", "webhooks", "jobs", "incidents")
COUNT = "Count"
MILLISECONDS = "Milliseconds"

_LABEL = re.compile(r"[A-Za-z0-9_.:/-]{1,100}")
_Key = tuple[str, tuple[tuple[str, str], ...]]
_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class _Buffer(msgspec.Struct):
    service: str
    properties: dict[str, Any]
    metrics: dict[_Key, tuple[str, list[float]]] = msgspec.field(default_factory=dict)


_current: ContextVar[_Buffer | None] = ContextVar("protu_metrics", default=None)


def service_name(default: str | None = None) -> str:
    """``PROTU_SERVICE`` when set, else ``default`` (the entry point's role), else the Lambda handler's module
    (``jobs.backup`` -> ``jobs``), else ``unknown``."""
    explicit = os.environ.get("PROTU_SERVICE", "").strip()
    if explicit:
        return explicit
    if default:
        return default
    module = os.environ.get("_HANDLER", "").split(".", 1)[0]
    return module if module in SERVICES else "unknown"


def label(value: object) -> str:
    """A dimension value as written: the value itself when it looks like a label, ``other`` otherwise."""
    text = str(value)
    return text if _LABEL.fullmatch(text) else "other"


# --- recording -------------------------------------------------------------------------------------------------


def add(name: str, value: float, unit: str = COUNT, **dimensions: str) -> None:
    """Record ``value`` of metric ``name`` with extra ``dimensions`` (besides ``Service``) in the current
    invocation. Counts with the same name and dimensions are summed; other units keep each value."""
    buffer = _current.get()
    if buffer is None:
        return
    key = (name, tuple(sorted((dim, label(v)) for dim, v in dimensions.items())))
    found = buffer.metrics.get(key)
    if found is None:
        buffer.metrics[key] = (unit, [value])
    elif unit == COUNT:
        found[1][0] += value
    else:
        found[1].append(value)
        if len(found[1]) >= MAX_VALUES:
            flush()


def count(name: str, value: float = 1, **dimensions: str) -> None:
    add(name, value, COUNT, **dimensions)


def timing(name: str, milliseconds: float, **dimensions: str) -> None:
    add(name, round(milliseconds, 3), MILLISECONDS, **dimensions)


def set_property(name: str, value: Any) -> None:
    """A non-dimension field on the invocation's line(s): a request id, a route template, a status. Never
    anything about a person."""
    buffer = _current.get()
    if buffer is not None:
        buffer.properties[name] = value


# --- invocations -----------------------------------------------------------------------------------------------


@contextmanager
def invocation(service: str | None = None, **properties: Any) -> Iterator[None]:
    """Buffer the metrics of one invocation (a request, a job run) and write them when it ends, even by an
    exception. Nested invocations keep their own buffers."""
    buffer = _Buffer(service_name(service), {k: v for k, v in properties.items() if v not in (None, "")})
    token = _current.set(buffer)
    try:
        yield
    finally:
        _current.reset(token)
        _write(buffer)


def flush() -> None:
    """Write what the current invocation recorded so far, and start its buffer afresh."""
    buffer = _current.get()
    if buffer is not None:
        _write(buffer)
        buffer.metrics = {}


def documents(buffer: _Buffer, now_ms: int | None = None) -> list[dict[str, Any]]:
    """The EMF objects for a buffer: as few as the rules allow (one, normally)."""
    lines: list[tuple[dict[str, str], dict[str, tuple[str, list[float], tuple[str, ...]]]]] = []
    for (name, dims), (unit, values) in buffer.metrics.items():
        wanted = dict(dims)
        for line_dims, line_metrics in lines:
            conflict = any(line_dims.get(k, v) != v for k, v in wanted.items())
            if not conflict and name not in line_metrics and len(line_metrics) < MAX_METRICS_PER_LINE:
                line_dims.update(wanted)
                line_metrics[name] = (unit, values, tuple(k for k, _ in dims))
                break
        else:
            lines.append((wanted, {name: (unit, values, tuple(k for k, _ in dims))}))
    timestamp = int(time.time() * 1000) if now_ms is None else now_ms
    when = datetime.fromtimestamp(timestamp / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out = []
    for line_dims, line_metrics in lines:
        directives: dict[tuple[str, ...], list[dict[str, str]]] = {}
        for name, (unit, _, keys) in line_metrics.items():
            directives.setdefault(keys, []).append({"Name": name, "Unit": unit})
        doc: dict[str, Any] = {
            # The shape of protu.logging's lines, so whatever reads the logs reads these too.
            "time": when,
            "level": "INFO",
            "logger": "protu.metrics",
            "message": "metrics",
            "request_id": buffer.properties.get("request_id"),
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    {"Namespace": NAMESPACE, "Dimensions": [["Service", *keys]], "Metrics": metrics}
                    for keys, metrics in directives.items()
                ],
            },
            **buffer.properties,
            "Service": buffer.service,
            **line_dims,
        }
        for name, (_, values, _) in line_metrics.items():
            doc[name] = values[0] if len(values) == 1 else list(values)
        out.append(doc)
    return out


def _write(buffer: _Buffer) -> None:
    if not buffer.metrics:
        return
    try:
        text = "".join(json.dumps(doc, separators=(",", ":")) + "\n" for doc in documents(buffer))
        sys.stdout.write(text)
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - metrics must never fail the invocation they describe
        sys.stderr.write('{"level": "ERROR", "logger": "protu.metrics", "message": "metrics line lost"}\n')


# --- entry points ----------------------------------------------------------------------------------------------


def handler(service: str) -> _Decorator:
    """Decorate a plain Lambda handler ``(event, context)``: its metrics are written when it returns or raises."""

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def run(event: Any, context: Any = None) -> Any:
            with invocation(service, request_id=getattr(context, "aws_request_id", None)):
                return function(event, context)

        return run

    return wrap


def job(name: str, *, failed: Callable[[Any], bool] | None = None) -> _Decorator:
    """Decorate a job's Lambda handler: one ``JobRuns`` and one ``JobFailures`` (1 when it raised or when
    ``failed(result)`` says so, else 0), dimensions ``Service=jobs``, ``Job=name``."""

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def run(event: Any, context: Any = None) -> Any:
            with invocation("jobs", request_id=getattr(context, "aws_request_id", None)):
                count("JobRuns", Job=name)
                try:
                    result = function(event, context)
                except BaseException as error:
                    count("JobFailures", 1, Job=name)

                    # Sentry's logging integration reports it (redacted); Lambda logs the traceback too.
                    get_logger(__name__).error("job failed", extra={"job": name}, exc_info=error)
                    raise
                count("JobFailures", 1 if failed is not None and failed(result) else 0, Job=name)
                return result

        return run

    return wrap
