"""sandbox/step_functions.py: moto executes state machines as the Step Functions guide and API say."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import lambda_runner
from sandbox.step_functions import retry_waits, with_float_percentages
from tests.helpers.step_functions import create_state_machine, executing, lambda_function, run


@pytest.fixture
def aws() -> Iterator[None]:
    with executing():
        yield


def _task(arn: str, **fields: Any) -> dict[str, Any]:
    return {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": arn, "End": True, **fields}}}


def test_an_integer_tolerated_failure_percentage_is_a_valid_distributed_map(aws: None) -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ToleratedFailurePercentage": 100,  # what CDK writes; the guide: a number from 0 to 100
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Double",
                    "States": {
                        "Double": {
                            "Type": "Pass",
                            "Parameters": {"n.$": "States.MathAdd($.n, $.n)"},
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    machine = create_state_machine("tolerant", definition)
    execution = run(machine, {"items": [{"n": 1}, {"n": 2}]})
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == [{"n": 2}, {"n": 4}]


def test_only_integer_percentages_are_rewritten() -> None:
    untouched = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
    assert with_float_percentages(untouched) is untouched
    assert with_float_percentages("{not json") == "{not json"
    rewritten = json.loads(with_float_percentages('{"M": {"ToleratedFailurePercentage": 5, "Other": 5}}'))
    assert rewritten == {"M": {"ToleratedFailurePercentage": 5.0, "Other": 5}}
    assert isinstance(rewritten["M"]["ToleratedFailurePercentage"], float)


def test_an_execution_started_without_a_name_is_named_with_a_uuid(aws: None) -> None:
    definition = {
        "StartAt": "Name",
        "States": {"Name": {"Type": "Pass", "Parameters": {"name.$": "$$.Execution.Name"}, "End": True}},
    }
    machine = create_state_machine("named", definition)
    execution = run(machine)
    name = json.loads(execution["output"])["name"]
    assert len(name) == 36 and name.count("-") == 4  # a UUID, as StartExecution's reference says
    assert execution["name"] == name
    assert execution["executionArn"].endswith(f":{name}")
    assert run(machine, name="chosen")["name"] == "chosen"


def test_a_throttled_lambda_task_is_lambda_too_many_requests_and_its_retry_runs_it(aws: None) -> None:
    arn = lambda_function("busy")
    retry = [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 3, "MaxAttempts": 1}]
    machine = create_state_machine("throttled", _task(arn, Retry=retry))
    with lambda_runner.running({"busy": lambda event, _: {"ran": event}}), retry_waits(scale=0) as waits:
        lambda_runner.throttle("busy", times=1)
        execution = run(machine, {"n": 1})
        throttled, ran = lambda_runner.invocations("busy")
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"ran": {"n": 1}}
    assert (throttled.throttled, ran.throttled) == (True, False)
    assert waits == [3.0]


def test_a_lambda_task_throttled_past_its_retries_fails_as_lambda_too_many_requests(aws: None) -> None:
    arn = lambda_function("busy")
    retry = [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    machine = create_state_machine("throttled", _task(arn, Retry=retry))
    with lambda_runner.running({"busy": lambda event, _: "never"}), retry_waits(scale=0):
        lambda_runner.throttle("busy", times=2)
        execution = run(machine)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Lambda.TooManyRequestsException"
    assert "Rate Exceeded." in execution["cause"] and "Status Code: 429" in execution["cause"]


def test_a_function_error_keeps_the_functions_error_type_as_its_name(aws: None) -> None:
    arn = lambda_function("broken")

    def handler(event: Any, context: Any) -> None:
        raise KeyError("region")

    machine = create_state_machine("broken", _task(arn))
    with lambda_runner.running({"broken": handler}):
        execution = run(machine)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "KeyError"
    assert json.loads(execution["cause"])["errorMessage"] == "'region'"


def test_retry_waits_grow_by_the_backoff_rate_up_to_the_maximum_delay(aws: None) -> None:
    arn = lambda_function("flaky")
    failures = iter([True, True, True])

    class Flaky(Exception):
        pass

    def handler(event: Any, context: Any) -> dict[str, bool]:
        if next(failures, False):
            raise Flaky("not yet")
        return {"done": True}

    retry = [
        {
            "ErrorEquals": ["Flaky"],
            "IntervalSeconds": 2,
            "BackoffRate": 3,
            "MaxAttempts": 3,
            "MaxDelaySeconds": 10,
        }
    ]
    machine = create_state_machine("flaky", _task(arn, Retry=retry))
    with lambda_runner.running({"flaky": handler}), retry_waits(scale=0) as waits:
        execution = run(machine)
    assert execution["status"] == "SUCCEEDED" and json.loads(execution["output"]) == {"done": True}
    assert waits == [2.0, 6.0, 10.0]  # 2, 2*3, 2*3*3 = 18 capped at MaxDelaySeconds


# -- tolerated failures of a Distributed Map --------------------------------------------------------


def _fail_some(arn: str, **tolerance: Any) -> dict[str, Any]:
    """A Distributed Map over $.items calling `arn` for each item, with the given tolerance fields."""
    return {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                **tolerance,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Call",
                    "States": {"Call": {"Type": "Task", "Resource": arn, "End": True}},
                },
                "End": True,
            }
        },
    }


def _fails_when_told(event: Any, context: Any) -> Any:
    if event["fail"]:
        raise ValueError(f"item {event['n']}")
    return event


ITEMS = {"items": [{"n": n, "fail": n < 2} for n in range(4)]}  # 2 of 4 fail: 50 %


@pytest.mark.parametrize(
    ("tolerance", "status"),
    [
        ({}, "FAILED"),  # none given: zero tolerance
        ({"ToleratedFailureCount": 1}, "FAILED"),
        ({"ToleratedFailureCount": 2}, "SUCCEEDED"),
        ({"ToleratedFailurePercentage": 49}, "FAILED"),
        ({"ToleratedFailurePercentage": 50}, "SUCCEEDED"),
        ({"ToleratedFailurePercentage": 100}, "SUCCEEDED"),
        ({"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 10}, "FAILED"),  # either exceeded fails
    ],
)
def test_a_distributed_map_fails_only_past_its_tolerated_failures(
    aws: None, tolerance: dict[str, Any], status: str
) -> None:
    machine = create_state_machine("some-fail", _fail_some(lambda_function("item"), **tolerance))
    with lambda_runner.running({"item": _fails_when_told}):
        execution = run(machine, ITEMS)
        assert len(lambda_runner.invocations("item")) == 4  # every child ran
    assert execution["status"] == status
    if status == "FAILED":
        assert execution["error"] == "States.ExceedToleratedFailureThreshold"
        assert "2 of 4" in execution["cause"]


def test_a_map_without_failures_needs_no_tolerance(aws: None) -> None:
    machine = create_state_machine("none-fail", _fail_some(lambda_function("item")))
    with lambda_runner.running({"item": _fails_when_told}):
        execution = run(machine, {"items": [{"n": 1, "fail": False}]})
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == [{"n": 1, "fail": False}]
