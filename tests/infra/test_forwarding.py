"""The regional forwarding: a self-managed StackSet that sends every region's job events home.

The StackSet as the AmiHygiene template declares it (its roles, its instances, its
parameters), and the forwarding template it deploys (infra/forwarding.py) as
CloudFormation would evaluate it in each region (tests/helpers/cfn.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ami_hygiene.core.job import EventRule
from ami_hygiene.registry import JOBS
from infra.forwarding import TEMPLATE_BODY_MAX, forwarding_template, local_role_arn, template_body
from tests.helpers.cfn import Evaluator, ParameterError, parameter_values
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REGION
from tests.helpers.synthesized import Synthesized
from tests.helpers.template import job_function, role_of

RULES = tuple(rule for spec in JOBS for rule in spec.events)
REGIONS = f"{REGION},{OTHER_REGION},ap-southeast-2"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/AmiHygiene/5f7e6d4c-3b2a-4190-8f7e-6d5c4b3a2910"
LINT_REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]
MEMBER = "444455556666"
# A caller's own parameter, as infra/member.py declares MemberRoleName.
ROLE_NAME_PARAMETER = {"MemberName": {"Type": "String", "AllowedPattern": r"^[\w+=,.@-]{1,64}$"}}


def _logical_id(synth: Synthesized, construct: Any) -> str:
    return str(synth.stack.resolve(construct.node.default_child.logical_id))


def _ids(synth: Synthesized) -> dict[str, str]:
    forwarding = synth.stack.forwarding
    return {
        "stack_set": str(synth.stack.resolve(forwarding.stack_set.logical_id)),
        "administration": _logical_id(synth, forwarding.administration),
        "execution": _logical_id(synth, forwarding.execution),
        "forwarder": _logical_id(synth, forwarding.forwarder),
    }


def _role_arns(synth: Synthesized) -> dict[str, str]:
    """Every role's ARN as a deployed stack has it (its logical id as its name), for Fn::GetAtt."""
    return {f"{k}.Arn": f"arn:aws:iam::{ACCOUNT}:role/{k}" for k in synth.resources("AWS::IAM::Role")}


def _stack(synth: Synthesized, **given: str) -> Evaluator:
    """The AmiHygiene template as CloudFormation evaluates it in REGION for these parameter values."""
    return Evaluator(
        synth.template,
        parameter_values(synth.template, given),
        region=REGION,
        account=ACCOUNT,
        resources={**_role_arns(synth), "AWS::StackId": STACK_ID, "AWS::StackName": "AmiHygiene"},
    )


def _stack_set(synth: Synthesized) -> dict[str, Any]:
    return dict(synth.template["Resources"][_ids(synth)["stack_set"]])


def _instance_parameters(synth: Synthesized, **given: str) -> dict[str, str]:
    """The parameter values the StackSet gives each stack instance."""
    props = _stack(synth, **given).value(_stack_set(synth)["Properties"])
    return {p["ParameterKey"]: p["ParameterValue"] for p in props["Parameters"]}


def _instance(template: dict[str, Any], parameters: dict[str, str], region: str) -> Evaluator:
    """The forwarding template as one stack instance evaluates it, in `region` of this account."""
    return Evaluator(template, parameter_values(template, parameters), region=region, account=ACCOUNT)


def _created_rules(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    instance = _instance(template, parameters, region)
    return {
        k: instance.value(v["Properties"])
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Events::Rule" and instance.created(k)
    }


def _deployed_template(synth: Synthesized) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_stack_set(synth)["Properties"]["TemplateBody"])
    return loaded


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


# -- the StackSet --------------------------------------------------------------------------------


def test_the_stack_set_is_self_managed_by_its_own_two_roles(synth: Synthesized) -> None:
    ids = _ids(synth)
    stack_set = _stack_set(synth)
    props = stack_set["Properties"]
    assert props["PermissionModel"] == "SELF_MANAGED"
    assert props["AdministrationRoleARN"] == {"Fn::GetAtt": [ids["administration"], "Arn"]}
    execution = synth.template["Resources"][ids["execution"]]
    assert props["ExecutionRoleName"] == execution["Properties"]["RoleName"]
    stack = _stack(synth, Regions=REGIONS)
    name = stack.value(props["ExecutionRoleName"])
    assert name == "AmiHygieneForwarding-5f7e6d4c-3b2a-4190-8f7e-6d5c4b3a2910" and len(name) <= 64
    assert stack.value(props["StackSetName"]) == "AmiHygiene-RegionalForwarding"
    # Deleted before its roles: the execution role is named, not referred to, so DependsOn says it.
    assert ids["execution"] in stack_set["DependsOn"]
    # No IAM resources in the forwarding template: no capability to acknowledge.
    assert "Capabilities" not in props


def test_its_instances_are_this_account_in_every_region_of_regions_in_parallel(synth: Synthesized) -> None:
    props = _stack(synth, Regions=REGIONS).value(_stack_set(synth)["Properties"])
    [group] = props["StackInstancesGroup"]
    assert group == {"DeploymentTargets": {"Accounts": [ACCOUNT]}, "Regions": REGIONS.split(",")}
    assert props["OperationPreferences"]["RegionConcurrencyType"] == "PARALLEL"
    assert props["OperationPreferences"]["MaxConcurrentPercentage"] == 100


def test_without_regions_nothing_of_it_is_created(synth: Synthesized) -> None:
    ids = _ids(synth)
    resources = synth.template["Resources"]
    assert {resources[i].get("Condition") for i in ids.values()} == {"ForwardsRegions"}
    assert not any(_stack(synth, Regions="").created(i) for i in ids.values())
    assert all(_stack(synth, Regions=REGIONS).created(i) for i in ids.values())
    assert all(_stack(synth, Regions=REGION).created(i) for i in ids.values())


def test_each_instance_forwards_to_the_stack_regions_default_bus_skipping_that_region(
    synth: Synthesized,
) -> None:
    given = _instance_parameters(synth, Regions=REGIONS)
    forwarder = _ids(synth)["forwarder"]
    own = [_role_arns(synth)[f"{role_of(synth, job)}.Arn"] for job in ("rotate", "tags", "public", "rebuild")]
    assert given == {
        "TargetBusArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
        "ForwarderRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{forwarder}",
        "OwnRoleArns": ",".join(own),
        "SkipRegion": REGION,
    }
    # The same roles the functions leave out (OWN_ROLE_ARNS).
    env = job_function(synth, "public")[1]["Properties"]["Environment"]["Variables"]
    assert _stack(synth).value(env["OWN_ROLE_ARNS"]) == given["OwnRoleArns"]


# -- its roles -----------------------------------------------------------------------------------


def test_cloudformation_may_assume_the_administration_role_for_this_stack_set_only(
    synth: Synthesized,
) -> None:
    ids = _ids(synth)
    role = _stack(synth, Regions=REGIONS).value(synth.template["Resources"][ids["administration"]])
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    stack_sets = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stackset/AmiHygiene-RegionalForwarding:*"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "StringLike": {"aws:SourceArn": stack_sets},
    }
    assert "ManagedPolicyArns" not in role["Properties"]
    [statement] = _statements(role)
    name = "AmiHygieneForwarding-5f7e6d4c-3b2a-4190-8f7e-6d5c4b3a2910"
    assert statement == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Resource": f"arn:aws:iam::{ACCOUNT}:role/{name}",
    }


def test_the_execution_role_is_trusted_by_the_administration_role_only(synth: Synthesized) -> None:
    ids = _ids(synth)
    role = synth.template["Resources"][ids["execution"]]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Principal": {"AWS": {"Fn::GetAtt": [ids["administration"], "Arn"]}},
    }
    assert "ManagedPolicyArns" not in role["Properties"]


def test_the_execution_role_may_do_only_what_the_stack_instances_need(synth: Synthesized) -> None:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    ids = _ids(synth)
    role = _stack(synth, Regions=REGIONS).value(synth.template["Resources"][ids["execution"]])
    by_sid = {s["Sid"]: s for s in _statements(role)}
    assert set(by_sid) == {"StackSetsMinimum", "ForwardingRules", "PassForwarderRole"}
    # The CloudFormation user guide's minimum for a StackSets execution role.
    assert _actions(by_sid["StackSetsMinimum"]) == {"cloudformation:*", "s3:*"}
    assert by_sid["StackSetsMinimum"]["Resource"] == "*"
    # Exactly the events actions AWS::Events::Rule's handlers call (its resource provider schema).
    handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, "AWS::Events::Rule").schema["handlers"]
    needed = {a for verb in ("create", "read", "update", "delete") for a in handlers[verb]["permissions"]}
    assert _actions(by_sid["ForwardingRules"]) == {a for a in needed if a.startswith("events:")}
    assert by_sid["ForwardingRules"]["Resource"] == f"arn:aws:events:*:{ACCOUNT}:rule/*"
    # iam:PassRole (the handlers' other need): the forwarder role, to EventBridge only.
    assert needed - _actions(by_sid["ForwardingRules"]) == {"iam:PassRole"}
    assert by_sid["PassForwarderRole"] == {
        "Sid": "PassForwarderRole",
        "Action": "iam:PassRole",
        "Effect": "Allow",
        "Resource": f"arn:aws:iam::{ACCOUNT}:role/{ids['forwarder']}",
        "Condition": {"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}},
    }


def test_the_forwarder_role_may_only_put_events_on_the_home_bus(synth: Synthesized) -> None:
    role = _stack(synth, Regions=REGIONS).value(synth.template["Resources"][_ids(synth)["forwarder"]])
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    [statement] = _statements(role)
    assert statement == {
        "Action": "events:PutEvents",
        "Effect": "Allow",
        "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
    }


def test_the_execution_roles_wildcards_are_acknowledged_with_reasons(synth: Synthesized) -> None:
    role = synth.template["Resources"][_ids(synth)["execution"]]
    acknowledged = {a["id"]: a["reason"] for a in role["Metadata"]["cdk_nag"]["rules_to_suppress"]}
    assert set(acknowledged) == {
        "AwsSolutions-IAM5[Action::cloudformation:*]",
        "AwsSolutions-IAM5[Action::s3:*]",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:*:<AWS::AccountId>:rule/*]",
    }
    assert all(len(reason) > 40 for reason in acknowledged.values())


# -- the forwarding template ---------------------------------------------------------------------


def test_the_stack_set_deploys_the_forwarding_template_of_every_job_rule(synth: Synthesized) -> None:
    body = _stack_set(synth)["Properties"]["TemplateBody"]
    assert body == template_body(forwarding_template(RULES))
    rules = {k for k, v in _deployed_template(synth)["Resources"].items() if v["Type"] == "AWS::Events::Rule"}
    assert rules == {rule.name for rule in RULES} and len(rules) == 5


def test_the_template_body_is_within_the_api_limit(synth: Synthesized) -> None:
    size = len(_stack_set(synth)["Properties"]["TemplateBody"].encode())
    assert size < TEMPLATE_BODY_MAX == 51_200
    assert size < 10_000  # 5 rules; the limit leaves room for ~50


def test_a_template_past_the_limit_is_refused_at_synth() -> None:
    many = [
        EventRule(f"Rule{n}", "x" * 200, "aws.ec2", "AWS API Call via CloudTrail", {"eventName": ["X"] * 50})
        for n in range(100)
    ]
    with pytest.raises(ValueError, match="TemplateBody takes 51200"):
        template_body(forwarding_template(many))


def _home_patterns(synth: Synthesized) -> dict[str, Any]:
    """Each job rule's pattern as the stack region's rule has it, deployed (role ARNs resolved)."""
    stack = _stack(synth)
    found = {}
    for rule in RULES:
        [home] = [
            v for k, v in synth.resources("AWS::Events::Rule").items() if k.startswith(f"{rule.name}Rule")
        ]
        found[rule.name] = stack.value(home["Properties"]["EventPattern"])
    return found


def test_every_region_forwards_exactly_the_home_rules_patterns(synth: Synthesized) -> None:
    home = _home_patterns(synth)
    template = _deployed_template(synth)
    rules = _created_rules(template, _instance_parameters(synth, Regions=REGIONS), OTHER_REGION)
    assert {name: rule["EventPattern"] for name, rule in rules.items()} == home
    # The own-writes exclusion is there, naming the four job roles, where the home rule has it.
    excluded = [rule.name for rule in RULES if rule.own_writes_excluded]
    assert sorted(excluded) == ["PublicSharingCalls", "TagsImageCalls"]
    for name in excluded:
        issuer = rules[name]["EventPattern"]["detail"]["$or"][1]["userIdentity"]["sessionContext"]
        assert len(issuer["sessionIssuer"]["arn"][0]["anything-but"]) == 4


def test_each_rule_sends_to_the_target_bus_with_the_forwarder_role(synth: Synthesized) -> None:
    given = _instance_parameters(synth, Regions=REGIONS)
    for rule in _created_rules(_deployed_template(synth), given, OTHER_REGION).values():
        assert rule["EventBusName"] == "default" and rule["State"] == "ENABLED"
        assert rule["Targets"] == [
            {"Id": "ForwardToEventBus", "Arn": given["TargetBusArn"], "RoleArn": given["ForwarderRoleArn"]}
        ]
        assert rule["Description"].startswith(f"ami-hygiene: forwards to {given['TargetBusArn']}: ")


def test_the_skipped_region_gets_an_instance_without_rules(synth: Synthesized) -> None:
    template = _deployed_template(synth)
    given = _instance_parameters(synth, Regions=REGIONS)
    assert _created_rules(template, given, REGION) == {}
    assert len(_created_rules(template, given, OTHER_REGION)) == len(RULES)
    # The instance is still a valid stack: one unconditional resource is always created.
    always = [k for k, v in template["Resources"].items() if "Condition" not in v]
    assert always == ["StackInstance"]
    assert template["Resources"]["StackInstance"]["Type"] == "AWS::CloudFormation::WaitConditionHandle"
    # SkipRegion "" (the hub's member accounts): every region forwards.
    assert len(_created_rules(template, {**given, "SkipRegion": ""}, REGION)) == len(RULES)


def test_without_own_roles_the_rules_forward_every_call(synth: Synthesized) -> None:
    template = forwarding_template(RULES)
    given = {**_instance_parameters(synth, Regions=REGIONS), "OwnRoleArns": ""}
    rules = _created_rules(template, given, OTHER_REGION)
    home = _home_patterns(synth)
    for name, rule in rules.items():
        expected = json.loads(json.dumps(home[name]))
        expected.get("detail", {}).pop("$or", None)
        assert rule["EventPattern"] == expected
    assert "anything-but" not in json.dumps(rules)


@pytest.mark.parametrize(
    ("names", "extra", "given"),
    [
        (["AmiHygieneMember"], None, {}),
        ([{"Ref": "MemberName"}], ROLE_NAME_PARAMETER, {"MemberName": "AmiHygieneMember"}),
    ],
    ids=["text", "parameter"],
)
def test_local_role_names_are_left_out_in_every_account(
    names: list[Any], extra: dict[str, Any] | None, given: dict[str, str]
) -> None:
    template = forwarding_template(RULES, local_role_names=names, extra_parameters=extra)
    member = f"arn:aws:iam::{MEMBER}:role/AmiHygieneMember"
    base = {
        "TargetBusArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/ami-hygiene",
        "ForwarderRoleArn": f"arn:aws:iam::{MEMBER}:role/Forwarder",
        "SkipRegion": "",
        **given,
    }
    for own, expected in (
        ("", [member]),
        (f"arn:aws:iam::{ACCOUNT}:role/Hub", [member, f"arn:aws:iam::{ACCOUNT}:role/Hub"]),
    ):
        instance = Evaluator(
            template,
            parameter_values(template, {**base, "OwnRoleArns": own}),
            region=REGION,
            account=MEMBER,
        )
        pattern = instance.value(template["Resources"]["PublicSharingCalls"]["Properties"]["EventPattern"])
        issuer = pattern["detail"]["$or"][1]["userIdentity"]["sessionContext"]["sessionIssuer"]
        assert issuer["arn"] == [{"anything-but": expected}]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (local_role_arn("Forwarder"), f"arn:aws:iam::{MEMBER}:role/Forwarder"),
        (f"arn:aws:iam::{ACCOUNT}:role/Shared", f"arn:aws:iam::{ACCOUNT}:role/Shared"),
    ],
    ids=["local", "literal"],
)
def test_a_given_forwarder_role_takes_the_place_of_its_parameter(role: Any, expected: str) -> None:
    template = forwarding_template(RULES, forwarder_role_arn=role)
    assert set(template["Parameters"]) == {"TargetBusArn", "OwnRoleArns", "SkipRegion"}
    given = {"TargetBusArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/hub"}
    instance = Evaluator(template, parameter_values(template, given), region=OTHER_REGION, account=MEMBER)
    rules = [v for v in template["Resources"].values() if v["Type"] == "AWS::Events::Rule"]
    assert len(rules) == len(RULES)
    for rule in rules:
        assert instance.value(rule["Properties"]["Targets"]) == [
            {"Id": "ForwardToEventBus", "Arn": given["TargetBusArn"], "RoleArn": expected}
        ]


def test_a_caller_declares_what_its_values_refer_to() -> None:
    named: dict[str, Any] = {"local_role_names": [{"Ref": "MemberName"}]}
    with pytest.raises(ValueError, match=r"undeclared parameters: \['MemberName'\]"):
        forwarding_template(RULES, **named)
    assert (
        "MemberName"
        in forwarding_template(RULES, **named, extra_parameters=ROLE_NAME_PARAMETER)["Parameters"]
    )
    # Fn::Sub names what it refers to in its text.
    sub = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${MemberName}"}
    with pytest.raises(ValueError, match="undeclared parameters"):
        forwarding_template(RULES, forwarder_role_arn=sub)
    forwarding_template(RULES, forwarder_role_arn=sub, extra_parameters=ROLE_NAME_PARAMETER)
    with pytest.raises(ValueError, match=r"nothing refers to: \['MemberName'\]"):
        forwarding_template(RULES, extra_parameters=ROLE_NAME_PARAMETER)
    with pytest.raises(ValueError, match="declares the parameter SkipRegion already"):
        forwarding_template(RULES, extra_parameters={"SkipRegion": {"Type": "String"}})
    with pytest.raises(ValueError, match="one CloudFormation intrinsic function"):
        forwarding_template(RULES, local_role_names=[{"Name": "AmiHygieneMember"}])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TargetBusArn", "default"),
        ("ForwarderRoleArn", "arn:aws:iam::1234:role/x"),
        ("OwnRoleArns", f"arn:aws:iam::{ACCOUNT}:role/a, arn:aws:iam::{ACCOUNT}:role/b"),
        ("SkipRegion", "Europe"),
    ],
)
def test_a_bad_parameter_is_refused_before_anything_is_created(name: str, value: str) -> None:
    template = forwarding_template(RULES)
    good = {
        "TargetBusArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
        "ForwarderRoleArn": f"arn:aws:iam::{ACCOUNT}:role/Forwarder",
    }
    assert parameter_values(template, good)["OwnRoleArns"] == ""
    with pytest.raises(ParameterError, match=name):
        parameter_values(template, {**good, name: value})


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"local_role_names": ["AmiHygieneMember"]},
        {
            "forwarder_role_arn": local_role_arn("Forwarder"),
            "local_role_names": [{"Ref": "MemberName"}],
            "extra_parameters": ROLE_NAME_PARAMETER,
        },
    ],
    ids=["single-account", "local-role", "member"],
)
def test_the_forwarding_template_lints_clean(arguments: dict[str, Any]) -> None:
    from cfnlint.api import ManualArgs, lint

    template = forwarding_template(RULES, **arguments)
    matches = lint(json.dumps(template), config=ManualArgs(regions=LINT_REGIONS))
    assert [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches] == []
