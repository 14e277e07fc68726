"""AmiHygieneStack: parameters, reporting, the job functions and what triggers them."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from .job_function import JobFunction
from .packaging import function_code
from .parameters import StackParameters
from .permissions import rotation_permissions
from .recycle_bin import RecycleBin
from .reporting import Reporting
from .triggers import ScheduleTrigger

ROTATE_HANDLER = "ami_hygiene.handlers.rotate.handler"
# Sized for now at 5 minutes / 512 MB; the benchmark (make bench) is what sizes them.
# The handler stops acting a minute before the timeout and defers the rest.
ROTATE_TIMEOUT = Duration.minutes(5)
ROTATE_MEMORY_MB = 512


class AmiHygieneStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.template_options.description = (
            "ami-hygiene: retires old, unused AMIs in stages and reports to SNS (rotate job)"
        )
        self.parameters = StackParameters(self, "Parameters")
        self.reporting = Reporting(self, "Reporting", parameters=self.parameters)
        code = function_code()

        self.rotate = JobFunction(
            self,
            "Rotate",
            job="rotate",
            handler=ROTATE_HANDLER,
            code=code,
            environment=self.parameters.function_environment(),
            reporting=self.reporting,
            permissions=rotation_permissions(self.parameters),
            timeout=ROTATE_TIMEOUT,
            memory_size=ROTATE_MEMORY_MB,
            description="ami-hygiene rotate: deprecate, disable, deregister superseded unused AMIs",
        )
        ScheduleTrigger(
            self, "RotateSchedule", job=self.rotate, expression=self.parameters.value("RotationSchedule")
        )
        RecycleBin(self, "RecycleBin", parameters=self.parameters, jobs=[self.rotate.job])
        self.reporting.dashboard([self.rotate.job])

        CfnOutput(
            self, "TopicArn", value=self.reporting.topic.topic_arn, description="Subscribe to the reports"
        )
        CfnOutput(
            self,
            "ReportBucket",
            value=self.reporting.bucket.bucket_name,
            description="Reports too large for one message",
        )
        CfnOutput(
            self,
            "RotateFunction",
            value=self.rotate.function.function_name,
            description="Invoke by hand: see README",
        )
        CfnOutput(
            self,
            "RotateFailedInvocations",
            value=self.rotate.failed.queue_url,
            description="Invocations that failed",
        )
