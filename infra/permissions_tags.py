"""The tag job's IAM statements.

It reads images and snapshots; in enforce mode (TagsEnforceMode) it adds the
ami-hygiene: auto-tags to the account's own images, copies the image's tags to
the account's own snapshots, escalates (deprecates) images that stay
non-compliant, and takes the escalation marker off an image that became
compliant again. It never removes any other tag.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from ami_hygiene.core.estate import TAG_ESCALATED_AT, TAG_PREFIX
from ami_hygiene.jobs.tags.inventory import READS as TAGS_READS

from .job_function import JobPermissions
from .parameters import StackParameters
from .permissions import IMAGES, NAG_IMAGES, NAG_SNAPSHOTS, REGION_REASON, SNAPSHOTS, sweep_reads

TAGS_READ_ACTIONS = TAGS_READS
TAGS_WRITE_ACTIONS = ("ec2:CreateTags", "ec2:DeleteTags", "ec2:EnableImageDeprecation")


def tags_permissions(params: StackParameters) -> JobPermissions:
    regions = {"aws:RequestedRegion": params.regions()}
    owned = {"ec2:Owner": Aws.ACCOUNT_ID, **regions}
    reads = [
        sweep_reads(regions),
        iam.PolicyStatement(
            sid="ListImagesAndSnapshots",
            actions=list(TAGS_READ_ACTIONS),
            resources=["*"],
            conditions={"StringEquals": regions},
        ),
    ]
    writes = [
        iam.PolicyStatement(
            sid="AutoTagOwnImagesWithControlTags",
            actions=["ec2:CreateTags"],
            resources=[IMAGES],
            conditions={
                "StringEquals": owned,
                "ForAllValues:StringLike": {"aws:TagKeys": [f"{TAG_PREFIX}*"]},
            },
        ),
        iam.PolicyStatement(
            # The keys are the user's (PropagateTags, or the RequiredTags keys): any key, own snapshots only.
            sid="CopyImageTagsToOwnSnapshots",
            actions=["ec2:CreateTags"],
            resources=[SNAPSHOTS],
            conditions={"StringEquals": owned},
        ),
        iam.PolicyStatement(
            sid="RemoveOnlyTheEscalationMarker",
            actions=["ec2:DeleteTags"],
            resources=[IMAGES],
            conditions={
                "StringEquals": owned,
                "ForAllValues:StringEquals": {"aws:TagKeys": [TAG_ESCALATED_AT]},
                # DeleteTags without keys would delete every tag; ForAllValues alone lets that through.
                "Null": {"aws:TagKeys": "false"},
            },
        ),
        iam.PolicyStatement(
            sid="EscalateOwnNonCompliantImages",
            actions=["ec2:EnableImageDeprecation"],
            resources=[IMAGES],
            conditions={"StringEquals": owned},
        ),
    ]
    return JobPermissions(
        reads=reads,
        writes=writes,
        write_condition=params.tags_enforce,
        read_wildcards={
            "AwsSolutions-IAM5[Resource::*]": (
                "DescribeImages and DescribeSnapshots support no resource-level permissions; "
                "aws:RequestedRegion limits them to the Regions."
            ),
        },
        write_wildcards={
            f"AwsSolutions-IAM5[Resource::{NAG_IMAGES}]": (
                "The images to tag or escalate are chosen at run time (any image the account owns); "
                "ec2:Owner allows only the account's own images, aws:TagKeys only ami-hygiene: keys on "
                f"CreateTags and only {TAG_ESCALATED_AT} on DeleteTags. {REGION_REASON}"
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_SNAPSHOTS}]": (
                "Snapshot ARNs carry no account id and the snapshots are those of the images tagged at run "
                "time; ec2:Owner allows only snapshots this account owns, and only CreateTags (never "
                f"DeleteTags). {REGION_REASON}"
            ),
        },
    )
