"""Reads every job makes the same way: images and snapshots in whole pages, times, images as data.

Cost grows with pages, not with images: every list is read with the largest page
the API allows (DescribeImages and DescribeSnapshots: 1000).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import (
    DEFAULT_ARCHITECTURE,
    EMPTY_TAGS,
    Image,
    Sharing,
    SnapshotRef,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from types_boto3_ec2 import EC2Client

# Errors meaning "this API is not available here", not "the read failed".
UNSUPPORTED_CODES = {"InvalidAction", "UnsupportedOperation", "NotImplemented", "InvalidRequest"}


class InventoryError(RuntimeError):
    """The images of a region could not be read at all."""


def find_images(
    ec2: EC2Client, *, owners: tuple[str, ...] = ("self",), filters: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """DescribeImages in 1000-image pages, disabled and deprecated images included.

    `owners=()` reads any owner's images (e.g. by image id, to see who owns them).
    """
    query: dict[str, Any] = {"IncludeDisabled": True, "IncludeDeprecated": True}
    if owners:
        query["Owners"] = list(owners)
    if filters:
        query["Filters"] = filters
    return list(pages(ec2, "describe_images", "Images", 1000, **query))


# What a DescribeImages item holds (botocore ec2 service-2.json, shape Image) that image_from
# reads; the rest (ImageLocation, ProductCodes, Hypervisor, BootMode, ...) is left out.
IMAGE_FIELDS = (
    "ImageId",
    "OwnerId",
    "Name",
    "CreationDate",
    "State",
    "Tags",
    "Public",
    "DeprecationTime",
    "DeregistrationProtection",
    "LastLaunchedTime",
    "Platform",
    "PlatformDetails",
    "Description",
    "SourceImageId",
    "Architecture",
)
# This account's images, disabled and deprecated ones too (DescribeImages).
OWNED: Mapping[str, Any] = {"Owners": ["self"], "IncludeDisabled": True, "IncludeDeprecated": True}


def list_owned_images(ec2: EC2Client, region: str) -> list[dict[str, Any]]:
    """Every image the account owns in `region`, disabled and deprecated ones too, in 1000-image pages.

    Each item keeps only what image_from reads (`slim`), cut down as its page arrives: the whole
    DescribeImages answer is never held at once. `owned_images` gives the Images themselves.
    """
    try:
        return [slim(raw) for raw in pages(ec2, "describe_images", "Images", 1000, **OWNED)]
    except (ClientError, BotoCoreError) as err:
        raise InventoryError(f"cannot list images in {region}: {describe_error(err)}") from err


def owned_images(ec2: EC2Client, region: str, account_id: str, sizes: Mapping[str, int]) -> tuple[Image, ...]:
    """Every image the account owns in `region` as Images, each 1000-image page converted as it arrives.

    A DescribeImages item takes about 2 KB in memory, its Image about a quarter of that: 50,000
    items held at once are some 110 MB (measured on the benchmark's 50,000-image estate).
    """
    try:
        return tuple(
            image_from(raw, region, account_id, sizes)
            for raw in pages(ec2, "describe_images", "Images", 1000, **OWNED)
        )
    except (ClientError, BotoCoreError) as err:
        raise InventoryError(f"cannot list images in {region}: {describe_error(err)}") from err


def with_sizes(images: tuple[Image, ...], sizes: Mapping[str, int]) -> tuple[Image, ...]:
    """`images` with their snapshots' sizes as DescribeSnapshots gave them (`sizes`), for images
    made before the sizes were read (owned_images(..., {}) side by side with DescribeSnapshots).
    An image whose sizes already agree is kept as it is (DescribeImages gives each EBS mapping's
    VolumeSize, which is its snapshot's size)."""
    return tuple(_sized(image, sizes) for image in images)


def _sized(image: Image, sizes: Mapping[str, int]) -> Image:
    if all(sizes.get(s.snapshot_id, s.size_gib) == s.size_gib for s in image.snapshots):
        return image
    snapshots = tuple(replace(s, size_gib=sizes.get(s.snapshot_id, s.size_gib)) for s in image.snapshots)
    return replace(image, snapshots=snapshots)


def slim(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A DescribeImages item with only the fields image_from reads (IMAGE_FIELDS, the EBS snapshots)."""
    out = {key: raw[key] for key in IMAGE_FIELDS if key in raw}
    mappings = [
        {
            "DeviceName": m.get("DeviceName", ""),
            "Ebs": {"SnapshotId": ebs["SnapshotId"], "VolumeSize": ebs.get("VolumeSize", 0)},
        }
        for m in raw.get("BlockDeviceMappings", [])
        if (ebs := m.get("Ebs") or {}).get("SnapshotId")
    ]
    if mappings:
        out["BlockDeviceMappings"] = mappings
    return out


def image_from(raw: Mapping[str, Any], region: str, account_id: str, sizes: Mapping[str, int]) -> Image:
    snapshots = []
    for mapping in raw.get("BlockDeviceMappings", []):
        ebs = mapping.get("Ebs") or {}
        snap_id = ebs.get("SnapshotId")
        if snap_id:
            size = sizes.get(snap_id, ebs.get("VolumeSize", 0))
            device = _shared(mapping.get("DeviceName", ""))
            snapshots.append(SnapshotRef(snap_id, device, int(size or 0)))
    tags = raw.get("Tags")
    return Image(
        image_id=raw["ImageId"],
        region=region,
        owner_id=_shared(raw.get("OwnerId", account_id)),
        name=raw.get("Name") or raw["ImageId"],
        creation_date=parse_time(raw.get("CreationDate")) or datetime.fromtimestamp(0, UTC),
        state=_shared(raw.get("State", "available")),
        tags={_shared(t["Key"]): t.get("Value", "") for t in tags} if tags else EMPTY_TAGS,
        snapshots=tuple(snapshots),
        public=bool(raw.get("Public", False)),
        deprecation_time=parse_time(raw.get("DeprecationTime")),
        deregistration_protected=str(raw.get("DeregistrationProtection", "disabled")).startswith("enabled"),
        last_launched=parse_time(raw.get("LastLaunchedTime")),
        platform=_shared((raw.get("Platform") or raw.get("PlatformDetails") or "linux").lower()),
        description=raw.get("Description") or "",
        source_image_id=raw.get("SourceImageId") or None,
        architecture=_shared(raw.get("Architecture") or DEFAULT_ARCHITECTURE),
    )


def _shared(text: str) -> str:
    """One copy of a text many images repeat (owner, state, device, architecture, tag key).

    sys.intern: each parsed answer is a new string; 50,000 copies of "123456789012" are 3 MB.
    """
    return sys.intern(text) if isinstance(text, str) else text


def snapshot_sizes(ec2: EC2Client) -> dict[str, int]:
    return {
        s["SnapshotId"]: int(s.get("VolumeSize", 0))
        for s in pages(ec2, "describe_snapshots", "Snapshots", 1000, OwnerIds=["self"])
    }


def pages(client: BaseClient, operation: str, key: str, page_size: int, **kwargs: Any) -> Iterator[Any]:
    paginator = client.get_paginator(operation)
    for page in paginator.paginate(**kwargs, PaginationConfig={"PageSize": page_size}):
        yield from page.get(key, [])


def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_launch_permissions(ec2: EC2Client, image_id: str) -> Sharing:
    try:
        result = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    except (ClientError, BotoCoreError) as err:
        return Sharing(error=describe_error(err))
    perms = result.get("LaunchPermissions", [])
    return Sharing(
        public=any(p.get("Group") == "all" for p in perms),
        accounts=frozenset(p["UserId"] for p in perms if p.get("UserId")),
        organizations=frozenset(p["OrganizationArn"] for p in perms if p.get("OrganizationArn")),
        organizational_units=frozenset(
            p["OrganizationalUnitArn"] for p in perms if p.get("OrganizationalUnitArn")
        ),
    )
