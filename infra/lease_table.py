"""The table of sweep leases: one small item per job while a sweep of it runs.

Keeps two sweeps of the same job from acting at once (functions/ami_hygiene/core/lease.py
says why a lease and not reserved concurrency). On-demand billing: a few requests per
sweep. `expires_at` is the TTL attribute, so leases left by crashed runs are removed
by DynamoDB in time (the expiry itself is checked by the conditional write). Encrypted
with the account's AWS managed key (aws/dynamodb: its key policy lets every principal
the account authorizes for DynamoDB use it through DynamoDB, so the roles need no KMS
grant; "DynamoDB encryption at rest" in the developer guide). Point-in-time recovery is
on, as cdk-nag's AwsSolutions-DDB3 asks; for a table of a few hundred bytes it costs
next to nothing. Nothing in it outlives a sweep, so `cdk destroy` deletes it.

Each job's role may write and delete only the item whose key is its own job name
(`dynamodb:LeadingKeys`, "Using IAM policy conditions for fine-grained access control"
in the DynamoDB developer guide).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from ami_hygiene.core.lease import EXPIRES_AT, KEY

# The calls lease.py makes: a conditional PutItem that takes the lease (the holder of a
# held lease comes back with the failed condition, ReturnValuesOnConditionCheckFailure)
# and a conditional DeleteItem that gives it back. No reads, no scans.
LEASE_ACTIONS = ("dynamodb:PutItem", "dynamodb:DeleteItem")


class LeaseTable(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=EXPIRES_AT,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

    def statement(self, job: str) -> iam.PolicyStatement:
        """Take and give back this job's lease, and no other item of the table."""
        return iam.PolicyStatement(
            sid="HoldOnlyThisJobsSweepLease",
            actions=list(LEASE_ACTIONS),
            resources=[self.table.table_arn],
            # ForAllValues: every partition key the request touches must be the job's own.
            conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [job]}},
        )
