"""The embedded AWS served on a loopback port."""

from __future__ import annotations

import boto3
import pytest

from sandbox.server import start
from tests.helpers.constants import REGION


def test_the_served_api_has_the_extensions(endpoint: str) -> None:
    assert endpoint.startswith("http://127.0.0.1:")
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    snap = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    image_id = ec2.register_image(
        Name="served",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap}}],
    )["ImageId"]
    ec2.enable_image_deregistration_protection(ImageId=image_id)
    image = ec2.describe_images(Owners=["self"], MaxResults=5)["Images"][0]
    assert (image["ImageId"], image["DeregistrationProtection"]) == (image_id, "enabled-without-cooldown")
    assert image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == snap


def test_only_loopback_addresses_are_served() -> None:
    with pytest.raises(ValueError, match="loopback"):
        start(port=0, host="0.0.0.0")
