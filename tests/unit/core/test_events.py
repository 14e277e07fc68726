"""The constrained event field types, how a refusal shows a value, and the envelope model."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from ami_hygiene.core.events import (
    SHOWN,
    AccountId,
    CloudTrailRecord,
    DurationMs,
    Ec2ResourceId,
    EventError,
    EventTime,
    GenericEvent,
    ImageId,
    Name,
    OrganizationalUnitArn,
    OrganizationArn,
    PrincipalArn,
    RegionName,
    SnapshotId,
    Text,
    Token,
    check_account,
    describe,
    region_refusal,
    shown,
    validate_event,
)
from tests.helpers.events import scheduled_event
from tests.helpers.hostile import BAD_TIMES, CONTROL, HUGE, MALFORMED_REGIONS, NEWLINE, mutated

BOTOCORE_DATA = Path(botocore.__file__).parent / "data"
ENVELOPE = scheduled_event()  # the AWS example, for this account, region and NOW


def valid(kind: Any, value: Any) -> Any:
    return TypeAdapter(kind).validate_python(value)


def problem(kind: Any, value: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(kind).validate_python(value)
    return describe(caught.value)


# -- regions ---------------------------------------------------------------------------------


def _botocore_regions() -> set[str]:
    data = json.loads((BOTOCORE_DATA / "endpoints.json").read_text())
    regions = {r for p in data["partitions"] for r in p["regions"]}
    partitions = BOTOCORE_DATA / "partitions.json"
    if partitions.exists():
        more = json.loads(partitions.read_text())
        regions |= {r for p in more["partitions"] for r in p["regions"]}
    return {r for r in regions if not r.endswith("-global")}


def test_every_region_botocore_knows_is_a_region_name() -> None:
    regions = _botocore_regions()
    assert {"eu-west-1", "us-gov-west-1", "cn-north-1", "us-isob-east-1", "eu-isoe-west-1"} <= regions
    for region in sorted(regions):
        assert valid(RegionName, region) == region


@pytest.mark.parametrize(
    "region", [*MALFORMED_REGIONS, "eu-west-1r", "eu-west-123", "eu_west-1", "me-south-1r"]
)
def test_malformed_regions_are_refused_without_their_whole_value(region: str) -> None:
    why = problem(RegionName, region)
    assert "not a region name like eu-west-1" in why or "at most 128 characters" in why
    assert HUGE not in why and "\n" not in why


def test_the_global_pseudo_regions_of_botocore_are_not_region_names() -> None:
    for name in ("aws-global", "aws-cn-global", "aws-us-gov-global"):
        with pytest.raises(ValidationError):
            valid(RegionName, name)


# -- ids and ARNs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        (
            AccountId,
            ["123456789012", "000000000000"],
            ["12345678901", "1234567890123", "١٢٣٤٥٦٧٨٩٠١٢", "12345678901\n"],
        ),
        (
            ImageId,
            ["ami-12345678", "ami-0123456789abcdef0"],
            [
                "ami-0123456789ABCDEF0",  # upper case
                "AMI-12345678",
                "ami-123456789",  # 9
                "ami-0123456789abcdef",  # 16
                "ami-0123456789abcdef01",  # 18
                "ami-0123456789abcdef0\n",
                "snap-0123456789abcdef0",
                "ami-",
                "",
            ],
        ),
        (
            SnapshotId,
            ["snap-12345678", "snap-0123456789abcdef0"],
            ["snap-0123456789ABCDEF0", "snap-1234567", "snap-0123456789abcdef", "ami-0123456789abcdef0"],
        ),
        (
            PrincipalArn,
            [
                "arn:aws:iam::123456789012:user/alice",
                "arn:aws:iam::123456789012:root",
                "arn:aws:sts::123456789012:assumed-role/Builder/alice",
                "arn:aws-us-gov:sts::123456789012:assumed-role/Builder/alice",
                "arn:aws-cn:iam::123456789012:user/path/to/bob",
            ],
            [
                "...",
                "",
                "arn:aws:s3:::bucket",
                "arn:aws:iam::12345:user/alice",
                "arn:aws:iam::123456789012:user/al ice",
                "arn:aws:iam::123456789012:user/alice\n",
                "arn:aws:iam::123456789012:user/" + "a" * 3000,
            ],
        ),
        (
            OrganizationArn,
            ["arn:aws:organizations::111122223333:organization/o-abcdef1234"],
            ["arn:aws:iam::111122223333:root", "arn:aws:organizations::111122223333:organization/o-ab"],
        ),
        (
            OrganizationalUnitArn,
            ["arn:aws:organizations::111122223333:ou/o-abcdef1234/ou-ab12-cdef5678"],
            ["arn:aws:organizations::111122223333:organization/o-abcdef1234"],
        ),
        (
            Ec2ResourceId,
            ["i-0ac0c97c76bda8dfb", "vol-02e6465799de7075a", "ami-12345678", "ipam-pool-0123456789abcdef0"],
            ["ami-XYZ", "I-0AC0", "snap-123", "i-0ac0c97c76bda8dfb;", "", "x" * 200],
        ),
        (Token, ["CreateImage", "Client.UnauthorizedOperation", "ec2.amazonaws.com"], ["", "a b", "x" * 81]),
    ],
)
def test_ids_and_arns(kind: Any, good: list[str], bad: list[str]) -> None:
    for value in good:
        assert valid(kind, value) == value
    for value in bad:
        why = problem(kind, value)
        assert "\n" not in why
        assert value[: SHOWN + 1] not in why or len(value) <= SHOWN


@given(st.text(max_size=40))
def test_no_text_but_an_image_id_shape_is_an_image_id(text: str) -> None:
    shaped = re.fullmatch(r"ami-(?:[0-9a-f]{8}|[0-9a-f]{17})", text) is not None
    try:
        valid(ImageId, text)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == shaped


# -- free text -------------------------------------------------------------------------------


def test_text_allows_line_breaks_but_no_other_control_character() -> None:
    assert valid(Text, NEWLINE) == NEWLINE
    assert valid(Text, "café ☕ 😀") == "café ☕ 😀"
    for bad in (CONTROL, "a\x7fb", "a\x9bb", "invoice\u202egnp.exe", "a\u2066b"):
        why = problem(Text, bad)
        assert "has a character not allowed in AWS text" in why


@pytest.mark.parametrize("value", [NEWLINE, "a\tb", "a\rb", "a\x85b", "a\u2028b", "a\u2029b"])
def test_a_one_line_name_has_no_line_break(value: str) -> None:
    assert "has a character not allowed in AWS text" in problem(Name, value)
    # pydantic refuses a lone surrogate (json.loads makes one from "\\ud800") before our check.
    assert "unicode" in problem(Text, "lone \ud800 surrogate")


def test_text_is_bounded() -> None:
    why = problem(Text, HUGE)
    assert "at most 2048 characters" in why and HUGE[:81] not in why


# -- times and durations ---------------------------------------------------------------------


@pytest.mark.parametrize("raw", BAD_TIMES)
def test_times_out_of_range_are_refused(raw: str) -> None:
    assert "is outside 2006-2100" in problem(EventTime, raw)


@pytest.mark.parametrize("raw", [0, -1, 10**30, "yesterday", HUGE, "", None, [], {}])
def test_things_that_are_no_time_are_refused(raw: Any) -> None:
    problem(EventTime, raw)


def test_a_time_without_a_zone_is_utc_and_one_with_a_zone_is_kept() -> None:
    assert valid(EventTime, "2024-06-01T12:00:00") == datetime(2024, 6, 1, 12, tzinfo=UTC)
    paris = valid(EventTime, "2024-06-01T14:00:00+02:00")
    assert paris == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert paris.utcoffset() == timedelta(hours=2)
    # At the very edge of the range, with an offset: checked on the year as written, no arithmetic.
    edge = valid(EventTime, datetime(2100, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))))
    assert edge.year == 2100


@pytest.mark.parametrize("raw", [-1, 1e300, float("inf"), float("nan"), 366 * 86_400_000 + 1, "x"])
def test_durations_out_of_range_are_refused(raw: Any) -> None:
    problem(DurationMs, raw)


def test_a_bounded_duration_makes_a_timedelta() -> None:
    assert timedelta(milliseconds=valid(DurationMs, 366 * 86_400_000)) == timedelta(days=366)


# -- showing values --------------------------------------------------------------------------


def test_shown_cuts_long_text_and_escapes_control_characters() -> None:
    assert shown("eu-west-1") == "'eu-west-1'"
    assert shown(HUGE) == repr("x" * SHOWN) + "…"
    assert shown("a\nb\x00c\x1b\u202e") == "'a\\nb\\x00c\\x1b\\u202e'"
    assert "\n" not in shown("\n" * 500) and len(shown("\n" * 500)) < 200


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "None"),
        (True, "True"),
        (1.5, "1.5"),
        (12, "12"),
        pytest.param(10**5000, "an integer of 16610 bits", id="huge-int"),
        ({"a": 1}, "an object of 1 key(s)"),
        (list(range(10_000)), "a list of 10000 item(s)"),
        (b"raw", "a bytes"),
    ],
)
def test_shown_shows_kinds_and_sizes_not_contents(value: Any, text: str) -> None:
    assert shown(value) == text


class _Two(BaseModel):
    region: RegionName
    account: AccountId


def test_describe_names_each_field_and_shows_its_value() -> None:
    with pytest.raises(ValidationError) as caught:
        _Two.model_validate({"region": "eu-west-1; DROP", "account": HUGE})
    why = describe(caught.value)
    assert why == (
        "region: not a region name like eu-west-1 (got 'eu-west-1; DROP'); "
        f"account: String should have at most 128 characters (got {shown(HUGE)}) (2 problems)"
    )


def test_describe_of_a_missing_field_shows_no_value() -> None:
    with pytest.raises(ValidationError) as caught:
        _Two.model_validate({"region": "eu-west-1"})
    assert describe(caught.value) == "account: Field required"


# -- the envelope ----------------------------------------------------------------------------


def test_a_scheduled_event_envelope_is_valid() -> None:
    event = validate_event(GenericEvent, ENVELOPE)
    assert (event.account, event.region, event.detail) == ("123456789012", "eu-west-1", {})


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["region"], "", "region"),
        (["region"], "eu-west-1; DROP", "region"),
        (["region"], HUGE, "region"),
        (["account"], "12345678901", "account"),
        (["account"], 123456789012, "account"),
        (["id"], HUGE, "id"),
        (["id"], "a b", "id"),
        (["version"], CONTROL, "version"),
        (["source"], HUGE, "source"),
        (["detail-type"], "x" * 129, "detail-type"),
        (["time"], "0001-01-01T00:00:00Z", "time"),
        (["time"], "9999-12-31T23:59:59Z", "time"),
        (["resources"], ["not an arn"], "resources.0"),
        (["resources"], [HUGE], "resources.0"),
        (["resources"], ["arn:aws:events:eu-west-1:123456789012:rule/r"] * 101, "resources"),
        (["resources"], "arn:aws:events:eu-west-1:123456789012:rule/r", "resources"),
        (["detail"], "{}", "detail"),
        (["detail"], [], "detail"),
        (["replay-name"], CONTROL, "replay-name"),
    ],
)
def test_every_envelope_field_is_constrained(path: list[str], value: Any, field: str) -> None:
    with pytest.raises(EventError) as caught:
        validate_event(GenericEvent, mutated(ENVELOPE, path, value))
    why = str(caught.value)
    assert why.startswith(f"malformed event: {field}:"), why
    assert HUGE[:81] not in why and "\x00" not in why


@pytest.mark.parametrize("event", [None, [], "text", 3, [ENVELOPE]])
def test_an_event_that_is_no_object_is_refused(event: Any) -> None:
    with pytest.raises(EventError, match="not a JSON object"):
        validate_event(GenericEvent, event)


# -- accounts and regions of the run ---------------------------------------------------------


def test_check_account() -> None:
    check_account("123456789012", "123456789012")
    with pytest.raises(EventError, match="event is for account 999988887777, not this account 123456789012"):
        check_account("999988887777", "123456789012")


def test_a_cloudtrail_record_is_for_this_account_only_if_its_recipient_is_too() -> None:
    record = CloudTrailRecord.model_validate(
        {
            "eventSource": "ec2.amazonaws.com",
            "eventName": "CreateImage",
            "awsRegion": "eu-west-1",
            "userIdentity": {},
            "recipientAccountId": "999988887777",
        }
    )
    with pytest.raises(EventError, match="account 999988887777"):
        record.check_accounts("123456789012", "123456789012")
    record.model_copy(update={"recipient_account_id": None}).check_accounts("123456789012", "123456789012")


class _Regional:
    region = "eu-west-3"


def test_region_refusal_names_the_region_and_the_run_regions() -> None:
    assert region_refusal(_Regional(), ("eu-west-3",)) is None
    assert region_refusal(_Regional(), ("eu-west-1", "us-east-1")) == (
        "event region 'eu-west-3' is not one of Regions (eu-west-1, us-east-1)"
    )
    assert region_refusal(object(), ("eu-west-1",)) == "event region None is not one of Regions (eu-west-1)"
