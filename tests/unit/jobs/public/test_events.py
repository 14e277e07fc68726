"""Sharing event parsing: real-shaped CloudTrail events of every form, and the ones refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ami_hygiene.jobs.public.events import SharingEvent, parse_sharing_event
from ami_hygiene.jobs.tags.events import EventError
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
IMAGE = "ami-0123456789abcdef0"
SNAPSHOT = "snap-0123456789abcdef0"
ORG = "arn:aws:organizations::111122223333:organization/o-abcdef1234"
OU = "arn:aws:organizations::111122223333:ou/o-abcdef1234/ou-ab12-cdef5678"


def parse(name: str) -> SharingEvent:
    return parse_sharing_event(load_event(f"public/{name}"), ACCOUNT)


@pytest.mark.parametrize(
    ("name", "resource", "kind", "added"),
    [
        ("image_public.json", IMAGE, "image", ("all",)),
        ("image_account.json", IMAGE, "image", ("444455556666",)),
        ("image_organization.json", IMAGE, "image", (ORG, OU)),
        ("snapshot_public.json", SNAPSHOT, "snapshot", ("all",)),
        ("snapshot_account.json", SNAPSHOT, "snapshot", ("444455556666",)),
    ],
)
def test_additions_need_the_guard(name: str, resource: str, kind: str, added: tuple[str, ...]) -> None:
    parsed = parse(name)
    assert (parsed.resource_id, parsed.resource_type, parsed.added, parsed.removed) == (
        resource,
        kind,
        added,
        (),
    )
    assert parsed.needs_guard
    assert parsed.made_public == (added == ("all",))
    assert (parsed.account, parsed.region, parsed.principal_arn, parsed.source_ip) == (
        ACCOUNT,
        "eu-west-1",
        PRINCIPAL,
        "203.0.113.7",
    )
    assert parsed.time.year == 2024


def test_add_and_remove_in_one_call_keeps_both() -> None:
    parsed = parse("image_add_and_remove.json")
    assert (parsed.added, parsed.removed, parsed.needs_guard) == (
        ("444455556666",),
        ("111122223333",),
        True,
    )


@pytest.mark.parametrize(
    ("name", "removed"),
    [
        ("image_remove_only.json", ("444455556666", "all")),
        ("snapshot_remove_only.json", ("all",)),
    ],
)
def test_removals_only_need_no_guard(name: str, removed: tuple[str, ...]) -> None:
    parsed = parse(name)
    assert (parsed.added, parsed.removed, parsed.needs_guard) == ((), removed, False)


def test_another_attribute_needs_no_guard() -> None:
    parsed = parse("image_description.json")
    assert (parsed.resource_id, parsed.needs_guard, parsed.added) == (IMAGE, False, ())


@pytest.mark.parametrize(
    "request_parameters",
    [
        {"attributeType": "launchPermission", "operationType": "add", "userId": "444455556666"},
        {"operationType": "add", "userGroup": "all"},
        {"organizationArns": ["arn:aws:organizations::111122223333:organization/o-abcdef1234"]},
        {"attributeType": "CREATE_VOLUME_PERMISSION", "operationType": "add", "userIds": ["444455556666"]},
    ],
)
def test_a_permission_change_in_the_older_request_form_is_guarded(request_parameters: dict[str, Any]) -> None:
    # ModifyImageAttribute also takes Attribute=launchPermission + OperationType + UserIds/UserGroups.
    # Unread, such a share must not pass as "another attribute": the guard reads the resource itself.
    event = load_event("public/image_public.json")
    snapshot = "attributeType" in request_parameters and "VOLUME" in request_parameters["attributeType"]
    if snapshot:
        event["detail"]["eventName"] = "ModifySnapshotAttribute"
        event["detail"]["requestParameters"] = {"snapshotId": "snap-0123456789abcdef0", **request_parameters}
    else:
        event["detail"]["requestParameters"] = {"imageId": IMAGE, **request_parameters}
    parsed = parse_sharing_event(event, ACCOUNT)
    assert parsed.needs_guard and parsed.added == ()


def test_block_public_access_calls() -> None:
    disabled = parse("disable_block_public_access.json")
    assert (disabled.resource_type, disabled.resource_id, disabled.needs_guard) == ("account", ACCOUNT, True)
    enabled = parse("enable_block_public_access.json")
    assert (enabled.event_name, enabled.needs_guard) == ("EnableImageBlockPublicAccess", False)


def test_the_stratus_groups_spelling_is_read_as_group() -> None:
    event = load_event("public/snapshot_public.json")
    event["detail"]["requestParameters"]["createVolumePermission"]["add"]["items"] = [{"groups": "all"}]
    assert parse_sharing_event(event, ACCOUNT).added == ("all",)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("image_public_failed.json", "failed (Client.OperationNotPermitted)"),
        ("image_public_foreign.json", "account 999988887777, not this account"),
        ("malformed_no_image_id.json", "no requestParameters.imageId"),
        ("malformed_bad_group.json", "group 'everyone'"),
        ("malformed_bad_account.json", "items.0.userId: not an account id (12 digits) (got '4444')"),
        ("malformed_empty_items.json", "changes no permission"),
        ("malformed_snapshot_organization.json", "snapshots are shared only with accounts"),
        (
            "malformed_items_not_a_list.json",
            "detail.requestParameters.launchPermission.add.items: Input should be a valid list (got 'all')",
        ),
        ("malformed_no_identity.json", "malformed event: detail.userIdentity"),
    ],
)
def test_refused_events_say_why(name: str, says: str) -> None:
    with pytest.raises(EventError) as err:
        parse(name)
    assert says in str(err.value)


def test_event_of_another_account_is_refused() -> None:
    event = load_event("public/image_public.json")
    event["account"] = "999988887777"
    with pytest.raises(EventError, match="account 999988887777"):
        parse_sharing_event(event, ACCOUNT)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda e: e.update(source="aws.s3"), "source is 'aws.s3'"),
        (lambda e: e.update({"detail-type": "EC2 AMI State Change"}), "detail-type"),
        (lambda e: e["detail"].update(eventSource="s3.amazonaws.com"), "not ec2.amazonaws.com"),
        (lambda e: e["detail"].update(eventName="CreateImage"), "not a sharing call"),
        (lambda e: e["detail"].update(requestParameters=None), "no requestParameters object"),
        (
            lambda e: e["detail"]["requestParameters"].update(imageId="snap-0123456789abcdef0"),
            "not an image id",
        ),
        (
            lambda e: e["detail"]["requestParameters"]["launchPermission"]["add"]["items"].append(
                {"userId": "444455556666", "group": "all"}
            ),
            "names 2 principals",
        ),
        (
            lambda e: e["detail"]["requestParameters"]["launchPermission"]["add"]["items"].append(
                {"organizationArn": "arn:aws:iam::111122223333:root"}
            ),
            "not an organization ARN",
        ),
        (
            lambda e: e["detail"]["requestParameters"]["launchPermission"]["add"]["items"].append(
                {"organizationalUnitArn": ORG}
            ),
            "not an organizational unit ARN",
        ),
    ],
)
def test_more_refusals(change: Any, says: str) -> None:
    event = copy.deepcopy(load_event("public/image_public.json"))
    change(event)
    with pytest.raises(EventError) as err:
        parse_sharing_event(event, ACCOUNT)
    assert says in str(err.value)


@pytest.mark.parametrize("value", [None, [], "text", 3])
def test_not_an_object_is_refused(value: Any) -> None:
    with pytest.raises(EventError, match="not a JSON object"):
        parse_sharing_event(value, ACCOUNT)


def test_duplicate_items_are_listed_once() -> None:
    event = load_event("public/image_account.json")
    event["detail"]["requestParameters"]["launchPermission"]["add"]["items"] *= 2
    assert parse_sharing_event(event, ACCOUNT).added == ("444455556666",)


# -- hostile values: every field the parser reads is validated, and refused naming it ---------

RP = ["detail", "requestParameters"]
# (fixture, path of a field the public job reads, the name a refusal gives it)
READ_FIELDS = [
    *cloudtrail_read_fields("image_public.json"),
    ("image_public.json", [*RP, "imageId"], "detail.requestParameters.imageId"),
    ("image_public.json", [*RP, "attributeType"], "detail.requestParameters.attributeType"),
    (
        "image_public.json",
        [*RP, "launchPermission", "add", "items", 0, "group"],
        "detail.requestParameters.launchPermission.add.items.0.group",
    ),
    (
        "image_account.json",
        [*RP, "launchPermission", "add", "items", 0, "userId"],
        "detail.requestParameters.launchPermission.add.items.0.userId",
    ),
    (
        "image_organization.json",
        [*RP, "launchPermission", "add", "items", 0, "organizationArn"],
        "detail.requestParameters.launchPermission.add.items.0.organizationArn",
    ),
    (
        "image_organization.json",
        [*RP, "launchPermission", "add", "items", 1, "organizationalUnitArn"],
        "detail.requestParameters.launchPermission.add.items.1.organizationalUnitArn",
    ),
    ("snapshot_public.json", [*RP, "snapshotId"], "detail.requestParameters.snapshotId"),
    (
        "snapshot_public.json",
        [*RP, "createVolumePermission", "add", "items", 0, "group"],
        "detail.requestParameters.createVolumePermission.add.items.0.group",
    ),
    ("disable_block_public_access.json", ["detail", "awsRegion"], "detail.awsRegion"),
]


def _parse(event: Any) -> SharingEvent:
    return parse_sharing_event(event, ACCOUNT)


@pytest.mark.parametrize("value", [HUGE, CONTROL], ids=["huge", "control"])
@pytest.mark.parametrize(("name", "path", "field"), READ_FIELDS, ids=[f"{f[0]}:{f[2]}" for f in READ_FIELDS])
def test_a_hostile_value_in_any_field_read_is_refused_naming_the_field(
    name: str, path: list[Any], field: str, value: str
) -> None:
    assert_refused_naming(_parse, mutated(load_event(f"public/{name}"), path, value), field, value)


@pytest.mark.parametrize("region", MALFORMED_REGIONS)
@pytest.mark.parametrize("path", [["region"], ["detail", "awsRegion"]])
def test_an_empty_or_malformed_region_never_reaches_a_client(path: list[str], region: str) -> None:
    for name in ("image_public.json", "disable_block_public_access.json"):
        assert_refused_naming(
            _parse, mutated(load_event(f"public/{name}"), path, region), ".".join(path), region
        )


@pytest.mark.parametrize("raw", BAD_TIMES)
def test_times_out_of_range_are_refused(raw: str) -> None:
    why = assert_refused_naming(
        _parse, mutated(load_event("public/image_public.json"), ["time"], raw), "time", raw
    )
    assert "is outside 2006-2100" in why


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ([*RP, "imageId"], "ami-0123456789ABCDEF0"),
        ([*RP, "imageId"], "ami-0123456789abcdef"),
        ([*RP, "imageId"], "ami-0123456789abcdef0\n"),
        ([*RP, "launchPermission", "add", "items", 0], {"userId": "44445555666"}),
        ([*RP, "launchPermission", "add", "items", 0], {"userId": "4444555566667"}),
        ([*RP, "launchPermission", "add", "items", 0], {"userId": 444455556666}),
        ([*RP, "launchPermission", "add", "items", 0], {"organizationArn": "ARN:AWS:organizations::1:o"}),
    ],
)
def test_ids_in_the_wrong_case_length_or_type_are_refused(path: list[Any], value: Any) -> None:
    why = refusal(_parse, mutated(load_event("public/image_public.json"), path, value))
    assert why.startswith("malformed event: detail.requestParameters."), why


def test_a_snapshot_id_in_the_wrong_case_is_refused() -> None:
    event = mutated(load_event("public/snapshot_public.json"), [*RP, "snapshotId"], "snap-0123456789ABCDEF0")
    why = assert_refused_naming(_parse, event, "detail.requestParameters.snapshotId", "")
    assert "not a snapshot id" in why


@pytest.mark.parametrize("detail", ["{}", [], None, 5])
def test_a_detail_that_is_no_object_is_refused(detail: Any) -> None:
    assert_refused_naming(
        _parse, mutated(load_event("public/image_public.json"), ["detail"], detail), "detail", detail
    )


def test_a_request_that_is_no_object_is_refused_for_block_public_access_calls_too() -> None:
    event = mutated(load_event("public/disable_block_public_access.json"), RP, "x" * 500)
    assert_refused_naming(_parse, event, "detail.requestParameters", "x" * 500)


def test_too_many_permission_items_are_refused() -> None:
    items = [{"userId": "444455556666"}] * 10_001
    event = mutated(load_event("public/image_account.json"), [*RP, "launchPermission", "add", "items"], items)
    assert_refused_naming(_parse, event, "detail.requestParameters.launchPermission.add.items", items)
