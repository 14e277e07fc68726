"""What the tag job reads: images and the tags of their snapshots, nothing about usage.

A sweep reads every owned image and every owned snapshot in whole pages
(DescribeImages, DescribeSnapshots: their tags come with them). An event
reads only what it names: the images by an ``image-id`` filter (a deleted or
unknown id is then simply absent, where ``ImageIds`` would fail the call),
their snapshots by a ``snapshot-id`` filter, and the other owned images that
use those snapshots (``block-device-mapping.snapshot-id``), so a snapshot two
images share is recognised and left alone. Three calls, whatever the image.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import EMPTY_TAGS, RegionEstate
from ami_hygiene.core.paging import InventoryError, find_images, image_from, owned_images, pages

# The IAM actions its page reads call (the stack grants them: infra/permissions_tags.py).
READS = ("ec2:DescribeImages", "ec2:DescribeSnapshots")


if TYPE_CHECKING:
    from types_boto3_ec2 import EC2Client

PAGE = 1000
FILTER_VALUES = 200  # EC2 accepts up to 200 values per filter


@dataclass(frozen=True)
class TagEstate:
    """The images, and the tags of their snapshots (None: they could not be read)."""

    estate: RegionEstate
    snapshot_tags: Mapping[str, Mapping[str, str]] | None
    # Image ids asked for that do not exist (deleted, or never were).
    missing: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())


def read_all(clients: Clients, region: str, account_id: str) -> TagEstate:
    """Every owned image of the region, and every owned snapshot's tags.

    The snapshots first, so that each page of images becomes Images as it arrives (their sizes
    known): 50,000 images' raw answers are never held at once (core/paging.py owned_images).
    """
    ec2 = clients.ec2(region)
    snapshots, problem = _snapshots(ec2, OwnerIds=["self"])
    sizes = {sid: size for sid, (size, _) in (snapshots or {}).items()}
    images = owned_images(ec2, region, account_id, sizes)
    return TagEstate(
        estate=RegionEstate(region=region, account_id=account_id, images=images),
        snapshot_tags=None if snapshots is None else {sid: tags for sid, (_, tags) in snapshots.items()},
        problems=(problem,) if problem else (),
    )


def read_named(clients: Clients, region: str, account_id: str, image_ids: Iterable[str]) -> TagEstate:
    """The named images (any owner: the policy refuses foreign ones), plus what shares their snapshots."""
    ids = list(dict.fromkeys(image_ids))
    ec2 = clients.ec2(region)
    try:
        raw = find_images(ec2, owners=(), filters=[{"Name": "image-id", "Values": ids}])
    except (ClientError, BotoCoreError) as err:
        raise InventoryError(
            f"cannot read images {', '.join(ids)} in {region}: {describe_error(err)}"
        ) from err
    found = {r["ImageId"] for r in raw}
    snap_ids = sorted(
        {
            str((m.get("Ebs") or {}).get("SnapshotId"))
            for r in raw
            if r.get("OwnerId", account_id) == account_id
            for m in r.get("BlockDeviceMappings", [])
            if (m.get("Ebs") or {}).get("SnapshotId")
        }
    )
    problems: list[str] = []
    snapshots: dict[str, tuple[int, Mapping[str, str]]] | None = {}
    sharers: list[Any] = []
    for chunk in _chunks(snap_ids):
        read, problem = _snapshots(ec2, OwnerIds=["self"], Filters=[{"Name": "snapshot-id", "Values": chunk}])
        if read is None or snapshots is None:
            snapshots = None
            problems.append(problem)
            break
        snapshots.update(read)
        try:
            users = find_images(ec2, filters=[{"Name": "block-device-mapping.snapshot-id", "Values": chunk}])
            sharers.extend(r for r in users if r["ImageId"] not in found)
        except (ClientError, BotoCoreError) as err:
            # Unknown sharing: nothing is propagated rather than tag a shared snapshot.
            snapshots = None
            problems.append(f"cannot read which images share snapshots: {describe_error(err)}")
            break
    sizes = {sid: size for sid, (size, _) in (snapshots or {}).items()}
    images = tuple(image_from(r, region, account_id, sizes) for r in [*raw, *sharers])
    return TagEstate(
        estate=RegionEstate(region=region, account_id=account_id, images=images),
        snapshot_tags=None if snapshots is None else {sid: tags for sid, (_, tags) in snapshots.items()},
        missing=tuple(i for i in ids if i not in found),
        problems=tuple(problems),
    )


def _snapshots(ec2: EC2Client, **kwargs: Any) -> tuple[dict[str, tuple[int, Mapping[str, str]]] | None, str]:
    """snapshot id -> (size, tags); None and the reason when they could not be read."""
    try:
        return {
            s["SnapshotId"]: (
                int(s.get("VolumeSize", 0)),
                {t["Key"]: t.get("Value", "") for t in s["Tags"]} if s.get("Tags") else EMPTY_TAGS,
            )
            for s in pages(ec2, "describe_snapshots", "Snapshots", PAGE, **kwargs)
        }, ""
    except (ClientError, BotoCoreError) as err:
        return None, f"cannot read snapshot tags, so nothing is propagated: {describe_error(err)}"


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), FILTER_VALUES):
        yield items[start : start + FILTER_VALUES]
