"""Real-time events from every region: forwarding rules that send them to one event bus.

An EventBridge rule sees only the events of its own region's bus, and the stack's
rules are in the stack's region. `forwarding_template` is a plain CloudFormation
template with one rule per job EventRule, the same pattern as the job's own rule,
whose target is an event bus elsewhere: StackSets deploy it to every region.

- The single-account stack (`RegionalForwarding` below): a self-managed StackSet
  deploys it to this account in every region of `Regions`, targeting the stack
  region's default bus, where the job rules pick the events up; the stack region
  itself is skipped (its rules see its events already).
- The organization hub (infra/member.py): a service-managed StackSet deploys it
  to the member accounts, targeting the hub's bus, skipping no region. Its roles are the
  member account's own, so the caller names them (`forwarder_role_arn`, `local_role_names`,
  built with `local_role_arn`) and declares the parameters they use (`extra_parameters`).

A forwarded event keeps the sender's `account` and `region` (an event bus target passes the
event on as it is; LocalStack models the same, localstack/localstack#12554) and its detail,
so the job acts in the region the event happened in: the CloudTrail jobs read the record's
`awsRegion`, the state-change jobs the envelope's `region` (jobs/<job>/events.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from aws_cdk import Aws, CfnCondition, Fn, ICfnConditionExpression
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_iam as iam
from constructs import Construct

from ami_hygiene.core.job import EventRule

from .nag import acknowledge
from .parameters import StackParameters
from .triggers import not_made_by

# The template's parameters (the contract with its callers: /tmp/org/PLAN.md "Forwarding template").
TARGET_BUS_ARN = "TargetBusArn"
FORWARDER_ROLE_ARN = "ForwarderRoleArn"
OWN_ROLE_ARNS = "OwnRoleArns"
SKIP_REGION = "SkipRegion"
# Its conditions: the rules exist outside SkipRegion; the own-writes exclusion needs a role to exclude.
FORWARD = "Forward"
HAS_OWN_ROLES = "HasOwnRoleArns"
# A resource every stack instance has: a template whose resources are all conditional, and all
# off, cannot be created (Template anatomy, "Resources": at least one resource). A wait condition
# handle has no properties, calls no API and costs nothing (AWS::CloudFormation::WaitConditionHandle).
PLACEHOLDER = "StackInstance"
TARGET_ID = "ForwardToEventBus"
# CreateStackSet TemplateBody: at most 51,200 bytes (CloudFormation API reference, CreateStackSet).
TEMPLATE_BODY_MAX = 51_200

_PARTITION = r"arn:aws[a-z-]*"
_ROLE_ARN = rf"{_PARTITION}:iam::[0-9]{{12}}:role/[\w+=,.@/-]+"
_SENTINEL = "\x00own-role-arns"

# A CloudFormation string value: a literal, or one intrinsic function ({"Ref": "MemberRoleName"},
# {"Fn::Join": [...]}, ...), evaluated by CloudFormation in each stack instance.
CfnString = str | Mapping[str, Any]


def forwarding_pattern(rule: EventRule, excluded_roles: Any = None) -> dict[str, Any]:
    """The rule's EventBridge pattern, as its home rule has it (infra/triggers.py EventTrigger).

    `excluded_roles`: the roles whose CloudTrail events are left out (a list, or a
    CloudFormation list value such as Fn::Split); None: leave none out.
    """
    pattern: dict[str, Any] = {"source": [rule.source], "detail-type": [rule.detail_type]}
    detail: dict[str, Any] = {key: list(values) for key, values in rule.detail.items()}
    if excluded_roles is not None:
        # triggers.not_made_by takes a list of ARNs; here the list may be a CloudFormation value.
        detail["$or"] = _replaced(not_made_by([_SENTINEL]), [_SENTINEL], excluded_roles)
    if detail:
        pattern["detail"] = detail
    return pattern


def _replaced(node: Any, old: Any, new: Any) -> Any:
    if node == old:
        return new
    if isinstance(node, dict):
        return {key: _replaced(value, old, new) for key, value in node.items()}
    if isinstance(node, list):
        return [_replaced(value, old, new) for value in node]
    return node


def _join(*parts: Any) -> dict[str, Any]:
    return {"Fn::Join": ["", list(parts)]}


def _cfn_string(value: CfnString, what: str) -> CfnString:
    """`value`, refused unless it is a text or one intrinsic function (a caller's mistake, found at synth)."""
    if isinstance(value, str):
        return value
    if len(value) == 1 and all(key == "Ref" or key.startswith("Fn::") for key in value):
        return dict(value)
    raise ValueError(f"{what} must be a text or one CloudFormation intrinsic function, not {value!r}")


def local_role_arn(name: CfnString) -> dict[str, Any]:
    """The ARN of the role `name` (a text or a CloudFormation value such as {"Ref": "MemberRoleName"})
    of the account a stack instance runs in: arn:${AWS::Partition}:iam::${AWS::AccountId}:role/NAME."""
    return _join(
        "arn:",
        {"Ref": "AWS::Partition"},
        ":iam::",
        {"Ref": "AWS::AccountId"},
        ":role/",
        _cfn_string(name, "a local role name"),
    )


def forwarding_template(
    rules: Sequence[EventRule],
    *,
    description: str = "ami-hygiene: forwards the jobs' events of this region to their event bus",
    forwarder_role_arn: CfnString | None = None,
    local_role_names: Sequence[CfnString] = (),
    extra_parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A CloudFormation template (a JSON-ready dict) of forwarding rules, one per `rules` item.

    Parameters of the template:
    - TargetBusArn: the event bus every matching event is sent to (another region's or
      another account's; cross-region targets need a role: ForwarderRoleArn).
    - ForwarderRoleArn (only when `forwarder_role_arn` is None): the role EventBridge assumes
      to put the events on TargetBusArn (EventBridge user guide, "Sending and receiving events
      between AWS Regions": a rule whose target is an event bus in another Region needs an
      execution role allowed events:PutEvents on that bus).
    - OwnRoleArns: comma-separated role ARNs whose CloudTrail events rules with
      `own_writes_excluded` leave out, as the home rules do; may be empty.
    - SkipRegion: a region where no rule is created (the target bus's own region, whose
      rules see its events already); "" for none.
    - `extra_parameters`: declared as given (name -> declaration), for the values the caller's
      arguments refer to; a name the template has already, or one nothing refers to, is refused.

    `forwarder_role_arn`: the forwarder role as a CloudFormation value (e.g.
    `local_role_arn("AmiHygieneForwarder")`) instead of the ForwarderRoleArn parameter.

    `local_role_names`: roles of the account the stack instance runs in (same names in
    every account, e.g. a member role; a text or a CloudFormation value such as
    {"Ref": "MemberRoleName"}) whose CloudTrail events are left out as well; their ARNs are
    made in the template (`local_role_arn`).

    The template refers only to what it declares: a Ref to an undeclared parameter is refused.
    """
    role_arn: Any = (
        {"Ref": FORWARDER_ROLE_ARN}
        if forwarder_role_arn is None
        else _cfn_string(forwarder_role_arn, "forwarder_role_arn")
    )
    local = [local_role_arn(name) for name in local_role_names]
    given = {"Fn::Split": [",", {"Ref": OWN_ROLE_ARNS}]}
    if local:
        with_given: Any = {"Fn::Split": [",", {"Fn::Join": [",", [*local, {"Ref": OWN_ROLE_ARNS}]]}]}
        excluded: Any = {"Fn::If": [HAS_OWN_ROLES, with_given, local]}
    else:
        excluded = given

    resources: dict[str, Any] = {PLACEHOLDER: {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
    for rule in rules:
        if not rule.own_writes_excluded:
            pattern: Any = forwarding_pattern(rule)
        elif local:
            pattern = forwarding_pattern(rule, excluded)
        else:
            # anything-but needs at least one value: without roles to exclude, no exclusion at all.
            pattern = {
                "Fn::If": [HAS_OWN_ROLES, forwarding_pattern(rule, excluded), forwarding_pattern(rule)]
            }
        resources[rule.name] = {
            "Type": "AWS::Events::Rule",
            "Condition": FORWARD,
            "Properties": {
                # The description names the bus: a person finding the rule sees where its events go.
                "Description": _join(
                    "ami-hygiene: forwards to ", {"Ref": TARGET_BUS_ARN}, f": {rule.description}"
                ),
                "EventBusName": "default",
                "EventPattern": pattern,
                "State": "ENABLED",
                "Targets": [{"Id": TARGET_ID, "Arn": {"Ref": TARGET_BUS_ARN}, "RoleArn": role_arn}],
            },
        }

    parameters: dict[str, Any] = {
        TARGET_BUS_ARN: {
            "Type": "String",
            "Description": "The event bus the matching events are sent to.",
            "AllowedPattern": rf"^{_PARTITION}:events:[a-z0-9-]+:[0-9]{{12}}:event-bus/[\w.\-/]+$",
            "ConstraintDescription": "TargetBusArn must be an event bus ARN.",
        },
        FORWARDER_ROLE_ARN: {
            "Type": "String",
            "Description": "The role EventBridge assumes to put the events on TargetBusArn.",
            "AllowedPattern": rf"^{_ROLE_ARN}$",
            "ConstraintDescription": "ForwarderRoleArn must be an IAM role ARN.",
        },
        OWN_ROLE_ARNS: {
            "Type": "String",
            "Default": "",
            "Description": "Comma-separated role ARNs whose CloudTrail events are not forwarded "
            "(ami-hygiene's own writes); empty for none.",
            "AllowedPattern": rf"^$|^{_ROLE_ARN}(,{_ROLE_ARN})*$",
            "ConstraintDescription": "OwnRoleArns must be empty or IAM role ARNs separated by commas.",
        },
        SKIP_REGION: {
            "Type": "String",
            "Default": "",
            "Description": "A region where no rule is created (the target bus's region); empty for none.",
            "AllowedPattern": r"^$|^[a-z]{2}(-[a-z]+)+-[0-9]+$",
            "ConstraintDescription": "SkipRegion must be empty or a region name such as eu-west-1.",
        },
    }
    if forwarder_role_arn is not None:
        del parameters[FORWARDER_ROLE_ARN]  # nothing refers to it: an unused parameter is a lint warning
    for name, declaration in (extra_parameters or {}).items():
        if name in parameters:
            raise ValueError(f"the forwarding template declares the parameter {name} already")
        parameters[name] = dict(declaration)

    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Parameters": parameters,
        "Conditions": {
            FORWARD: {"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": SKIP_REGION}]}]},
            HAS_OWN_ROLES: {"Fn::Not": [{"Fn::Equals": [{"Ref": OWN_ROLE_ARNS}, ""]}]},
        },
        "Resources": resources,
    }
    referred = set(_refs(template))
    undeclared = sorted(
        referred - set(parameters) - set(resources) - {r for r in referred if r.startswith("AWS::")}
    )
    if undeclared:
        raise ValueError(f"the forwarding template refers to undeclared parameters: {undeclared}")
    unused = sorted(set(extra_parameters or {}) - referred)
    if unused:
        raise ValueError(f"extra_parameters declares parameters nothing refers to: {unused}")
    return template


def _refs(node: Any) -> Iterator[str]:
    """The names `node` refers to: with Ref, or as ${Name} in an Fn::Sub text (not its own variables)."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and isinstance(node["Ref"], str):
            yield node["Ref"]
        if set(node) == {"Fn::Sub"}:
            text, variables = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
            yield from (n for n in re.findall(r"\$\{([^!}.][^}.]*)\}", text) if n not in variables)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def template_body(template: dict[str, Any]) -> str:
    """The template as the StackSet's TemplateBody: compact JSON, refused past the API's limit."""
    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    size = len(body.encode())
    if size > TEMPLATE_BODY_MAX:
        raise ValueError(f"the forwarding template is {size} bytes; TemplateBody takes {TEMPLATE_BODY_MAX}")
    return body


class RegionalForwarding(Construct):
    """The job rules' events of every region in `Regions` sent to the stack region's default bus.

    A self-managed StackSet (created only when `Regions` is given) deploys
    `forwarding_template` to this account in each region of `Regions`, in parallel,
    skipping the stack's own region. Its roles (Grant self-managed permissions, in the
    CloudFormation user guide):
    - the administration role, assumed by CloudFormation for this StackSet only, may
      only assume the execution role;
    - the execution role, trusted by the administration role only, may manage event
      rules of this account, pass the forwarder role to EventBridge, and has the
      CloudFormation and S3 permissions the StackSets documentation gives as the
      minimum for any stack set;
    - the forwarder role, assumed by EventBridge, may only put events on the home bus.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        parameters: StackParameters,
        rules: Sequence[EventRule],
        own_roles: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.condition = CfnCondition(
            self,
            "RegionsGiven",
            expression=Fn.condition_not(cast(ICfnConditionExpression, parameters.regions_empty)),
        )
        self.condition.override_logical_id("ForwardsRegions")
        self.home_bus_arn = f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/default"
        self.stack_set_name = f"{Aws.STACK_NAME}-RegionalForwarding"
        # Named, because the StackSet names it (ExecutionRoleName is a name, not an ARN); unique per
        # stack (the stack id's UUID), at most 64 characters (IAM role names).
        self.execution_role_name = Fn.join(
            "-", ["AmiHygieneForwarding", Fn.select(2, Fn.split("/", Aws.STACK_ID))]
        )

        self.forwarder = iam.Role(
            self,
            "ForwarderRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="EventBridge puts the jobs' events of the other regions on this region's default bus",
            inline_policies={
                "PutEventsOnHomeBus": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=["events:PutEvents"], resources=[self.home_bus_arn])
                    ]
                )
            },
        )

        # Confused deputy: CloudFormation may assume it for this account's StackSet of this name only
        # (Grant self-managed permissions, "Set up global keys to mitigate confused deputy problems").
        stack_set_arn = (
            f"arn:{Aws.PARTITION}:cloudformation:{Aws.REGION}:{Aws.ACCOUNT_ID}"
            f":stackset/{self.stack_set_name}:*"
        )
        execution_role_arn = f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{self.execution_role_name}"
        self.administration = iam.Role(
            self,
            "AdministrationRole",
            assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com").with_conditions(
                {
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "StringLike": {"aws:SourceArn": stack_set_arn},
                }
            ),
            description="CloudFormation StackSets administers the regional forwarding rules with this role",
            inline_policies={
                "AssumeExecutionRole": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[execution_role_arn])
                    ]
                )
            },
        )

        # AWS::Events::Rule's resource handlers call these (its resource provider schema, "handlers":
        # create, read, update, delete); the rules are CloudFormation-named, so any rule of this account.
        rule_actions = [
            "events:DescribeRule",
            "events:PutRule",
            "events:DeleteRule",
            "events:PutTargets",
            "events:RemoveTargets",
            "events:ListTargetsByRule",
            "events:TagResource",
            "events:UntagResource",
            "events:ListTagsForResource",
        ]
        self.execution = iam.Role(
            self,
            "ExecutionRole",
            role_name=self.execution_role_name,
            assumed_by=iam.ArnPrincipal(self.administration.role_arn),
            description="CloudFormation StackSets creates the regional forwarding rules with this role",
            inline_policies={
                "ForwardingRules": iam.PolicyDocument(
                    statements=[
                        # "The following example shows a policy statement with the minimum permissions
                        # for StackSets to work": cloudformation:* and s3:* on every resource (CloudFormation
                        # user guide, Grant self-managed permissions, AWSCloudFormationStackSetExecutionRole).
                        iam.PolicyStatement(
                            sid="StackSetsMinimum", actions=["cloudformation:*", "s3:*"], resources=["*"]
                        ),
                        iam.PolicyStatement(
                            sid="ForwardingRules",
                            actions=rule_actions,
                            resources=[f"arn:{Aws.PARTITION}:events:*:{Aws.ACCOUNT_ID}:rule/*"],
                        ),
                        iam.PolicyStatement(
                            sid="PassForwarderRole",
                            actions=["iam:PassRole"],
                            resources=[self.forwarder.role_arn],
                            conditions={"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}},
                        ),
                    ]
                )
            },
        )
        acknowledge(
            self.execution,
            (
                "AwsSolutions-IAM5[Action::cloudformation:*]",
                "AwsSolutions-IAM5[Action::s3:*]",
                "AwsSolutions-IAM5[Resource::*]",
            ),
            "The CloudFormation user guide (Grant self-managed permissions) gives cloudformation:* and s3:* "
            "on every resource as the minimum a StackSets execution role needs; the role is trusted by this "
            "stack's StackSet administration role only.",
        )
        acknowledge(
            self.execution,
            ("AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:*:<AWS::AccountId>:rule/*]",),
            "The forwarding rules get CloudFormation-made names in each region of Regions; the grant is "
            "the event rule actions of AWS::Events::Rule's handlers, on this account's rules only.",
        )

        self.stack_set = cloudformation.CfnStackSet(
            self,
            "StackSet",
            permission_model="SELF_MANAGED",
            stack_set_name=self.stack_set_name,
            description="ami-hygiene: forwards the jobs' events of every region in Regions to this region",
            administration_role_arn=self.administration.role_arn,
            execution_role_name=self.execution_role_name,
            template_body=template_body(forwarding_template(rules)),
            parameters=[
                cloudformation.CfnStackSet.ParameterProperty(parameter_key=key, parameter_value=value)
                for key, value in (
                    (TARGET_BUS_ARN, self.home_bus_arn),
                    (FORWARDER_ROLE_ARN, self.forwarder.role_arn),
                    (OWN_ROLE_ARNS, Fn.join(",", list(own_roles))),
                    (SKIP_REGION, Aws.REGION),
                )
            ],
            stack_instances_group=[
                cloudformation.CfnStackSet.StackInstancesProperty(
                    deployment_targets=cloudformation.CfnStackSet.DeploymentTargetsProperty(
                        accounts=[Aws.ACCOUNT_ID]
                    ),
                    regions=Fn.split(",", parameters.value("Regions")),
                )
            ],
            operation_preferences=cloudformation.CfnStackSet.OperationPreferencesProperty(
                region_concurrency_type="PARALLEL", max_concurrent_percentage=100, failure_tolerance_count=0
            ),
        )
        for role in (self.forwarder, self.administration, self.execution):
            cast(iam.CfnRole, role.node.default_child).cfn_options.condition = self.condition
        self.stack_set.cfn_options.condition = self.condition
        # Created after its roles, deleted before them: deleting the stack instances needs the
        # administration and execution roles and their (inline) policies. The StackSet refers to the
        # administration and forwarder roles' ARNs; the execution role only by name, hence DependsOn.
        self.stack_set.add_resource_dependency(cast(iam.CfnRole, self.execution.node.default_child))
