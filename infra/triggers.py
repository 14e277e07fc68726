"""What starts the jobs: an EventBridge schedule rule per scheduled job."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from .job_function import JobFunction


class ScheduleTrigger(Construct):
    """Invokes a job on a schedule with an EventBridge "Scheduled Event".

    An invocation EventBridge cannot deliver lands in the job's FailedInvocations queue.
    """

    def __init__(self, scope: Construct, construct_id: str, *, job: JobFunction, expression: str) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"ami-hygiene: runs the {job.job} job",
            schedule=events.Schedule.expression(expression),
            targets=[
                targets.LambdaFunction(
                    job.function,
                    dead_letter_queue=job.failed,
                    retry_attempts=2,
                    max_event_age=Duration.hours(1),
                )
            ],
        )
