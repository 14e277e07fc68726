"""Build events: Image Builder state changes and SSM Automation status changes, and the ones refused."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ami_hygiene.jobs.rebuild.events import BuildEvent, parse_build_event
from ami_hygiene.jobs.rebuild.model import BuildKind
from ami_hygiene.jobs.tags.events import EventError
from tests.helpers.constants import ACCOUNT
from tests.helpers.events import EVENTS, load_event
from tests.helpers.hostile import (
    BAD_TIMES,
    CONTROL,
    HUGE,
    MALFORMED_REGIONS,
    NEWLINE,
    assert_refused_naming,
    refusal,
)
from tests.helpers.hostile import mutated as hostile

IMAGE_ARN = f"arn:aws:imagebuilder:eu-west-1:{ACCOUNT}:image/web/1.0.0/7"
EXECUTION = "333ba70b-2333-48db-b17e-a5e69c6f4d1c"


def parse(name: str) -> BuildEvent:
    return parse_build_event(load_event(f"rebuild/{name}"), ACCOUNT)


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
    event = load_event("rebuild/imagebuilder_testing.json")
    event["detail"]["state"]["status"] = status
    parsed = parse_build_event(event, ACCOUNT)
    assert (parsed.finished, parsed.succeeded) == (False, False)


def test_lowercase_status_is_read() -> None:
    event = load_event("rebuild/imagebuilder_available.json")
    event["detail"]["state"]["status"] = "available"
    assert parse_build_event(event, ACCOUNT).succeeded


def test_missing_previous_state_is_fine() -> None:
    event = load_event("rebuild/imagebuilder_available.json")
    del event["detail"]["previous-state"]
    assert parse_build_event(event, ACCOUNT).previous_status is None


def test_china_partition_console() -> None:
    event = load_event("rebuild/imagebuilder_available.json")
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
    event = load_event("rebuild/ssm_cancelled.json")
    event["detail"]["Status"] = "Canceled"
    assert parse_build_event(event, ACCOUNT).status == "Cancelled"


def test_automation_in_progress() -> None:
    parsed = parse("ssm_in_progress.json")
    assert (parsed.status, parsed.finished, parsed.succeeded) == ("InProgress", False, False)
    assert parsed.ended is None and parsed.duration is None and parsed.failure_reason is None
    assert parsed.started == datetime(2024, 6, 1, 11, 43, 20, tzinfo=UTC)


def test_duration_from_times_when_no_time_field() -> None:
    event = load_event("rebuild/ssm_success.json")
    del event["detail"]["Time"]
    assert parse_build_event(event, ACCOUNT).duration == timedelta(hours=1, seconds=6)


def test_iso_times_are_accepted() -> None:
    event = load_event("rebuild/ssm_success.json")
    event["detail"]["StartTime"] = "2024-06-01T11:43:20Z"
    assert parse_build_event(event, ACCOUNT).started == datetime(2024, 6, 1, 11, 43, 20, tzinfo=UTC)


def test_custom_runbooks() -> None:
    event = load_event("rebuild/ssm_other_runbook.json")
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
        (
            "ssm_bad_time.json",
            "StartTime: not a time like 'Nov 29, 2016 7:43:20 PM' or ISO 8601 (got 'sometime last week')",
        ),
        ("not_a_build.json", "'aws.ec2' / 'EC2 AMI State Change' is neither"),
    ],
)
def test_refused_events_say_why(name: str, message: str) -> None:
    with pytest.raises(EventError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(name)


def _with(name: str, path: list[str], value: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"rebuild/{name}"))
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
        (
            _with("ssm_success.json", ["detail", "ExecutionId"], "exec-1"),
            r"detail.ExecutionId: not an Automation execution id .* \(got 'exec-1'\)",
        ),
        (_with("ssm_success.json", ["detail", "Status"], None), "malformed event: detail.Status"),
        (_with("ssm_success.json", ["source"], "aws.imagebuilder"), "is neither"),
    ],
)
def test_malformed_variants(event: Any, message: str) -> None:
    with pytest.raises(EventError, match=message):
        parse_build_event(event, ACCOUNT)


def test_every_sample_is_used() -> None:
    names = {p.name for p in (EVENTS / "rebuild").glob("*.json")}
    source = Path(__file__).read_text()
    assert names and all(name in source for name in names)


# -- hostile values: every field the parser reads is validated, and refused naming it ---------

# (fixture, path of a field the rebuild job reads, the name a refusal gives it)
READ_FIELDS = [
    ("imagebuilder_available.json", ["version"], "version"),
    ("imagebuilder_available.json", ["id"], "id"),
    ("imagebuilder_available.json", ["account"], "account"),
    ("imagebuilder_available.json", ["time"], "time"),
    ("imagebuilder_available.json", ["region"], "region"),
    ("imagebuilder_available.json", ["source"], "source"),
    ("imagebuilder_available.json", ["detail-type"], "detail-type"),
    ("imagebuilder_available.json", ["resources", 0], "resources.0"),
    ("imagebuilder_available.json", ["detail", "state", "status"], "detail.state.status"),
    ("imagebuilder_available.json", ["detail", "previous-state", "status"], "detail.previous-state.status"),
    ("imagebuilder_failed.json", ["detail", "state", "reason"], "detail.state.reason"),
    ("ssm_success.json", ["region"], "region"),
    ("ssm_success.json", ["detail", "ExecutionId"], "detail.ExecutionId"),
    ("ssm_success.json", ["detail", "Definition"], "detail.Definition"),
    ("ssm_success.json", ["detail", "Status"], "detail.Status"),
    ("ssm_success.json", ["detail", "StartTime"], "detail.StartTime"),
    ("ssm_success.json", ["detail", "EndTime"], "detail.EndTime"),
    ("ssm_success.json", ["detail", "Time"], "detail.Time"),
]


def _parse(event: Any) -> BuildEvent:
    return parse_build_event(event, ACCOUNT)


@pytest.mark.parametrize("value", [HUGE, CONTROL], ids=["huge", "control"])
@pytest.mark.parametrize(("name", "path", "field"), READ_FIELDS, ids=[f"{f[0]}:{f[2]}" for f in READ_FIELDS])
def test_a_hostile_value_in_any_field_read_is_refused_naming_the_field(
    name: str, path: list[Any], field: str, value: str
) -> None:
    assert_refused_naming(_parse, hostile(load_event(f"rebuild/{name}"), path, value), field, value)


def test_a_failure_reason_may_span_lines_but_is_bounded() -> None:
    event = hostile(load_event("rebuild/imagebuilder_failed.json"), ["detail", "state", "reason"], NEWLINE)
    assert _parse(event).failure_reason == NEWLINE
    long = hostile(load_event("rebuild/imagebuilder_failed.json"), ["detail", "state", "reason"], "r" * 1025)
    assert "at most 1024 characters" in assert_refused_naming(_parse, long, "detail.state.reason", "r" * 1025)


@pytest.mark.parametrize("region", MALFORMED_REGIONS)
@pytest.mark.parametrize("name", ["imagebuilder_available.json", "ssm_success.json"])
def test_an_empty_or_malformed_region_never_reaches_a_client(name: str, region: str) -> None:
    assert_refused_naming(
        _parse, hostile(load_event(f"rebuild/{name}"), ["region"], region), "region", region
    )


@pytest.mark.parametrize("region", ["eu-west-1x", "EU-WEST-1", "", "eu_west_1"])
def test_an_image_arn_with_a_malformed_region_is_refused(region: str) -> None:
    arn = IMAGE_ARN.replace("eu-west-1", region)
    event = hostile(load_event("rebuild/imagebuilder_available.json"), ["resources"], [arn])
    why = refusal(_parse, event)
    assert "not an image build version ARN" in why or why.startswith("malformed event: resources.0")


@pytest.mark.parametrize("raw", BAD_TIMES)
@pytest.mark.parametrize("name", ["imagebuilder_available.json", "ssm_success.json"])
def test_event_times_out_of_range_are_refused(name: str, raw: str) -> None:
    assert "is outside 2006-2100" in assert_refused_naming(
        _parse, hostile(load_event(f"rebuild/{name}"), ["time"], raw), "time", raw
    )


@pytest.mark.parametrize(
    "raw",
    [
        "Jan 1, 0001 12:00:00 AM",
        "Dec 31, 9999 11:59:59 PM",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00",
        "Nov 29, 2016 7:43:20 PM" + " " * 100 + "x",
        "x" * 10_000,
        10**30,
        -(10**30),
    ],
    ids=[
        "ssm-year-1",
        "ssm-year-9999",
        "iso-year-9999",
        "iso-year-1",
        "padded",
        "huge",
        "huge-number",
        "negative",
    ],
)
@pytest.mark.parametrize("field", ["StartTime", "EndTime"])
def test_huge_or_out_of_range_ssm_times_are_refused(field: str, raw: Any) -> None:
    assert_refused_naming(
        _parse,
        hostile(load_event("rebuild/ssm_success.json"), ["detail", field], raw),
        f"detail.{field}",
        raw,
    )


@pytest.mark.parametrize(
    "raw", [1e20, 1e308, -1, -1e20, float("inf"), float("nan"), 366 * 86_400_000 + 1, "fast", []]
)
def test_a_duration_out_of_bounds_is_refused_it_never_overflows(raw: Any) -> None:
    assert_refused_naming(
        _parse, hostile(load_event("rebuild/ssm_success.json"), ["detail", "Time"], raw), "detail.Time", raw
    )


def test_the_longest_duration_and_the_widest_times_still_compute() -> None:
    event = load_event("rebuild/ssm_success.json")
    event["detail"]["Time"] = 366 * 86_400_000
    assert _parse(event).duration == timedelta(days=366)
    del event["detail"]["Time"]
    event["detail"]["StartTime"] = "2006-01-01T00:00:00+14:00"
    event["detail"]["EndTime"] = "2100-12-31T23:59:59-12:00"
    parsed = _parse(event)
    assert parsed.duration is not None and parsed.duration.days > 34_000


def test_an_empty_ssm_time_is_absent() -> None:
    event = hostile(load_event("rebuild/ssm_in_progress.json"), ["detail", "StartTime"], "  ")
    assert _parse(event).started is None


@pytest.mark.parametrize(
    "execution",
    [
        "333BA70B-2333-48DB-B17E-A5E69C6F4D1C",
        "333ba70b-2333-48db-b17e-a5e69c6f4d1",
        "333ba70b-2333-48db-b17e-a5e69c6f4d1c0",
        "333ba70b-2333-48db-b17e-a5e69c6f4d1c\n",
    ],
)
def test_execution_ids_in_the_wrong_case_or_length_are_refused(execution: str) -> None:
    event = hostile(load_event("rebuild/ssm_success.json"), ["detail", "ExecutionId"], execution)
    assert "not an Automation execution id" in assert_refused_naming(
        _parse, event, "detail.ExecutionId", execution
    )


@pytest.mark.parametrize("detail", ["{}", [], None, 5])
@pytest.mark.parametrize("name", ["imagebuilder_available.json", "ssm_success.json"])
def test_a_detail_that_is_no_object_is_refused(name: str, detail: Any) -> None:
    assert_refused_naming(
        _parse, hostile(load_event(f"rebuild/{name}"), ["detail"], detail), "detail", detail
    )


def test_a_state_that_is_no_object_is_refused() -> None:
    event = hostile(load_event("rebuild/imagebuilder_available.json"), ["detail", "state"], "AVAILABLE")
    assert_refused_naming(_parse, event, "detail.state", "AVAILABLE")
