"""The embedded AWS's own AMI operations, checked through boto3 as the product calls them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import sandbox
from tests.conftest import ACCOUNT_ID, REGION


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name=REGION)


def _snapshot(ec2: Any, size: int = 8) -> str:
    volume = ec2.create_volume(Size=size, AvailabilityZone=f"{REGION}a")["VolumeId"]
    return str(ec2.create_snapshot(VolumeId=volume)["SnapshotId"])


def _register(ec2: Any, name: str, *snapshots: str, **extra: Any) -> str:
    mappings = [
        {"DeviceName": f"/dev/xvd{chr(97 + k)}", "Ebs": {"SnapshotId": s}} for k, s in enumerate(snapshots)
    ]
    return str(
        ec2.register_image(Name=name, RootDeviceName="/dev/xvda", BlockDeviceMappings=mappings, **extra)[
            "ImageId"
        ]
    )


def _image(ec2: Any, image_id: str) -> dict[str, Any]:
    return dict(ec2.describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"][0])


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_register_image_honours_block_device_mappings_and_tags(ec2: Any) -> None:
    root, data = _snapshot(ec2, 8), _snapshot(ec2, 50)
    before = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    image_id = _register(
        ec2,
        "web-1",
        root,
        data,
        Architecture="arm64",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "Owner", "Value": "platform"}]}],
    )
    image = _image(ec2, image_id)
    assert [
        (m["DeviceName"], m["Ebs"]["SnapshotId"], m["Ebs"]["VolumeSize"])
        for m in image["BlockDeviceMappings"]
    ] == [("/dev/xvda", root, 8), ("/dev/xvdb", data, 50)]
    assert image["Architecture"] == "arm64" and image["Tags"] == [{"Key": "Owner", "Value": "platform"}]
    after = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert after == before  # no extra snapshot of its own


def test_register_image_refuses_an_unknown_snapshot(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        _register(ec2, "bad", "snap-0123456789abcdef0")
    assert _code(err) == "InvalidSnapshot.NotFound"


def test_deprecation_round_trip_rounds_to_the_minute(ec2: Any) -> None:
    image_id = _register(ec2, "dep-1", _snapshot(ec2))
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30, seconds=40)
    ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=when)
    shown = _image(ec2, image_id)["DeprecationTime"]
    expected = (when + timedelta(seconds=30)).replace(second=0)
    assert shown == expected.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    ec2.disable_image_deprecation(ImageId=image_id)
    assert "DeprecationTime" not in _image(ec2, image_id)


def test_deprecation_more_than_ten_years_ahead_is_refused(ec2: Any) -> None:
    image_id = _register(ec2, "dep-2", _snapshot(ec2))
    with pytest.raises(ClientError) as err:
        ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=datetime.now(UTC) + timedelta(days=3700))
    assert _code(err) == "InvalidParameterValue"


def test_deregistration_protection_blocks_deregistration(ec2: Any) -> None:
    image_id = _register(ec2, "prot-1", _snapshot(ec2))
    assert _image(ec2, image_id)["DeregistrationProtection"] == "disabled"
    ec2.enable_image_deregistration_protection(ImageId=image_id)
    assert _image(ec2, image_id)["DeregistrationProtection"] == "enabled"
    with pytest.raises(ClientError) as err:
        ec2.deregister_image(ImageId=image_id)
    assert _code(err) == "OperationNotPermitted"
    ec2.disable_image_deregistration_protection(ImageId=image_id)
    ec2.deregister_image(ImageId=image_id)
    assert ec2.describe_images(Owners=["self"])["Images"] == []


def test_protection_with_cooldown_lasts_a_day_after_disabling(ec2: Any) -> None:
    image_id = _register(ec2, "prot-2", _snapshot(ec2))
    ec2.enable_image_deregistration_protection(ImageId=image_id, WithCooldown=True)
    assert _image(ec2, image_id)["DeregistrationProtection"] == "enabled-with-cooldown"
    ec2.disable_image_deregistration_protection(ImageId=image_id)
    assert _image(ec2, image_id)["DeregistrationProtection"].startswith("disabled-until-")
    with pytest.raises(ClientError):
        ec2.deregister_image(ImageId=image_id)


def test_deregister_with_snapshots_keeps_one_another_image_uses(ec2: Any) -> None:
    shared, own = _snapshot(ec2), _snapshot(ec2)
    first = _register(ec2, "snap-a", shared, own)
    _register(ec2, "snap-b", shared)
    result = ec2.deregister_image(ImageId=first, DeleteAssociatedSnapshots=True)
    codes = {r["SnapshotId"]: r["ReturnCode"] for r in result["DeleteSnapshotResults"]}
    assert codes == {shared: "skipped", own: "success"}
    left = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert shared in left and own not in left


def test_deregister_without_the_flag_leaves_snapshots(ec2: Any) -> None:
    snap = _snapshot(ec2)
    result = ec2.deregister_image(ImageId=_register(ec2, "keep-snaps", snap))
    assert "DeleteSnapshotResults" not in result
    assert snap in {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


def test_disabled_images_are_listed_only_when_asked_and_made_private(ec2: Any) -> None:
    image_id = _register(ec2, "dis-1", _snapshot(ec2))
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"UserId": "111122223333"}]})
    ec2.disable_image(ImageId=image_id)
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    listed = ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    assert [(i["ImageId"], i["State"]) for i in listed] == [(image_id, "disabled")]
    perms = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == []
    ec2.enable_image(ImageId=image_id)
    assert _image(ec2, image_id)["State"] == "available"


def test_last_launched_time_is_stamped_by_a_launch(ec2: Any) -> None:
    image_id = _register(ec2, "launch-1", _snapshot(ec2))
    assert "LastLaunchedTime" not in _image(ec2, image_id)
    ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    stamp = datetime.fromisoformat(_image(ec2, image_id)["LastLaunchedTime"].replace("Z", "+00:00"))
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=1)
    attr = ec2.describe_image_attribute(ImageId=image_id, Attribute="lastLaunchedTime")
    assert attr["LastLaunchedTime"]["Value"] == _image(ec2, image_id)["LastLaunchedTime"]
    sandbox.set_last_launched(image_id, REGION, datetime(2025, 1, 2, tzinfo=UTC), account_id=ACCOUNT_ID)
    assert _image(ec2, image_id)["LastLaunchedTime"] == "2025-01-02T00:00:00.000Z"


def test_describe_images_pages_like_ec2(ec2: Any) -> None:
    amis = sandbox.backend("ec2", REGION, ACCOUNT_ID)
    for k in range(25):
        amis.register_image(f"page-{k}", "")
    paginator = ec2.get_paginator("describe_images")
    pages = list(paginator.paginate(Owners=["self"], PaginationConfig={"PageSize": 10}))
    assert [len(p["Images"]) for p in pages] == [10, 10, 5]
    ids = [i["ImageId"] for p in pages for i in p["Images"]]
    assert len(set(ids)) == 25
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=[ids[0]], MaxResults=5)
    assert _code(err) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as bad_token:
        ec2.describe_images(Owners=["self"], MaxResults=5, NextToken="nonsense")
    assert _code(bad_token) == "InvalidNextToken"


def test_snapshots_and_launch_template_versions_page(ec2: Any) -> None:
    for _ in range(7):
        _snapshot(ec2)
    snap_pages = list(
        ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], PaginationConfig={"PageSize": 5})
    )
    assert [len(p["Snapshots"]) for p in snap_pages] == [5, 2]
    for k in range(3):
        lt = ec2.create_launch_template(
            LaunchTemplateName=f"t{k}", LaunchTemplateData={"ImageId": "ami-12345678"}
        )
        ec2.create_launch_template_version(
            LaunchTemplateId=lt["LaunchTemplate"]["LaunchTemplateId"],
            LaunchTemplateData={"ImageId": "ami-87654321"},
        )
    pages = list(
        ec2.get_paginator("describe_launch_template_versions").paginate(
            Versions=["$Latest", "$Default"], PaginationConfig={"PageSize": 4}
        )
    )
    versions = [
        (v["LaunchTemplateName"], v["VersionNumber"], v["DefaultVersion"])
        for p in pages
        for v in p["LaunchTemplateVersions"]
    ]
    assert [len(p["LaunchTemplateVersions"]) for p in pages] == [4, 2]
    assert sorted(versions) == sorted([(f"t{k}", n, n == 1) for k in range(3) for n in (1, 2)])


def test_operations_on_images_of_other_accounts_are_refused(ec2: Any) -> None:
    from moto.ec2.models.amis import Ami

    backend = sandbox.backend("ec2", REGION, ACCOUNT_ID)
    foreign = Ami(backend, "ami-0f0f0f0f0f0f0f0f0", name="theirs", owner_id="999988887777")
    backend.amis[foreign.id] = foreign
    for call in (ec2.disable_image, ec2.deregister_image, ec2.enable_image_deregistration_protection):
        with pytest.raises(ClientError) as err:
            call(ImageId=foreign.id)
        assert _code(err) == "InvalidAMIID.NotFound"
