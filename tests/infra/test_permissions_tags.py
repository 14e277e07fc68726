"""The tag job's role: reads always, tags only its own images and snapshots in enforce mode."""

from __future__ import annotations

from ami_hygiene.core.estate import TAG_ESCALATED_AT
from infra.permissions import SWEEP_READ_ACTIONS
from infra.permissions_tags import TAGS_READ_ACTIONS, TAGS_WRITE_ACTIONS
from tests.helpers.synthesized import Synthesized
from tests.helpers.template import (
    actions_of,
    arn_of,
    evaluated,
    job_actions,
    resources_of,
    statements_of,
    write_policy,
)


def test_tags_role_reads_always_and_writes_only_in_enforce(synth: Synthesized) -> None:
    always, conditional = job_actions(synth, "tags")
    assert always == {*TAGS_READ_ACTIONS, *SWEEP_READ_ACTIONS}
    assert conditional == set(TAGS_WRITE_ACTIONS)
    _, writes = write_policy(synth, "tags")
    evaluator = evaluated(synth.template)
    by_sid = {s["Sid"]: s for s in statements_of(writes)}
    for statement in by_sid.values():
        assert statement["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}
    image_tags = by_sid["AutoTagOwnImagesWithControlTags"]
    assert [arn_of(evaluator, r) for r in resources_of(image_tags)] == ["arn:aws:ec2:*::image/*"]
    assert image_tags["Condition"]["ForAllValues:StringLike"] == {"aws:TagKeys": ["ami-hygiene:*"]}
    snapshot_tags = by_sid["CopyImageTagsToOwnSnapshots"]
    assert [arn_of(evaluator, r) for r in resources_of(snapshot_tags)] == ["arn:aws:ec2:*::snapshot/*"]
    delete = by_sid["RemoveOnlyTheEscalationMarker"]
    assert actions_of(delete) == {"ec2:DeleteTags"}
    assert delete["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": [TAG_ESCALATED_AT]}
    assert delete["Condition"]["Null"] == {"aws:TagKeys": "false"}
    assert actions_of(by_sid["EscalateOwnNonCompliantImages"]) == {"ec2:EnableImageDeprecation"}
