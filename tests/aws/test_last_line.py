"""The last line of defence in `handle()`: a bug is reported once and answered "failed"; AWS trouble raises.

A retry cannot fix a bug, so raising would only make Lambda retry the event twice
and dead-letter it with no word to anyone. Throttling, timeouts and AWS-side
faults are different: the same invocation may succeed later, so they raise.
"""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from ami_hygiene.core.errors import is_transient
from ami_hygiene.core.job import JobSpec as Job
from ami_hygiene.handlers import common
from ami_hygiene.handlers.common import handle
from tests.conftest import ACCOUNT_ID, REGION

EVENT_ID = "5f9b1c2d-0000-4a4a-9b9b-123456789abc"


def _context() -> Any:
    return SimpleNamespace(
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:ami-hygiene-tags",
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: 300_000,
    )


def _scheduled() -> dict[str, Any]:
    return {
        "version": "0",
        "id": EVENT_ID,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": "2026-11-27T06:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/ami-hygiene"],
        "detail": {},
    }


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


def _failing(err: Exception) -> Job[Any]:
    def run(*_: Any) -> Any:
        raise err

    return Job("tags", summary="tags", run=run)


@pytest.fixture
def env(aws: None) -> dict[str, str]:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="ami-hygiene")["TopicArn"]
    return {"REGIONS": REGION, "TOPIC_ARN": topic, "AWS_REGION": REGION}


def _published(env: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT_ID][REGION].topics[env["TOPIC_ARN"]]
    return [(str(subject), json.loads(body)) for _, body, subject, *_ in topic.sent_notifications]


@pytest.mark.parametrize(
    "err",
    [
        ValueError("Invalid endpoint: https://ec2..amazonaws.com"),
        OverflowError("date value out of range"),
        KeyError("ImageId"),
        _client_error("InvalidParameterValue", 400),  # an AWS answer about the request itself
    ],
)
def test_a_bug_is_reported_once_counted_and_answered_failed_not_raised(
    env: dict[str, str], err: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[str] = []
    monkeypatch.setattr(common, "record_unhandled_error", counted.append)
    result = handle(_failing(err), _scheduled(), _context(), env)
    assert result["status"] == "failed" and result["error"] == "unexpected failure"
    assert type(err).__name__ in result["detail"] and EVENT_ID in result["detail"]
    [(subject, body)] = _published(env)
    assert subject == f"[ami-hygiene] {REGION} tags: ERROR unexpected failure"
    assert EVENT_ID in body["email"]
    assert counted == ["tags"]


@pytest.mark.parametrize(
    "err",
    [
        _client_error("Throttling", 400),
        _client_error("RequestLimitExceeded", 503),
        _client_error("InternalError", 500),
        _client_error("SomethingNew", 502),  # any 5xx is AWS's side
        EndpointConnectionError(endpoint_url="https://ec2.eu-west-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://ec2.eu-west-1.amazonaws.com"),
    ],
)
def test_transient_aws_trouble_raises_so_lambda_retries(env: dict[str, str], err: Exception) -> None:
    assert is_transient(err)
    with pytest.raises(type(err)):
        handle(_failing(err), _scheduled(), _context(), env)
    assert _published(env) == []  # the retry will report what it finds


def test_a_report_that_cannot_be_published_for_a_bug_still_answers_failed(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_publish(*_: Any, **__: Any) -> Any:
        raise _client_error("InvalidParameter", 400)

    monkeypatch.setattr(common.Publisher, "publish", broken_publish)
    result = handle(_failing(TypeError("bug")), _scheduled(), _context(), env)
    assert result["status"] == "failed" and result["messages"] == [""]
