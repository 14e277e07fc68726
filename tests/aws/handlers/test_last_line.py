"""The last line of defence in `handle()`: a bug is reported once and answered "failed"; AWS trouble raises.

A retry cannot fix a bug, so raising would only make Lambda retry the event twice
and dead-letter it with no word to anyone. Throttling, timeouts and AWS-side
faults are different: the same invocation may succeed later, so they raise.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from ami_hygiene.core.errors import is_transient
from ami_hygiene.core.job import JobSpec as Job
from ami_hygiene.handlers import common
from ami_hygiene.handlers.common import handle
from ami_hygiene.jobs.tags.run import TagsRun
from tests.helpers.constants import REGION
from tests.helpers.events import scheduled_event
from tests.helpers.lambda_context import LambdaContext
from tests.helpers.sandbox import client_error, notifications, report_topic

EVENT_ID = "5f9b1c2d-0000-4a4a-9b9b-123456789abc"
FUNCTION = "ami-hygiene-tags"


class _Failing(TagsRun):
    """The tag job's run, failing the way a bug would."""

    def __init__(self, err: Exception) -> None:
        self.err = err

    def run(self, *_: Any) -> Any:
        raise self.err


def _failing(err: Exception) -> Job[Any]:
    return Job(_Failing(err), summary="tags", schedule_parameter="TagSweepSchedule")


@pytest.fixture
def env(aws: None) -> dict[str, str]:
    return {"REGIONS": REGION, "TOPIC_ARN": report_topic(), "AWS_REGION": REGION}


@pytest.mark.parametrize(
    "err",
    [
        ValueError("Invalid endpoint: https://ec2..amazonaws.com"),
        OverflowError("date value out of range"),
        KeyError("ImageId"),
        client_error("InvalidParameterValue", 400),  # an AWS answer about the request itself
    ],
)
def test_a_bug_is_reported_once_counted_and_answered_failed_not_raised(
    env: dict[str, str], err: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[str] = []
    monkeypatch.setattr(common, "record_unhandled_error", counted.append)
    result = handle(_failing(err), scheduled_event(event_id=EVENT_ID), LambdaContext(FUNCTION), env)
    assert result["status"] == "failed" and result["error"] == "unexpected failure"
    assert type(err).__name__ in result["detail"] and EVENT_ID in result["detail"]
    [sent] = notifications(env["TOPIC_ARN"])
    assert sent.subject == f"[ami-hygiene] {REGION} tags: ERROR unexpected failure"
    assert EVENT_ID in sent.body["email"]
    assert counted == ["tags"]


@pytest.mark.parametrize(
    "err",
    [
        client_error("Throttling", 400),
        client_error("RequestLimitExceeded", 503),
        client_error("InternalError", 500),
        client_error("SomethingNew", 502),  # any 5xx is AWS's side
        EndpointConnectionError(endpoint_url="https://ec2.eu-west-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://ec2.eu-west-1.amazonaws.com"),
    ],
)
def test_transient_aws_trouble_raises_so_lambda_retries(env: dict[str, str], err: Exception) -> None:
    assert is_transient(err)
    with pytest.raises(type(err)):
        handle(_failing(err), scheduled_event(event_id=EVENT_ID), LambdaContext(FUNCTION), env)
    assert notifications(env["TOPIC_ARN"]) == []  # the retry will report what it finds


def test_a_report_that_cannot_be_published_for_a_bug_still_answers_failed(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_publish(*_: Any, **__: Any) -> Any:
        raise client_error("InvalidParameter", 400)

    monkeypatch.setattr(common.Publisher, "publish", broken_publish)
    result = handle(
        _failing(TypeError("bug")), scheduled_event(event_id=EVENT_ID), LambdaContext(FUNCTION), env
    )
    assert result["status"] == "failed" and result["messages"] == [""]
