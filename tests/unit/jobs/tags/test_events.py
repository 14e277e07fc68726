"""Event parsing: real-shaped EventBridge events of every form, and the ones refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ami_hygiene.jobs.tags.events import EventError, ImageEvent, parse_event
from tests.helpers.constants import ACCOUNT
from tests.helpers.events import cloudtrail_read_fields, load_event
from tests.helpers.hostile import (
    BAD_TIMES,
    CONTROL,
    HUGE,
    MALFORMED_REGIONS,
    assert_refused_naming,
    mutated,
    refusal,
)

PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/alice"


@pytest.mark.parametrize(
    ("name", "event_name", "image_id"),
    [
        ("create_image.json", "CreateImage", "ami-0123456789abcdef0"),
        ("copy_image.json", "CopyImage", "ami-0123456789abcdef1"),
        ("register_image.json", "RegisterImage", "ami-0123456789abcdef2"),
    ],
)
def test_image_calls_give_image_principal_and_ip(name: str, event_name: str, image_id: str) -> None:
    parsed = parse_event(load_event(f"tags/{name}"), ACCOUNT)
    assert parsed.image_ids == (image_id,)
    assert parsed.image_id == image_id
    assert parsed.event_name == event_name
    assert parsed.principal_arn == PRINCIPAL
    assert parsed.source_ip == "203.0.113.7"
    assert parsed.region == "eu-west-1"
    assert parsed.account == ACCOUNT


def test_import_image_is_refused_it_names_a_task_not_an_image() -> None:
    # ImportImage returns an import task; the AMI exists only when the task completes.
    with pytest.raises(EventError, match="ImportImage names an import task, not an image"):
        parse_event(load_event("tags/import_image.json"), ACCOUNT)


def test_copy_names_its_source_and_others_do_not() -> None:
    copied = parse_event(load_event("tags/copy_image.json"), ACCOUNT)
    assert (copied.source_image, copied.source_region) == ("ami-0fedcba9876543210", "us-east-1")
    created = parse_event(load_event("tags/create_image.json"), ACCOUNT)
    assert (created.source_image, created.source_region) == (None, None)


def test_create_tags_keeps_only_image_resources() -> None:
    parsed = parse_event(load_event("tags/create_tags.json"), ACCOUNT)
    assert parsed.event_name == "CreateTags"
    assert parsed.image_ids == ("ami-0123456789abcdef0",)


def test_delete_tags_is_caught() -> None:
    parsed = parse_event(load_event("tags/delete_tags.json"), ACCOUNT)
    assert (parsed.event_name, parsed.image_ids) == ("DeleteTags", ("ami-0123456789abcdef0",))


def test_state_change_available() -> None:
    parsed = parse_event(load_event("tags/state_change_available.json"), ACCOUNT)
    assert parsed == ImageEvent(
        image_ids=("ami-0123456789abcdef0",),
        region="eu-west-1",
        account=ACCOUNT,
        event_name="StateChange:available",
        time=parsed.time,
        state="available",
    )
    assert parsed.time.isoformat() == "2024-06-01T12:10:00+00:00"


def _mutated(name: str, path: list[str], value: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event(f"tags/{name}"))
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


_DELETE = object()


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (load_event("tags/create_tags_instance_only.json"), "tags no image, only i-0abc1234def567890"),
        (load_event("tags/create_image_failed.json"), "CreateImage failed (Client.UnauthorizedOperation)"),
        (load_event("tags/create_image_foreign.json"), "account 999988887777, not this account"),
        (load_event("tags/state_change_failed.json"), "is now failed"),
        (load_event("tags/create_image_no_identity.json"), "detail.userIdentity"),
        (_mutated("create_image.json", ["detail", "responseElements"], None), "no responseElements.imageId"),
        (
            _mutated("create_image.json", ["detail", "responseElements", "imageId"], "i-123"),
            "not an image id",
        ),
        (
            _mutated("create_image.json", ["detail", "eventName"], "RunInstances"),
            "RunInstances is not an image",
        ),
        (_mutated("create_image.json", ["detail", "eventSource"], "s3.amazonaws.com"), "not ec2.amazonaws"),
        (_mutated("create_image.json", ["detail", "recipientAccountId"], "999988887777"), "999988887777"),
        (_mutated("create_image.json", ["source"], "aws.s3"), "source is 'aws.s3'"),
        (_mutated("create_image.json", ["detail-type"], "Scheduled Event"), "'Scheduled Event' is neither"),
        (_mutated("create_image.json", ["time"], "yesterday"), "malformed event: time"),
        (_mutated("create_image.json", ["detail"], "{}"), "malformed event: detail"),
        (_mutated("create_tags.json", ["detail", "requestParameters"], None), "names no resources"),
        (_mutated("state_change_available.json", ["detail", "ImageId"], _DELETE), "detail.ImageId"),
        (_mutated("state_change_available.json", ["detail", "ImageId"], "ami-XYZ"), "not an image id"),
        ([], "is a list, not a JSON object"),
    ],
)
def test_refused_events_say_why(event: Any, why: str) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(event, ACCOUNT)
    assert why in str(caught.value)
    assert "\n" not in str(caught.value)


# -- hostile values: every field the parser reads is validated, and refused naming it ---------

# (fixture, path of a field the tag job reads, the name a refusal gives it)
READ_FIELDS = [
    *cloudtrail_read_fields("create_image.json"),
    ("create_image.json", ["replay-name"], "replay-name"),
    ("create_image.json", ["detail", "responseElements", "imageId"], "detail.responseElements.imageId"),
    (
        "copy_image.json",
        ["detail", "requestParameters", "sourceImageId"],
        "detail.requestParameters.sourceImageId",
    ),
    (
        "copy_image.json",
        ["detail", "requestParameters", "sourceRegion"],
        "detail.requestParameters.sourceRegion",
    ),
    (
        "create_tags.json",
        ["detail", "requestParameters", "resourcesSet", "items", 0, "resourceId"],
        "detail.requestParameters.resourcesSet.items.0.resourceId",
    ),
    ("state_change_available.json", ["detail", "ImageId"], "detail.ImageId"),
    ("state_change_available.json", ["detail", "State"], "detail.State"),
    ("state_change_available.json", ["resources", 0], "resources.0"),
]


def _parse(event: Any) -> ImageEvent:
    return parse_event(event, ACCOUNT)


@pytest.mark.parametrize("value", [HUGE, CONTROL], ids=["huge", "control"])
@pytest.mark.parametrize(("name", "path", "field"), READ_FIELDS, ids=[f[2] for f in READ_FIELDS])
def test_a_hostile_value_in_any_field_read_is_refused_naming_the_field(
    name: str, path: list[Any], field: str, value: str
) -> None:
    assert_refused_naming(_parse, mutated(load_event(f"tags/{name}"), path, value), field, value)


@pytest.mark.parametrize("region", MALFORMED_REGIONS)
@pytest.mark.parametrize("path", [["region"], ["detail", "awsRegion"]])
def test_an_empty_or_malformed_region_never_reaches_a_client(path: list[str], region: str) -> None:
    why = assert_refused_naming(
        _parse, mutated(load_event("tags/create_image.json"), path, region), ".".join(path), region
    )
    assert "not a region name like eu-west-1" in why or "at most 128 characters" in why


@pytest.mark.parametrize("raw", BAD_TIMES)
@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("create_image.json", ["time"]),
        ("create_image.json", ["detail", "eventTime"]),
        ("state_change_available.json", ["time"]),
    ],
)
def test_times_out_of_range_are_refused(name: str, path: list[str], raw: str) -> None:
    why = assert_refused_naming(_parse, mutated(load_event(f"tags/{name}"), path, raw), ".".join(path), raw)
    assert "is outside 2006-2100" in why


@pytest.mark.parametrize(
    "image_id",
    [
        "ami-0123456789ABCDEF0",
        "AMI-0123456789abcdef0",
        "ami-0123456789abcdef",
        "ami-0123456789abcdef01",
        "ami-123456789",
        "ami-0123456789abcdef0\n",
        " ami-0123456789abcdef0",
    ],
)
@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("create_image.json", ["detail", "responseElements", "imageId"]),
        ("copy_image.json", ["detail", "requestParameters", "sourceImageId"]),
        ("state_change_available.json", ["detail", "ImageId"]),
    ],
)
def test_image_ids_in_the_wrong_case_or_length_are_refused(name: str, path: list[str], image_id: str) -> None:
    assert_refused_naming(
        _parse, mutated(load_event(f"tags/{name}"), path, image_id), ".".join(path), image_id
    )


def test_an_image_id_among_tagged_resources_must_be_one() -> None:
    event = mutated(
        load_event("tags/create_tags.json"),
        ["detail", "requestParameters", "resourcesSet", "items", 0],
        {"resourceId": "ami-XYZ"},
    )
    why = assert_refused_naming(_parse, event, "items.0.resourceId", "ami-XYZ")
    assert "not an EC2 resource id" in why or "not an image id" in why


@pytest.mark.parametrize("detail", ["{}", [], None, 5, True])
@pytest.mark.parametrize("name", ["create_image.json", "state_change_available.json"])
def test_a_detail_that_is_no_object_is_refused(name: str, detail: Any) -> None:
    assert_refused_naming(_parse, mutated(load_event(f"tags/{name}"), ["detail"], detail), "detail", detail)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["detail", "userIdentity"], "alice"),
        (["detail", "requestParameters"], ["a"]),
        (["detail", "responseElements"], "ami-0123456789abcdef0"),
        (["resources"], {"arn": "x"}),
    ],
)
def test_a_part_of_the_wrong_kind_is_refused(path: list[str], value: Any) -> None:
    assert_refused_naming(
        _parse, mutated(load_event("tags/create_image.json"), path, value), ".".join(path), value
    )


def test_too_many_tagged_resources_are_refused_and_a_refusal_lists_a_few() -> None:
    event = load_event("tags/create_tags_instance_only.json")
    items = [{"resourceId": f"i-{n:017x}"} for n in range(1001)]
    too_many = mutated(event, ["detail", "requestParameters", "resourcesSet", "items"], items)
    assert_refused_naming(_parse, too_many, "detail.requestParameters.resourcesSet.items", items)
    few = mutated(event, ["detail", "requestParameters", "resourcesSet", "items"], items[:1000])
    why = refusal(_parse, few)
    assert why == (
        "CreateTags event tags no image, only i-00000000000000000, i-00000000000000001, "
        "i-00000000000000002 and 997 more"
    )


def test_fields_the_parser_does_not_read_may_be_anything() -> None:
    event = load_event("tags/create_image.json")
    event["detail"]["userAgent"] = HUGE
    event["detail"]["requestParameters"]["name"] = CONTROL
    assert parse_event(event, ACCOUNT).image_ids == ("ami-0123456789abcdef0",)
