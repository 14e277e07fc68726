"""The rotate job's writes: deprecate, disable (recording who the image was shared with), deregister
with its snapshots (tagged for the Recycle Bin).

IAM: DeregisterImage with DeleteAssociatedSnapshots deletes the snapshots, which needs
ec2:DeleteSnapshot on them (EC2 API reference, DeregisterImage).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ami_hygiene.core.estate import TAG_DISABLED_AT, TAG_RETIRED_AT, TAG_RETIRED_BY, TAG_RETIRED_WITH
from ami_hygiene.core.executor import RunContext, Writers, writes
from ami_hygiene.core.launch_record import record_of
from ami_hygiene.core.plan import Action, Decision, Outcome, SnapshotResult

if TYPE_CHECKING:
    from types_boto3_ec2 import EC2Client
    from types_boto3_ec2.type_defs import TagTypeDef


@writes("ec2:EnableImageDeprecation")
def deprecate(ec2: EC2Client, decision: Decision, run: RunContext) -> Decision:
    if decision.deprecate_at is None:  # the policy always sets it; a safety net
        return decision.with_outcome(Outcome.FAILED, error="not applied: no deprecation time")
    ec2.enable_image_deprecation(ImageId=decision.image_id, DeprecateAt=decision.deprecate_at)
    return decision.with_outcome(Outcome.DONE)


@writes("ec2:CreateTags", "ec2:DisableImage")
def disable(ec2: EC2Client, decision: Decision, run: RunContext) -> Decision:
    # Tag first: a disabled image without our tag would look disabled by
    # someone else and never be retired; a tag on an image whose disabling
    # failed is harmless (the next run overwrites it). DisableImage drops
    # every launch permission, so who it was shared with is recorded in the
    # same call: no disabled image without its record.
    record = _record_tags(decision)
    if record is None:  # the policy keeps such images; a safety net
        return decision.with_outcome(Outcome.FAILED, error=UNRECORDABLE)
    ec2.create_tags(
        Resources=[decision.image_id],
        Tags=[{"Key": TAG_DISABLED_AT, "Value": _iso(run.now)}, *record],
    )
    ec2.disable_image(ImageId=decision.image_id)
    return decision.with_outcome(Outcome.DONE)


@writes("ec2:CreateTags", "ec2:DeregisterImage", "ec2:DeleteSnapshot")
def deregister(ec2: EC2Client, decision: Decision, run: RunContext) -> Decision:
    # The retired-by tag lets a Recycle Bin rule keep what we delete restorable.
    doomed = [s.snapshot_id for s in decision.snapshots]
    # Recycle Bin rules match a tag value exactly: the job name, the time apart.
    retired: list[TagTypeDef] = [
        {"Key": TAG_RETIRED_BY, "Value": run.job},
        {"Key": TAG_RETIRED_AT, "Value": _iso(run.now)},
    ]
    record = _record_tags(decision)
    if record is None:
        return decision.with_outcome(Outcome.FAILED, error=UNRECORDABLE)
    # The image carries who it was shared with; each snapshot, which image it went with.
    ec2.create_tags(Resources=[decision.image_id], Tags=[*retired, *record])
    if doomed:
        ec2.create_tags(
            Resources=doomed, Tags=[*retired, {"Key": TAG_RETIRED_WITH, "Value": decision.image_id}]
        )
    response = ec2.deregister_image(ImageId=decision.image_id, DeleteAssociatedSnapshots=bool(doomed))
    results = _snapshot_results(response, doomed)
    failed = [r for r in results if not r.deleted]
    if failed:
        detail = "; ".join(f"{r.snapshot_id}: {r.detail}" for r in failed)
        return decision.with_outcome(
            Outcome.FAILED,
            error=f"image deregistered but snapshots not deleted: {detail}",
            snapshot_results=results,
        )
    return decision.with_outcome(Outcome.DONE, snapshot_results=results)


WRITERS: Writers = {Action.DEPRECATE: deprecate, Action.DISABLE: disable, Action.DEREGISTER: deregister}


def _record_tags(decision: Decision) -> list[TagTypeDef] | None:
    """The launch-permission record of a decision, as CreateTags takes it; None if it cannot be."""
    tags = record_of(decision.shared_with).tags() if decision.shared_with else {}
    return None if tags is None else [{"Key": key, "Value": value} for key, value in tags.items()]


UNRECORDABLE = "not applied: its launch permissions are too many to record, and retiring would drop them"


def _snapshot_results(response: Mapping[str, Any], doomed: list[str]) -> tuple[SnapshotResult, ...]:
    reported = {
        r.get("SnapshotId"): r.get("ReturnCode", "") for r in response.get("DeleteSnapshotResults", [])
    }
    results = []
    for snapshot_id in doomed:
        code = reported.get(snapshot_id)
        if code == "success":
            results.append(SnapshotResult(snapshot_id, True))
        elif code is None:
            results.append(SnapshotResult(snapshot_id, False, "EC2 returned no result for it"))
        else:
            results.append(SnapshotResult(snapshot_id, False, code))
    return tuple(results)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
