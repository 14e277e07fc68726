"""Reads every job makes the same way: images and snapshots in whole pages, times, images as data.

Cost grows with pages, not with images: every list is read with the largest page
the API allows (DescribeImages and DescribeSnapshots: 1000).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import (
    DEFAULT_ARCHITECTURE,
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


def list_owned_images(ec2: EC2Client, region: str) -> list[dict[str, Any]]:
    """Every image the account owns in `region`, disabled and deprecated ones too, in 1000-image pages."""
    try:
        return find_images(ec2)
    except (ClientError, BotoCoreError) as err:
        raise InventoryError(f"cannot list images in {region}: {describe_error(err)}") from err


def image_from(raw: Mapping[str, Any], region: str, account_id: str, sizes: Mapping[str, int]) -> Image:
    snapshots = []
    for mapping in raw.get("BlockDeviceMappings", []):
        ebs = mapping.get("Ebs") or {}
        snap_id = ebs.get("SnapshotId")
        if snap_id:
            size = sizes.get(snap_id, ebs.get("VolumeSize", 0))
            snapshots.append(SnapshotRef(snap_id, mapping.get("DeviceName", ""), int(size or 0)))
    return Image(
        image_id=raw["ImageId"],
        region=region,
        owner_id=raw.get("OwnerId", account_id),
        name=raw.get("Name") or raw["ImageId"],
        creation_date=parse_time(raw.get("CreationDate")) or datetime.fromtimestamp(0, UTC),
        state=raw.get("State", "available"),
        tags={t["Key"]: t.get("Value", "") for t in raw.get("Tags", [])},
        snapshots=tuple(snapshots),
        public=bool(raw.get("Public", False)),
        deprecation_time=parse_time(raw.get("DeprecationTime")),
        deregistration_protected=str(raw.get("DeregistrationProtection", "disabled")).startswith("enabled"),
        last_launched=parse_time(raw.get("LastLaunchedTime")),
        platform=(raw.get("Platform") or raw.get("PlatformDetails") or "linux").lower(),
        description=raw.get("Description") or "",
        source_image_id=raw.get("SourceImageId") or None,
        architecture=raw.get("Architecture") or DEFAULT_ARCHITECTURE,
    )


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
