"""Each job's IAM statements: only the calls the job makes, each wildcard with its reason.

Reads are limited to the Regions parameter (aws:RequestedRegion). Writes are
limited to images and snapshots this account owns (ec2:Owner), to the same
regions, and to the ami-hygiene: tag keys; they exist only while RotationMode
is enforce (the write policy carries the EnforceMode condition), so report mode
cannot change anything even by mistake.

sts:GetCallerIdentity needs no permission (AWS always allows it), so it is not listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from ami_hygiene.core.allowed_images import READS as ALLOWED_IMAGES_READS
from ami_hygiene.core.estate import TAG_PREFIX
from ami_hygiene.jobs.rotate.consumers import CONSUMER_READS, ORGANIZATION_READS
from ami_hygiene.jobs.rotate.inventory import READS as ROTATION_READS

from .job_function import JobPermissions
from .parameters import StackParameters

IMAGES = f"arn:{Aws.PARTITION}:ec2:*::image/*"
SNAPSHOTS = f"arn:{Aws.PARTITION}:ec2:*::snapshot/*"
PARAMETERS = f"arn:{Aws.PARTITION}:ssm:*:{Aws.ACCOUNT_ID}:parameter/*"
CONTAINER_RECIPES = f"arn:{Aws.PARTITION}:imagebuilder:*:{Aws.ACCOUNT_ID}:container-recipe/*"

# What cdk-nag prints for these resources (pseudo parameters in angle brackets).
NAG_IMAGES = "arn:<AWS::Partition>:ec2:*::image/*"
NAG_SNAPSHOTS = "arn:<AWS::Partition>:ec2:*::snapshot/*"
NAG_PARAMETERS = "arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:parameter/*"
NAG_CONTAINER_RECIPES = "arn:<AWS::Partition>:imagebuilder:*:<AWS::AccountId>:container-recipe/*"

REGION_REASON = (
    "The region part is a wildcard because Regions is a deploy-time list; aws:RequestedRegion limits the "
    "calls to those regions."
)

ROTATION_READ_ACTIONS = ROTATION_READS
ROTATION_WRITE_ACTIONS = ("ec2:EnableImageDeprecation", "ec2:DisableImage", "ec2:DeregisterImage")
SWEEP_READ_ACTIONS = ALLOWED_IMAGES_READS


def sweep_reads(regions: Mapping[str, Any]) -> iam.PolicyStatement:
    """What every job's sweep reads about the account's set-up (no resource-level permissions)."""
    return iam.PolicyStatement(
        sid="ReadAllowedImagesSetting",
        actions=list(SWEEP_READ_ACTIONS),
        resources=["*"],
        conditions={"StringEquals": regions},
    )


CONSUMER_ORGANIZATION_ACTIONS = ORGANIZATION_READS
CONSUMER_ROLE_ACTIONS = CONSUMER_READS
CONSUMER_READ_WILDCARDS = {
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/<ConsumerRoleName>]": (
        "The accounts images are shared with are only known at run time (launch permissions, "
        "organization members); only the one role name given in ConsumerRoleName can be assumed, "
        "and that role trusts only this job's role and grants reads only."
    ),
    "AwsSolutions-IAM5[Resource::*]": (
        "Organizations DescribeOrganization / List* support no resource-level permissions; they only "
        "list the organization's accounts and OUs."
    ),
}


def consumer_reads(params: StackParameters) -> list[iam.PolicyStatement]:
    """Assume the read-only consumer role in the accounts images are shared with (when one is named).

    Needed in report mode too: what a report says would be retired must already
    account for consumers. No aws:RequestedRegion condition: STS and
    Organizations answer from their own endpoints, not from the Regions.
    """
    return [
        iam.PolicyStatement(
            sid="AssumeConsumerReadRole",
            actions=["sts:AssumeRole"],
            resources=[f"arn:{Aws.PARTITION}:iam::*:role/{params.value('ConsumerRoleName')}"],
        ),
        iam.PolicyStatement(
            sid="ListOrganizationAccountsForShares",
            actions=list(CONSUMER_ORGANIZATION_ACTIONS),
            resources=["*"],
        ),
    ]


def rotation_permissions(params: StackParameters) -> JobPermissions:
    regions = {"aws:RequestedRegion": params.regions()}
    owned = {"ec2:Owner": Aws.ACCOUNT_ID, **regions}
    reads = [
        sweep_reads(regions),
        iam.PolicyStatement(
            sid="ListImagesAndWhatUsesThem",
            actions=list(ROTATION_READ_ACTIONS),
            resources=["*"],
            conditions={"StringEquals": regions},
        ),
        iam.PolicyStatement(
            sid="ReadLaunchPermissionsOfOwnImages",
            actions=["ec2:DescribeImageAttribute"],
            resources=[IMAGES],
            conditions={"StringEquals": owned},
        ),
        iam.PolicyStatement(
            sid="ReadParameterValuesForImageIds",
            actions=["ssm:GetParameters"],
            resources=[PARAMETERS],
            conditions={"StringEquals": regions},
        ),
        iam.PolicyStatement(
            sid="ReadContainerRecipesForImageReferences",
            actions=["imagebuilder:GetContainerRecipe"],
            resources=[CONTAINER_RECIPES],
            conditions={"StringEquals": regions},
        ),
    ]
    writes = [
        iam.PolicyStatement(
            sid="RetireOwnImages",
            actions=list(ROTATION_WRITE_ACTIONS),
            resources=[IMAGES],
            conditions={"StringEquals": owned},
        ),
        iam.PolicyStatement(
            sid="DeleteSnapshotsOfRetiredImages",
            actions=["ec2:DeleteSnapshot"],
            resources=[SNAPSHOTS],
            conditions={"StringEquals": owned},
        ),
        iam.PolicyStatement(
            sid="TagOwnImagesAndSnapshotsWithControlTags",
            actions=["ec2:CreateTags"],
            resources=[IMAGES, SNAPSHOTS],
            conditions={
                "StringEquals": owned,
                "ForAllValues:StringLike": {"aws:TagKeys": [f"{TAG_PREFIX}*"]},
            },
        ),
    ]
    return JobPermissions(
        reads=reads,
        writes=writes,
        write_condition=params.enforce_mode,
        optional_reads=consumer_reads(params),
        optional_read_condition=params.reads_consumers,
        optional_read_wildcards=CONSUMER_READ_WILDCARDS,
        read_wildcards={
            "AwsSolutions-IAM5[Resource::*]": (
                "These List/Describe actions (EC2, Auto Scaling, SSM DescribeParameters, Image Builder "
                "lists) support no resource-level permissions; aws:RequestedRegion limits them to the "
                "Regions."
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_IMAGES}]": (
                "Image ids are only known at run time (any image the account owns); ec2:Owner limits this "
                f"to the account's own images. {REGION_REASON}"
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_PARAMETERS}]": (
                "The job reads String/StringList parameters to find AMI ids named in them; their names are "
                "not known in advance. SecureString values stay encrypted (no kms:Decrypt is granted). "
                + REGION_REASON
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_CONTAINER_RECIPES}]": (
                "DescribeImageReferences reads container recipes to find images they name; recipe names are "
                f"not known in advance. {REGION_REASON}"
            ),
        },
        write_wildcards={
            f"AwsSolutions-IAM5[Resource::{NAG_IMAGES}]": (
                "The images to retire are chosen at run time; ec2:Owner allows only images this account "
                f"owns. {REGION_REASON}"
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_SNAPSHOTS}]": (
                "Snapshot ARNs carry no account id and the snapshots are chosen at run time (those of a "
                f"retired image); ec2:Owner allows only snapshots this account owns. {REGION_REASON}"
            ),
        },
    )
