"""AmiHygieneStack: parameters, reporting, the job functions and what triggers them."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Fn, Stack
from constructs import Construct

from ami_hygiene.core.coverage import REALTIME_REGIONS

from .job_function import JobFunction, JobPermissions
from .lease_table import LeaseTable
from .packaging import function_code
from .parameters import PUBLIC, REBUILD, ROTATE, TAGS, StackParameters
from .permissions import rotation_permissions
from .permissions_public import public_permissions
from .permissions_rebuild import RUNBOOKS, AutomationRole, rebuild_permissions
from .permissions_tags import tags_permissions
from .rebuild_pipeline import SamplePipeline
from .recycle_bin import RecycleBin
from .reporting import Reporting
from .triggers import OWN_ROLE_ARNS, EventTrigger, ScheduleTrigger

ROTATE_HANDLER = "ami_hygiene.handlers.rotate.handler"
TAGS_HANDLER = "ami_hygiene.handlers.tags.handler"
PUBLIC_HANDLER = "ami_hygiene.handlers.public.handler"
REBUILD_HANDLER = "ami_hygiene.handlers.rebuild.handler"
# Sized by `make bench`: at 50,000 images the runs peak at 387 MiB (rotate) and
# 520 MiB (tags, whose report names every non-compliant image), in 31-61 s on
# the 2-core bench machine. 1 GB leaves headroom and buys CPU (Lambda scales CPU
# with memory). The handlers stop acting a minute before the timeout and defer the rest.
ROTATE_TIMEOUT = Duration.minutes(5)
ROTATE_MEMORY_MB = 1024
JOB_TIMEOUT = Duration.minutes(5)
JOB_MEMORY_MB = 1024

CLOUDTRAIL = "AWS API Call via CloudTrail"
# The EC2 calls that make an image or change its tags (tags job) and that share one (public job).
# Not ImportImage: its CloudTrail record names an import task, not an image (the AMI appears
# when the task completes), so the event cannot say which image to check; the sweep covers it.
TAG_EVENT_NAMES = ("CreateImage", "CopyImage", "RegisterImage", "CreateTags", "DeleteTags")
SHARING_EVENT_NAMES = ("ModifyImageAttribute", "ModifySnapshotAttribute", "DisableImageBlockPublicAccess")


class AmiHygieneStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.template_options.description = (
            "ami-hygiene: keeps an account's AMIs healthy and reports to SNS: rotate (retires old, unused "
            "AMIs in stages), tags (required tags, auto-tags, escalation), public (revokes public and "
            "outside sharing), rebuild (starts the patch pipeline of stale image families)"
        )
        self.parameters = StackParameters(self, "Parameters")
        self.reporting = Reporting(self, "Reporting", parameters=self.parameters)
        # Two sweeps of the same job never act at once: each takes its job's lease here.
        self.leases = LeaseTable(self, "SweepLeases")
        code = function_code()

        def job_function(
            construct_id: str,
            job: str,
            handler: str,
            permissions: JobPermissions,
            description: str,
            extra_env: dict[str, str] | None = None,
        ) -> JobFunction:
            return JobFunction(
                self,
                construct_id,
                job=job,
                handler=handler,
                code=code,
                environment={**self.parameters.function_environment(job), **(extra_env or {})},
                reporting=self.reporting,
                permissions=permissions,
                timeout=ROTATE_TIMEOUT if job == ROTATE else JOB_TIMEOUT,
                memory_size=ROTATE_MEMORY_MB if job == ROTATE else JOB_MEMORY_MB,
                description=description,
                lease=self.leases,
            )

        # rotate
        self.rotate = job_function(
            "Rotate",
            ROTATE,
            ROTATE_HANDLER,
            rotation_permissions(self.parameters),
            "ami-hygiene rotate: deprecate, disable, deregister superseded unused AMIs",
        )
        ScheduleTrigger(
            self, "RotateSchedule", job=self.rotate, expression=self.parameters.value("RotationSchedule")
        )
        RecycleBin(self, "RecycleBin", parameters=self.parameters, jobs=[self.rotate.job])

        # tags
        self.tagging = job_function(
            "Tags",
            TAGS,
            TAGS_HANDLER,
            tags_permissions(self.parameters),
            "ami-hygiene tags: required tags, auto-tags, snapshot tags, escalation",
        )
        ScheduleTrigger(
            self, "TagsSchedule", job=self.tagging, expression=self.parameters.value("TagSweepSchedule")
        )
        EventTrigger(
            self,
            "TagsImageAvailable",
            job=self.tagging,
            description="an image became available",
            source="aws.ec2",
            detail_type="EC2 AMI State Change",
            detail={"State": ["available"]},
        )

        # public
        self.public = job_function(
            "Public",
            PUBLIC,
            PUBLIC_HANDLER,
            public_permissions(self.parameters),
            "ami-hygiene public: revoke public and outside sharing of AMIs and snapshots",
        )
        ScheduleTrigger(
            self, "PublicSchedule", job=self.public, expression=self.parameters.value("PublicScanSchedule")
        )

        # rebuild
        self.automation = AutomationRole(self, "RebuildAutomation", parameters=self.parameters)
        self.rebuild = job_function(
            "Rebuild",
            REBUILD,
            REBUILD_HANDLER,
            rebuild_permissions(self.parameters, self.automation),
            "ami-hygiene rebuild: start the patch pipeline of stale image families",
            extra_env={"AUTOMATION_ROLE_ARN": self.automation.role.role_arn},
        )
        ScheduleTrigger(
            self, "RebuildSchedule", job=self.rebuild, expression=self.parameters.value("RebuildSchedule")
        )
        EventTrigger(
            self,
            "RebuildImageBuilderState",
            job=self.rebuild,
            description="an Image Builder build changed state",
            source="aws.imagebuilder",
            detail_type="EC2 Image Builder Image State Change",
        )
        EventTrigger(
            self,
            "RebuildAutomationStatus",
            job=self.rebuild,
            description="an update-AMI runbook changed status",
            source="aws.ssm",
            detail_type="EC2 Automation Execution Status-change Notification",
            detail={"Definition": list(RUNBOOKS)},
        )
        self.sample_pipeline = SamplePipeline(self, "SamplePipeline", parameters=self.parameters)

        self.jobs = (self.rotate, self.tagging, self.public, self.rebuild)
        # The jobs' own writes (rotate's and rebuild's tags, the tag job's auto-tags, the guard's
        # revocations) are CloudTrail events too: the rules leave them out, and so do the handlers.
        own_roles = [j.role.role_arn for j in self.jobs]
        for job in self.jobs:
            job.function.add_environment(OWN_ROLE_ARNS, Fn.join(",", own_roles))
        # An EventBridge rule sees only its own region's events: a sweep names the other regions.
        for job in (self.tagging, self.public, self.rebuild):
            job.function.add_environment(REALTIME_REGIONS, Aws.REGION)
        EventTrigger(
            self,
            "TagsImageCalls",
            job=self.tagging,
            description="an image was made or its tags changed, by anyone but ami-hygiene",
            source="aws.ec2",
            detail_type=CLOUDTRAIL,
            detail={"eventSource": ["ec2.amazonaws.com"], "eventName": list(TAG_EVENT_NAMES)},
            exclude_roles=own_roles,
        )
        EventTrigger(
            self,
            "PublicSharingCalls",
            job=self.public,
            description="sharing of an image or snapshot changed, by anyone but ami-hygiene",
            source="aws.ec2",
            detail_type=CLOUDTRAIL,
            detail={"eventSource": ["ec2.amazonaws.com"], "eventName": list(SHARING_EVENT_NAMES)},
            exclude_roles=own_roles,
        )
        self.reporting.dashboard([j.job for j in self.jobs])

        CfnOutput(
            self, "TopicArn", value=self.reporting.topic.topic_arn, description="Subscribe to the reports"
        )
        CfnOutput(
            self,
            "ReportBucket",
            value=self.reporting.bucket.bucket_name,
            description="Reports too large for one message",
        )
        for job, name in zip(self.jobs, ("Rotate", "Tags", "Public", "Rebuild"), strict=True):
            CfnOutput(
                self,
                f"{name}Function",
                value=job.function.function_name,
                description=f"The {job.job} job: invoke by hand, see README",
            )
            CfnOutput(
                self,
                f"{name}FailedInvocations",
                value=job.failed.queue_url,
                description=f"Invocations of the {job.job} job that failed",
            )
        CfnOutput(
            self,
            "RotateRoleArn",
            value=self.rotate.role.role_arn,
            description="The role the consumer accounts' read-only role trusts (infra/consumer-role.yaml)",
        )
        CfnOutput(
            self,
            "RebuildAutomationRoleArn",
            value=self.automation.role.role_arn,
            description="The role the AWS-UpdateLinuxAmi / AWS-UpdateWindowsAmi runbooks run as",
        )
        CfnOutput(
            self,
            "SweepLeaseTable",
            value=self.leases.table.table_name,
            description="Who holds each job's sweep lease, and until when",
        )
