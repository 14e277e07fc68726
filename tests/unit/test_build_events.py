"""Build events: Image Builder state changes and SSM Automation status changes, and the ones refused."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ami_hygiene.build_events import BuildEvent, parse_build_event
from ami_hygiene.events import EventError
from ami_hygiene.policies.staleness import BuildKind

EVENTS = Path(__file__).parent / "events" / "builds"
ACCOUNT = "123456789012"
IMAGE_ARN = f"arn:aws:imagebuilder:eu-west-1:{ACCOUNT}:image/web/1.0.0/7"
EXECUTION = "333ba70b-2333-48db-b17e-a5e69c6f4d1c"


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def parse(name: str) -> BuildEvent:
    return parse_build_event(load(name), ACCOUNT)


# -- Image Builder ---------------------------------------------------------------------------


def test_image_builder_available_is_a_finished_success() -> None:
    parsed = parse("imagebuilder_available.json")
    assert parsed.kind is BuildKind.IMAGE_BUILDER
    assert parsed.build_id == IMAGE_ARN
    assert (parsed.status, parsed.previous_status) == ("AVAILABLE", "INTEGRATING")
    assert (parsed.finished, parsed.succeeded) == (True, True)
    assert parsed.failure_reason is None
    assert (parsed.region, parsed.account, parsed.name, parsed.family) == ("eu-west-1", ACCOUNT, "web", "web")
    assert parsed.ended == parsed.time == datetime(2024, 6, 1, 12, 50, 56, tzinfo=UTC)
    assert parsed.started is None and parsed.duration is None
    # The event does not name the AMI: the job reads it with GetImage.
    assert parsed.new_image_id is None


def test_image_builder_console_and_logs() -> None:
    parsed = parse("imagebuilder_available.json")
    assert parsed.console_url == (
        "https://eu-west-1.console.aws.amazon.com/imagebuilder/home?region=eu-west-1#/images/"
        "arn%3Aaws%3Aimagebuilder%3Aeu-west-1%3A123456789012%3Aimage%2Fweb%2F1.0.0%2F7"
    )
    assert parsed.logs_hint == "CloudWatch Logs group /aws/imagebuilder/web in eu-west-1"


def test_image_builder_failed_carries_its_reason() -> None:
    parsed = parse("imagebuilder_failed.json")
    assert (parsed.status, parsed.finished, parsed.succeeded) == ("FAILED", True, False)
    assert parsed.failure_reason is not None
    assert "health check" in parsed.failure_reason


def test_image_builder_cancelled_without_reason_says_so() -> None:
    parsed = parse("imagebuilder_cancelled.json")
    assert (parsed.status, parsed.finished, parsed.succeeded) == ("CANCELLED", True, False)
    assert parsed.failure_reason == "Image Builder reports CANCELLED without a reason; see the build's logs"


def test_image_builder_progress_is_not_finished() -> None:
    parsed = parse("imagebuilder_testing.json")
    assert (parsed.status, parsed.previous_status, parsed.finished, parsed.succeeded) == (
        "TESTING",
        "BUILDING",
        False,
        False,
    )
    assert parsed.ended is None and parsed.failure_reason is None


@pytest.mark.parametrize("status", ["BUILDING", "DISTRIBUTING", "INTEGRATING", "PENDING", "CREATING"])
def test_every_build_transition_is_in_progress(status: str) -> None:
    event = load("imagebuilder_testing.json")
    event["detail"]["state"]["status"] = status
    parsed = parse_build_event(event, ACCOUNT)
    assert (parsed.finished, parsed.succeeded) == (False, False)


def test_lowercase_status_is_read() -> None:
    event = load("imagebuilder_available.json")
    event["detail"]["state"]["status"] = "available"
    assert parse_build_event(event, ACCOUNT).succeeded


def test_missing_previous_state_is_fine() -> None:
    event = load("imagebuilder_available.json")
    del event["detail"]["previous-state"]
    assert parse_build_event(event, ACCOUNT).previous_status is None


def test_china_partition_console() -> None:
    event = load("imagebuilder_available.json")
    event["resources"] = [f"arn:aws-cn:imagebuilder:cn-north-1:{ACCOUNT}:image/web/1.0.0/7"]
    event["region"] = "cn-north-1"
    parsed = parse_build_event(event, ACCOUNT)
    assert parsed.console_url.startswith("https://cn-north-1.console.amazonaws.cn/imagebuilder/")


# -- SSM Automation --------------------------------------------------------------------------


def test_automation_success() -> None:
    parsed = parse("ssm_success.json")
    assert parsed.kind is BuildKind.SSM_AUTOMATION
    assert parsed.build_id == EXECUTION
    assert (parsed.status, parsed.finished, parsed.succeeded) == ("Success", True, True)
    assert parsed.name == "AWS-UpdateLinuxAmi"
    assert parsed.family is None
    assert parsed.started == datetime(2024, 6, 1, 11, 43, 20, tzinfo=UTC)
    assert parsed.ended == datetime(2024, 6, 1, 12, 43, 26, tzinfo=UTC)
    assert parsed.duration == timedelta(hours=1, seconds=6)
    assert parsed.failure_reason is None and parsed.new_image_id is None
    assert parsed.console_url == (
        f"https://eu-west-1.console.aws.amazon.com/systems-manager/automation/execution/{EXECUTION}"
        "?region=eu-west-1"
    )
    assert EXECUTION in parsed.logs_hint and "CloudWatch Logs" in parsed.logs_hint


def test_windows_runbook_is_accepted() -> None:
    assert parse("ssm_windows_success.json").name == "AWS-UpdateWindowsAmi"


@pytest.mark.parametrize(
    ("name", "status"),
    [("ssm_failed.json", "Failed"), ("ssm_timed_out.json", "TimedOut"), ("ssm_cancelled.json", "Cancelled")],
)
def test_automation_failures(name: str, status: str) -> None:
    parsed = parse(name)
    assert (parsed.status, parsed.finished, parsed.succeeded) == (status, True, False)
    assert parsed.failure_reason is not None
    assert status in parsed.failure_reason and "GetAutomationExecution" in parsed.failure_reason


def test_canceled_spelling_is_cancelled() -> None:
    event = load("ssm_cancelled.json")
    event["detail"]["Status"] = "Canceled"
    assert parse_build_event(event, ACCOUNT).status == "Cancelled"


def test_automation_in_progress() -> None:
    parsed = parse("ssm_in_progress.json")
    assert (parsed.status, parsed.finished, parsed.succeeded) == ("InProgress", False, False)
    assert parsed.ended is None and parsed.duration is None and parsed.failure_reason is None
    assert parsed.started == datetime(2024, 6, 1, 11, 43, 20, tzinfo=UTC)


def test_duration_from_times_when_no_time_field() -> None:
    event = load("ssm_success.json")
    del event["detail"]["Time"]
    assert parse_build_event(event, ACCOUNT).duration == timedelta(hours=1, seconds=6)


def test_iso_times_are_accepted() -> None:
    event = load("ssm_success.json")
    event["detail"]["StartTime"] = "2024-06-01T11:43:20Z"
    assert parse_build_event(event, ACCOUNT).started == datetime(2024, 6, 1, 11, 43, 20, tzinfo=UTC)


def test_custom_runbooks() -> None:
    event = load("ssm_other_runbook.json")
    parsed = parse_build_event(event, ACCOUNT, runbooks=frozenset({"AWS-RestartEC2Instance"}))
    assert parsed.name == "AWS-RestartEC2Instance"


# -- refused ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("imagebuilder_deprecated.json", "DEPRECATED: a lifecycle change, not a build"),
        ("imagebuilder_foreign_account.json", "account 999988887777, not this account 123456789012"),
        ("imagebuilder_foreign_arn.json", "account 999988887777, not this account 123456789012"),
        ("imagebuilder_no_resources.json", "names 0 image build versions in resources, not 1"),
        ("imagebuilder_no_state.json", "malformed event: detail.state: Field required"),
        ("ssm_other_runbook.json", "ran AWS-RestartEC2Instance, not a rebuild runbook"),
        ("ssm_foreign_account.json", "account 999988887777, not this account 123456789012"),
        ("ssm_no_execution_id.json", "malformed event: detail.ExecutionId: Field required"),
        ("ssm_bad_time.json", "StartTime 'sometime last week' is not a time"),
        ("not_a_build.json", "'aws.ec2' / 'EC2 AMI State Change' is neither"),
    ],
)
def test_refused_events_say_why(name: str, message: str) -> None:
    with pytest.raises(EventError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(name)


def _with(name: str, path: list[str], value: Any) -> dict[str, Any]:
    event = copy.deepcopy(load(name))
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return event


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("not json", "event is a str, not a JSON object"),
        (
            _with("imagebuilder_available.json", ["resources"], ["arn:aws:imagebuilder:eu-west-1:1:image/X"]),
            "not an",
        ),
        (
            _with("imagebuilder_available.json", ["resources"], [IMAGE_ARN, IMAGE_ARN.replace("/7", "/8")]),
            "names 2 image build versions",
        ),
        (_with("imagebuilder_available.json", ["detail", "state", "status"], ""), "malformed event"),
        (_with("imagebuilder_available.json", ["detail"], "AVAILABLE"), "malformed event: detail"),
        (_with("imagebuilder_available.json", ["time"], "yesterday"), "malformed event: time"),
        (_with("ssm_success.json", ["detail", "ExecutionId"], "exec-1"), "'exec-1', which is not an id"),
        (_with("ssm_success.json", ["detail", "Status"], None), "malformed event: detail.Status"),
        (_with("ssm_success.json", ["source"], "aws.imagebuilder"), "is neither"),
    ],
)
def test_malformed_variants(event: Any, message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse_build_event(event, ACCOUNT)


def test_every_sample_is_used() -> None:
    names = {p.name for p in EVENTS.glob("*.json")}
    source = Path(__file__).read_text()
    assert names and all(name in source for name in names)
