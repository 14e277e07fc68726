"""Recycle Bin retention rules: what rotation deregisters stays restorable for a while.

The rotate job tags every image and snapshot it deregisters with
`ami-hygiene:retired-by=<job>`; these tag-level rules keep exactly those (and
nothing else of the account) for RecycleBinDays. Rules act in the stack's
region only. RecycleBinDays=0 leaves them out.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Token
from aws_cdk import aws_rbin as rbin
from constructs import Construct

from ami_hygiene.core.estate import TAG_RETIRED_BY

from .parameters import StackParameters

RESOURCE_TYPES = ("EC2_IMAGE", "EBS_SNAPSHOT")


class RecycleBin(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, parameters: StackParameters, jobs: Sequence[str]
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, rbin.CfnRule] = {}
        for resource_type in RESOURCE_TYPES:
            rule = rbin.CfnRule(
                self,
                resource_type.title().replace("_", ""),
                resource_type=resource_type,
                description=f"ami-hygiene: keeps what {', '.join(jobs)} deregistered restorable",
                retention_period=rbin.CfnRule.RetentionPeriodProperty(
                    retention_period_unit="DAYS",
                    retention_period_value=Token.as_number(parameters.number("RecycleBinDays")),
                ),
                resource_tags=[
                    rbin.CfnRule.ResourceTagProperty(resource_tag_key=TAG_RETIRED_BY, resource_tag_value=job)
                    for job in jobs
                ],
            )
            rule.cfn_options.condition = parameters.recycle_bin_on
            self.rules[resource_type] = rule
