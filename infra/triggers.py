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


# Environment variable: this stack's job role ARNs, comma-separated (handlers ignore their events).
OWN_ROLE_ARNS = "OWN_ROLE_ARNS"


def not_made_by(roles: Sequence[str]) -> list[dict[str, Any]]:
    """A CloudTrail pattern clause: the call was not made by a session of one of `roles`.

    A Lambda function's calls are recorded as an AssumedRole identity whose
    userIdentity.sessionContext.sessionIssuer.arn is the role's ARN (CloudTrail
    userIdentity element reference). An identity without that field (an IAM
    user, the root user, an AWS service) must still match: a field a pattern
    names matches only when present, so the absent case is its own `$or`
    branch (EventBridge content filtering: "exists": false; "$or" matching).
    """
    issuer = ("userIdentity", "sessionContext", "sessionIssuer", "arn")

    def nested(matchers: list[Any]) -> dict[str, Any]:
        node: Any = matchers
        for key in reversed(issuer):
            node = {key: node}
        return dict(node)

    return [nested([{"exists": False}]), nested([{"anything-but": list(roles)}])]


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
        exclude_roles: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        pattern_detail: dict[str, Any] | None = (
            {key: list(values) for key, values in detail.items()} if detail else None
        )
        if exclude_roles:
            pattern_detail = {**(pattern_detail or {}), "$or": not_made_by(exclude_roles)}
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"ami-hygiene {job.job}: {description}",
            event_pattern=events.EventPattern(
                source=[source], detail_type=[detail_type], detail=pattern_detail
            ),
            targets=[_target(job)],
        )
