"""What the reads keep of 50,000 images: the fields the model needs, one page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ami_hygiene.core.estate import EMPTY_TAGS
from ami_hygiene.core.paging import image_from, list_owned_images, owned_images, slim, with_sizes
from tests.helpers import builders
from tests.helpers.constants import ACCOUNT, REGION

# A DescribeImages item with every field botocore's Image shape can hold that we have seen.
RAW: dict[str, Any] = {
    "Architecture": "arm64",
    "CreationDate": "2026-11-01T10:00:00.000Z",
    "ImageId": "ami-0123456789abcdef0",
    "ImageLocation": f"{ACCOUNT}/web-v3",
    "ImageType": "machine",
    "Public": True,
    "KernelId": "aki-1",
    "OwnerId": ACCOUNT,
    "Platform": "Windows",
    "PlatformDetails": "Windows",
    "UsageOperation": "RunInstances:0002",
    "ProductCodes": [{"ProductCodeId": "p", "ProductCodeType": "marketplace"}],
    "State": "disabled",
    "BlockDeviceMappings": [
        {
            "DeviceName": "/dev/xvda",
            "Ebs": {
                "DeleteOnTermination": True,
                "SnapshotId": "snap-1",
                "VolumeSize": 30,
                "VolumeType": "gp3",
                "Encrypted": True,
            },
        },
        {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        {"DeviceName": "/dev/xvdc", "Ebs": {"SnapshotId": "snap-2", "VolumeSize": 100}},
    ],
    "Description": "the web tier",
    "EnaSupport": True,
    "Hypervisor": "xen",
    "Name": "web-v3",
    "RootDeviceName": "/dev/xvda",
    "RootDeviceType": "ebs",
    "SriovNetSupport": "simple",
    "Tags": [{"Key": "Owner", "Value": "alice"}, {"Key": "ami-hygiene:family", "Value": "web"}],
    "VirtualizationType": "hvm",
    "BootMode": "uefi",
    "TpmSupport": "v2.0",
    "DeprecationTime": "2027-01-01T00:00:00.000Z",
    "ImdsSupport": "v2.0",
    "SourceInstanceId": "i-1",
    "DeregistrationProtection": "enabled-with-cooldown",
    "LastLaunchedTime": "2026-11-20T00:00:00.000Z",
    "SourceImageId": "ami-0fedcba9876543210",
}


def test_a_slim_image_makes_the_same_image_as_the_whole_answer() -> None:
    sizes = {"snap-2": 120}
    small = slim(RAW)
    assert image_from(small, REGION, ACCOUNT, sizes) == image_from(RAW, REGION, ACCOUNT, sizes)
    assert {"ImageLocation", "ProductCodes", "Hypervisor", "BootMode"}.isdisjoint(small)
    bare = {"ImageId": "ami-1", "OwnerId": ACCOUNT}
    assert image_from(slim(bare), REGION, ACCOUNT, {}) == image_from(bare, REGION, ACCOUNT, {})


def test_an_image_without_tags_shares_one_empty_mapping() -> None:
    image = image_from({"ImageId": "ami-1", "Tags": []}, REGION, ACCOUNT, {})
    assert image.tags is EMPTY_TAGS and image.tags == {}


class Pages:
    """A DescribeImages paginator over `pages` pages; records how far it was read."""

    def __init__(self, pages: int, per_page: int) -> None:
        self.pages, self.per_page, self.served = pages, per_page, 0
        self.asked: dict[str, Any] = {}

    def get_paginator(self, operation: str) -> Pages:
        assert operation == "describe_images"
        return self

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.asked = kwargs
        for page in range(self.pages):
            self.served += 1
            yield {"Images": [{**RAW, "ImageId": f"ami-{page:05d}{n:012d}"} for n in range(self.per_page)]}


def test_owned_images_are_every_page_as_images() -> None:
    client = Pages(pages=3, per_page=4)
    images = owned_images(client, REGION, ACCOUNT, {"snap-1": 31})  # type: ignore[arg-type]
    assert len(images) == 12 and client.served == 3
    assert client.asked == {
        "Owners": ["self"],
        "IncludeDisabled": True,
        "IncludeDeprecated": True,
        "PaginationConfig": {"PageSize": 1000},
    }
    assert images[0].snapshots[0].size_gib == 31 and images[0].tags == {
        "Owner": "alice",
        "ami-hygiene:family": "web",
    }
    listed = list_owned_images(Pages(pages=2, per_page=3), REGION)  # type: ignore[arg-type]
    assert [image_from(r, REGION, ACCOUNT, {}) for r in listed] == list(
        owned_images(Pages(pages=2, per_page=3), REGION, ACCOUNT, {})  # type: ignore[arg-type]
    )


def test_only_snapshots_several_images_use_are_listed_with_their_users() -> None:
    one = builders.image("ami-1", snapshots=["snap-shared", "snap-own-1"])
    two = builders.image("ami-2", snapshots=["snap-shared"])
    three = builders.image("ami-3", snapshots=["snap-own-3", "snap-own-3"])  # one snapshot twice
    four = builders.image("ami-4", snapshots=["snap-shared"])
    users = builders.estate(one, two, three, four).snapshot_users()
    assert users == {"snap-shared": {"ami-1", "ami-2", "ami-4"}}


def test_sizes_read_later_replace_only_the_sizes_that_differ() -> None:
    made_before = image_from(RAW, REGION, ACCOUNT, {})
    assert with_sizes((made_before,), {"snap-1": 30})[0] is made_before  # the mapping's size agreed
    [sized] = with_sizes((made_before,), {"snap-2": 120, "snap-other": 5})
    assert sized == image_from(RAW, REGION, ACCOUNT, {"snap-2": 120})
    assert [s.size_gib for s in sized.snapshots] == [30, 120]
