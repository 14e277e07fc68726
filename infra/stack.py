"""AmiHygieneStack: parameters, reporting, the job functions and what triggers them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import CfnOutput, Duration, Fn, Stack
from constructs import Construct

from ami_hygiene.core.coverage import REALTIME_REGIONS
from ami_hygiene.registry import JOBS

from .forwarding import RegionalForwarding
from .job_function import JOB_MEMORY_MB, JobFunction, JobPermissions
from .lease_table import LeaseTable
from .packaging import function_code
from .parameters import StackParameters
from .permissions import rotation_permissions
from .permissions_public import public_permissions
from .permissions_rebuild import AutomationRole, rebuild_permissions
from .permissions_tags import tags_permissions
from .rebuild_pipeline import SamplePipeline
from .recycle_bin import RecycleBin
from .reporting import Reporting
from .triggers import OWN_ROLE_ARNS, EventTrigger, ScheduleTrigger

# The handlers stop acting a minute before the timeout and defer the rest. The memory size is
# infra/job_function.py's (sized by `make bench` there).
JOB_TIMEOUT = Duration.minutes(5)


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

        # The rebuild job's runbooks run as this role; its function passes it (iam:PassRole).
        self.automation = AutomationRole(self, "RebuildAutomation", parameters=self.parameters)
        permissions: dict[str, Callable[[], JobPermissions]] = {
            "rotate": lambda: rotation_permissions(self.parameters),
            "tags": lambda: tags_permissions(self.parameters),
            "public": lambda: public_permissions(self.parameters),
            "rebuild": lambda: rebuild_permissions(self.parameters, self.automation),
        }
        extra_env = {"rebuild": {"AUTOMATION_ROLE_ARN": self.automation.role.role_arn}}

        # One function per registered job, started by its schedule and its EventBridge rules.
        self.functions: dict[str, JobFunction] = {}
        for spec in JOBS:
            function = JobFunction(
                self,
                spec.construct_id,
                job=spec.name,
                handler=spec.handler,
                code=code,
                environment={
                    **self.parameters.function_environment(spec.name),
                    **extra_env.get(spec.name, {}),
                },
                reporting=self.reporting,
                permissions=permissions[spec.name](),
                timeout=JOB_TIMEOUT,
                memory_size=JOB_MEMORY_MB,
                description=f"ami-hygiene {spec.name}: {spec.summary}",
                lease=self.leases,
            )
            ScheduleTrigger(
                self,
                f"{spec.construct_id}Schedule",
                job=function,
                expression=self.parameters.value(spec.schedule_parameter),
            )
            self.functions[spec.name] = function
        self.jobs = tuple(self.functions.values())
        self.rotate, self.tagging = self.functions["rotate"], self.functions["tags"]
        self.public, self.rebuild = self.functions["public"], self.functions["rebuild"]
        RecycleBin(self, "RecycleBin", parameters=self.parameters, jobs=[self.rotate.job])
        self.sample_pipeline = SamplePipeline(self, "SamplePipeline", parameters=self.parameters)

        # The jobs' own writes (rotate's and rebuild's tags, the tag job's auto-tags, the guard's
        # revocations) are CloudTrail events too: the rules leave them out, and so do the handlers.
        own_roles = [j.role.role_arn for j in self.jobs]
        for job in self.jobs:
            job.function.add_environment(OWN_ROLE_ARNS, Fn.join(",", own_roles))
        # An EventBridge rule sees only its own region's events: the rules below are in the stack's
        # region, and the forwarding rules send them the events of every other region in Regions.
        self.forwarding = RegionalForwarding(
            self,
            "RegionalForwarding",
            parameters=self.parameters,
            rules=[rule for spec in JOBS for rule in spec.events],
            own_roles=own_roles,
        )
        realtime_regions = Fn.join(",", self.parameters.regions())
        for spec in JOBS:
            function = self.functions[spec.name]
            if spec.realtime:
                # Every region the job runs in has real-time coverage (a sweep names any other).
                function.function.add_environment(REALTIME_REGIONS, realtime_regions)
            for rule in spec.events:
                EventTrigger(
                    self,
                    rule.name,
                    job=function,
                    description=rule.description,
                    source=rule.source,
                    detail_type=rule.detail_type,
                    detail=dict(rule.detail) or None,
                    exclude_roles=own_roles if rule.own_writes_excluded else (),
                )
        self.reporting.dashboard([spec.view for spec in JOBS])

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
