"""The embedded AWS's AMI registration and lifecycle, checked through boto3 as the product calls them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from botocore.exceptions import ClientError

import sandbox
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.sandbox import described, error_code, foreign_image, register, snapshot


def _snapshot_ids(ec2: Any) -> set[str]:
    return {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


# -- RegisterImage, CreateImage, CopyImage ------------------------------------------------


def test_register_image_honours_block_device_mappings_and_tags(ec2: Any) -> None:
    root, data = snapshot(ec2, 8), snapshot(ec2, 50)
    before = _snapshot_ids(ec2)
    image_id = register(
        ec2,
        "web-1",
        root,
        data,
        Architecture="arm64",
        VirtualizationType="hvm",
        BootMode="uefi",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "Owner", "Value": "platform"}]}],
    )
    image = described(ec2, image_id)
    assert [
        (m["DeviceName"], m["Ebs"]["SnapshotId"], m["Ebs"]["VolumeSize"])
        for m in image["BlockDeviceMappings"]
    ] == [("/dev/xvda", root, 8), ("/dev/xvdb", data, 50)]
    assert (image["Architecture"], image["VirtualizationType"], image["BootMode"]) == ("arm64", "hvm", "uefi")
    assert (image["RootDeviceName"], image["RootDeviceType"]) == ("/dev/xvda", "ebs")
    assert image["Tags"] == [{"Key": "Owner", "Value": "platform"}]
    assert _snapshot_ids(ec2) == before  # no stand-in snapshot of its own


def test_register_image_takes_the_documented_defaults_and_an_explicit_size(ec2: Any) -> None:
    snap = snapshot(ec2, 8)
    image_id = ec2.register_image(
        Name="sized",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap, "VolumeSize": 20, "VolumeType": "gp3"}}
        ],
    )["ImageId"]
    image = described(ec2, image_id)
    assert image["BlockDeviceMappings"][0]["Ebs"] == {
        "SnapshotId": snap,
        "VolumeSize": 20,
        "VolumeType": "gp3",
        "DeleteOnTermination": True,
        "Encrypted": False,
    }
    assert (image["Architecture"], image["VirtualizationType"]) == ("i386", "paravirtual")


def test_two_images_can_share_a_snapshot(ec2: Any) -> None:
    shared = snapshot(ec2, 16)
    first, second = register(ec2, "share-a", shared), register(ec2, "share-b", shared)
    for image_id in (first, second):
        assert described(ec2, image_id)["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == shared


@pytest.mark.parametrize(
    ("mapping", "code"),
    [
        (
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}},
            "InvalidSnapshot.NotFound",
        ),
        (
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "SNAP", "VolumeSize": 4}},
            "InvalidBlockDeviceMapping",
        ),
        ({"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": True}}, "InvalidBlockDeviceMapping"),
        (
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "SNAP", "VolumeType": "floppy"}},
            "InvalidParameterValue",
        ),
    ],
)
def test_register_image_refuses_bad_mappings(ec2: Any, mapping: dict[str, Any], code: str) -> None:
    snap = snapshot(ec2, 8)
    if mapping["Ebs"].get("SnapshotId") == "SNAP":
        mapping["Ebs"]["SnapshotId"] = snap
    with pytest.raises(ClientError) as err:
        ec2.register_image(Name="bad", RootDeviceName="/dev/xvda", BlockDeviceMappings=[mapping])
    assert error_code(err) == code


def test_register_image_refuses_a_taken_name_and_other_tag_types(ec2: Any) -> None:
    first = register(ec2, "unique", snapshot(ec2))
    with pytest.raises(ClientError) as err:
        register(ec2, "unique", snapshot(ec2))
    assert error_code(err) == "InvalidAMIName.Duplicate" and first in str(err.value)
    with pytest.raises(ClientError) as tagged:
        register(
            ec2,
            "tagged",
            snapshot(ec2),
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "a", "Value": "b"}]}],
        )
    assert error_code(tagged) == "InvalidParameterValue"
    ec2.deregister_image(ImageId=first)
    register(ec2, "unique", snapshot(ec2))  # a deregistered image frees its name


def test_create_image_snapshots_every_volume_of_the_instance(ec2: Any) -> None:
    launched = ec2.run_instances(ImageId=register(ec2, "source", snapshot(ec2)), MinCount=1, MaxCount=1)
    instance = launched["Instances"][0]["InstanceId"]
    data = ec2.create_volume(
        Size=30, VolumeType="gp3", AvailabilityZone=launched["Instances"][0]["Placement"]["AvailabilityZone"]
    )
    ec2.attach_volume(VolumeId=data["VolumeId"], InstanceId=instance, Device="/dev/xvdf")
    image_id = ec2.create_image(
        InstanceId=instance,
        Name="baked",
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "made-by", "Value": "test"}]}],
    )["ImageId"]
    mappings = {m["DeviceName"]: m["Ebs"] for m in described(ec2, image_id)["BlockDeviceMappings"]}
    assert {d: (e["VolumeSize"], e["VolumeType"]) for d, e in mappings.items()} == {
        "/dev/sda1": (8, "gp2"),
        "/dev/xvdf": (30, "gp3"),
    }
    snapshots = ec2.describe_snapshots(SnapshotIds=[e["SnapshotId"] for e in mappings.values()])["Snapshots"]
    assert all(s["Tags"] == [{"Key": "made-by", "Value": "test"}] for s in snapshots)
    assert sorted(s["VolumeSize"] for s in snapshots) == [8, 30]


def test_copy_image_copies_the_snapshots(ec2: Any) -> None:
    source = register(ec2, "original", snapshot(ec2, 12))
    copy = ec2.copy_image(SourceImageId=source, SourceRegion=REGION, Name="copied")["ImageId"]
    original_snap = described(ec2, source)["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    copied = described(ec2, copy)["BlockDeviceMappings"][0]["Ebs"]
    assert copied["SnapshotId"] != original_snap and copied["VolumeSize"] == 12


def test_a_snapshot_a_registered_image_uses_cannot_be_deleted(ec2: Any) -> None:
    snap = snapshot(ec2)
    image_id = register(ec2, "in-use", snap)
    ec2.disable_image(ImageId=image_id)  # disabled images still hold their snapshots
    with pytest.raises(ClientError) as err:
        ec2.delete_snapshot(SnapshotId=snap)
    assert error_code(err) == "InvalidSnapshot.InUse"
    ec2.deregister_image(ImageId=image_id)
    ec2.delete_snapshot(SnapshotId=snap)
    assert snap not in _snapshot_ids(ec2)


# -- deprecation --------------------------------------------------------------------------


def test_deprecation_round_trip_rounds_to_the_minute(ec2: Any) -> None:
    image_id = register(ec2, "dep-1", snapshot(ec2))
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30, seconds=40)
    assert ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=when)["Return"] is True
    expected = (when + timedelta(seconds=30)).replace(second=0)
    assert described(ec2, image_id)["DeprecationTime"] == expected.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    ec2.disable_image_deprecation(ImageId=image_id)
    assert "DeprecationTime" not in described(ec2, image_id)


@pytest.mark.parametrize("offset", [timedelta(days=-1), timedelta(days=3700)])
def test_deprecation_in_the_past_or_beyond_ten_years_is_refused(ec2: Any, offset: timedelta) -> None:
    image_id = register(ec2, "dep-2", snapshot(ec2))
    with pytest.raises(ClientError) as err:
        ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=datetime.now(UTC) + offset)
    assert error_code(err) == "InvalidParameterValue"
    assert "DeprecationTime" not in described(ec2, image_id)


def test_a_public_image_deprecates_within_two_years_of_its_creation(ec2: Any) -> None:
    image_id = register(ec2, "dep-public", snapshot(ec2))
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]})
    with pytest.raises(ClientError) as err:
        ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=datetime.now(UTC) + timedelta(days=800))
    assert error_code(err) == "InvalidParameterValue"
    ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=datetime.now(UTC) + timedelta(days=700))


# -- deregistration protection and deregistration -----------------------------------------


def test_deregistration_protection_blocks_deregistration(ec2: Any) -> None:
    image_id = register(ec2, "prot-1", snapshot(ec2))
    assert described(ec2, image_id)["DeregistrationProtection"] == "disabled"
    assert (
        ec2.enable_image_deregistration_protection(ImageId=image_id)["Return"] == "enabled-without-cooldown"
    )
    assert described(ec2, image_id)["DeregistrationProtection"] == "enabled-without-cooldown"
    attribute = ec2.describe_image_attribute(ImageId=image_id, Attribute="deregistrationProtection")
    assert attribute["DeregistrationProtection"] == {"Value": "enabled-without-cooldown"}
    with pytest.raises(ClientError) as err:
        ec2.deregister_image(ImageId=image_id)
    assert error_code(err) == "OperationNotPermitted"
    assert ec2.disable_image_deregistration_protection(ImageId=image_id)["Return"] == "disabled"
    ec2.deregister_image(ImageId=image_id)
    assert ec2.describe_images(Owners=["self"])["Images"] == []


def test_protection_with_cooldown_lasts_a_day_after_disabling(ec2: Any) -> None:
    image_id = register(ec2, "prot-2", snapshot(ec2))
    ec2.enable_image_deregistration_protection(ImageId=image_id, WithCooldown=True)
    assert described(ec2, image_id)["DeregistrationProtection"] == "enabled-with-cooldown"
    ec2.disable_image_deregistration_protection(ImageId=image_id)
    assert described(ec2, image_id)["DeregistrationProtection"].startswith("disabled-until ")
    with pytest.raises(ClientError) as err:
        ec2.deregister_image(ImageId=image_id)
    assert error_code(err) == "OperationNotPermitted"
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25)):
        assert described(ec2, image_id)["DeregistrationProtection"] == "disabled"
        ec2.deregister_image(ImageId=image_id)


def test_deregister_with_snapshots_keeps_one_another_image_uses(ec2: Any) -> None:
    shared, own = snapshot(ec2), snapshot(ec2)
    first = register(ec2, "snap-a", shared, own)
    second = register(ec2, "snap-b", shared)
    result = ec2.deregister_image(ImageId=first, DeleteAssociatedSnapshots=True)
    assert result["Return"] is True
    assert result["DeleteSnapshotResults"] == [
        {"SnapshotId": shared, "ReturnCode": "skipped"},
        {"SnapshotId": own, "ReturnCode": "success"},
    ]
    assert shared in _snapshot_ids(ec2) and own not in _snapshot_ids(ec2)
    # The last image to use it takes it along.
    result = ec2.deregister_image(ImageId=second, DeleteAssociatedSnapshots=True)
    assert result["DeleteSnapshotResults"] == [{"SnapshotId": shared, "ReturnCode": "success"}]
    assert shared not in _snapshot_ids(ec2)


def test_deregister_without_the_flag_leaves_snapshots(ec2: Any) -> None:
    snap = snapshot(ec2)
    result = ec2.deregister_image(ImageId=register(ec2, "keep-snaps", snap))
    assert "DeleteSnapshotResults" not in result
    assert snap in _snapshot_ids(ec2)


def test_deregistered_and_unknown_images_get_ec2_errors(ec2: Any) -> None:
    image_id = register(ec2, "gone", snapshot(ec2))
    ec2.deregister_image(ImageId=image_id)
    with pytest.raises(ClientError) as again:
        ec2.deregister_image(ImageId=image_id)
    assert error_code(again) == "InvalidAMIID.Unavailable"
    with pytest.raises(ClientError) as unknown:
        ec2.disable_image(ImageId="ami-0123456789abcdef0")
    assert error_code(unknown) == "InvalidAMIID.NotFound"
    with pytest.raises(ClientError) as malformed:
        ec2.enable_image_deprecation(ImageId="img-1", DeprecateAt=datetime.now(UTC) + timedelta(days=1))
    assert error_code(malformed) == "InvalidAMIID.Malformed"


def test_only_the_owner_changes_an_image(ec2: Any) -> None:
    hidden = foreign_image("ami-0f0f0f0f0f0f0f0f0", shared=False)
    shared = foreign_image("ami-0e0e0e0e0e0e0e0e0", shared=True)
    calls = (
        ec2.disable_image,
        ec2.enable_image,
        ec2.deregister_image,
        ec2.enable_image_deregistration_protection,
        ec2.disable_image_deprecation,
    )
    for call in calls:
        with pytest.raises(ClientError) as not_seen:
            call(ImageId=hidden)
        assert error_code(not_seen) == "InvalidAMIID.NotFound"  # not shared with us: it does not exist for us
        with pytest.raises(ClientError) as not_ours:
            call(ImageId=shared)
        assert error_code(not_ours) == "AuthFailure"
    assert described(ec2, shared)["State"] == "available"


# -- disable and enable -------------------------------------------------------------------


def test_disabling_makes_an_image_private_and_unlisted(ec2: Any) -> None:
    image_id = register(ec2, "dis-1", snapshot(ec2))
    ec2.modify_image_attribute(
        ImageId=image_id, LaunchPermission={"Add": [{"UserId": "111122223333"}, {"Group": "all"}]}
    )
    assert described(ec2, image_id)["Public"] is True
    assert ec2.disable_image(ImageId=image_id)["Return"] is True
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    listed = ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    assert [(i["ImageId"], i["State"], i["Public"]) for i in listed] == [(image_id, "disabled", False)]
    perms = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == []
    with pytest.raises(ClientError) as err:  # a disabled image can't be shared
        ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"UserId": "111122223333"}]})
    assert error_code(err) == "OperationNotPermitted"
    assert ec2.enable_image(ImageId=image_id)["Return"] is True
    image = described(ec2, image_id)
    assert (image["State"], image["Public"]) == ("available", False)  # sharing is not restored


# -- LastLaunchedTime ---------------------------------------------------------------------


def test_last_launched_time_is_stamped_by_a_launch(ec2: Any) -> None:
    image_id = register(ec2, "launch-1", snapshot(ec2))
    assert "LastLaunchedTime" not in described(ec2, image_id)
    assert (
        ec2.describe_image_attribute(ImageId=image_id, Attribute="lastLaunchedTime")["LastLaunchedTime"] == {}
    )
    with time_machine.travel(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), tick=False):
        ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    assert described(ec2, image_id)["LastLaunchedTime"] == "2026-03-04T05:06:07.000Z"
    attribute = ec2.describe_image_attribute(ImageId=image_id, Attribute="lastLaunchedTime")
    assert attribute["LastLaunchedTime"] == {"Value": "2026-03-04T05:06:07Z"}


def test_set_last_launched_seeds_the_stamp(ec2: Any) -> None:
    image_id = register(ec2, "launch-2", snapshot(ec2))
    sandbox.set_last_launched(image_id, REGION, datetime(2025, 1, 2, 3, 0, tzinfo=UTC), account_id=ACCOUNT)
    assert described(ec2, image_id)["LastLaunchedTime"] == "2025-01-02T03:00:00.000Z"


def test_install_is_idempotent(ec2: Any) -> None:
    sandbox.install()
    sandbox.install()
    snap = snapshot(ec2)
    image_id = register(ec2, "twice", snap)
    # Installed twice, each extension still runs once: one result, one snapshot deleted.
    result = ec2.deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
    assert result["DeleteSnapshotResults"] == [{"SnapshotId": snap, "ReturnCode": "success"}]
