"""Image block public access in the embedded AWS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers.constants import REGION
from tests.helpers.sandbox import described, error_code, make_public, register, snapshot


def test_block_public_access_round_trip(ec2: Any) -> None:
    state = ec2.get_image_block_public_access_state()
    assert (state["ImageBlockPublicAccessState"], state["ManagedBy"]) == ("unblocked", "account")
    enabled = ec2.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    assert enabled["ImageBlockPublicAccessState"] == "block-new-sharing"
    assert ec2.get_image_block_public_access_state()["ImageBlockPublicAccessState"] == "block-new-sharing"
    assert ec2.disable_image_block_public_access()["ImageBlockPublicAccessState"] == "unblocked"
    assert ec2.get_image_block_public_access_state()["ImageBlockPublicAccessState"] == "unblocked"


def test_while_blocked_no_image_becomes_public_but_public_ones_stay(ec2: Any) -> None:
    already, new = register(ec2, "bpa-old", snapshot(ec2)), register(ec2, "bpa-new", snapshot(ec2))
    make_public(already)
    ec2.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    with pytest.raises(ClientError) as err:
        make_public(new)
    assert error_code(err) == "OperationNotPermitted"
    assert "DisableImageBlockPublicAccess" in str(err.value)
    with pytest.raises(ClientError) as old_style:  # the OperationType/UserGroups form is refused too
        ec2.modify_image_attribute(
            ImageId=new, Attribute="launchPermission", OperationType="add", UserGroups=["all"]
        )
    assert error_code(old_style) == "OperationNotPermitted"
    assert (described(ec2, already)["Public"], described(ec2, new)["Public"]) == (True, False)
    # Sharing with an account is not public sharing.
    ec2.modify_image_attribute(ImageId=new, LaunchPermission={"Add": [{"UserId": "111122223333"}]})
    ec2.disable_image_block_public_access()
    make_public(new)
    assert described(ec2, new)["Public"] is True


def test_the_setting_is_per_region(ec2: Any) -> None:
    ec2.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    elsewhere = boto3.client("ec2", region_name="us-east-1" if REGION != "us-east-1" else "eu-west-1")
    assert elsewhere.get_image_block_public_access_state()["ImageBlockPublicAccessState"] == "unblocked"


# -- EBS snapshot sharing ----------------------------------------------------------------------


def _volume_permissions(ec2: Any, snapshot_id: str) -> list[dict[str, str]]:
    answer = ec2.describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    return sorted(answer["CreateVolumePermissions"], key=lambda p: sorted(p.items()))


def test_snapshot_permissions_structured_form_round_trip(ec2: Any) -> None:
    snap = snapshot(ec2)
    ec2.modify_snapshot_attribute(
        SnapshotId=snap,
        Attribute="createVolumePermission",
        CreateVolumePermission={"Add": [{"Group": "all"}, {"UserId": "111122223333"}]},
    )
    assert _volume_permissions(ec2, snap) == [{"Group": "all"}, {"UserId": "111122223333"}]
    ec2.modify_snapshot_attribute(
        SnapshotId=snap,
        Attribute="createVolumePermission",
        CreateVolumePermission={"Remove": [{"Group": "all"}]},
    )
    assert _volume_permissions(ec2, snap) == [{"UserId": "111122223333"}]


def test_snapshot_permissions_legacy_form_still_works(ec2: Any) -> None:
    snap = snapshot(ec2)
    ec2.modify_snapshot_attribute(
        SnapshotId=snap, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"]
    )
    assert _volume_permissions(ec2, snap) == [{"Group": "all"}]
    ec2.modify_snapshot_attribute(
        SnapshotId=snap, Attribute="createVolumePermission", OperationType="remove", GroupNames=["all"]
    )
    assert _volume_permissions(ec2, snap) == []


@pytest.mark.parametrize(
    ("permission", "code"),
    [
        ({"Add": [{"Group": "all"}], "Remove": [{"UserId": "111122223333"}]}, "InvalidParameterCombination"),
        ({"Add": [{"UserId": "1234"}]}, "InvalidParameterValue"),
        ({"Add": [{"Group": "everyone"}]}, "InvalidParameterValue"),
        ({}, "InvalidParameterValue"),
    ],
)
def test_snapshot_permission_requests_are_validated(ec2: Any, permission: dict[str, Any], code: str) -> None:
    snap = snapshot(ec2)
    with pytest.raises(ClientError) as err:
        ec2.modify_snapshot_attribute(
            SnapshotId=snap, Attribute="createVolumePermission", CreateVolumePermission=permission
        )
    assert error_code(err) == code
    assert _volume_permissions(ec2, snap) == []


def test_only_the_owner_changes_a_snapshot(ec2: Any) -> None:
    import sandbox
    from tests.helpers.constants import ACCOUNT

    snap = snapshot(ec2)
    stored = sandbox.backend("ec2", REGION, ACCOUNT).snapshots[snap]
    stored.owner_id = "999988887777"
    with pytest.raises(ClientError) as hidden:
        ec2.modify_snapshot_attribute(
            SnapshotId=snap,
            Attribute="createVolumePermission",
            CreateVolumePermission={"Add": [{"Group": "all"}]},
        )
    assert error_code(hidden) == "InvalidSnapshot.NotFound"
    stored.create_volume_permission_userids.add(ACCOUNT)
    with pytest.raises(ClientError) as refused:
        ec2.modify_snapshot_attribute(
            SnapshotId=snap,
            Attribute="createVolumePermission",
            CreateVolumePermission={"Add": [{"Group": "all"}]},
        )
    assert error_code(refused) == "AuthFailure"


def test_restorable_by_lists_public_and_shared_snapshots(ec2: Any) -> None:
    public, shared, private = snapshot(ec2), snapshot(ec2), snapshot(ec2)
    ec2.modify_snapshot_attribute(
        SnapshotId=public,
        Attribute="createVolumePermission",
        CreateVolumePermission={"Add": [{"Group": "all"}]},
    )
    ec2.modify_snapshot_attribute(
        SnapshotId=shared,
        Attribute="createVolumePermission",
        CreateVolumePermission={"Add": [{"UserId": "111122223333"}]},
    )

    def listed(**kwargs: Any) -> set[str]:
        pages = ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], **kwargs)
        return {s["SnapshotId"] for page in pages for s in page["Snapshots"]}

    assert listed(RestorableByUserIds=["all"]) == {public}
    assert listed(RestorableByUserIds=["111122223333"]) == {public, shared}
    assert listed(RestorableByUserIds=["self"]) == {public, shared, private}
    assert listed() == {public, shared, private}
    by_id = ec2.describe_snapshots(SnapshotIds=[public, private], RestorableByUserIds=["all"])["Snapshots"]
    assert [s["SnapshotId"] for s in by_id] == [public]


def test_organization_and_unit_launch_permissions_round_trip(ec2: Any) -> None:
    image = register(ec2, "org-share", snapshot(ec2))
    org = "arn:aws:organizations::111122223333:organization/o-abcdef1234"
    unit = "arn:aws:organizations::111122223333:ou/o-abcdef1234/ou-ab12-cdef5678"
    ec2.modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"OrganizationArn": org}, {"OrganizationalUnitArn": unit}]}
    )
    perms = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == [{"OrganizationArn": org}, {"OrganizationalUnitArn": unit}]
    assert described(ec2, image)["Public"] is False
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Remove": [{"OrganizationArn": org}]})
    perms = ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == [{"OrganizationalUnitArn": unit}]
