"""Reads what the public-sharing guard needs in one region.

Cost, in calls (EC2 has no bulk launch-permission or create-volume-permission read):

* whole pages: DescribeImages (Owners=self, 1000 a page; its ``Public`` field
  already says which images are public), DescribeSnapshots (OwnerIds=self: which
  snapshots this account owns) and DescribeSnapshots (OwnerIds=self,
  RestorableByUserIds=all: which are public), plus one
  GetImageBlockPublicAccessState;
* per resource, only with ``per_resource=True`` (the scheduled sweep): one
  DescribeImageAttribute(launchPermission) per owned image and one
  DescribeSnapshotAttribute(createVolumePermission) per owned snapshot behind
  an owned image. Only these find shares with accounts, organizations and OUs;
  public ones are already known from the pages. ``only`` narrows them to the
  images and snapshots an event named.

A read that fails is recorded (in `problems` and on the resource) and never
guessed: the policy then acts only on what was read.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.concurrency import both, parallel_map
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import TAG_PUBLIC_ALLOWED, Image, RegionEstate, Sharing
from ami_hygiene.core.paging import (
    InventoryError,
    find_images,
    image_from,
    owned_images,
    pages,
    read_launch_permissions,
)
from ami_hygiene.jobs.public.model import BlockPublicAccess, SharingEstate, SnapshotSharing

# The IAM actions its page reads call (the stack grants them: infra/permissions_public.py).
READS = ("ec2:DescribeImages", "ec2:DescribeSnapshots", "ec2:GetImageBlockPublicAccessState")


if TYPE_CHECKING:
    from types_boto3_ec2 import EC2Client

CREATE_VOLUME_PERMISSION: Final = "createVolumePermission"


def read_sharing(
    clients: Clients,
    region: str,
    account_id: str,
    *,
    per_resource: bool = True,
    only: Iterable[str] | None = None,
    limit: int | None = None,
    day: int = 0,
) -> SharingEstate:
    """The images of `account_id` in `region`, their snapshots' sharing and the region's setting.

    `only`: image and snapshot ids (e.g. from an event); per-resource reads are
    then made for those images, the images using those snapshots, and their
    snapshots. `limit`: at most this many images get per-resource reads, a
    slice that moves on each `day` (see `rotating_slice`); the others are still
    judged public or not from the page reads. InventoryError when the images
    themselves cannot be listed.
    """
    ec2 = clients.ec2(region)
    wanted = set(only) if only is not None else None
    problems: list[str] = []
    # The region's setting is read while the images are listed.
    images, block_public_access = both(
        lambda: (
            owned_images(ec2, region, account_id, {})
            if wanted is None
            else tuple(image_from(r, region, account_id, {}) for r in _named_images(ec2, region, wanted))
        ),
        lambda: _block_public_access(ec2, problems),
    )

    listed = [i for i in images if i.owner_id == account_id and _named(i, wanted)]
    # A sweep lists every owned snapshot; an event only those behind what it named.
    narrow: dict[str, Any] = {}
    if wanted is not None:
        behind = sorted({s.snapshot_id for i in listed for s in i.snapshots})
        narrow = {"Filters": [{"Name": "snapshot-id", "Values": behind}]}
    checked = rotating_slice(listed, limit, day) if per_resource else []
    behind_listed = list(dict.fromkeys(s.snapshot_id for i in listed for s in i.snapshots))
    to_read = {s.snapshot_id for i in checked for s in i.snapshots}

    def snapshot_sharing() -> dict[str, SnapshotSharing]:
        if wanted is not None and not behind_listed:
            return {}
        owned_query: dict[str, Any] = {"OwnerIds": ["self"], **narrow}
        public_query: dict[str, Any] = {**owned_query, "RestorableByUserIds": ["all"]}
        owned_snapshots, public_snapshots = both(
            lambda: _snapshot_ids(ec2, problems, "owned snapshots", **owned_query),
            lambda: _snapshot_ids(ec2, problems, "public snapshots", **public_query),
        )
        snapshots: dict[str, SnapshotSharing] = {}
        for snapshot_id in behind_listed:
            owned = None if owned_snapshots is None else snapshot_id in owned_snapshots
            public = public_snapshots is not None and snapshot_id in public_snapshots
            error = None if public_snapshots is not None else "public snapshots not listed"
            snapshots[snapshot_id] = SnapshotSharing(snapshot_id, owned=owned, public=public, error=error)
        # Create-volume permissions, one snapshot a request, in a bounded pool.
        reread = [entry for sid, entry in snapshots.items() if sid in to_read and entry.owned]
        for entry in parallel_map(partial(_snapshot_sharing, ec2, problems=problems), reread):
            snapshots[entry.snapshot_id] = entry
        return snapshots

    # Snapshots (two listings, then create-volume permissions) beside the images' launch
    # permissions: two EC2 actions, each with its own bucket, so each keeps its own pace.
    snapshots, sharing = both(snapshot_sharing, lambda: _launch_permissions(ec2, checked, problems))

    return SharingEstate(
        estate=RegionEstate(region=region, account_id=account_id, images=images, sharing=sharing),
        snapshots=snapshots,
        block_public_access=block_public_access,
        # Found side by side: in a stable order, whatever finished first.
        problems=tuple(sorted(problems)),
    )


def _launch_permissions(ec2: EC2Client, images: list[Image], problems: list[str]) -> dict[str, Sharing]:
    """Each image's launch permissions, one image a request, in a bounded pool."""
    found = parallel_map(lambda image: read_launch_permissions(ec2, image.image_id), images)
    for image, sharing in zip(images, found, strict=True):
        if sharing.error:
            problems.append(f"launch permissions of {image.image_id} not read: {sharing.error}")
    return {image.image_id: sharing for image, sharing in zip(images, found, strict=True)}


def rotating_slice(images: list[Image], limit: int | None, day: int) -> list[Image]:
    """At most `limit` of `images` (by image id), a window that moves by `limit` each day.

    EC2 has no bulk read of launch or create-volume permissions, so a sweep of
    a large estate reads them for one slice a day and covers every image within
    ceil(n / limit) days, without keeping state between runs. Public images and
    snapshots are found every run from the page reads; shares made later are
    caught at once by the CloudTrail event.
    """
    if limit is None or len(images) <= limit:
        return list(images)
    ordered = sorted(images, key=lambda i: i.image_id)
    start = (day * limit) % len(ordered)
    window = ordered[start : start + limit]
    return window + ordered[: limit - len(window)]


def _named_images(ec2: EC2Client, region: str, wanted: set[str]) -> list[dict[str, Any]]:
    """An event's images, the images using its snapshots, and the allowed-public ones.

    At most three filtered DescribeImages, whatever the estate's size: the
    guard answers an event in seconds. The allowed-public images decide whether
    block public access may be turned on in the region.
    """
    images = sorted(w for w in wanted if w.startswith("ami-"))
    snapshots = sorted(w for w in wanted if w.startswith("snap-"))
    filters = [{"Name": "tag:" + TAG_PUBLIC_ALLOWED, "Values": ["true", "True", "TRUE"]}]
    queries = [filters]
    if images:
        queries.append([{"Name": "image-id", "Values": images}])
    if snapshots:
        queries.append([{"Name": "block-device-mapping.snapshot-id", "Values": snapshots}])
    found: dict[str, dict[str, Any]] = {}
    try:
        for query in queries:
            found.update((raw["ImageId"], raw) for raw in find_images(ec2, filters=query))
    except (ClientError, BotoCoreError) as err:
        raise InventoryError(f"cannot read images in {region}: {describe_error(err)}") from err
    return list(found.values())


def _named(image: Image, wanted: set[str] | None) -> bool:
    if wanted is None:
        return True
    return image.image_id in wanted or any(s.snapshot_id in wanted for s in image.snapshots)


def _snapshot_ids(ec2: EC2Client, problems: list[str], what: str, **kwargs: Any) -> frozenset[str] | None:
    try:
        return frozenset(
            s["SnapshotId"] for s in pages(ec2, "describe_snapshots", "Snapshots", 1000, **kwargs)
        )
    except (ClientError, BotoCoreError) as err:
        problems.append(f"{what} not listed: {describe_error(err)}")
        return None


def _snapshot_sharing(ec2: EC2Client, entry: SnapshotSharing, *, problems: list[str]) -> SnapshotSharing:
    try:
        answer = ec2.describe_snapshot_attribute(
            SnapshotId=entry.snapshot_id, Attribute=CREATE_VOLUME_PERMISSION
        )
    except (ClientError, BotoCoreError) as err:
        problems.append(f"create volume permissions of {entry.snapshot_id} not read: {describe_error(err)}")
        # What the public listing said still stands; account shares stay unknown.
        return SnapshotSharing(
            entry.snapshot_id, owned=entry.owned, public=entry.public, error=describe_error(err)
        )
    perms = answer.get("CreateVolumePermissions", [])
    return SnapshotSharing(
        entry.snapshot_id,
        owned=entry.owned,
        public=any(p.get("Group") == "all" for p in perms),
        accounts=frozenset(p["UserId"] for p in perms if p.get("UserId")),
        accounts_read=True,
    )


def _block_public_access(ec2: EC2Client, problems: list[str]) -> BlockPublicAccess:
    try:
        answer = ec2.get_image_block_public_access_state()
    except (ClientError, BotoCoreError) as err:
        problems.append(f"image block public access state not read: {describe_error(err)}")
        return BlockPublicAccess(None, error=describe_error(err))
    return BlockPublicAccess(
        state=answer.get("ImageBlockPublicAccessState"),
        managed_by=answer.get("ManagedBy") or "account",
    )
