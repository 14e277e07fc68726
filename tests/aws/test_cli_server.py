"""The CLI against the embedded AWS served on a loopback port, reached by AWS_ENDPOINT_URL."""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

import sandbox
from ami_hygiene import cli
from sandbox.server import start
from tests.conftest import ACCOUNT_ID, REGION


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server, url = start(port=0)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    try:
        yield url
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
        server.stop()


def test_rotate_through_the_endpoint(endpoint: str) -> None:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    amis = sandbox.backend("ec2", REGION, ACCOUNT_ID).amis
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
