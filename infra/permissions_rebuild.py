"""The rebuild job's IAM statements, and the role the SSM runbooks run as.

The job reads images, the public /aws/service/* parameters (base images) and
this account's parameters under the BaseParameterPaths (private base images),
Image Builder pipelines and their images, and SSM automation executions. In
enforce mode (RebuildEnforceMode) it starts Image Builder pipelines of this
account, starts the two AWS-owned runbooks AWS-UpdateLinuxAmi and
AWS-UpdateWindowsAmi with the automation role (the only role it may pass, and
only to SSM), and tags the images it built with ami-hygiene: tags.

The automation role holds what those runbooks do: launch a build instance,
run the update commands on it through SSM, stop it, create the image, tag
it, terminate the instance (the AmazonSSMAutomationRole subset they use).
"""

from __future__ import annotations

import json

from aws_cdk import Aws, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from ami_hygiene.jobs.rebuild.inventory import READS as REBUILD_READS
from ami_hygiene.jobs.rebuild.model import RUNBOOK_LINUX, RUNBOOK_WINDOWS

from .job_function import JobPermissions
from .nag import acknowledge
from .parameters import StackParameters
from .permissions import IMAGES, NAG_IMAGES, REGION_REASON, sweep_reads

RUNBOOKS = (RUNBOOK_LINUX, RUNBOOK_WINDOWS)
PUBLIC_PARAMETERS = f"arn:{Aws.PARTITION}:ssm:*::parameter/aws/service/*"
PIPELINES = f"arn:{Aws.PARTITION}:imagebuilder:*:{Aws.ACCOUNT_ID}:image-pipeline/*"
BUILD_IMAGES = f"arn:{Aws.PARTITION}:imagebuilder:*:{Aws.ACCOUNT_ID}:image/*"
AUTOMATION_EXECUTIONS = f"arn:{Aws.PARTITION}:ssm:*:{Aws.ACCOUNT_ID}:automation-execution/*"
# AWS-owned runbooks: their ARNs carry no account id of ours (the account part is left open); the
# AWS- prefix is reserved for AWS, so no document of the account can match.
RUNBOOK_DEFINITIONS = tuple(
    f"arn:{Aws.PARTITION}:ssm:*:*:automation-definition/{name}:*" for name in RUNBOOKS
)
RUNBOOK_DOCUMENTS = tuple(f"arn:{Aws.PARTITION}:ssm:*:*:document/{name}" for name in RUNBOOKS)
ACCOUNT_ROLES = f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/*"

NAG_PUBLIC_PARAMETERS = "arn:<AWS::Partition>:ssm:*::parameter/aws/service/*"
NAG_PIPELINES = "arn:<AWS::Partition>:imagebuilder:*:<AWS::AccountId>:image-pipeline/*"
NAG_BUILD_IMAGES = "arn:<AWS::Partition>:imagebuilder:*:<AWS::AccountId>:image/*"
NAG_AUTOMATION_EXECUTIONS = "arn:<AWS::Partition>:ssm:*:<AWS::AccountId>:automation-execution/*"
NAG_RUNBOOK_DEFINITIONS = tuple(
    f"arn:<AWS::Partition>:ssm:*:*:automation-definition/{name}:*" for name in RUNBOOKS
)
NAG_RUNBOOK_DOCUMENTS = tuple(f"arn:<AWS::Partition>:ssm:*:*:document/{name}" for name in RUNBOOKS)
NAG_ACCOUNT_ROLES = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*"

REBUILD_LIST_ACTIONS = REBUILD_READS
REBUILD_WRITE_ACTIONS = (
    "imagebuilder:StartImagePipelineExecution",
    "ssm:StartAutomationExecution",
    "iam:PassRole",
    "ssm:AddTagsToResource",
    "ec2:CreateTags",
)
AUTOMATION_EC2_ACTIONS = (
    "ec2:RunInstances",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceStatus",
    "ec2:StartInstances",
    "ec2:StopInstances",
    "ec2:TerminateInstances",
    "ec2:CreateImage",
    "ec2:DescribeImages",
    "ec2:CreateTags",
    "ec2:DescribeTags",
)
AUTOMATION_SSM_ACTIONS = (
    "ssm:SendCommand",
    "ssm:ListCommands",
    "ssm:ListCommandInvocations",
    "ssm:GetCommandInvocation",
    "ssm:DescribeInstanceInformation",
    "ssm:GetAutomationExecution",
)


class AutomationRole(Construct):
    """The role AWS-UpdateLinuxAmi / AWS-UpdateWindowsAmi run as (their AutomationAssumeRole)."""

    def __init__(self, scope: Construct, construct_id: str, *, parameters: StackParameters) -> None:
        super().__init__(scope, construct_id)
        regions = {"aws:RequestedRegion": parameters.regions()}
        self.role = iam.Role(
            self,
            "Role",
            description="ami-hygiene rebuild: what the AWS-UpdateLinuxAmi / AWS-UpdateWindowsAmi runbooks do",
            # Only SSM Automation of this account may assume it (confused-deputy guard).
            assumed_by=iam.ServicePrincipal(
                "ssm.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": AUTOMATION_EXECUTIONS},
                },
            ),
        )
        self.policy = iam.Policy(
            self,
            "Runbooks",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="LaunchUpdateAndImageTheBuildInstance",
                    actions=list(AUTOMATION_EC2_ACTIONS),
                    resources=["*"],
                    conditions={"StringEquals": regions},
                ),
                iam.PolicyStatement(
                    sid="RunTheUpdateCommandsThroughSsm",
                    actions=list(AUTOMATION_SSM_ACTIONS),
                    resources=["*"],
                    conditions={"StringEquals": regions},
                ),
                iam.PolicyStatement(
                    sid="PassTheInstanceProfileRoleToEc2",
                    actions=["iam:PassRole"],
                    resources=[ACCOUNT_ROLES],
                    conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
                ),
            ],
        )
        acknowledge(
            self.policy,
            ("AwsSolutions-IAM5[Resource::*]",),
            "The runbooks launch, stop, image and terminate an instance and send it SSM commands; the "
            "instance, its volumes and network interfaces and the command ids exist only at run time, and "
            "RunInstances touches resource types (subnet, security group, key pair) the user chooses. "
            "aws:RequestedRegion limits every call to the Regions; only SSM Automation of this account can "
            "assume the role, and only the rebuild function may pass it.",
        )
        acknowledge(
            self.policy,
            (f"AwsSolutions-IAM5[Resource::{NAG_ACCOUNT_ROLES}]",),
            "The runbooks attach the instance profile named by AutomationInstanceProfile (default "
            "ManagedInstanceProfile) to the build instance; a profile name does not tell the name of its "
            "role, so any role of this account may be passed, and only to EC2 (iam:PassedToService).",
        )


def private_parameters(params: StackParameters) -> list[str]:
    """This account's parameters at and under each BaseParameterPaths path, each only when given.

    A parameter's ARN is arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME without the
    name's leading "/" (arn:...:parameter/golden/base for /golden/base), so a path
    (which starts with "/") follows "parameter" directly. GetParameters is authorized
    against each name it asks for (Systems Manager user guide, "How Parameter Store
    authorizes parameter retrieval"). The region is left open, as for the public
    parameters, and aws:RequestedRegion of the statement holds it to the Regions.
    """
    prefix = f"arn:{Aws.PARTITION}:ssm:*:{Aws.ACCOUNT_ID}:parameter"
    return [
        Fn.condition_if(condition.logical_id, Fn.join("", [prefix, *parts]), Aws.NO_VALUE).to_string()
        for condition, path in params.base_parameter_paths
        for parts in ([path], [path, "/*"])
    ]


def _nag_resource(params: StackParameters, resource: str) -> str:
    """How cdk-nag names a resource that is an intrinsic function: its JSON, as the template has it."""
    return json.dumps(Stack.of(params).resolve(resource), separators=(",", ":"))


def rebuild_permissions(params: StackParameters, automation: AutomationRole) -> JobPermissions:
    regions = {"aws:RequestedRegion": params.regions()}
    owned = {"ec2:Owner": Aws.ACCOUNT_ID, **regions}
    reads = [
        sweep_reads(regions),
        iam.PolicyStatement(
            sid="ListImagesPipelinesAndAutomations",
            actions=list(REBUILD_LIST_ACTIONS),
            resources=["*"],
            conditions={"StringEquals": regions},
        ),
        iam.PolicyStatement(
            sid="ReadBaseImagesFromParameters",
            actions=["ssm:GetParameters", "ssm:GetParameter"],
            resources=[PUBLIC_PARAMETERS, *private_parameters(params)],
            conditions={"StringEquals": regions},
        ),
        iam.PolicyStatement(
            sid="ReadOwnPipelinesAndTheirImages",
            actions=["imagebuilder:GetImagePipeline", "imagebuilder:ListImagePipelineImages"],
            resources=[PIPELINES],
            conditions={"StringEquals": regions},
        ),
        iam.PolicyStatement(
            sid="ReadOwnBuiltImages",
            actions=["imagebuilder:GetImage"],
            resources=[BUILD_IMAGES],
            conditions={"StringEquals": regions},
        ),
        iam.PolicyStatement(
            sid="ReadOwnAutomationExecutions",
            actions=["ssm:GetAutomationExecution"],
            resources=[AUTOMATION_EXECUTIONS],
            conditions={"StringEquals": regions},
        ),
    ]
    writes = [
        iam.PolicyStatement(
            sid="StartOwnImageBuilderPipelines",
            actions=["imagebuilder:StartImagePipelineExecution"],
            resources=[PIPELINES],
            conditions={"StringEquals": regions},
        ),
        iam.PolicyStatement(
            sid="StartTheUpdateAmiRunbooks",
            actions=["ssm:StartAutomationExecution"],
            resources=[*RUNBOOK_DEFINITIONS, *RUNBOOK_DOCUMENTS],
            conditions={"StringEquals": regions},
        ),
        iam.PolicyStatement(
            sid="PassTheAutomationRoleToSsm",
            actions=["iam:PassRole"],
            resources=[automation.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}},
        ),
        iam.PolicyStatement(
            # StartAutomationExecution with Tags (ami-hygiene:family) also needs this.
            sid="TagTheAutomationsItStarts",
            actions=["ssm:AddTagsToResource"],
            resources=[AUTOMATION_EXECUTIONS],
            conditions={"StringEquals": regions},
        ),
        iam.PolicyStatement(
            # An SSM-rebuilt image inherits the family's tags: its control tags and
            # the user's required keys, so any key, on own images only.
            sid="TagOwnRebuiltImagesWithTheirFamilyTags",
            actions=["ec2:CreateTags"],
            resources=[IMAGES],
            conditions={"StringEquals": owned},
        ),
    ]
    runbook_reason = (
        "Only the two AWS-owned runbooks AWS-UpdateLinuxAmi and AWS-UpdateWindowsAmi, any version (the "
        "trailing wildcard is the version id); the account part is open because AWS-owned runbooks are not "
        f"in this account, and the AWS- prefix is reserved for AWS. {REGION_REASON}"
    )
    return JobPermissions(
        reads=reads,
        writes=writes,
        write_condition=params.rebuild_enforce,
        read_wildcards={
            "AwsSolutions-IAM5[Resource::*]": (
                "DescribeImages, ListImagePipelines and DescribeAutomationExecutions support no "
                "resource-level permissions; aws:RequestedRegion limits them to the Regions."
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_PUBLIC_PARAMETERS}]": (
                "The latest base images are AWS public parameters under /aws/service/ (e.g. "
                "/aws/service/ami-amazon-linux-latest/...); which ones depends on the families found at run "
                f"time. They hold no secrets. {REGION_REASON}"
            ),
            **{
                f"AwsSolutions-IAM5[Resource::{_nag_resource(params, resource)}]": (
                    "A family's private base image parameter (ami-hygiene:base-parameter) is named by an "
                    "image tag at run time; the user lists the paths it may read in BaseParameterPaths, and "
                    "only this account's parameters there are readable, read-only, and only when given. "
                    f"{REGION_REASON}"
                )
                for resource in private_parameters(params)
            },
            f"AwsSolutions-IAM5[Resource::{NAG_PIPELINES}]": (
                "The pipelines are named at deploy time (FamilyPipelines) or by image tags at run time; only "
                f"this account's pipelines, read-only. {REGION_REASON}"
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_BUILD_IMAGES}]": (
                "Image build versions (image/NAME/VERSION/BUILD) come from the build events at run time; "
                f"only this account's, read-only. {REGION_REASON}"
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_AUTOMATION_EXECUTIONS}]": (
                "Automation execution ids come from the runbooks the job started and their events; only this "
                f"account's, read-only. {REGION_REASON}"
            ),
        },
        write_wildcards={
            f"AwsSolutions-IAM5[Resource::{NAG_PIPELINES}]": (
                "The pipelines to start are named by FamilyPipelines (a deploy-time string the template "
                "cannot turn into ARNs) or by a family's ami-hygiene:pipeline tag at run time, so the names "
                "are not known at synth; StartImagePipelineExecution only, and only on this account's "
                f"pipelines. {REGION_REASON}"
            ),
            **{
                f"AwsSolutions-IAM5[Resource::{arn}]": runbook_reason
                for arn in (*NAG_RUNBOOK_DEFINITIONS, *NAG_RUNBOOK_DOCUMENTS)
            },
            f"AwsSolutions-IAM5[Resource::{NAG_IMAGES}]": (
                "The rebuilt image is known only when its build ends; ec2:Owner allows only the account's "
                f"own images, CreateTags only (the family's tags). {REGION_REASON}"
            ),
            f"AwsSolutions-IAM5[Resource::{NAG_AUTOMATION_EXECUTIONS}]": (
                "StartAutomationExecution tags the execution it creates, whose id exists only then; "
                f"only this account's executions, AddTagsToResource only. {REGION_REASON}"
            ),
        },
    )
