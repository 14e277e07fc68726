"""The Recycle Bin rules: they keep only what rotation retired, for RecycleBinDays, and can be turned off;
and they keep what rotation deregisters only if the tag matches exactly.

Tag-level retention rules match a tag key *and value*; there are no wildcards.
So the value the executor writes on retired images and snapshots must be one
the stack's rules list.
"""

from __future__ import annotations

from typing import Any

from ami_hygiene.core.estate import TAG_RETIRED_BY, SnapshotRef
from ami_hygiene.core.executor import Executor, RunContext
from ami_hygiene.core.plan import Action, Outcome, Plan
from ami_hygiene.core.settings import Mode
from ami_hygiene.jobs.rotate.actions import WRITERS
from tests.helpers.builders import decision
from tests.helpers.constants import NOW, REGION
from tests.helpers.synthesized import Synthesized, synthesize
from tests.helpers.template import evaluated


def test_recycle_bin_keeps_only_what_rotation_retired_and_can_be_turned_off(synth: Synthesized) -> None:
    rules = synth.resources("AWS::Rbin::Rule")
    assert sorted(r["Properties"]["ResourceType"] for r in rules.values()) == ["EBS_SNAPSHOT", "EC2_IMAGE"]
    for rule in rules.values():
        assert rule["Properties"]["ResourceTags"] == [
            {"ResourceTagKey": TAG_RETIRED_BY, "ResourceTagValue": "rotate"}
        ]
        assert rule["Properties"]["RetentionPeriod"] == {
            "RetentionPeriodUnit": "DAYS",
            "RetentionPeriodValue": {"Ref": "RecycleBinDays"},
        }
    on, off = evaluated(synth.template), evaluated(synth.template, RecycleBinDays="0")
    assert all(on.created(k) and not off.created(k) for k in rules)


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
    retired = decision(
        "ami-1",
        Action.DEREGISTER,
        name="web-1",
        reasons=("old",),
        snapshots=(SnapshotRef("snap-1", "/dev/xvda", 8),),
    )
    [done] = (
        Executor(RunContext(ec2, "rotate", NOW), Mode.ENFORCE, WRITERS)
        .apply(Plan("rotate", REGION, (retired,)))
        .decisions
    )
    assert done.outcome is Outcome.DONE
    written = {(t["Key"], t["Value"]) for t in ec2.tags if t["Key"] == TAG_RETIRED_BY}
    assert written and written <= kept, (written, kept)
