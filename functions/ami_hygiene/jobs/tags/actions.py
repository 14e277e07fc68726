"""How the tag job's decisions are applied: its writers, each with the IAM actions it calls.

Only ever additive on the image and its snapshots (CreateTags), except the
escalation marker, which comes off a compliant image.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ami_hygiene.core.executor import RunContext, Writers, writes
from ami_hygiene.core.plan import Action, Decision, Outcome
from ami_hygiene.jobs.tags.policy import TagDecision

if TYPE_CHECKING:
    from types_boto3_ec2 import EC2Client
    from types_boto3_ec2.type_defs import TagTypeDef

# CreateTags takes up to 1000 resources per call.
TAG_BATCH = 1000


@writes("ec2:CreateTags", "ec2:DeleteTags")
def tag(ec2: EC2Client, decision: Decision, _run: RunContext) -> Decision:
    d = _tag_decision(decision)
    if d.tags:
        ec2.create_tags(Resources=[d.image_id], Tags=_tag_list(d.tags))
    if d.remove_tags:
        ec2.delete_tags(Resources=[d.image_id], Tags=[{"Key": k} for k in d.remove_tags])
    return d.with_outcome(Outcome.DONE)


@writes("ec2:CreateTags")
def propagate(ec2: EC2Client, decision: Decision, _run: RunContext) -> Decision:
    d = _tag_decision(decision)
    # One CreateTags per distinct tag set: the snapshots of one image usually need the same.
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for snapshot_id, tags in sorted(d.snapshot_tags.items()):
        groups.setdefault(tuple(sorted(tags.items())), []).append(snapshot_id)
    for tag_set, snapshot_ids in groups.items():
        for start in range(0, len(snapshot_ids), TAG_BATCH):
            ec2.create_tags(Resources=snapshot_ids[start : start + TAG_BATCH], Tags=_tag_list(dict(tag_set)))
    return d.with_outcome(Outcome.DONE)


@writes()
def notify(ec2: EC2Client, decision: Decision, _run: RunContext) -> Decision:
    # The report is the notification: nothing changes in AWS.
    return decision.with_outcome(Outcome.DONE)


@writes("ec2:CreateTags", "ec2:EnableImageDeprecation")
def escalate(ec2: EC2Client, decision: Decision, _run: RunContext) -> Decision:
    d = _tag_decision(decision)
    # The marker first: a marker on an image whose deprecation then failed is
    # harmless (rotation still checks every safety rule), and the next sweep
    # sees it and does not escalate twice.
    if d.tags:
        ec2.create_tags(Resources=[d.image_id], Tags=_tag_list(d.tags))
    if d.deprecate_at is None:  # the policy always sets it; a safety net
        return d.with_outcome(Outcome.FAILED, error="not applied: no deprecation time")
    ec2.enable_image_deprecation(ImageId=d.image_id, DeprecateAt=d.deprecate_at)
    return d.with_outcome(Outcome.DONE)


WRITERS: Writers = {
    Action.TAG: tag,
    Action.PROPAGATE: propagate,
    Action.NOTIFY: notify,
    Action.DEPRECATE: escalate,
}


def _tag_decision(decision: Decision) -> TagDecision:
    if not isinstance(decision, TagDecision):
        raise TypeError(f"the tag job's appliers take TagDecisions, not {type(decision).__name__}")
    return decision


def _tag_list(tags: Mapping[str, str]) -> list[TagTypeDef]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
