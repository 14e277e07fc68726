"""Applies a Plan, one action at a time, each isolated from the others.

Report mode applies nothing. A failed action is recorded with its error and
the run goes on; nothing is swallowed. When the caller's time runs short the
remaining actions are deferred, so a run stops cleanly and the next resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import TAG_DISABLED_AT, TAG_RETIRED_AT, TAG_RETIRED_BY, TAG_RETIRED_WITH
from ami_hygiene.core.launch_record import record_of
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan, SnapshotResult
from ami_hygiene.core.settings import Mode

# Applies one decision of a job-specific action with the region's EC2 client
# (or raises ClientError); returns the decision with its outcome.
Applier = Callable[[Any, Decision], Decision]


def never_stop() -> bool:
    return False


class Executor:
    def __init__(
        self,
        clients: Any,
        mode: Mode,
        now: datetime,
        should_stop: Callable[[], bool] = never_stop,
        job: str = "rotate",
        appliers: Mapping[Action, Applier] | None = None,
    ) -> None:
        self.clients = clients
        self.mode = mode
        self.now = now
        self.should_stop = should_stop
        self.job = job
        self.appliers: dict[Action, Applier] = {
            Action.DEPRECATE: self._deprecate,
            Action.DISABLE: self._disable,
            Action.DEREGISTER: self._deregister,
            **(appliers or {}),
        }

    def apply(self, plan: Plan) -> Plan:
        if self.mode is Mode.REPORT:
            return plan
        return Plan(
            job=plan.job,
            region=plan.region,
            decisions=tuple(self._apply_one(d) for d in plan.decisions),
            errors=plan.errors,
        )

    def _apply_one(self, decision: Decision) -> Decision:
        if not decision.is_action:
            return decision.with_outcome(Outcome.DONE)
        if decision.outcome is Outcome.DEFERRED:
            return decision
        if decision.pending_checks:
            # Safety net: a policy must finish its checks before anything changes.
            return decision.with_outcome(
                Outcome.FAILED,
                error=f"not applied: checks still pending ({', '.join(decision.pending_checks)})",
            )
        if self.should_stop():
            return decision.with_outcome(
                Outcome.DEFERRED, reason="deferred: this run's time ran out; the next run continues"
            )
        apply = self.appliers.get(decision.action)
        if apply is None:
            return decision.with_outcome(
                Outcome.FAILED, error=f"not applied: this run cannot apply {decision.action.value}"
            )
        try:
            return apply(self.clients.ec2(decision.region), decision)
        except (ClientError, BotoCoreError) as err:
            return decision.with_outcome(Outcome.FAILED, error=describe_error(err))

    def _deprecate(self, ec2: Any, decision: Decision) -> Decision:
        ec2.enable_image_deprecation(ImageId=decision.image_id, DeprecateAt=decision.deprecate_at)
        return decision.with_outcome(Outcome.DONE)

    def _disable(self, ec2: Any, decision: Decision) -> Decision:
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
            Tags=[{"Key": TAG_DISABLED_AT, "Value": _iso(self.now)}, *record],
        )
        ec2.disable_image(ImageId=decision.image_id)
        return decision.with_outcome(Outcome.DONE)

    def _deregister(self, ec2: Any, decision: Decision) -> Decision:
        # The retired-by tag lets a Recycle Bin rule keep what we delete restorable.
        doomed = [s.snapshot_id for s in decision.snapshots]
        # Recycle Bin rules match a tag value exactly: the job name, the time apart.
        retired = [
            {"Key": TAG_RETIRED_BY, "Value": self.job},
            {"Key": TAG_RETIRED_AT, "Value": _iso(self.now)},
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


def _record_tags(decision: Decision) -> list[dict[str, str]] | None:
    """The launch-permission record of a decision, as CreateTags takes it; None if it cannot be."""
    tags = record_of(decision.shared_with).tags() if decision.shared_with else {}
    return None if tags is None else [{"Key": key, "Value": value} for key, value in tags.items()]


UNRECORDABLE = "not applied: its launch permissions are too many to record, and retiring would drop them"


def _snapshot_results(response: dict[str, Any], doomed: list[str]) -> tuple[SnapshotResult, ...]:
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
