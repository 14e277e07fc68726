"""Event parsing: real-shaped EventBridge events of every form, and the ones refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ami_hygiene.events import EventError, ImageEvent, parse_event

EVENTS = Path(__file__).parent / "events"
ACCOUNT = "123456789012"
PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/alice"


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("name", "event_name", "image_id"),
    [
        ("create_image.json", "CreateImage", "ami-0123456789abcdef0"),
        ("copy_image.json", "CopyImage", "ami-0123456789abcdef1"),
        ("register_image.json", "RegisterImage", "ami-0123456789abcdef2"),
    ],
)
def test_image_calls_give_image_principal_and_ip(name: str, event_name: str, image_id: str) -> None:
    parsed = parse_event(load(name), ACCOUNT)
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
        parse_event(load("import_image.json"), ACCOUNT)


def test_copy_names_its_source_and_others_do_not() -> None:
    copied = parse_event(load("copy_image.json"), ACCOUNT)
    assert (copied.source_image, copied.source_region) == ("ami-0fedcba9876543210", "us-east-1")
    created = parse_event(load("create_image.json"), ACCOUNT)
    assert (created.source_image, created.source_region) == (None, None)


def test_create_tags_keeps_only_image_resources() -> None:
    parsed = parse_event(load("create_tags.json"), ACCOUNT)
    assert parsed.event_name == "CreateTags"
    assert parsed.image_ids == ("ami-0123456789abcdef0",)


def test_delete_tags_is_caught() -> None:
    parsed = parse_event(load("delete_tags.json"), ACCOUNT)
    assert (parsed.event_name, parsed.image_ids) == ("DeleteTags", ("ami-0123456789abcdef0",))


def test_state_change_available() -> None:
    parsed = parse_event(load("state_change_available.json"), ACCOUNT)
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
    event = copy.deepcopy(load(name))
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
        (load("create_tags_instance_only.json"), "tags no image, only i-0abc1234def567890"),
        (load("create_image_failed.json"), "CreateImage failed (Client.UnauthorizedOperation)"),
        (load("create_image_foreign.json"), "account 999988887777, not this account"),
        (load("state_change_failed.json"), "is now failed"),
        (load("create_image_no_identity.json"), "detail.userIdentity"),
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
