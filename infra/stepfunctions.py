"""Step Functions that run for real in the local cloud, their Lambda tasks played by the in-process handlers.

moto executes a state machine's definition (the same ASL file as in the cloud) when its
``stepfunctions.execute_state_machine`` config is on; ``MOTO_CONFIG`` turns that on, with ``lambda.use_docker`` off.
moto cannot run a function's code without docker; with docker off, every Lambda invocation (a Task's plain function
ARN, ``arn:aws:states:::lambda:invoke`` with or without ``.waitForTaskToken``, ``lambda.invoke`` from any client, an
SNS subscription) reaches ``LambdaSimpleBackend.invoke`` or ``LambdaFunction.invoke``. ``install()`` makes both call
the Python handler registered for the function's name:

* ``LocalCloud`` registers each ``AWS::Serverless::Function`` of the template (its ``Handler``, imported from its
  ``CodeUri`` folder on first call);
* a test registers its own (``register(name, handler)``, ``override(...)`` for a block).

The handler gets the payload as its event and a ``LambdaContext``. Its answer goes back as JSON; an exception is a
function error ``{"errorType": <the exception's class name>, "errorMessage": ...}``, which the state machine sees as
the Task's error name, so ``Retry``/``Catch`` on ``"ServiceUnavailable"`` or ``States.TaskFailed`` work. A function
with no handler registered keeps moto's own behaviour.

Executions run on moto's threads; ``start()`` and ``wait_for()`` start one and poll it until it reaches a state or
ends. Wait states and Retry intervals really sleep (Retry's ``IntervalSeconds`` is at least 1).
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MOTO_CONFIG: dict[str, dict[str, bool]] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
Handler = Callable[[Any, Any], Any]

_handlers: dict[str, Handler | tuple[Path, str]] = {}  # function name -> handler, or (code folder, "module.attr")
_lock = threading.Lock()
_installed = False


# ---------------------------------------------------------------------------------------------- the registry
def register(function_name: str, handler: Handler | str, *, code_dir: Path | str | None = None) -> Any:
    """Run ``handler`` for every invocation of the function named ``function_name`` (its name, not its ARN).

    ``handler`` is a callable ``(event, context)``, or a template's ``Handler`` string (``"jobs.backup"``) imported
    from ``code_dir`` on first use. Answers what was registered before (None if nothing)."""
    spec: Handler | tuple[Path, str] = handler if callable(handler) else (Path(code_dir or "."), handler)
    with _lock:
        previous = _handlers.get(function_name)
        _handlers[function_name] = spec
    return previous


def unregister(function_name: str) -> None:
    """Forget a function's handler (moto's own answer again). For a template's function, prefer ``override``."""
    with _lock:
        _handlers.pop(function_name, None)


@contextmanager
def override(function_name: str, handler: Handler) -> Iterator[Handler]:
    """``register`` for the duration of a block; what was registered before comes back afterwards."""
    previous = register(function_name, handler)
    try:
        yield handler
    finally:
        with _lock:
            if previous is None:
                _handlers.pop(function_name, None)
            else:
                _handlers[function_name] = previous


def handler_for(function_name: str) -> Handler | None:
    """The handler registered for a function, imported now if it was registered by name."""
    with _lock:
        spec = _handlers.get(function_name)
    if spec is None or callable(spec):
        return spec
    code_dir, name = spec
    module_name, _, attribute = name.rpartition(".")
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    handler = getattr(importlib.import_module(module_name), attribute)
    with _lock:
        if _handlers.get(function_name) == spec:
            _handlers[function_name] = handler
    return handler


# ---------------------------------------------------------------------------------------------- invocation
@dataclass
class LambdaContext:
    """What the Lambda runtime passes a handler as ``context``, enough for our handlers."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    timeout: float = 3.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None
    client_context: Any = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/[{self.function_version}]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invoke(fn: Any, handler: Handler, body: Any, request_headers: Any, response_headers: dict) -> bytes:
    """Run ``handler`` for moto's function ``fn`` as the Lambda service would: the answer as JSON bytes, or the
    runtime's error document with the ``X-Amz-Function-Error`` header."""
    headers = {str(k).lower(): v for k, v in dict(request_headers or {}).items()}
    invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    event = json.loads(body) if body else {}
    context = LambdaContext(
        function_name=fn.function_name,
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(getattr(fn, "memory_size", 128) or 128),
        timeout=float(getattr(fn, "timeout", 3) or 3),
    )
    if invocation_type == "Event":  # asynchronous: the caller does not wait, nor see an error
        name = f"lambda-{fn.function_name}"
        threading.Thread(target=_run, args=(handler, event, context), name=name, daemon=True).start()
        return b""
    document, failed = _run(handler, event, context)
    if failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    return document


def _run(handler: Handler, event: Any, context: LambdaContext) -> tuple[bytes, bool]:
    try:
        result = handler(event, context)
    except Exception as error:  # noqa: BLE001 - answered as the Lambda runtime answers an unhandled exception
        log.warning("local lambda %s raised %s", context.function_name, type(error).__name__, exc_info=True)
        return _error(type(error).__name__, str(error), context, traceback.format_tb(error.__traceback__.tb_next)), True
    try:
        return json.dumps(result).encode("utf-8"), False
    except (TypeError, ValueError) as error:
        return _error("Runtime.MarshalError", f"Unable to marshal response: {error}", context, []), True


def _error(kind: str, message: str, context: LambdaContext, stack: list[str]) -> bytes:
    document = {"errorMessage": message, "errorType": kind, "requestId": context.aws_request_id, "stackTrace": stack}
    return json.dumps(document).encode("utf-8")


def install() -> None:
    """Route moto's Lambda invocations to the registered handlers (idempotent).

    ``LambdaSimpleBackend.invoke`` answers the Invoke API when docker is off (moto 5.2.6, pinned);
    ``LambdaFunction.invoke`` is what moto calls for SNS subscriptions, event source mappings and asynchronous
    invokes. Also keeps the ``cause`` of ``SendTaskFailure``, which moto drops."""
    global _installed
    if _installed:
        return
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    simple_invoke = LambdaSimpleBackend.invoke
    function_invoke = LambdaFunction.invoke

    def backend_invoke(self, function_name, qualifier, body, headers, response_headers):
        fn = self.get_function(function_name, qualifier)  # ResourceNotFoundException as Lambda answers
        handler = handler_for(fn.function_name)
        if handler is None:
            return simple_invoke(self, function_name, qualifier, body, headers, response_headers)
        return invoke(fn, handler, body, headers, response_headers)

    def lambda_function_invoke(self, body, request_headers, response_headers):
        handler = handler_for(self.function_name)
        if handler is None:
            return function_invoke(self, body, request_headers, response_headers)
        return invoke(self, handler, body, request_headers, response_headers)

    LambdaSimpleBackend.invoke = backend_invoke
    LambdaFunction.invoke = lambda_function_invoke
    _keep_task_failure_cause()
    _installed = True


def _keep_task_failure_cause() -> None:
    """moto 5.2.6's (pinned) SendTaskFailure drops ``cause`` before its executing backend sees it; pass it on."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self):
        args = {"error": self._get_param("error")}
        if executing():
            args["cause"] = self._get_param("cause")
        self.stepfunction_backend.send_task_failure(self._get_param("taskToken"), **args)
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure


def executing() -> bool:
    """Whether moto runs state machines (its config, as ``mock_aws(config=MOTO_CONFIG)`` or ``configure_server``
    set it)."""
    from moto.core.config import default_user_config

    return bool(default_user_config.get("stepfunctions", {}).get("execute_state_machine"))


def configure_server(endpoint_url: str) -> None:
    """Turn executing mode on in a moto server (``POST /moto-api/config``). Do it before provisioning: with docker
    off, moto keeps functions in another backend."""
    import requests

    answer = requests.post(endpoint_url.rstrip("/") + "/moto-api/config", json=MOTO_CONFIG, timeout=10)
    answer.raise_for_status()


@contextmanager
def quick_retries(scale: float = 0.0) -> Iterator[None]:
    """For tests: moto really sleeps each Retry interval (``IntervalSeconds`` is at least 1, times ``BackoffRate``
    per attempt); within the block the pauses are multiplied by ``scale`` (0: none). Attempts, errors and Catch
    are unchanged. Wait states are not affected."""
    import types

    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    real = retrier_decl.time
    retrier_decl.time = types.SimpleNamespace(sleep=lambda seconds: real.sleep(seconds * scale))
    try:
        yield
    finally:
        retrier_decl.time = real


# ---------------------------------------------------------------------------------------------- executions
@dataclass
class Execution:
    """An execution as ``wait_for`` last saw it."""

    arn: str
    status: str
    output: Any  # the parsed JSON output, once SUCCEEDED
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]

    @property
    def entered(self) -> list[str]:
        """The names of the states entered, in order (a retried Task once)."""
        return [
            event["stateEnteredEventDetails"]["name"] for event in self.history if "stateEnteredEventDetails" in event
        ]


def start(state_machine_arn: str, payload: Any = None, *, name: str | None = None, client: Any = None) -> str:
    """Start an execution with ``payload`` as its JSON input; answers its ARN. moto needs a name: one is made."""
    sfn = client or _client(state_machine_arn)
    return sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=name or f"local-{uuid.uuid4().hex}",
        input=json.dumps({} if payload is None else payload),
    )["executionArn"]


def wait_for(
    execution_arn: str,
    *,
    status: str | None = None,
    state: str | None = None,
    event: str | None = None,
    timeout: float = 10,
    interval: float = 0.05,
    client: Any = None,
) -> Execution:
    """Poll an execution until it is where it was asked to be; answers it with its history.

    * neither ``status`` nor ``state``: until it ends (any status but RUNNING);
    * ``status`` (``"SUCCEEDED"``, ``"FAILED"``...): until it has that status;
    * ``state``: until it has entered that state; with ``event`` (a history event type such as
      ``"TaskSubmitted"``, when a ``.waitForTaskToken`` task has called its function), until that event follows.

    Raises ``AssertionError`` if the execution ends elsewhere and ``TimeoutError`` after ``timeout`` seconds, both
    saying where it was."""
    sfn = client or _client(execution_arn)
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        history = _history(sfn, execution_arn)
        current = Execution(
            arn=execution_arn,
            status=described["status"],
            output=json.loads(described["output"]) if described.get("output") else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
        )
        if state is not None:
            if _reached(history, state, event):
                return current
        elif status is not None and current.status == status:
            return current
        elif status is None and current.status != "RUNNING":
            return current
        if current.status != "RUNNING":
            raise AssertionError(f"execution ended {_where(current)}, not {_wanted(status, state, event)}")
        if time.monotonic() >= deadline:
            wanted = _wanted(status, state, event)
            raise TimeoutError(f"execution still {_where(current)} after {timeout}s, not {wanted}")
        time.sleep(interval)


def _reached(history: list[dict[str, Any]], state: str, event: str | None) -> bool:
    entered = False
    for item in history:
        if item.get("stateEnteredEventDetails", {}).get("name") == state:
            entered = True
            if event is None:
                return True
        elif entered and item["type"] == event:
            return True
    return False


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    args: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = sfn.get_execution_history(**args)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        args["nextToken"] = page["nextToken"]


def _where(execution: Execution) -> str:
    last = execution.entered[-1] if execution.entered else "-"
    detail = f" ({execution.error}: {execution.cause})" if execution.error else ""
    return f"{execution.status} in state {last}{detail}; states entered: {execution.entered}"


def _wanted(status: str | None, state: str | None, event: str | None) -> str:
    if state is not None:
        return f"in state {state}" + (f" after {event}" if event else "")
    return f"status {status}" if status else "ended"


_clients: dict[tuple[str, str | None], Any] = {}


def _client(arn: str) -> Any:
    """One Step Functions client per region and endpoint (making one costs ~0.3 s)."""
    import os

    import boto3

    key = (arn.split(":")[3], os.environ.get("AWS_ENDPOINT_URL"))
    if key not in _clients:
        _clients[key] = boto3.session.Session(region_name=key[0]).client("stepfunctions")
    return _clients[key]
