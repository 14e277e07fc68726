"""Where moto's Step Functions engine (its "execute_state_machine" setting) differs from AWS.

- ToleratedFailurePercentage: the Step Functions Developer Guide ("Setting failure thresholds
  for Distributed Map states") takes a number from 0 to 100, and CDK writes an integer
  (``100``). moto's ASL grammar accepts only a number with a fraction or exponent there and
  refuses the definition ("no viable alternative"). Definitions are parsed with that field
  written as a float, which means the same.
- A Lambda task whose Resource is the function ARN: when the Invoke call itself fails (Lambda
  throttles it, or fails inside), the guide ("Handle Lambda service exceptions") names the
  error ``Lambda.<exception>``, e.g. Lambda.TooManyRequestsException or
  Lambda.ServiceException, so that Retry can match it. moto names every such error
  ``Exception``; here it is named as the guide says, with the cause moto's
  ``arn:aws:states:::lambda:invoke`` integration already gives these errors.

- StartExecution without a name: the API reference (StartExecution, ``name``) says Step
  Functions names the execution with a UUID. moto's executing backend leaves it None, so the
  ARN ends in ``:None`` and ``$$.Execution.Name`` is null; here it gets a UUID.

- Tolerated failures of a Distributed Map (the guide, "Tolerated failure threshold for
  Distributed Map state"): the Map Run fails with States.ExceedToleratedFailureThreshold when
  its failed or timed-out items exceed ToleratedFailureCount, or their share of all items
  exceeds ToleratedFailurePercentage; with neither given the tolerance is zero (any failed
  child fails the Map Run); with both, exceeding either fails it. moto counts failed items
  but never fails the Map Run. moto hands over the values only, so a threshold of 0 is taken
  as "not given" when the other one is set (an explicit 0 beside the other one is not modelled).
- Retry waits: moto sleeps each computed wait (IntervalSeconds times BackoffRate^n, capped by
  MaxDelaySeconds, jittered) in the executing thread. `retry_waits()` records those waits and,
  with `scale`, shortens them: tests see the backoff without waiting for it.

Errors the function itself raises (FunctionError in the Invoke answer) are named by the
function's errorType in moto as in AWS, and are left alone.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import (
    HistoryEventType,
    LambdaFunctionFailedEventDetails,
    MapRunFailedEventDetails,
)
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from ._patching import original, override

TOLERATED_FAILURE_PERCENTAGE = "ToleratedFailurePercentage"


def with_float_percentages(definition: str) -> str:
    """The definition with every integer ToleratedFailurePercentage written as a float (same value)."""
    try:
        document = json.loads(definition)
    except ValueError:
        return definition  # moto's parser reports what is wrong with it
    changed = False

    def visit(node: Any) -> None:
        nonlocal changed
        if isinstance(node, dict):
            value = node.get(TOLERATED_FAILURE_PERCENTAGE)
            if isinstance(value, int) and not isinstance(value, bool):
                node[TOLERATED_FAILURE_PERCENTAGE] = float(value)
                changed = True
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)

    visit(document)
    return json.dumps(document) if changed else definition


def _parse(definition: str) -> Any:
    return original(AmazonStateLanguageParser, "parse")(with_float_percentages(definition))


def _lambda_task_error(self: StateTaskLambda, env: Environment, ex: Exception) -> FailureEvent:
    if not isinstance(ex, ClientError):
        return original(StateTaskLambda, "_from_error")(self, env, ex)
    error, cause = StateTaskServiceLambda._error_cause_from_client_error(ex)
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error),
        event_type=HistoryEventType.LambdaFunctionFailed,
        event_details=cast(
            EventDetails,
            {"lambdaFunctionFailedEventDetails": LambdaFunctionFailedEventDetails(error=error, cause=cause)},
        ),
    )


def _start_execution(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> Any:
    start = original(StepFunctionsParserBackend, "start_execution")
    return start(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)


def exceeds_tolerance(failed: int, total: int, count: int, percentage: float) -> bool:
    """Whether `failed` of `total` items fail a Map Run tolerating `count` items or `percentage` of them."""
    if failed == 0:
        return False
    checks = []
    if count > 0 or percentage <= 0:
        checks.append(failed > count)
    if percentage > 0:
        checks.append(total > 0 and failed * 100 / total > percentage)
    return any(checks)


def _map_run(
    self: distributed.DistributedIterationComponent,
    env: Environment,
    eval_input: distributed.DistributedIterationComponentEvalInput,
) -> None:
    original(distributed.DistributedIterationComponent, "_map_run")(self, env, eval_input)
    items = eval_input.map_run_record.item_counter
    failed, total = items.failed.get() + items.timed_out.get(), items.total.get()
    count, percentage = (
        int(eval_input.tolerated_failure_count),
        float(eval_input.tolerated_failure_percentage),
    )
    if not exceeds_tolerance(failed, total, count, percentage):
        return
    env.stack.pop()  # the Map Run's outputs: it fails instead
    error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
    cause = f"The number of failed items ({failed} of {total}) exceeded the tolerated failure threshold."
    raise FailureEventException(
        FailureEvent(
            env=env,
            error_name=error,
            event_type=HistoryEventType.MapRunFailed,
            event_details=cast(
                EventDetails,
                {"mapRunFailedEventDetails": MapRunFailedEventDetails(error=error.error_name, cause=cause)},
            ),
        )
    )


class _RetryClock:
    """What moto's Retrier sees as the `time` module: sleep() records the wait and sleeps `scale` of it."""

    def __init__(self) -> None:
        self.scale = 1.0
        self.waits: list[float] | None = None
        self.lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self.lock:
            if self.waits is not None:
                self.waits.append(float(seconds))
            scale = self.scale
        time.sleep(seconds * scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


_retry_clock = _RetryClock()


@contextmanager
def retry_waits(scale: float = 1.0) -> Iterator[list[float]]:
    """The Retry waits moto computes inside the block (seconds, in order), each slept `scale` times over."""
    install()
    waits: list[float] = []
    with _retry_clock.lock:
        _retry_clock.scale, _retry_clock.waits = scale, waits
    try:
        yield waits
    finally:
        with _retry_clock.lock:
            _retry_clock.scale, _retry_clock.waits = 1.0, None


def install() -> None:
    override(AmazonStateLanguageParser, "parse", staticmethod(_parse))
    override(StateTaskLambda, "_from_error", _lambda_task_error)
    override(StepFunctionsParserBackend, "start_execution", _start_execution)
    override(distributed.DistributedIterationComponent, "_map_run", _map_run)
    retrier_decl.time = _retry_clock  # type: ignore[assignment]
