"""The CLI against the embedded AWS served on a loopback port, reached by AWS_ENDPOINT_URL."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

import sandbox
from ami_hygiene import cli
from tests.helpers.constants import ACCOUNT, REGION


@pytest.fixture
def served(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    return endpoint


def test_rotate_through_the_endpoint(served: str) -> None:
    endpoint = served
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    amis = sandbox.backend("ec2", REGION, ACCOUNT).amis
    ids = []
    for k in range(5):
        snap = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        image_id = ec2.register_image(
            Name=f"api-v{k}",
            RootDeviceName="/dev/xvda",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap}}],
        )["ImageId"]
        amis[image_id].creation_date = datetime.now(UTC) - timedelta(days=200 - 40 * k)
        ids.append(image_id)
    out = io.StringIO()
    code = cli.main(
        ["rotate", "--region", REGION, "--mode", "enforce", "--format", "json", "--disable-grace-days", "0"],
        env={},
        stdout=out,
    )
    report = json.loads(out.getvalue())
    assert code == 0
    assert report["summary"]["retired"] == 2  # the two oldest; the newest three stay
    left = {i["ImageId"] for i in ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]}
    assert left == set(ids[2:])
