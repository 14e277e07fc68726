"""The Recycle Bin rules keep what rotation deregisters only if the tag matches exactly.

Tag-level retention rules match a tag key *and value*; there are no wildcards.
So the value the executor writes on retired images and snapshots must be one
the stack's rules list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ami_hygiene.core.estate import TAG_RETIRED_BY, SnapshotRef
from ami_hygiene.core.executor import Executor, RunContext
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.settings import Mode
from ami_hygiene.jobs.rotate.actions import WRITERS
from tests.infra.synthesized import synthesize


class RecordingEc2:
    def __init__(self) -> None:
        self.tags: list[dict[str, str]] = []

    def ec2(self, region: str) -> RecordingEc2:
        return self

    def create_tags(self, Resources: list[str], Tags: list[dict[str, str]]) -> None:
        self.tags.extend(Tags)

    def deregister_image(self, ImageId: str, DeleteAssociatedSnapshots: bool) -> dict[str, Any]:
        return {"Return": True, "DeleteSnapshotResults": [{"SnapshotId": "snap-1", "ReturnCode": "success"}]}


def test_the_retired_by_tag_the_executor_writes_is_one_the_recycle_bin_rules_keep() -> None:
    rules = synthesize().resources("AWS::Rbin::Rule").values()
    kept = {
        (t["ResourceTagKey"], t["ResourceTagValue"]) for r in rules for t in r["Properties"]["ResourceTags"]
    }
    ec2 = RecordingEc2()
    decision = Decision(
        image_id="ami-1",
        region="eu-west-1",
        family="web",
        name="web-1",
        action=Action.DEREGISTER,
        reasons=("old",),
        snapshots=(SnapshotRef("snap-1", "/dev/xvda", 8),),
    )
    now = datetime(2026, 11, 27, tzinfo=UTC)
    [done] = (
        Executor(RunContext(ec2, "rotate", now), Mode.ENFORCE, WRITERS)
        .apply(Plan("rotate", "eu-west-1", (decision,)))
        .decisions
    )
    assert done.outcome is Outcome.DONE
    written = {(t["Key"], t["Value"]) for t in ec2.tags if t["Key"] == TAG_RETIRED_BY}
    assert written and written <= kept, (written, kept)
