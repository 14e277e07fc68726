"""The organization hub's event bus: the member accounts' forwarded events, routed to the jobs.

Every member account forwards its jobs' events of every region in Regions here
(infra/member.py, member_forwarding_template). The bus's resource policy lets principals
of the organization, and no one else, put events on it: aws:PrincipalOrgID is the
organization of the account the calling principal belongs to (IAM User Guide, "AWS global
condition context keys"; EventBridge user guide, "Permissions for Amazon EventBridge event
buses": a policy statement can grant an organization with this key). A forwarding rule
puts the event with the member's forwarder role, a principal of the member account, so
the key holds for the organization's accounts only.

On the bus, one rule per job EventRule (the job's RULES, spec.events) with the same
pattern as the single-account stack's rule on the default bus, invoking the job's hub
function the same way (infra/triggers.py: retries, maximum event age, the job's
FailedInvocations queue). The member role's own writes were left out at the source (the
forwarding rules), and the handlers drop them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from ami_hygiene.core.job import EventRule

from .job_function import JobFunction
from .triggers import MAX_EVENT_AGE, RETRY_ATTEMPTS

PUT_EVENTS_SID = "OrganizationAccountsPutEvents"


class OrganizationBus(Construct):
    """A custom event bus that accepts events only from the organization `organization_id`."""

    def __init__(self, scope: Construct, construct_id: str, *, organization_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self,
            "Bus",
            description="ami-hygiene: the jobs' events forwarded by the organization's member accounts",
        )
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid=PUT_EVENTS_SID,
                principals=[iam.AnyPrincipal()],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
                conditions={"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            )
        )

    def route(self, rules: Sequence[EventRule], job: JobFunction) -> list[events.Rule]:
        """One rule on the bus per EventRule, invoking `job` with the matching events."""
        return [BusTrigger(self, rule.name, bus=self.bus, rule=rule, job=job).rule for rule in rules]


class BusTrigger(Construct):
    """Invokes a job with every event of `bus` that matches the EventRule's pattern."""

    def __init__(
        self, scope: Construct, construct_id: str, *, bus: events.IEventBus, rule: EventRule, job: JobFunction
    ) -> None:
        super().__init__(scope, construct_id)
        detail: dict[str, Any] | None = {key: list(values) for key, values in rule.detail.items()} or None
        self.rule = events.Rule(
            self,
            "Rule",
            event_bus=bus,
            description=f"ami-hygiene {job.job} (organization): {rule.description}"[:512],
            event_pattern=events.EventPattern(
                source=[rule.source], detail_type=[rule.detail_type], detail=detail
            ),
            targets=[
                targets.LambdaFunction(
                    job.function,
                    dead_letter_queue=job.failed,
                    retry_attempts=RETRY_ATTEMPTS,
                    max_event_age=MAX_EVENT_AGE,
                )
            ],
        )
