"""EC2's side of the Recycle Bin: deleted images and snapshots a retention rule keeps.

Follows the DeregisterImage and Recycle Bin API references and "Considerations
for Recycle Bin" (EC2/EBS User Guide):
- DeregisterImage: an EBS-backed image that matches an EC2_IMAGE rule moves to
  the bin for the rule's retention period instead of vanishing; it keeps what it
  was (tags, block device mappings, state, launch permissions), none of it
  usable until it is restored. A snapshot that DeleteAssociatedSnapshots or
  DeleteSnapshot deletes goes to the bin when it matches an EBS_SNAPSHOT rule.
- While in the bin a resource carries the system tag
  `aws:recycle-bin:resource-in-bin=true`; its tags can still be read and changed
  (DescribeTags, CreateTags, DeleteTags). Restoring removes that tag.
- ListImagesInRecycleBin (ImageIds: up to 20; MaxResults 1-1000) and
  ListSnapshotsInRecycleBin (MaxResults 5-1000) page with NextToken;
  RecycleBinExitTime = RecycleBinEnterTime + the retention period, after which
  the resource is gone for good.
- RestoreImageFromRecycleBin: "you must first restore all of its associated
  snapshots": a snapshot still in the bin, or gone for good, refuses it
  (IncorrectState; the reference names no code). "If an AMI is shared when it is
  deleted ... if you restore the AMI, all of the previous sharing permissions are
  automatically restored": the image comes back with the launch permissions it
  had when deregistered (none, for an image DisableImage made private). The
  guide does not say which state a disabled image comes back in; here it keeps
  its state, so a disabled image comes back disabled.
- RestoreSnapshotFromRecycleBin: the snapshot is usable at once, with its tags
  and its sharing permissions.

The sandbox's DeregisterImage and DeleteSnapshot (image_lifecycle,
image_registration) are wrapped, not changed: they decide what is deleted, and
this module decides what of it the bin keeps.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidAMIIdError, InvalidSnapshotIdError, MalformedAMIIdError
from moto.ec2.models import EC2Backend
from moto.ec2.responses import EC2Response

from ._patching import original, override
from .clock import now
from .errors import check_range, invalid_parameter_value
from .image_lifecycle import SNAPSHOT_DELETED
from .image_lifecycle import deregister_image as _deregister_image
from .image_registration import delete_snapshot as _delete_snapshot
from .image_table import images_of, snapshot_ids_of
from .paging import page
from .recycle_bin import retention_for

RESOURCE_IN_BIN = "aws:recycle-bin:resource-in-bin"
MAX_IMAGE_IDS = 20
MAX_RESULTS = 1000
_BIN_ATTR = "_sandbox_recycle_bin"
_SEQUENCE = itertools.count(1)


@dataclass
class Binned:
    resource: Any  # moto's Ami or Snapshot, as it was when deleted
    entered: datetime
    leaves: datetime
    sequence: int  # listing order: order of entry


@dataclass
class RecycleBin:
    images: dict[str, Binned] = field(default_factory=dict)
    snapshots: dict[str, Binned] = field(default_factory=dict)


def bin_of(backend: Any) -> RecycleBin:
    """The region's bin, without what has outlived its retention period."""
    found = backend.__dict__.get(_BIN_ATTR)
    if found is None:
        found = backend.__dict__.setdefault(_BIN_ATTR, RecycleBin())
    current = now()
    for entries in (found.images, found.snapshots):
        for resource_id in [r for r, entry in entries.items() if entry.leaves <= current]:
            del entries[resource_id]
            backend.tags.pop(resource_id, None)  # deleted for good, tags and all
    return found


def incorrect_state(message: str) -> EC2ClientError:
    # "The resource is in an incorrect state for the request" (EC2 error codes).
    return EC2ClientError("IncorrectState", message)


def _keep(backend: Any, resource_type: str, entries: dict[str, Binned], resource: Any) -> None:
    """Puts a deleted resource in the bin if a rule retains it; otherwise it stays deleted."""
    tags = dict(backend.tags.get(resource.id) or {})
    retention = retention_for(backend.account_id, backend.region_name, resource_type, tags)
    if retention is None:
        return
    entered = now()
    entries[resource.id] = Binned(resource, entered, entered + retention, next(_SEQUENCE))
    backend.tags[resource.id][RESOURCE_IN_BIN] = "true"


# -- backend ------------------------------------------------------------------------------


def deregister_image(
    self: Any, ami_id: str, delete_associated_snapshots: bool = False
) -> list[dict[str, str]]:
    image = images_of(self).get(ami_id)
    snapshots = {} if image is None else {s: self.snapshots.get(s) for s in snapshot_ids_of(image)}
    results = _deregister_image(self, ami_id, delete_associated_snapshots)  # raises if it may not
    recycle = bin_of(self)
    if image.root_device_type == "ebs":  # only EBS-backed AMIs are supported
        _keep(self, "EC2_IMAGE", recycle.images, image)
    for result in results:
        snapshot = snapshots.get(result["SnapshotId"])
        if result["ReturnCode"] == SNAPSHOT_DELETED and snapshot is not None:
            _keep(self, "EBS_SNAPSHOT", recycle.snapshots, snapshot)
    return results


def delete_snapshot(self: Any, snapshot_id: str) -> Any:
    snapshot = _delete_snapshot(self, snapshot_id)
    _keep(self, "EBS_SNAPSHOT", bin_of(self).snapshots, snapshot)
    return snapshot


def restore_snapshot_from_recycle_bin(self: Any, snapshot_id: str) -> Any:
    entry = bin_of(self).snapshots.pop(snapshot_id, None)
    if entry is None:
        raise InvalidSnapshotIdError()
    self.snapshots[snapshot_id] = entry.resource
    self.tags[snapshot_id].pop(RESOURCE_IN_BIN, None)
    return entry.resource


def restore_image_from_recycle_bin(self: Any, image_id: str) -> None:
    if not str(image_id).startswith("ami-"):
        raise MalformedAMIIdError([image_id])
    recycle = bin_of(self)
    entry = recycle.images.get(image_id)
    if entry is None:
        raise InvalidAMIIdError(image_id)
    for snapshot_id in snapshot_ids_of(entry.resource):
        if snapshot_id in recycle.snapshots:
            raise incorrect_state(
                f"Image {image_id} uses snapshot {snapshot_id}, still in the Recycle Bin: restore it first."
            )
        if snapshot_id not in self.snapshots:
            raise incorrect_state(
                f"Image {image_id} uses snapshot {snapshot_id}, which no longer exists: "
                "the image can't be restored."
            )
    del recycle.images[image_id]
    images_of(self)[image_id] = entry.resource
    if image_id in self.deleted_amis:
        self.deleted_amis.remove(image_id)
    self.tags[image_id].pop(RESOURCE_IN_BIN, None)


def do_resources_exist(self: Any, resource_ids: list[str]) -> bool:
    # CreateTags checks its resources exist; in the bin "you can only view it, restore it,
    # or modify its tags" (Considerations for Recycle Bin), so a binned id counts.
    recycle = bin_of(self)
    present = [r for r in resource_ids if r not in recycle.images and r not in recycle.snapshots]
    return bool(original(EC2Backend, "do_resources_exist")(self, present))


# -- responses ----------------------------------------------------------------------------


def _listed(
    self: Any, entries: Iterable[Binned], ids: list[str], low: int, scope: str
) -> tuple[list[Binned], str | None]:
    limit = check_range("MaxResults", self._get_param("MaxResults"), low, MAX_RESULTS) or MAX_RESULTS
    self.error_on_dryrun()
    wanted = set(ids)
    found = page(
        entries,
        key=lambda entry: (entry.sequence,),
        limit=limit,
        token=self._get_param("NextToken"),
        scope=scope,
        keep=lambda entry: not wanted or entry.resource.id in wanted,
    )
    return found.items, found.next_token


def _list_images_in_recycle_bin(self: Any) -> ActionResult:
    ids = list(dict.fromkeys(self._get_param("ImageIds", []) or []))
    if len(ids) > MAX_IMAGE_IDS:
        raise invalid_parameter_value(f"You can specify up to {MAX_IMAGE_IDS} image IDs in a single request.")
    malformed = [i for i in ids if not str(i).startswith("ami-")]
    if malformed:
        raise MalformedAMIIdError(malformed)
    entries = bin_of(self.ec2_backend).images.values()
    items, token = _listed(self, entries, ids, 1, "ListImagesInRecycleBin")
    images = [
        {
            "ImageId": entry.resource.id,
            "Name": entry.resource.name,
            "Description": entry.resource.description,
            "RecycleBinEnterTime": entry.entered,
            "RecycleBinExitTime": entry.leaves,
        }
        for entry in items
    ]
    return ActionResult({"Images": images, "NextToken": token})


def _list_snapshots_in_recycle_bin(self: Any) -> ActionResult:
    ids = list(dict.fromkeys(self._get_param("SnapshotIds", []) or []))
    entries = bin_of(self.ec2_backend).snapshots.values()
    items, token = _listed(self, entries, ids, 5, "ListSnapshotsInRecycleBin")
    snapshots = [
        {
            "SnapshotId": entry.resource.id,
            "Description": entry.resource.description,
            "VolumeId": entry.resource.volume.id,
            "RecycleBinEnterTime": entry.entered,
            "RecycleBinExitTime": entry.leaves,
        }
        for entry in items
    ]
    return ActionResult({"Snapshots": snapshots, "NextToken": token})


def _restore_image_from_recycle_bin(self: Any) -> ActionResult:
    self.error_on_dryrun()
    self.ec2_backend.restore_image_from_recycle_bin(self._get_param("ImageId"))
    return ActionResult({"Return": True})


def _restore_snapshot_from_recycle_bin(self: Any) -> ActionResult:
    self.error_on_dryrun()
    snapshot = self.ec2_backend.restore_snapshot_from_recycle_bin(self._get_param("SnapshotId"))
    return ActionResult(
        {
            "SnapshotId": snapshot.id,
            "Description": snapshot.description,
            "Encrypted": bool(snapshot.encrypted),
            "OwnerId": snapshot.owner_id,
            "Progress": "100%",
            "StartTime": snapshot.start_time,
            "State": snapshot.status,
            "VolumeId": snapshot.volume.id,
            "VolumeSize": snapshot.volume_size,
        }
    )


def install() -> None:
    for name, function in {
        "deregister_image": deregister_image,
        "delete_snapshot": delete_snapshot,
        "restore_image_from_recycle_bin": restore_image_from_recycle_bin,
        "restore_snapshot_from_recycle_bin": restore_snapshot_from_recycle_bin,
        "do_resources_exist": do_resources_exist,
    }.items():
        override(EC2Backend, name, function)
    for name, function in {
        "list_images_in_recycle_bin": _list_images_in_recycle_bin,
        "list_snapshots_in_recycle_bin": _list_snapshots_in_recycle_bin,
        "restore_image_from_recycle_bin": _restore_image_from_recycle_bin,
        "restore_snapshot_from_recycle_bin": _restore_snapshot_from_recycle_bin,
    }.items():
        override(EC2Response, name, function)
