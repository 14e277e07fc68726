"""Lambda Invoke that runs an in-process Python handler, since moto runs Lambda code in Docker.

`register(function_name, handler)` (or `running({...})` in a with-block) makes every Invoke of
that function, in any account and region of the embedded AWS, call `handler(event, context)`
in this process, as the Lambda Python runtime would. Functions without a registered handler
keep moto's own behaviour. Step Functions' Lambda tasks (moto executes state machines when
its "execute_state_machine" setting is on) invoke through the same API, so they run these
handlers too.

What the Lambda API reference (Invoke; InvocationResponse) and the Lambda Developer Guide
("AWS Lambda function errors in Python", "Lambda context object in Python", "Using Lambda
environment variables") say, and this module does:

- The request's Payload is the event, parsed as JSON; an empty payload is ``{}``; a payload
  that is not JSON is refused with InvalidRequestContentException (HTTP 400).
- InvocationType RequestResponse (the default): the answer's Payload is the handler's return
  value as JSON, StatusCode 200. Event: the handler runs (here, before the call returns) and
  the answer is StatusCode 202 with an empty Payload. DryRun: nothing runs, StatusCode 204.
- When the handler raises, the call still succeeds (StatusCode 200) with FunctionError
  ``Unhandled`` and the Payload ``{"errorMessage", "errorType", "requestId", "stackTrace"}``;
  errorType is the exception's class name. A return value that is not JSON serializable is
  the runtime's ``Runtime.MarshalError``.
- The handler sees the function's configured environment variables in ``os.environ`` and a
  context with function_name, function_version, invoked_function_arn, memory_limit_in_mb,
  aws_request_id, log_group_name, log_stream_name and get_remaining_time_in_millis() counting
  down from the function's timeout.
- ``throttle(name, times)``: the next `times` invocations are refused as Lambda refuses a call
  past a concurrency limit: TooManyRequestsException (HTTP 429) with a Reason
  (ThrottleReason, e.g. ConcurrentInvocationLimitExceeded) and a Retry-After header.

One process has one ``os.environ``: invocations that overlap in time (a Distributed Map's
children run in threads) share it, which is right for invocations of one function. Overlapping
invocations of functions whose variables differ are refused with a RuntimeError rather than
run with the wrong settings.
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError

from ._patching import original, override

Handler = Callable[[Any, Any], Any]

UNHANDLED = "Unhandled"
DEFAULT_THROTTLE_REASON = "ConcurrentInvocationLimitExceeded"
RETRY_AFTER_SECONDS = 1

_lock = threading.RLock()
_handlers: dict[str, Handler] = {}
_throttles: dict[str, list[str]] = {}  # function name -> the reasons of the next refusals
_invocations: list[Invocation] = []


@dataclass(frozen=True)
class Invocation:
    """One Invoke that reached a registered function: what it got and how it ended."""

    function_name: str
    account: str
    region: str
    event: Any
    invocation_type: str
    request_id: str
    error_type: str = ""  # the handler's errorType when it raised; "" otherwise
    throttled: bool = False


class TooManyRequestsException(JsonRESTError):
    """Lambda's answer past a concurrency limit (Invoke errors: TooManyRequestsException, HTTP 429)."""

    code = 429

    def __init__(self, reason: str) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps({"Reason": reason, "Type": "User", "message": "Rate Exceeded."})

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs), ("Retry-After", str(RETRY_AFTER_SECONDS))]


class InvalidRequestContentException(JsonRESTError):
    """Invoke errors: InvalidRequestContentException (HTTP 400), a payload that is not JSON."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


@dataclass
class Context:
    """The context object the Lambda Python runtime passes a handler."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    identity: Any = None
    client_context: Any = None

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[{self.function_version}]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds * 1000 - int((time.monotonic() - self.started) * 1000)
        return max(left, 0)


# -- registration --------------------------------------------------------------------------------


def register(function_name: str, handler: Handler) -> None:
    """Every Invoke of `function_name` (any account and region) runs `handler(event, context)` here."""
    install()
    with _lock:
        _handlers[function_name] = handler


def unregister(function_name: str) -> None:
    with _lock:
        _handlers.pop(function_name, None)
        _throttles.pop(function_name, None)


def reset() -> None:
    """Forgets every handler, pending throttle and recorded invocation."""
    with _lock:
        _handlers.clear()
        _throttles.clear()
        _invocations.clear()


@contextmanager
def running(handlers: Mapping[str, Handler]) -> Iterator[None]:
    """Registers `handlers` (function name -> handler) for the with-block, then forgets everything."""
    for name, handler in handlers.items():
        register(name, handler)
    try:
        yield
    finally:
        reset()


def throttle(function_name: str, times: int = 1, reason: str = DEFAULT_THROTTLE_REASON) -> None:
    """The next `times` Invokes of `function_name` answer TooManyRequestsException (429) with `reason`."""
    with _lock:
        _throttles.setdefault(function_name, []).extend([reason] * times)


def invocations(function_name: str | None = None) -> list[Invocation]:
    """The Invokes that reached registered functions (throttled ones included), oldest first."""
    with _lock:
        return [i for i in _invocations if function_name is None or i.function_name == function_name]


# -- the Invoke ----------------------------------------------------------------------------------


def _header(headers: Any, name: str, default: str) -> str:
    for key in (name, name.lower()):
        value = headers.get(key) if headers is not None else None
        if value:
            return str(value)
    return default


def _invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
    with _lock:
        handler = _handlers.get(self.function_name)
    if handler is None:
        return original(LambdaFunction, "invoke")(self, body, request_headers, response_headers)

    invocation_type = _header(request_headers, "X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    event = _event(body)
    context = Context(
        function_name=self.function_name,
        function_version="$LATEST",
        invoked_function_arn=self.function_arn,
        memory_limit_in_mb=int(self.memory_size),
        timeout_seconds=int(self.timeout),
    )
    record = {
        "function_name": self.function_name,
        "account": self.account_id,
        "region": self.region,
        "event": event,
        "invocation_type": invocation_type,
        "request_id": context.aws_request_id,
    }
    with _lock:
        pending = _throttles.get(self.function_name)
        reason = pending.pop(0) if pending else None
        if reason is not None:
            _invocations.append(Invocation(**record, throttled=True))
    if reason is not None:
        raise TooManyRequestsException(reason)

    response_headers["X-Amz-Executed-Version"] = "$LATEST"
    payload, error_type = _run(handler, event, context, dict(self.environment_vars or {}))
    with _lock:
        _invocations.append(Invocation(**record, error_type=error_type))
    if error_type:
        response_headers["x-amz-function-error"] = UNHANDLED
    if invocation_type == "Event":
        return b""
    return payload.encode("utf-8")


def _event(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if body is None or not str(body).strip():
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise InvalidRequestContentException("Could not parse request body into json") from None


def _run(handler: Handler, event: Any, context: Context, variables: dict[str, str]) -> tuple[str, str]:
    """(payload, errorType): the handler's answer as JSON, or the runtime's error object."""
    with _environment(variables):
        try:
            answer = handler(event, context)
        except Exception as err:  # noqa: BLE001 - the runtime reports any exception as the answer
            return _error(
                type(err).__name__,
                str(err),
                context,
                traceback.format_tb(err.__traceback__.tb_next if err.__traceback__ else None),
            )
    try:
        return json.dumps(answer), ""
    except (TypeError, ValueError) as err:
        return _error("Runtime.MarshalError", f"Unable to marshal response: {err}", context, [])


def _error(error_type: str, message: str, context: Context, trace: list[str]) -> tuple[str, str]:
    payload = {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": context.aws_request_id,
        "stackTrace": [line.rstrip("\n") for line in trace],
    }
    return json.dumps(payload), error_type


# -- the function's environment variables --------------------------------------------------------

_env_users = 0
_env_applied: dict[str, str] = {}
_env_saved: dict[str, str | None] = {}


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """`variables` in os.environ while any invocation needing them runs (see the module's docstring)."""
    global _env_users
    with _lock:
        if _env_users and variables != _env_applied:
            raise RuntimeError(
                "sandbox.lambda_runner: overlapping invocations of functions with different environment "
                "variables cannot share this process's os.environ"
            )
        if not _env_users:
            _env_applied.clear()
            _env_applied.update(variables)
            _env_saved.clear()
            for key, value in variables.items():
                _env_saved[key] = os.environ.get(key)
                os.environ[key] = value
        _env_users += 1
    try:
        yield
    finally:
        with _lock:
            _env_users -= 1
            if not _env_users:
                for key, before in _env_saved.items():
                    if before is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = before
                _env_saved.clear()
                _env_applied.clear()


def install() -> None:
    override(LambdaFunction, "invoke", _invoke)
