"""Where everything the jobs see and do goes: the SNS topic (encrypted with a
customer-managed key), the optional e-mail subscription, the bucket for reports
too large for one message, and the CloudWatch dashboard of the job metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ami_hygiene.core.observability import (
    EVENTS_IGNORED_METRIC,
    JOB_DIMENSION,
    NAMESPACE,
    RUN_ERRORS_METRIC,
    SERVICE,
    SWEEPS_SKIPPED_METRIC,
    UNHANDLED_ERRORS_METRIC,
)
from ami_hygiene.core.publisher import REPORT_PREFIX
from ami_hygiene.core.view import View

from .nag import acknowledge
from .parameters import StackParameters

# Each job's second graph: work left, failures, refusals, events with nothing to do, and
# sweeps skipped because another sweep of the job held the lease, and failures a retry cannot fix.
HEALTH_METRICS = (
    "ActionsDeferred",
    "ActionsFailed",
    RUN_ERRORS_METRIC,
    EVENTS_IGNORED_METRIC,
    SWEEPS_SKIPPED_METRIC,
    UNHANDLED_ERRORS_METRIC,
)
REPORT_EXPIRY = Duration.days(90)
UNDELIVERED_RETENTION = Duration.days(14)


class Reporting(Construct):
    """Topic, key, report bucket and dashboard shared by every job."""

    def __init__(self, scope: Construct, construct_id: str, *, parameters: StackParameters) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="ami-hygiene: encrypts the report topic and the report bucket",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudWatch alarms publish to the encrypted topic as the CloudWatch service.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheTopicKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
            )
        )

        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="ami-hygiene reports",
            master_key=self.key,
            enforce_ssl=True,
            signature_version="2",
        )

        # E-mail that SNS could not deliver lands here instead of being dropped.
        self.undelivered = sqs.Queue(
            self,
            "Undelivered",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=UNDELIVERED_RETENTION,
        )
        self.undelivered.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowTheTopicToDeadLetter",
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.undelivered.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.topic.topic_arn}},
            )
        )
        acknowledge(
            self.undelivered,
            ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"),
            "This queue is the dead-letter queue of the e-mail subscription; a dead-letter queue of its own "
            "would only move the same messages once more.",
        )

        email = sns.CfnSubscription(
            self,
            "EmailSubscription",
            topic_arn=self.topic.topic_arn,
            protocol="email",
            endpoint=parameters.value("AlertEmail"),
            redrive_policy={"deadLetterTargetArn": self.undelivered.queue_arn},
        )
        email.cfn_options.condition = parameters.has_alert_email

        self.bucket = s3.Bucket(
            self,
            "Reports",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireReports",
                    prefix=f"{REPORT_PREFIX}/",
                    expiration=REPORT_EXPIRY,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.bucket,
            ("AwsSolutions-S1",),
            "The bucket only holds reports the jobs write, which expire after 90 days; every write is in the "
            "function logs and CloudTrail. A server-access-log bucket would need the same acknowledgement "
            "itself and add nothing for objects nobody else writes.",
        )

    def alarm_on(
        self, scope: Construct, construct_id: str, *, description: str, metric: cloudwatch.IMetric
    ) -> cloudwatch.Alarm:
        """An alarm to the topic when `metric` (a 5-minute Sum) reaches 1; no data is not a breach."""
        alarm = cloudwatch.Alarm(
            scope,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm

    def dashboard(self, views: Sequence[View]) -> cloudwatch.Dashboard:
        """One row per job with its run metrics (Powertools EMF: namespace, service and job dimensions)."""
        board = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{Aws.STACK_NAME}-{Aws.REGION}")
        for view in views:
            job = view.job

            def metric(name: str, statistic: str = "Sum", job: str = job) -> cloudwatch.Metric:
                return cloudwatch.Metric(
                    namespace=NAMESPACE,
                    metric_name=name,
                    dimensions_map={"service": SERVICE, JOB_DIMENSION: job},
                    statistic=statistic,
                    period=Duration.days(1),
                )

            widgets: list[cloudwatch.IWidget] = [
                cloudwatch.TextWidget(markdown=f"## {job}", width=24, height=1),
                cloudwatch.GraphWidget(
                    title=f"{job}: images",
                    left=[metric(n) for n in view.dashboard_metrics],
                    width=8,
                ),
                cloudwatch.GraphWidget(
                    title=f"{job}: deferred, failed, errors, ignored events, skipped sweeps",
                    left=[metric(n) for n in HEALTH_METRICS],
                    width=8,
                ),
            ]
            if view.storage_graph:
                widgets.append(
                    cloudwatch.GraphWidget(
                        title=f"{job}: storage",
                        left=[metric("GiBReclaimed")],
                        right=[metric("EstimatedMonthlySavingUSD")],
                        width=8,
                    )
                )
            board.add_widgets(*widgets)
        return board
