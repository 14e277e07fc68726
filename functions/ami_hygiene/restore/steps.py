"""`ami-hygiene restore`: give back images rotation disabled or deregistered, as they were.

Per image, every read comes first; an image whose tags forbid a clean restore
(a malformed launch-permission record, snapshots that can't be told apart) fails
before anything is changed. Then, one call at a time:

1. tag-retain: `ami-hygiene:retain=true`, first, so a restore that stops half-way
   is not retired again by the next rotation run; running restore again finishes
   it (an available image that still has retirement tags counts as restorable).
2. In the Recycle Bin: restore-snapshot for each of its snapshots, then
   restore-image. "Before you can restore an AMI from the Recycle Bin, you must
   first restore all of its associated snapshots" (EC2 User Guide,
   "Considerations for Recycle Bin"). Once the image is back its block device
   mappings are read, and a snapshot it maps that is still in the bin is restored
   too.
3. enable-image if it is (or came back) disabled: DisableImage made it private,
   and neither EnableImage nor the bin gives back what DisableImage removed
   (EC2 API reference, DisableImage and EnableImage).
4. share: ModifyImageAttribute adds the launch permissions rotation recorded in
   the image's tags (`launch_record`).
5. untag: remove `disabled-at`, `retired-by`, `retired-at` and the record from
   the image, and `retired-by`/`retired-at`/`retired-with` from the snapshots restored with it.
   Last, so that until everything else is done the tags still say what to redo.

Finding an image's snapshots while it is in the bin. ListImagesInRecycleBin gives
no block device mappings and ListSnapshotsInRecycleBin only SnapshotId,
Description, VolumeId and the bin times (EC2 API reference), so a binned
snapshot is the image's when
- rotation tagged it `ami-hygiene:retired-with=<image id>` as it deleted it
  (exact; every snapshot rotation deletes carries it);
- its description says EC2 made it for that image: CreateImage writes
  "Created by CreateImage(i-...) for ami-...", CopyImage "Copied for
  DestinationAmi ami-... from SourceAmi ..." (the destination, never the source).
  Both make every snapshot of the image they make, so such a match is complete;
- otherwise, when rotation retired it together with the image: DeregisterImage with
  DeleteAssociatedSnapshots deletes it after rotation tagged image and snapshots
  with the same `retired-by` and `retired-at` (read with DescribeTags, which the
  bin allows). One run stamps every image it retires with the same time, so when
  other images in the bin carry the same pair those snapshots could be theirs:
  then they are restored only if all those images are restored in the same call;
  otherwise the image fails before any change, naming the candidates.

Images of another account, images neither disabled nor in the bin (nor left
half-restored), and ids found nowhere are reported as not restorable and left
untouched. A dry run makes only reads.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import (
    TAG_DISABLED_AT,
    TAG_RETAIN,
    TAG_RETIRED_AT,
    TAG_RETIRED_BY,
    TAG_RETIRED_WITH,
)
from ami_hygiene.core.launch_record import RecordError, record_keys, recorded
from ami_hygiene.restore.report import ImageRestore, RestoreOutcome, RestoreReport, Step, StepStatus

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from types_boto3_ec2 import EC2Client
    from types_boto3_ec2.type_defs import LaunchPermissionModificationsTypeDef, TagTypeDef

IMAGE_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
MADE_FOR = re.compile(r"^(?:Created by CreateImage\([^)]*\) for|Copied for DestinationAmi) (ami-[0-9a-f]+)\b")
RETIREMENT_TAGS = (TAG_DISABLED_AT, TAG_RETIRED_BY, TAG_RETIRED_AT)
FILTER_VALUES = 200  # ids per DescribeImages/DescribeTags filter: a request stays small
BIN_IMAGE_IDS = 20  # ListImagesInRecycleBin: "You can specify up to 20 IDs in a single request"
BIN_PAGE = 1000  # the largest MaxResults both bin listings take


class RestoreUsageError(ValueError):
    """The image ids given are not usable; nothing was read or changed."""


def validate_ids(image_ids: Sequence[str]) -> tuple[str, ...]:
    ids = tuple(dict.fromkeys(i.strip() for i in image_ids))
    if not ids:
        raise RestoreUsageError("name at least one image id")
    bad = [i for i in ids if not IMAGE_ID.match(i)]
    if bad:
        raise RestoreUsageError(f"not an image id (ami- and 8 to 17 hex digits): {', '.join(bad)}")
    return ids


@dataclass(frozen=True)
class Target:
    """One requested image as read, before anything changes."""

    image_id: str
    in_bin: bool = False
    state: str = ""  # registered images only
    tags: Mapping[str, str] = field(default_factory=dict)
    snapshots: tuple[str, ...] = ()  # in the bin: to restore before the image
    not_restorable: str | None = None
    error: str | None = None  # found, but restoring it cleanly is impossible


def restore_images(
    clients: Clients, region: str, image_ids: Sequence[str], *, dry_run: bool, now: datetime
) -> RestoreReport:
    """Restores each image (RestoreUsageError, before any call, for a bad id)."""
    ids = validate_ids(image_ids)
    ec2 = clients.ec2(region)
    targets, bin_snapshots = read_targets(ec2, clients.account_id(region), region, ids)
    run = _Run(ec2, dry_run, bin_snapshots)
    return RestoreReport(region, dry_run, now, tuple(run.restore(t) for t in targets))


# -- reads --------------------------------------------------------------------------------


def read_targets(
    ec2: EC2Client, account: str, region: str, ids: Sequence[str]
) -> tuple[list[Target], frozenset[str]]:
    """The targets, in the order asked, and the snapshots in the bin."""
    described = {
        image["ImageId"]: image
        for chunk in _chunks(ids, FILTER_VALUES)
        for image in _pages(
            ec2,
            "describe_images",
            "Images",
            Filters=[{"Name": "image-id", "Values": chunk}],
            IncludeDisabled=True,
        )
    }
    missing = [i for i in ids if i not in described]
    binned = {
        image["ImageId"]
        for chunk in _chunks(missing, BIN_IMAGE_IDS)
        for image in _pages(ec2, "list_images_in_recycle_bin", "Images", ImageIds=chunk)
    }
    contents = _BinContents.read(ec2, frozenset(ids)) if binned else _BinContents()
    bin_tags = _tags_of(ec2, sorted(binned))
    targets = []
    for image_id in ids:
        if image_id in described:
            target = _registered(described[image_id], account)
        elif image_id in binned:
            target = contents.target(image_id, bin_tags.get(image_id, {}))
        else:
            why = f"not found in {region}: neither registered nor in its Recycle Bin (deleted for good?)"
            target = Target(image_id, not_restorable=why)
        targets.append(_checked(target))
    return targets, frozenset(contents.snapshots)


def _registered(image: Mapping[str, Any], account: str) -> Target:
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    state, owner = image.get("State", ""), image.get("OwnerId", "")
    why = None
    if owner != account:
        why = f"owned by account {owner}: only its owner can restore it"
    elif state == "available" and not _retirement_keys(tags):
        why = "available and not retired by ami-hygiene: nothing to restore"
    elif state not in ("available", "disabled"):
        why = f"in state {state}: only disabled images and images in the Recycle Bin are restored"
    return Target(image["ImageId"], state=state, tags=tags, not_restorable=why)


def _checked(target: Target) -> Target:
    if target.not_restorable or target.error:
        return target
    try:
        recorded(target.tags)
    except RecordError as err:
        return replace(
            target, error=f"its launch-permission record is not valid ({err}); nothing was changed"
        )
    return target


def _retirement_keys(tags: Mapping[str, str]) -> list[str]:
    return [key for key in (*RETIREMENT_TAGS, *record_keys(tags)) if key in tags]


@dataclass(frozen=True)
class _BinContents:
    """What the Recycle Bin holds, and the retirement marks (retired-by, retired-at) of it."""

    images: frozenset[str] = frozenset()
    snapshots: Mapping[str, str] = field(default_factory=dict)  # id -> description
    marks: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    requested: frozenset[str] = frozenset()
    went_with: Mapping[str, str] = field(default_factory=dict)  # snapshot -> image (retired-with)

    @classmethod
    def read(cls, ec2: EC2Client, requested: frozenset[str]) -> _BinContents:
        images = frozenset(
            i["ImageId"] for i in _pages(ec2, "list_images_in_recycle_bin", "Images", BIN_PAGE)
        )
        snapshots = {
            s["SnapshotId"]: s.get("Description", "")
            for s in _pages(ec2, "list_snapshots_in_recycle_bin", "Snapshots", BIN_PAGE)
        }
        found: defaultdict[str, dict[str, str]] = defaultdict(dict)
        retired = [{"Name": "key", "Values": [TAG_RETIRED_BY, TAG_RETIRED_AT, TAG_RETIRED_WITH]}]
        for tag in _pages(ec2, "describe_tags", "Tags", Filters=retired):
            found[tag["ResourceId"]][tag["Key"]] = tag["Value"]
        marks = {
            r: (t[TAG_RETIRED_BY], t[TAG_RETIRED_AT])
            for r, t in found.items()
            if TAG_RETIRED_BY in t and TAG_RETIRED_AT in t
        }
        went_with = {r: t[TAG_RETIRED_WITH] for r, t in found.items() if TAG_RETIRED_WITH in t}
        return cls(images, snapshots, marks, requested, went_with)

    def target(self, image_id: str, tags: Mapping[str, str]) -> Target:
        exact = [s for s in self.snapshots if self.went_with.get(s) == image_id]
        if exact:
            # Rotation tagged each snapshot it deleted with its image: an exact match.
            return Target(image_id, in_bin=True, tags=tags, snapshots=tuple(exact))
        made_for = {s: m.group(1) for s, d in self.snapshots.items() if (m := MADE_FOR.match(d or ""))}
        own = [s for s, image in made_for.items() if image == image_id]
        by, at = tags.get(TAG_RETIRED_BY), tags.get(TAG_RETIRED_AT)
        if own or by is None or at is None:
            # CreateImage and CopyImage make every snapshot of the image they make.
            return Target(image_id, in_bin=True, tags=tags, snapshots=tuple(own))
        tagged = [s for s in self.snapshots if s not in made_for and self.marks.get(s) == (by, at)]
        others = sorted(
            i for i in self.images - self.requested if i != image_id and self.marks.get(i) == (by, at)
        )
        if tagged and others:
            error = (
                f"its snapshots can't be told apart from those of {', '.join(others)}, retired with it "
                f"at {at}: restore those images in the same call, or restore its snapshots by hand "
                f"(candidates: {', '.join(tagged)}); nothing was changed"
            )
            return Target(image_id, in_bin=True, tags=tags, error=error)
        return Target(image_id, in_bin=True, tags=tags, snapshots=tuple(own + tagged))


def _tags_of(ec2: EC2Client, resource_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    found: defaultdict[str, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(resource_ids, FILTER_VALUES):
        for tag in _pages(ec2, "describe_tags", "Tags", Filters=[{"Name": "resource-id", "Values": chunk}]):
            found[tag["ResourceId"]][tag["Key"]] = tag["Value"]
    return found


def _pages(
    ec2: BaseClient, operation: str, key: str, page_size: int | None = None, **kwargs: Any
) -> Iterator[Any]:
    config = {"PageSize": page_size} if page_size else {}
    for page in ec2.get_paginator(operation).paginate(**kwargs, PaginationConfig=config):
        yield from page.get(key, [])


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# -- changes ------------------------------------------------------------------------------


class _StepFailed(Exception):
    pass


@dataclass
class _Run:
    ec2: EC2Client
    dry_run: bool
    bin_snapshots: frozenset[str]
    # Snapshots restored (or planned) for an earlier image of this run: once is enough.
    handled: set[str] = field(default_factory=set)

    def restore(self, target: Target) -> ImageRestore:
        if target.not_restorable:
            return ImageRestore(target.image_id, RestoreOutcome.NOT_RESTORABLE, error=target.not_restorable)
        if target.error:
            return ImageRestore(target.image_id, RestoreOutcome.FAILED, error=target.error)
        steps = _Steps(self.dry_run)
        try:
            self._apply(target, steps)
        except _StepFailed as err:
            error = f"{err}; the steps before it were done, none after it: run restore again once fixed"
            return ImageRestore(target.image_id, RestoreOutcome.FAILED, tuple(steps.done), error)
        outcome = RestoreOutcome.PLANNED if self.dry_run else RestoreOutcome.RESTORED
        return ImageRestore(target.image_id, outcome, tuple(steps.done))

    def _apply(self, target: Target, steps: _Steps) -> None:
        ec2, image_id = self.ec2, target.image_id
        retain: list[TagTypeDef] = [{"Key": TAG_RETAIN, "Value": "true"}]
        steps.call(
            "tag-retain",
            image_id,
            f"{TAG_RETAIN}=true",
            lambda: ec2.create_tags(Resources=[image_id], Tags=retain),
        )
        disabled = target.state == "disabled"
        restored: list[str] = []
        if target.in_bin:
            restored += self._restore_snapshots(target.snapshots, steps, "")
            steps.call(
                "restore-image", image_id, "", lambda: ec2.restore_image_from_recycle_bin(ImageId=image_id)
            )
            if self.dry_run:
                disabled = TAG_DISABLED_AT in target.tags  # rotation disables before it deregisters
            else:
                image = steps.read("read-image", image_id, lambda: _describe(ec2, image_id))
                disabled = image.get("State") == "disabled"
                mapped = [s for s in _mapped_snapshots(image) if s in self.bin_snapshots]
                restored += self._restore_snapshots(mapped, steps, "mapped by the restored image")
        if disabled:
            steps.call("enable-image", image_id, "", lambda: ec2.enable_image(ImageId=image_id))
        record = recorded(target.tags)  # checked when read
        if record.principals:
            add: LaunchPermissionModificationsTypeDef = {"Add": record.launch_permissions()}
            steps.call(
                "share",
                image_id,
                " ".join(record.principals),
                lambda: ec2.modify_image_attribute(ImageId=image_id, LaunchPermission=add),
            )
        keys = _retirement_keys(target.tags)
        if keys:
            steps.call("untag", image_id, " ".join(keys), lambda: _untag(ec2, image_id, keys))
        marks = [TAG_RETIRED_BY, TAG_RETIRED_AT, TAG_RETIRED_WITH]
        for snapshot_id in restored:
            steps.call("untag", snapshot_id, " ".join(marks), partial(_untag, ec2, snapshot_id, marks))

    def _restore_snapshots(self, snapshot_ids: Sequence[str], steps: _Steps, detail: str) -> list[str]:
        restored = []
        for snapshot_id in snapshot_ids:
            if snapshot_id in self.handled:
                continue
            self.handled.add(snapshot_id)
            steps.call(
                "restore-snapshot",
                snapshot_id,
                detail,
                partial(self.ec2.restore_snapshot_from_recycle_bin, SnapshotId=snapshot_id),
            )
            restored.append(snapshot_id)
        return restored


@dataclass
class _Steps:
    """Each call made (or, in a dry run, planned), in order; the first failure stops the image."""

    dry_run: bool
    done: list[Step] = field(default_factory=list)

    def call(self, action: str, target: str, detail: str, call: Callable[[], Any]) -> None:
        if self.dry_run:
            self.done.append(Step(action, target, StepStatus.PLANNED, detail))
            return
        self.read(action, target, call, detail)
        self.done.append(Step(action, target, StepStatus.DONE, detail))

    def read(self, action: str, target: str, call: Callable[[], Any], detail: str = "") -> Any:
        """Runs `call`; a failure is recorded as a failed step and stops the image."""
        try:
            return call()
        except (ClientError, BotoCoreError) as err:
            error = describe_error(err)
            self.done.append(Step(action, target, StepStatus.FAILED, detail, error))
            raise _StepFailed(f"{action} {target} failed: {error}") from err


def _describe(ec2: EC2Client, image_id: str) -> dict[str, Any]:
    return dict(ec2.describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"][0])


def _mapped_snapshots(image: Mapping[str, Any]) -> list[str]:
    found = (m.get("Ebs", {}).get("SnapshotId") for m in image.get("BlockDeviceMappings", []))
    return list(dict.fromkeys(s for s in found if s))


def _untag(ec2: EC2Client, resource_id: str, keys: Sequence[str]) -> None:
    # A Key without Value deletes the tag whatever its value (DeleteTags, EC2 API reference).
    ec2.delete_tags(Resources=[resource_id], Tags=[{"Key": key} for key in keys])
