"""What starts the jobs: EventBridge rules, one per schedule and one per event pattern.

Every rule invokes its job the same way: two retries within an hour, and an
invocation EventBridge cannot deliver lands in the job's FailedInvocations queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from .job_function import JobFunction

RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(1)


def _target(job: JobFunction) -> targets.LambdaFunction:
    return targets.LambdaFunction(
        job.function,
        dead_letter_queue=job.failed,
        retry_attempts=RETRY_ATTEMPTS,
        max_event_age=MAX_EVENT_AGE,
    )


class ScheduleTrigger(Construct):
    """Invokes a job on a schedule with an EventBridge "Scheduled Event"."""

    def __init__(self, scope: Construct, construct_id: str, *, job: JobFunction, expression: str) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"ami-hygiene: runs the {job.job} job",
            schedule=events.Schedule.expression(expression),
            targets=[_target(job)],
        )


class EventTrigger(Construct):
    """Invokes a job with every event of the default bus that matches one pattern.

    `detail` is the pattern's detail filter as EventBridge reads it (field -> list of values).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job: JobFunction,
        description: str,
        source: str,
        detail_type: str,
        detail: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        pattern_detail: dict[str, Any] | None = (
            {key: list(values) for key, values in detail.items()} if detail else None
        )
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"ami-hygiene {job.job}: {description}",
            event_pattern=events.EventPattern(
                source=[source], detail_type=[detail_type], detail=pattern_detail
            ),
            targets=[_target(job)],
        )
