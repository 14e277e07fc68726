"""The embedded Recycle Bin: retention rules, what deletions keep, listing, restoring, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine
from botocore.exceptions import ClientError

from tests.helpers.constants import ACCOUNT, ALLOWED, REGION
from tests.helpers.sandbox import error_and_status, register, snapshot

RETIRED = {"ResourceTagKey": "ami-hygiene:retired-by", "ResourceTagValue": "rotate"}
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def ec2(aws: None, clock: Any) -> Any:
    return boto3.client("ec2", region_name=REGION)


@pytest.fixture
def rbin(aws: None) -> Any:
    return boto3.client("rbin", region_name=REGION)


def _rule(
    rbin: Any, resource_type: str, days: int = 14, tags: list[dict[str, str]] | None = None, **extra: Any
) -> str:
    period = {"RetentionPeriodValue": days, "RetentionPeriodUnit": "DAYS"}
    if tags is not None:
        extra["ResourceTags"] = tags
    rule: str = rbin.create_rule(ResourceType=resource_type, RetentionPeriod=period, **extra)["Identifier"]
    return rule


def _retirement_rules(rbin: Any, days: int = 14) -> None:
    for resource_type in ("EC2_IMAGE", "EBS_SNAPSHOT"):
        _rule(rbin, resource_type, days, [RETIRED])


def _snapshot(ec2: Any, size: int = 8) -> str:
    return snapshot(ec2, size, Description="root volume")


def _image(ec2: Any, name: str, *snapshots: str, tags: dict[str, str] | None = None) -> str:
    image_id = register(ec2, name, *snapshots)
    if tags:
        _tag(ec2, [image_id, *snapshots], tags)
    return image_id


def _tag(ec2: Any, resources: list[str], tags: dict[str, str]) -> None:
    ec2.create_tags(Resources=resources, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def _bin_images(ec2: Any, **kwargs: Any) -> list[str]:
    return [i["ImageId"] for i in ec2.list_images_in_recycle_bin(**kwargs)["Images"]]


def _bin_snapshots(ec2: Any) -> list[str]:
    return [s["SnapshotId"] for s in ec2.list_snapshots_in_recycle_bin()["Snapshots"]]


def _tags(ec2: Any, resource_id: str) -> dict[str, str]:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


# -- the rbin service ---------------------------------------------------------------------


def test_rules_are_created_read_listed_and_deleted(rbin: Any) -> None:
    tagged = rbin.create_rule(
        ResourceType="EC2_IMAGE",
        RetentionPeriod={"RetentionPeriodValue": 14, "RetentionPeriodUnit": "DAYS"},
        ResourceTags=[RETIRED],
        Description="keeps retired images",
        Tags=[{"Key": "team", "Value": "platform"}],
    )
    assert tagged["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert len(tagged["Identifier"]) == 11 and tagged["Identifier"].isalnum()
    assert tagged["RuleArn"] == f"arn:aws:rbin:{REGION}:{ACCOUNT}:rule/{tagged['Identifier']}"
    assert (tagged["Status"], tagged["Tags"]) == ("available", [{"Key": "team", "Value": "platform"}])
    region_level = _rule(rbin, "EC2_IMAGE", 7)
    _rule(rbin, "EBS_SNAPSHOT", 30, [RETIRED])

    rule = rbin.get_rule(Identifier=tagged["Identifier"])
    assert rule["ResourceTags"] == [RETIRED] and rule["Description"] == "keeps retired images"
    assert rule["RetentionPeriod"] == {"RetentionPeriodValue": 14, "RetentionPeriodUnit": "DAYS"}
    images = [r["Identifier"] for r in rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"]]
    assert images == [tagged["Identifier"], region_level]
    by_tag = rbin.list_rules(ResourceType="EC2_IMAGE", ResourceTags=[RETIRED])["Rules"]
    assert [r["Identifier"] for r in by_tag] == [tagged["Identifier"]]

    assert rbin.delete_rule(Identifier=region_level)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as caught:
        rbin.get_rule(Identifier=region_level)
    assert error_and_status(caught) == ("ResourceNotFoundException", 404)
    assert caught.value.response["Reason"] == "RULE_NOT_FOUND"


@pytest.mark.parametrize(
    ("resource_type", "days", "extra"),
    [
        ("EC2_IMAGE", 366, {}),  # snapshots and AMIs: 1-365 days
        ("EBS_VOLUME", 8, {}),  # volumes: 1-7 days
        ("EC2_IMAGE", 7, {"ResourceTags": [RETIRED], "ExcludeResourceTags": [RETIRED]}),
        (
            "EC2_IMAGE",
            7,
            {
                "ResourceTags": [RETIRED],
                "LockConfiguration": {"UnlockDelay": {"UnlockDelayValue": 7, "UnlockDelayUnit": "DAYS"}},
            },
        ),
    ],
)
def test_invalid_rules_are_refused(rbin: Any, resource_type: str, days: int, extra: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as caught:
        _rule(rbin, resource_type, days, **extra)
    assert error_and_status(caught) == ("ValidationException", 400)
    assert rbin.list_rules(ResourceType=resource_type)["Rules"] == []


def test_a_locked_rule_is_not_deleted(rbin: Any) -> None:
    lock = {"UnlockDelay": {"UnlockDelayValue": 7, "UnlockDelayUnit": "DAYS"}}
    rule = _rule(rbin, "EBS_SNAPSHOT", LockConfiguration=lock)
    assert rbin.get_rule(Identifier=rule)["LockState"] == "locked"
    with pytest.raises(ClientError) as caught:
        rbin.delete_rule(Identifier=rule)
    assert error_and_status(caught) == ("ConflictException", 409)


def test_rules_are_paged_and_kept_per_region(rbin: Any) -> None:
    made = [_rule(rbin, "EBS_SNAPSHOT", days) for days in (1, 2, 3)]
    first = rbin.list_rules(ResourceType="EBS_SNAPSHOT", MaxResults=2)
    second = rbin.list_rules(ResourceType="EBS_SNAPSHOT", MaxResults=2, NextToken=first["NextToken"])
    assert [r["Identifier"] for r in first["Rules"] + second["Rules"]] == made
    assert "NextToken" not in second
    with pytest.raises(ClientError) as caught:
        rbin.list_rules(ResourceType="EBS_SNAPSHOT", NextToken="bm90LWEtcnVsZQ==")
    assert error_and_status(caught) == ("ValidationException", 400)
    assert (
        boto3.client("rbin", region_name="us-east-1").list_rules(ResourceType="EBS_SNAPSHOT")["Rules"] == []
    )


# -- what deletions keep ------------------------------------------------------------------


def test_a_deregistered_image_matching_a_rule_goes_to_the_bin_with_its_snapshots(ec2: Any, rbin: Any) -> None:
    _retirement_rules(rbin, days=14)
    root, data = _snapshot(ec2), _snapshot(ec2, 50)
    image_id = _image(ec2, "web-1", root, data, tags={"ami-hygiene:retired-by": "rotate", "Owner": "web"})

    results = ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)["DeleteSnapshotResults"]
    assert {r["ReturnCode"] for r in results} == {"success"}

    assert ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"] == []
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    listed = ec2.list_images_in_recycle_bin()["Images"]
    assert [(i["ImageId"], i["Name"]) for i in listed] == [(image_id, "web-1")]
    assert listed[0]["RecycleBinEnterTime"] == T0
    assert listed[0]["RecycleBinExitTime"] == T0 + timedelta(days=14)
    snapshots = {s["SnapshotId"]: s for s in ec2.list_snapshots_in_recycle_bin()["Snapshots"]}
    assert set(snapshots) == {root, data}
    assert snapshots[root]["Description"] == "root volume" and snapshots[root]["VolumeId"].startswith("vol-")
    # Its tags stay readable, with the system tag the bin adds.
    assert _tags(ec2, image_id) == {
        "ami-hygiene:retired-by": "rotate",
        "Owner": "web",
        "aws:recycle-bin:resource-in-bin": "true",
    }


def test_what_no_rule_matches_is_deleted_for_good(ec2: Any, rbin: Any) -> None:
    _retirement_rules(rbin)
    snap = _snapshot(ec2)
    image_id = _image(ec2, "untagged", snap)
    ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
    assert _bin_images(ec2) == [] and _bin_snapshots(ec2) == []
    # The tag must match key and value exactly.
    other = _snapshot(ec2)
    _tag(ec2, [other], {"ami-hygiene:retired-by": "someone"})
    ec2.delete_snapshot(SnapshotId=other)
    assert _bin_snapshots(ec2) == []


def test_region_level_rules_keep_everything_but_their_exclusions(ec2: Any, rbin: Any) -> None:
    _rule(
        rbin,
        "EBS_SNAPSHOT",
        3,
        ExcludeResourceTags=[{"ResourceTagKey": "scratch", "ResourceTagValue": "yes"}],
    )
    kept, excluded = _snapshot(ec2), _snapshot(ec2)
    _tag(ec2, [excluded], {"scratch": "yes"})
    ec2.delete_snapshot(SnapshotId=kept)
    ec2.delete_snapshot(SnapshotId=excluded)
    assert _bin_snapshots(ec2) == [kept]


def test_a_tag_level_rule_wins_over_a_region_level_one_and_the_longest_of_them(ec2: Any, rbin: Any) -> None:
    _rule(rbin, "EBS_SNAPSHOT", 300)  # Region-level: longer, but a tag-level rule takes precedence
    _rule(rbin, "EBS_SNAPSHOT", 10, [RETIRED])
    _rule(rbin, "EBS_SNAPSHOT", 20, [RETIRED, {"ResourceTagKey": "tier", "ResourceTagValue": "gold"}])
    retired, untagged = _snapshot(ec2), _snapshot(ec2)
    _tag(ec2, [retired], {"ami-hygiene:retired-by": "rotate"})
    for snapshot_id in (retired, untagged):
        ec2.delete_snapshot(SnapshotId=snapshot_id)
    exits = {
        s["SnapshotId"]: s["RecycleBinExitTime"] for s in ec2.list_snapshots_in_recycle_bin()["Snapshots"]
    }
    assert exits == {retired: T0 + timedelta(days=20), untagged: T0 + timedelta(days=300)}


def test_a_snapshot_another_image_uses_stays_and_is_not_binned(ec2: Any, rbin: Any) -> None:
    _retirement_rules(rbin)
    shared = _snapshot(ec2)
    retired = _image(ec2, "old", shared, tags={"ami-hygiene:retired-by": "rotate"})
    _image(ec2, "new", shared)
    results = ec2.deregister_image(ImageId=retired, DeleteAssociatedSnapshots=True)["DeleteSnapshotResults"]
    assert results == [{"SnapshotId": shared, "ReturnCode": "skipped"}]
    assert _bin_images(ec2) == [retired] and _bin_snapshots(ec2) == []


# -- restoring ----------------------------------------------------------------------------


def test_an_image_is_restored_only_after_its_snapshots(ec2: Any, rbin: Any) -> None:
    _retirement_rules(rbin)
    root, data = _snapshot(ec2), _snapshot(ec2, 50)
    image_id = _image(ec2, "web-1", root, data, tags={"ami-hygiene:retired-by": "rotate"})
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"UserId": ALLOWED}]})
    ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)

    with pytest.raises(ClientError) as caught:
        ec2.restore_image_from_recycle_bin(ImageId=image_id)
    assert error_and_status(caught) == ("IncorrectState", 400)

    restored = ec2.restore_snapshot_from_recycle_bin(SnapshotId=root)
    assert (restored["SnapshotId"], restored["State"], restored["VolumeSize"]) == (root, "completed", 8)
    ec2.restore_snapshot_from_recycle_bin(SnapshotId=data)
    assert ec2.restore_image_from_recycle_bin(ImageId=image_id)["Return"] is True

    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]] == [root, data]
    assert image["Tags"] == [{"Key": "ami-hygiene:retired-by", "Value": "rotate"}]  # the system tag is gone
    # "If you restore the AMI, all of the previous sharing permissions are automatically restored."
    permissions = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert permissions["LaunchPermissions"] == [{"UserId": ALLOWED}]
    assert _bin_images(ec2) == [] and _bin_snapshots(ec2) == []
    # A registered image uses its snapshots again.
    with pytest.raises(ClientError) as caught:
        ec2.delete_snapshot(SnapshotId=root)
    assert error_and_status(caught)[0] == "InvalidSnapshot.InUse"


def test_a_disabled_image_comes_back_disabled_and_without_the_permissions_disabling_removed(
    ec2: Any, rbin: Any
) -> None:
    _retirement_rules(rbin)
    snap = _snapshot(ec2)
    image_id = _image(ec2, "web-1", snap, tags={"ami-hygiene:retired-by": "rotate"})
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"UserId": ALLOWED}]})
    ec2.disable_image(ImageId=image_id)
    ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
    ec2.restore_snapshot_from_recycle_bin(SnapshotId=snap)
    ec2.restore_image_from_recycle_bin(ImageId=image_id)
    assert ec2.describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"][0]["State"] == "disabled"
    permissions = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert permissions["LaunchPermissions"] == []


def test_an_image_whose_snapshot_is_gone_for_good_cannot_be_restored(ec2: Any, rbin: Any) -> None:
    _rule(rbin, "EC2_IMAGE", 14, [RETIRED])  # no snapshot rule: deleted snapshots are gone
    snap = _snapshot(ec2)
    image_id = _image(ec2, "web-1", snap, tags={"ami-hygiene:retired-by": "rotate"})
    ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
    with pytest.raises(ClientError) as caught:
        ec2.restore_image_from_recycle_bin(ImageId=image_id)
    assert error_and_status(caught) == ("IncorrectState", 400)
    assert _bin_images(ec2) == [image_id]


def test_restoring_what_is_not_in_the_bin_fails(ec2: Any, rbin: Any) -> None:
    with pytest.raises(ClientError) as caught:
        ec2.restore_image_from_recycle_bin(ImageId="ami-0123456789abcdef0")
    assert error_and_status(caught)[0] == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as caught:
        ec2.restore_image_from_recycle_bin(ImageId="snap-0123456789abcdef0")
    assert error_and_status(caught)[0] == "InvalidAMIID.Malformed"
    with pytest.raises(ClientError) as caught:
        ec2.restore_snapshot_from_recycle_bin(SnapshotId="snap-0123456789abcdef0")
    assert error_and_status(caught)[0] == "InvalidSnapshot.NotFound"


def test_a_deleted_snapshot_is_restored_with_its_tags(ec2: Any, rbin: Any) -> None:
    _rule(rbin, "EBS_SNAPSHOT", 7)
    snap = _snapshot(ec2)
    _tag(ec2, [snap], {"Owner": "data"})
    ec2.delete_snapshot(SnapshotId=snap)
    ec2.create_tags(Resources=[snap], Tags=[{"Key": "note", "Value": "tagged in the bin"}])
    ec2.restore_snapshot_from_recycle_bin(SnapshotId=snap)
    (listed,) = ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"]
    assert {t["Key"]: t["Value"] for t in listed["Tags"]} == {"Owner": "data", "note": "tagged in the bin"}


# -- listing and expiry -------------------------------------------------------------------


def test_bin_listings_page_filter_and_check_their_arguments(ec2: Any, rbin: Any) -> None:
    _rule(rbin, "EC2_IMAGE", 14)
    _rule(rbin, "EBS_SNAPSHOT", 14)
    images = [_image(ec2, f"img-{k}", _snapshot(ec2)) for k in range(3)]
    for image_id in images:
        ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)

    first = ec2.list_images_in_recycle_bin(MaxResults=2)
    second = ec2.list_images_in_recycle_bin(MaxResults=2, NextToken=first["NextToken"])
    assert [i["ImageId"] for i in first["Images"] + second["Images"]] == images
    assert "NextToken" not in second
    assert _bin_images(ec2, ImageIds=[images[1], "ami-0123456789abcdef0"]) == [images[1]]
    with pytest.raises(ClientError) as caught:
        ec2.list_images_in_recycle_bin(ImageIds=[f"ami-{k:017x}" for k in range(21)])
    assert error_and_status(caught)[0] == "InvalidParameterValue"
    assert len(ec2.list_snapshots_in_recycle_bin(MaxResults=5)["Snapshots"]) == 3


def test_what_outlives_its_retention_is_gone(ec2: Any, rbin: Any, clock: Any) -> None:
    _retirement_rules(rbin, days=1)
    snap = _snapshot(ec2)
    image_id = _image(ec2, "web-1", snap, tags={"ami-hygiene:retired-by": "rotate"})
    ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
    clock.shift(timedelta(hours=23))
    assert _bin_images(ec2) == [image_id]
    clock.shift(timedelta(hours=1))
    assert _bin_images(ec2) == [] and _bin_snapshots(ec2) == []
    assert _tags(ec2, image_id) == {}
    with pytest.raises(ClientError) as caught:
        ec2.restore_snapshot_from_recycle_bin(SnapshotId=snap)
    assert error_and_status(caught)[0] == "InvalidSnapshot.NotFound"


# -- served -------------------------------------------------------------------------------


def test_the_served_api_has_the_recycle_bin(endpoint: str) -> None:
    rbin = boto3.client("rbin", region_name=REGION, endpoint_url=endpoint)
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    _retirement_rules(rbin)
    assert len(rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"]) == 1
    snap = _snapshot(ec2)
    image_id = _image(ec2, "served", snap, tags={"ami-hygiene:retired-by": "rotate"})
    ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
    assert _bin_images(ec2) == [image_id] and _bin_snapshots(ec2) == [snap]
    ec2.restore_snapshot_from_recycle_bin(SnapshotId=snap)
    ec2.restore_image_from_recycle_bin(ImageId=image_id)
    assert ec2.describe_images(ImageIds=[image_id])["Images"][0]["ImageId"] == image_id
    with pytest.raises(ClientError) as caught:
        rbin.get_rule(Identifier="AAAAAAAAAAA")
    assert error_and_status(caught) == ("ResourceNotFoundException", 404)
