"""A job's Lambda function with everything it needs to run unattended.

One JobFunction per job: its own role (only the job's actions, writes only in
enforce mode), an explicit log group with retention, the job's sweep lease (two
sweeps of a job never act at once; events are handled at once, alongside a sweep),
an encrypted queue for invocations that failed, and an alarm on errors that
notifies the report topic. No reserved concurrency: it would fail the deploy on
accounts with a low concurrency quota and queue events behind a sweep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from aws_cdk import CfnCondition, CfnElement, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ami_hygiene.core.lease import LEASE_TABLE_ENV
from ami_hygiene.core.observability import NAMESPACE, SERVICE
from ami_hygiene.core.publisher import REPORT_PREFIX

from .lease_table import LeaseTable
from .nag import acknowledge
from .reporting import Reporting

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
# Sized by `make bench` at 50,000 images (README "Benchmarks"; reports written piece by piece):
# the jobs peak at 120-282 MiB, rotate highest (255 MiB, 282 with its "Coming up" forecast).
# 768 MB is over twice that, and buys 0.43 of a vCPU (Lambda gives one vCPU at 1,769 MB, CPU in
# proportion to memory: Lambda Developer Guide, "Configure Lambda function memory"). Rotation's
# "Coming up" stops where the run's time ends; the sharing sweep is bound by its paced reads
# (2,000 at 18 a second, about 110 s), inside the 5-minute timeout (acting stops a minute before it).
JOB_MEMORY_MB = 768
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
FAILED_RETENTION = Duration.days(14)
# A run that failed is not retried at once: the next scheduled run starts over
# from what the account looks like then. Invocations throttled by the account's
# concurrency limit wait in Lambda's queue this long.
MAX_EVENT_AGE = Duration.hours(1)


@dataclass(frozen=True)
class JobPermissions:
    """What a job may do: reads always, writes only while the write condition holds."""

    reads: Sequence[iam.PolicyStatement]
    writes: Sequence[iam.PolicyStatement] = ()
    write_condition: CfnCondition | None = None
    # Findings in these statements that are acknowledged, with the reason: {finding: reason}.
    read_wildcards: Mapping[str, str] = field(default_factory=dict)
    write_wildcards: Mapping[str, str] = field(default_factory=dict)
    # Reads that exist only while a condition holds (e.g. a consumer role is configured), in any mode.
    optional_reads: Sequence[iam.PolicyStatement] = ()
    optional_read_condition: CfnCondition | None = None
    optional_read_wildcards: Mapping[str, str] = field(default_factory=dict)


class JobFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job: str,
        handler: str,
        code: lambda_.Code,
        environment: Mapping[str, str],
        reporting: Reporting,
        permissions: JobPermissions,
        timeout: Duration,
        memory_size: int,
        description: str,
        lease: LeaseTable | None = None,
        report_prefixes: Sequence[str] | None = None,
        report_reads: Sequence[str] = (),
        lease_statement: iam.PolicyStatement | None = None,
    ) -> None:
        """`report_prefixes`: where in the report bucket it may store objects (default: its own
        reports/<job>/ prefix); `report_reads`: prefixes it may also list and read (the hub's digest).
        `lease_statement`: which leases of `lease` it may hold (default: the job's own,
        LeaseTable.statement)."""
        super().__init__(scope, construct_id)
        self.job = job
        self.log_group = logs.LogGroup(
            self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.RETAIN
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"ami-hygiene {job} job: only the calls this job makes",
        )
        policies = (
            [self._attach("Reads", permissions.reads, None, permissions.read_wildcards)]
            if permissions.reads
            else []
        )
        if permissions.writes:
            # Not a dependency of the function: it may not exist (report mode).
            self._attach(
                "Writes", permissions.writes, permissions.write_condition, permissions.write_wildcards
            )
        if permissions.optional_reads:
            # Not a dependency either: it exists only while its condition holds.
            self._attach(
                "OptionalReads",
                permissions.optional_reads,
                permissions.optional_read_condition,
                permissions.optional_read_wildcards,
            )
        policies.append(
            self._allow_reporting(
                reporting,
                report_prefixes if report_prefixes is not None else (f"{REPORT_PREFIX}/{job}/*",),
                report_reads,
            )
        )
        lease_env: dict[str, str] = {}
        if lease is not None:
            statement = lease_statement if lease_statement is not None else lease.statement(job)
            policies.append(iam.Policy(self, "Lease", statements=[statement], roles=[self.role]))
            lease_env[LEASE_TABLE_ENV] = lease.table.table_name

        self.failed = sqs.Queue(
            self,
            "FailedInvocations",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILED_RETENTION,
        )
        acknowledge(
            self.failed,
            ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"),
            "This queue is itself the last stop for failed invocations (the function's on-failure "
            "destination and the schedule target's dead-letter queue); nothing consumes it automatically.",
        )

        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=handler,
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                **environment,
                **lease_env,
                "TOPIC_ARN": reporting.topic.topic_arn,
                "REPORT_BUCKET": reporting.bucket.bucket_name,
                "POWERTOOLS_SERVICE_NAME": SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
            on_failure=destinations.SqsDestination(self.failed),
            retry_attempts=0,
            max_event_age=MAX_EVENT_AGE,
        )
        # The function must not run before its policies exist; CDK makes it wait for the role's default
        # policy and for the role itself, which its Role GetAtt already implies (cfn-lint W3005).
        default_policy = self.role.node.try_find_child("DefaultPolicy")
        if isinstance(default_policy, iam.Policy):
            policies.append(default_policy)
        cast(lambda_.CfnFunction, self.function.node.default_child).add_override(
            "DependsOn", sorted({_logical_id(p) for p in policies})
        )
        acknowledge(
            self.function,
            ("Serverless-LambdaDLQ",),
            "Failed asynchronous invocations go to the on-failure destination (an encrypted SQS queue), "
            "whose record carries the error as well as the event; a dead-letter queue in addition would "
            "deliver every failure twice.",
        )
        acknowledge(
            self.role,
            ("AwsSolutions-IAM5[Resource::*]",),
            "X-Ray (xray:PutTraceSegments, xray:PutTelemetryRecords) has no resource-level permissions; "
            "CDK adds this statement for active tracing.",
        )

        self.errors_alarm = reporting.alarm_on(
            self,
            "Errors",
            description=f"ami-hygiene {job}: the function failed (see its log group); "
            "the failed invocation is in its FailedInvocations queue.",
            metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
        )

    def _attach(
        self,
        name: str,
        statements: Sequence[iam.PolicyStatement],
        condition: CfnCondition | None,
        wildcards: Mapping[str, str],
    ) -> iam.Policy:
        policy = iam.Policy(self, name, statements=list(statements), roles=[self.role])
        if condition is not None:
            cast(iam.CfnPolicy, policy.node.default_child).cfn_options.condition = condition
        for finding, reason in wildcards.items():
            acknowledge(policy, (finding,), reason)
        return policy

    def _allow_reporting(
        self, reporting: Reporting, prefixes: Sequence[str], reads: Sequence[str]
    ) -> iam.Policy:
        """Publish to the topic, log, and store reports under its prefixes (and read under `reads`)."""
        self.log_group.grant_write(self.role)
        statements = [
            iam.PolicyStatement(
                sid="PublishReports", actions=["sns:Publish"], resources=[reporting.topic.topic_arn]
            ),
            iam.PolicyStatement(
                sid="EncryptForTopicAndBucket",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[reporting.key.key_arn],
            ),
            iam.PolicyStatement(
                sid="StoreOversizedReports",
                actions=["s3:PutObject"],
                resources=[reporting.bucket.arn_for_objects(prefix) for prefix in prefixes],
            ),
        ]
        if reads:
            statements += [
                iam.PolicyStatement(
                    sid="ReadReports",
                    actions=["s3:GetObject"],
                    resources=[reporting.bucket.arn_for_objects(prefix) for prefix in reads],
                ),
                iam.PolicyStatement(
                    # ListObjectsV2 is authorized on the bucket; s3:prefix holds it to the prefixes
                    # (Amazon S3 user guide, "Condition key examples": s3:prefix).
                    sid="ListReports",
                    actions=["s3:ListBucket"],
                    resources=[reporting.bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": list(reads)}},
                ),
            ]
        policy = iam.Policy(self, "Reporting", roles=[self.role], statements=statements)
        bucket = _logical_id(reporting.bucket)
        for prefix in dict.fromkeys([*prefixes, *reads]):
            granted = " and ".join(
                action for action, where in (("PutObject", prefixes), ("GetObject", reads)) if prefix in where
            )
            acknowledge(
                policy,
                (f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{prefix}]",),
                "Report object names are made per run (time and a random suffix); the grant is "
                f"{granted} only, and only under {prefix}.",
            )
        return policy


def _logical_id(construct: Construct) -> str:
    """The logical id of a construct's resource, as cdk-nag prints it in findings."""
    return Stack.of(construct).get_logical_id(cast(CfnElement, construct.node.default_child))
