"""Image block public access in the embedded AWS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.aws.test_sandbox_images import _code, _image, _register, _snapshot
from tests.conftest import REGION


@pytest.fixture
def ec2(aws: None) -> Any:
    return boto3.client("ec2", region_name=REGION)


def _make_public(ec2: Any, image_id: str) -> None:
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]})


def test_block_public_access_round_trip(ec2: Any) -> None:
    state = ec2.get_image_block_public_access_state()
    assert (state["ImageBlockPublicAccessState"], state["ManagedBy"]) == ("unblocked", "account")
    enabled = ec2.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    assert enabled["ImageBlockPublicAccessState"] == "block-new-sharing"
    assert ec2.get_image_block_public_access_state()["ImageBlockPublicAccessState"] == "block-new-sharing"
    assert ec2.disable_image_block_public_access()["ImageBlockPublicAccessState"] == "unblocked"
    assert ec2.get_image_block_public_access_state()["ImageBlockPublicAccessState"] == "unblocked"


def test_while_blocked_no_image_becomes_public_but_public_ones_stay(ec2: Any) -> None:
    already, new = _register(ec2, "bpa-old", _snapshot(ec2)), _register(ec2, "bpa-new", _snapshot(ec2))
    _make_public(ec2, already)
    ec2.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    with pytest.raises(ClientError) as err:
        _make_public(ec2, new)
    assert _code(err) == "OperationNotPermitted"
    assert "DisableImageBlockPublicAccess" in str(err.value)
    with pytest.raises(ClientError) as old_style:  # the OperationType/UserGroups form is refused too
        ec2.modify_image_attribute(
            ImageId=new, Attribute="launchPermission", OperationType="add", UserGroups=["all"]
        )
    assert _code(old_style) == "OperationNotPermitted"
    assert (_image(ec2, already)["Public"], _image(ec2, new)["Public"]) == (True, False)
    # Sharing with an account is not public sharing.
    ec2.modify_image_attribute(ImageId=new, LaunchPermission={"Add": [{"UserId": "111122223333"}]})
    ec2.disable_image_block_public_access()
    _make_public(ec2, new)
    assert _image(ec2, new)["Public"] is True


def test_the_setting_is_per_region(ec2: Any) -> None:
    ec2.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    elsewhere = boto3.client("ec2", region_name="us-east-1" if REGION != "us-east-1" else "eu-west-1")
    assert elsewhere.get_image_block_public_access_state()["ImageBlockPublicAccessState"] == "unblocked"
