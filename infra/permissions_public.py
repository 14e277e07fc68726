"""The public job's IAM statements.

It reads images, snapshots, their sharing attributes and the account's image
block public access state; in enforce mode (PublicEnforceMode) it removes
launch / create-volume permissions from the account's own images and
snapshots and turns image block public access on.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from ami_hygiene.jobs.public.inventory import READS as PUBLIC_READS

from .job_function import JobPermissions
from .parameters import StackParameters
from .permissions import IMAGES, NAG_IMAGES, NAG_SNAPSHOTS, REGION_REASON, SNAPSHOTS, sweep_reads

PUBLIC_LIST_ACTIONS = PUBLIC_READS
PUBLIC_WRITE_ACTIONS = (
    "ec2:ModifyImageAttribute",
    "ec2:ModifySnapshotAttribute",
    "ec2:EnableImageBlockPublicAccess",
)


def public_permissions(params: StackParameters) -> JobPermissions:
    regions = {"aws:RequestedRegion": params.regions()}
    owned = {"ec2:Owner": Aws.ACCOUNT_ID, **regions}
    reads = [
        sweep_reads(regions),
        iam.PolicyStatement(
            sid="ListImagesSnapshotsAndBlockPublicAccess",
            actions=list(PUBLIC_LIST_ACTIONS),
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
            sid="ReadCreateVolumePermissionsOfOwnSnapshots",
            actions=["ec2:DescribeSnapshotAttribute"],
            resources=[SNAPSHOTS],
            conditions={"StringEquals": owned},
        ),
    ]
    writes = [
        iam.PolicyStatement(
            sid="RevokeSharingOfOwnImages",
            actions=["ec2:ModifyImageAttribute"],
            resources=[IMAGES],
            conditions={"StringEquals": owned},
        ),
        iam.PolicyStatement(
            sid="RevokeSharingOfOwnSnapshots",
            actions=["ec2:ModifySnapshotAttribute"],
            resources=[SNAPSHOTS],
            conditions={"StringEquals": owned},
        ),
        iam.PolicyStatement(
            sid="TurnOnImageBlockPublicAccess",
            actions=["ec2:EnableImageBlockPublicAccess"],
            resources=["*"],
            conditions={"StringEquals": regions},
        ),
    ]
    return JobPermissions(
        reads=reads,
        writes=writes,
        write_condition=params.public_enforce,
        read_wildcards={
            "AwsSolutions-IAM5[Resource::*]": (
                "DescribeImages, DescribeSnapshots and GetImageBlockPublicAccessState support no "
                "resource-level permissions; aws:RequestedRegion limits them to the Regions."
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_IMAGES}]": (
                "The images whose launch permissions are read are known only at run time; ec2:Owner limits "
                f"this to the account's own images. {REGION_REASON}"
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_SNAPSHOTS}]": (
                "Snapshot ARNs carry no account id and the snapshots are known only at run time; ec2:Owner "
                f"limits this to the account's own snapshots. {REGION_REASON}"
            ),
        },
        write_wildcards={
            "AwsSolutions-IAM5[Resource::*]": (
                "EnableImageBlockPublicAccess is an account-level setting with no resource; "
                "aws:RequestedRegion limits it to the Regions."
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_IMAGES}]": (
                "The shared images are found at run time; ec2:Owner allows only the account's own images "
                f"(safety rule 1), and only ModifyImageAttribute. {REGION_REASON}"
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_SNAPSHOTS}]": (
                "Snapshot ARNs carry no account id and the shared snapshots are found at run time; "
                f"ec2:Owner allows only the account's own snapshots. {REGION_REASON}"
            ),
        },
    )
