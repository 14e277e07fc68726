"""What every member account of the organization gets from the hub: the member template.

The hub (infra/organization.py) deploys two templates to the accounts of its OUs with
service-managed StackSets:

- `MemberStack` (one region, the hub's): the roles.
  - The member role, named MemberRoleName, which the hub's job functions assume. It trusts
    only the hub's job roles (their ARNs are StackSet parameters). Its permissions are the
    union of the jobs' own: the same statements as the single-account stack's job roles,
    built by the same functions (infra/permissions*.py), so a member's reads equal a single
    account's reads, the writes exist only while the job's mode parameter (passed from the
    hub) is enforce, and every write holds to images and snapshots the member account owns
    (ec2:Owner = the member account).
  - The rebuild job's automation role (infra/permissions_rebuild.py AutomationRole) under a
    fixed name, AmiHygieneRebuildAutomation, so the hub names it per account
    (AUTOMATION_ROLE_ARN with `{account}`).
  - The forwarder role, fixed name AmiHygieneForwarder: EventBridge may put events on the
    hub's bus with it, and do nothing else.
  - The Recycle Bin rules (infra/recycle_bin.py), in the hub's region as the single-account
    stack has them in its own region, when RecycleBinDays is not 0.
- `member_forwarding_template()` (every region of Regions): infra/forwarding.py's rules,
  targeting the hub's bus with the forwarder role, leaving out the member role's own writes.

The member stack is a CDK Stack in an App of its own, synthesized in-process
(`member_template`), with the same cdk-nag packs as the app; the hub embeds the template as
the StackSet's TemplateBody.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable, Mapping
from typing import Any, cast

from aws_cdk import App, Aws, BootstraplessSynthesizer, CfnOutput, CfnParameter, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from ami_hygiene.registry import JOBS

from .forwarding import forwarding_template, local_role_arn
from .job_function import JobPermissions
from .nag import acknowledge, add_checks
from .parameters import MEMBER, ROLE_NAME, StackParameters
from .permissions import rotation_permissions
from .permissions_public import public_permissions
from .permissions_rebuild import AutomationRole, rebuild_permissions
from .permissions_tags import tags_permissions
from .recycle_bin import RecycleBin

MEMBER_STACK_NAME = "AmiHygieneMember"
MEMBER_ROLE_NAME = "MemberRoleName"  # the parameter (and the hub's) naming the member role
AUTOMATION_ROLE_NAME = "AmiHygieneRebuildAutomation"
FORWARDER_ROLE_NAME = "AmiHygieneForwarder"
HUB_BUS_ARN = "HubBusArn"
# CreateStackSet TemplateBody: at most 51,200 bytes (CloudFormation API reference, CreateStackSet;
# botocore cloudformation TemplateBody, and AWS::CloudFormation::StackSet TemplateBody).
TEMPLATE_BODY_MAX = 51_200

_ROLE_ARN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$"
_BUS_ARN = r"^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/[\w.\-/]+$"
# IAM allows at most 10 managed policies per role by default (IAM User Guide, "IAM and AWS STS
# quotas": managed policies attached to an IAM role); the member role's are counted in a test.
MANAGED_POLICIES_PER_ROLE = 10


def hub_role_parameter(job: str) -> str:
    """The member template's parameter holding the hub's role ARN of `job`: RotateJobRoleArn, ..."""
    return f"{job.capitalize()}JobRoleArn"


def member_permissions(
    parameters: StackParameters, automation: AutomationRole
) -> dict[str, Callable[[], JobPermissions]]:
    """Each registered job's permissions, as the single-account stack builds them."""
    return {
        "rotate": lambda: rotation_permissions(parameters),
        "tags": lambda: tags_permissions(parameters),
        "public": lambda: public_permissions(parameters),
        "rebuild": lambda: rebuild_permissions(parameters, automation),
    }


class MemberStack(Stack):
    """The member template (see the module's docstring)."""

    def __init__(self, scope: Construct, construct_id: str = MEMBER_STACK_NAME) -> None:
        # No bootstrap stack in the member accounts: the template has no assets, and a
        # BootstrapVersion parameter would name a bootstrap the accounts need not have.
        super().__init__(scope, construct_id, synthesizer=BootstraplessSynthesizer())
        self.template_options.description = (
            "ami-hygiene member (from the organization hub's StackSet): the role the hub's jobs assume "
            "here, the rebuild runbooks' role, the role that forwards events to the hub's bus, and the "
            "Recycle Bin rules. Update it from the hub stack, not here."
        )
        self.parameters = StackParameters(self, "Parameters", MEMBER)
        self.hub_roles = {
            spec.name: CfnParameter(
                self,
                hub_role_parameter(spec.name),
                type="String",
                description=f"The hub's {spec.name} job role: it may assume the member role.",
                allowed_pattern=_ROLE_ARN,
                constraint_description=f"{hub_role_parameter(spec.name)} must be an IAM role ARN.",
            )
            for spec in JOBS
        }
        for name, param in self.hub_roles.items():
            param.override_logical_id(hub_role_parameter(name))
        hub_bus = CfnParameter(
            self,
            HUB_BUS_ARN,
            type="String",
            description="The hub's event bus: every region's forwarding rules send the jobs' events there.",
            allowed_pattern=_BUS_ARN,
            constraint_description=f"{HUB_BUS_ARN} must be an event bus ARN.",
        )
        hub_bus.override_logical_id(HUB_BUS_ARN)

        self.automation = AutomationRole(self, "RebuildAutomation", parameters=self.parameters)
        cast(iam.CfnRole, self.automation.role.node.default_child).role_name = AUTOMATION_ROLE_NAME

        self.role = iam.Role(
            self,
            "MemberRole",
            role_name=self.parameters.value(MEMBER_ROLE_NAME),
            assumed_by=iam.CompositePrincipal(
                *(iam.ArnPrincipal(param.value_as_string) for param in self.hub_roles.values())
            ),
            description="ami-hygiene: the organization hub's jobs act in this account with this role",
        )
        self.policies: dict[str, list[iam.ManagedPolicy]] = {}
        permissions = member_permissions(self.parameters, self.automation)
        for spec in JOBS:
            self.policies[spec.name] = self._attach(spec.construct_id, permissions[spec.name]())

        RecycleBin(self, "RecycleBin", parameters=self.parameters, jobs=["rotate"])

        self.forwarder = iam.Role(
            self,
            "ForwarderRole",
            role_name=FORWARDER_ROLE_NAME,
            # Only EventBridge rules of this account (confused-deputy guard: EventBridge user guide,
            # "Using IAM roles to send events": aws:SourceAccount).
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description="ami-hygiene: EventBridge forwards the jobs' events of every region to the hub's bus",
            inline_policies={
                "PutEventsOnHubBus": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=["events:PutEvents"], resources=[hub_bus.value_as_string])
                    ]
                )
            },
        )
        CfnOutput(
            self, "MemberRoleArn", value=self.role.role_arn, description="The role the hub's jobs assume"
        )

    def _attach(self, name: str, permissions: JobPermissions) -> list[iam.ManagedPolicy]:
        """The job's statements as managed policies of the member role: reads, writes, optional reads.

        Managed, not inline: a role's inline policies share one 10,240-character budget, and
        four jobs' statements together would not fit; each managed policy has 6,144 characters
        of its own (IAM User Guide, "IAM and AWS STS quotas").
        """
        attached = []
        for part, statements, condition, wildcards in (
            ("Reads", permissions.reads, None, permissions.read_wildcards),
            ("Writes", permissions.writes, permissions.write_condition, permissions.write_wildcards),
            (
                "OptionalReads",
                permissions.optional_reads,
                permissions.optional_read_condition,
                permissions.optional_read_wildcards,
            ),
        ):
            if not statements:
                continue
            policy = iam.ManagedPolicy(
                self,
                f"{name}{part}",
                description=f"ami-hygiene {name.lower()} job: {part.lower()}"
                + (" (only while the job is in enforce mode)" if part == "Writes" else ""),
                statements=list(statements),
                roles=[self.role],
            )
            if condition is not None:
                cast(iam.CfnManagedPolicy, policy.node.default_child).cfn_options.condition = condition
            for finding, reason in wildcards.items():
                acknowledge(policy, (finding,), reason)
            attached.append(policy)
        return attached


def member_forwarding_template() -> dict[str, Any]:
    """infra/forwarding.py's template for a member account.

    The forwarder role and the member role are this account's, so their ARNs are made in the
    template from AWS::AccountId: the forwarder's from its fixed name (no ForwarderRoleArn
    parameter here), the member role's from the MemberRoleName parameter. The hub passes
    TargetBusArn and MemberRoleName, and "" for OwnRoleArns and SkipRegion.
    """
    return forwarding_template(
        [rule for spec in JOBS for rule in spec.events],
        description="ami-hygiene member (from the organization hub's StackSet): forwards the jobs' events "
        "of this region to the hub's event bus",
        forwarder_role_arn=local_role_arn(FORWARDER_ROLE_NAME),
        local_role_names=[{"Ref": MEMBER_ROLE_NAME}],
        extra_parameters={
            MEMBER_ROLE_NAME: {
                "Type": "String",
                "Description": "The member role: its CloudTrail events (the jobs' own writes) are not "
                "forwarded.",
                "AllowedPattern": rf"^{ROLE_NAME}$",
                "ConstraintDescription": f"{MEMBER_ROLE_NAME} must be an IAM role name.",
            }
        },
    )


@functools.cache
def member_template() -> Mapping[str, Any]:
    """The member template, synthesized once per process in an App of its own with the app's
    cdk-nag packs (an unacknowledged finding fails here, as it fails the app's synth)."""
    app = App(
        outdir=tempfile.mkdtemp(prefix="ami-hygiene-member-"),
        analytics_reporting=False,
        # No aws:cdk:path metadata: the template is embedded in the hub's, where bytes count.
        context={"aws:cdk:enable-path-metadata": False},
    )
    MemberStack(app)
    add_checks(app)
    template = app.synth().get_stack_by_name(MEMBER_STACK_NAME).template
    return cast(Mapping[str, Any], template)


def member_template_body() -> str:
    """The member template as the StackSet's TemplateBody, without the resources' Metadata.

    The Metadata holds cdk-nag's acknowledgements with their reasons (nag.py): they were checked
    when the template was synthesized, are in this module's source, and would take a third of
    the 51,200 bytes a TemplateBody may have.
    """
    template = dict(member_template())
    template["Resources"] = {
        name: {key: value for key, value in resource.items() if key != "Metadata"}
        for name, resource in template["Resources"].items()
    }
    return template_body(template, "member")


def template_body(template: Mapping[str, Any], what: str) -> str:
    """`template` as a StackSet's TemplateBody: compact JSON, refused past the API's limit."""
    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    size = len(body.encode())
    if size > TEMPLATE_BODY_MAX:
        raise ValueError(
            f"the {what} template is {size} bytes; a StackSet's TemplateBody takes {TEMPLATE_BODY_MAX}"
        )
    return body
