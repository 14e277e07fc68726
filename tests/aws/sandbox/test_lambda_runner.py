"""sandbox/lambda_runner.py: Lambda Invoke running an in-process handler, as the Invoke API reference says."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox import lambda_runner
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.sandbox import error_code
from tests.helpers.step_functions import executing, lambda_function

NO_RETRIES = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def client() -> Iterator[Any]:
    with executing():
        yield boto3.client("lambda", region_name=REGION, config=NO_RETRIES)


def _invoke(client: Any, name: str, payload: Any = None, **extra: Any) -> tuple[dict[str, Any], bytes]:
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload if payload is not None else {})
    answer = client.invoke(FunctionName=name, Payload=body, **extra)
    return answer, answer["Payload"].read()


def test_the_handler_gets_the_event_and_a_context_and_its_answer_is_the_payload(client: Any) -> None:
    arn = lambda_function("echo", timeout=30)
    seen: list[Any] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        seen.append(context)
        return {"got": event}

    with lambda_runner.running({"echo": handler}):
        answer, payload = _invoke(client, "echo", {"a": [1, "two"]})
        [invocation] = lambda_runner.invocations("echo")
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert json.loads(payload) == {"got": {"a": [1, "two"]}}
    [context] = seen
    assert context.function_name == "echo"
    assert context.invoked_function_arn == arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:echo"
    assert context.memory_limit_in_mb == 128  # CreateFunction's default MemorySize
    assert 0 < context.get_remaining_time_in_millis() <= 30_000
    assert context.aws_request_id == invocation.request_id
    assert (invocation.account, invocation.region, invocation.event) == (ACCOUNT, REGION, {"a": [1, "two"]})


def test_the_function_is_found_by_its_arn_too_and_an_empty_payload_is_an_empty_object(client: Any) -> None:
    arn = lambda_function("echo")
    with lambda_runner.running({"echo": lambda event, _: event}):
        answer = client.invoke(FunctionName=arn)
        assert json.loads(answer["Payload"].read()) == {}


def test_a_raised_exception_is_an_unhandled_function_error_with_the_runtimes_error_object(
    client: Any,
) -> None:
    lambda_function("broken")

    def handler(event: Any, context: Any) -> None:
        raise PermissionError(f"no way into {event['account']}")

    with lambda_runner.running({"broken": handler}):
        answer, payload = _invoke(client, "broken", {"account": "111122223333"})
        [invocation] = lambda_runner.invocations("broken")
    assert answer["StatusCode"] == 200  # the call succeeded; the function failed
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(payload)
    assert error["errorType"] == "PermissionError"
    assert error["errorMessage"] == "no way into 111122223333"
    assert error["requestId"] == invocation.request_id
    assert (
        error["stackTrace"] and "in handler" in error["stackTrace"][0]
    )  # the handler's frames, not the runner's
    assert invocation.error_type == "PermissionError"


def test_an_answer_that_is_not_json_is_the_runtimes_marshal_error(client: Any) -> None:
    lambda_function("odd")
    with lambda_runner.running({"odd": lambda event, _: {"when": object()}}):
        answer, payload = _invoke(client, "odd")
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(payload)["errorType"] == "Runtime.MarshalError"


def test_a_payload_that_is_not_json_is_refused_before_the_handler_runs(client: Any) -> None:
    lambda_function("echo")
    with lambda_runner.running({"echo": lambda event, _: event}):
        with pytest.raises(ClientError) as err:
            client.invoke(FunctionName="echo", Payload=b"{not json")
        assert lambda_runner.invocations() == []
    assert error_code(err) == "InvalidRequestContentException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_event_invocations_run_and_answer_202_while_dry_runs_do_not_run(client: Any) -> None:
    lambda_function("echo")
    ran: list[Any] = []
    with lambda_runner.running({"echo": lambda event, _: ran.append(event)}):
        queued, queued_payload = _invoke(client, "echo", {"n": 1}, InvocationType="Event")
        dry, _ = _invoke(client, "echo", {"n": 2}, InvocationType="DryRun")
    assert (queued["StatusCode"], queued_payload) == (202, b"")
    assert dry["StatusCode"] == 204
    assert ran == [{"n": 1}]


def test_a_throttled_invocation_is_refused_with_429_and_the_next_one_runs(client: Any) -> None:
    lambda_function("busy")
    ran: list[Any] = []
    with lambda_runner.running({"busy": lambda event, _: ran.append(event) or "ok"}):
        lambda_runner.throttle("busy", reason="ReservedFunctionConcurrentInvocationLimitExceeded")
        with pytest.raises(ClientError) as err:
            _invoke(client, "busy", {"n": 1})
        assert ran == []
        _, payload = _invoke(client, "busy", {"n": 2})
        throttled, done = lambda_runner.invocations("busy")
    assert error_code(err) == "TooManyRequestsException"
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    assert json.loads(payload) == "ok" and ran == [{"n": 2}]
    assert (throttled.throttled, done.throttled) == (True, False)


def test_the_handler_sees_the_functions_environment_variables_only_while_it_runs(client: Any) -> None:
    lambda_function("configured", environment={"REPORT_BUCKET": "reports-bucket", "MODE": "report"})
    os.environ.pop("REPORT_BUCKET", None)
    os.environ["MODE"] = "enforce"
    try:
        with lambda_runner.running(
            {"configured": lambda event, _: [os.environ.get("REPORT_BUCKET"), os.environ["MODE"]]}
        ):
            _, payload = _invoke(client, "configured")
        assert json.loads(payload) == ["reports-bucket", "report"]
        assert "REPORT_BUCKET" not in os.environ
        assert os.environ["MODE"] == "enforce"
    finally:
        os.environ.pop("MODE", None)


def test_overlapping_invocations_of_one_function_share_its_environment(client: Any) -> None:
    lambda_function("slow", environment={"STAGE": "one"})
    inside = threading.Barrier(2, timeout=10)

    def handler(event: Any, context: Any) -> str:
        inside.wait()  # both invocations are running at once here
        return os.environ["STAGE"]

    answers: list[bytes] = []
    with lambda_runner.running({"slow": handler}):
        other = threading.Thread(target=lambda: answers.append(_invoke(client, "slow")[1]))
        other.start()
        answers.append(_invoke(client, "slow")[1])
        other.join(10)
    assert [json.loads(a) for a in answers] == ["one", "one"]
    assert "STAGE" not in os.environ


def test_overlapping_invocations_of_functions_with_different_environments_are_refused(client: Any) -> None:
    lambda_function("first", environment={"STAGE": "one"})
    lambda_function("second", environment={"STAGE": "two"})
    started, release = threading.Event(), threading.Event()

    def first(event: Any, context: Any) -> str:
        started.set()
        release.wait(10)
        return os.environ["STAGE"]

    answers: list[bytes] = []
    with lambda_runner.running({"first": first, "second": lambda event, _: os.environ["STAGE"]}):
        thread = threading.Thread(target=lambda: answers.append(_invoke(client, "first")[1]))
        thread.start()
        assert started.wait(10)
        try:
            with pytest.raises(RuntimeError, match="different environment variables"):
                _invoke(client, "second")
        finally:
            release.set()
            thread.join(10)
    assert [json.loads(a) for a in answers] == ["one"]  # the first ran with its own settings throughout
