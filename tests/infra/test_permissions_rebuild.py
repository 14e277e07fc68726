"""The rebuild job's role and the role SSM Automation assumes: reads, scoped writes, passed roles."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from infra.permissions import SWEEP_READ_ACTIONS
from infra.permissions_rebuild import REBUILD_LIST_ACTIONS, REBUILD_WRITE_ACTIONS
from tests.helpers.cfn import Evaluator
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.synthesized import Synthesized
from tests.helpers.template import (
    actions_of,
    arn_of,
    evaluated,
    job_actions,
    job_function,
    policies_of,
    resources_of,
    role_of,
    statements_of,
    write_policy,
)

# -- the rebuild function's role -----------------------------------------------------------------


def test_rebuild_role_reads_always_and_writes_only_in_enforce(synth: Synthesized) -> None:
    always, conditional = job_actions(synth, "rebuild")
    assert always == {
        *REBUILD_LIST_ACTIONS,
        *SWEEP_READ_ACTIONS,
        "ssm:GetParameters",
        "ssm:GetParameter",
        "imagebuilder:GetImagePipeline",
        "imagebuilder:ListImagePipelineImages",
        "imagebuilder:GetImage",
        "ssm:GetAutomationExecution",
    }
    assert conditional == set(REBUILD_WRITE_ACTIONS)
    evaluator = evaluated(synth.template)
    reads = [
        s
        for p in policies_of(synth, role_of(synth, "rebuild")).values()
        if not p.get("Condition")
        for s in statements_of(p)
    ]
    [parameters] = [s for s in reads if "ssm:GetParameters" in actions_of(s)]
    assert _parameter_resources(evaluator, parameters) == ["arn:aws:ssm:*::parameter/aws/service/*"]


def _parameter_resources(evaluator: Evaluator, statement: dict[str, Any]) -> list[str]:
    """The statement's resources as CloudFormation leaves them (AWS::NoValue items dropped)."""
    return [str(v) for v in (evaluator.value(r) for r in resources_of(statement)) if v is not None]


def _can_read(resources: list[str], region: str, name: str) -> bool:
    """Whether an IAM resource list allows a parameter of this account (* matches anything, / too)."""
    arn = f"arn:aws:ssm:{region}:{ACCOUNT}:parameter{name}"
    return any(fnmatch.fnmatchcase(arn, resource) for resource in resources)


def test_rebuild_role_reads_the_private_base_parameter_paths_it_is_given_and_no_others(
    synth: Synthesized,
) -> None:
    reads = [
        s
        for p in policies_of(synth, role_of(synth, "rebuild")).values()
        if not p.get("Condition")
        for s in statements_of(p)
    ]
    [statement] = [s for s in reads if "ssm:GetParameters" in actions_of(s)]
    assert actions_of(statement) == {"ssm:GetParameters", "ssm:GetParameter"}
    given = evaluated(
        synth.template, BaseParameterPaths="/golden,/team/images", Regions="eu-west-1,us-east-1"
    )
    resources = _parameter_resources(given, statement)
    assert resources == [
        "arn:aws:ssm:*::parameter/aws/service/*",
        f"arn:aws:ssm:*:{ACCOUNT}:parameter/golden",
        f"arn:aws:ssm:*:{ACCOUNT}:parameter/golden/*",
        f"arn:aws:ssm:*:{ACCOUNT}:parameter/team/images",
        f"arn:aws:ssm:*:{ACCOUNT}:parameter/team/images/*",
    ]
    for name in ("/golden/base", "/golden/linux/arm64", "/team/images/web"):
        assert _can_read(resources, REGION, name), name
    for name in ("/secrets/db", "/goldenrod/base", "/team/other", "/team/imagesx/web"):
        assert not _can_read(resources, REGION, name), name
    # Another account's parameter under the same path is not this grant's.
    assert not any(
        fnmatch.fnmatchcase("arn:aws:ssm:eu-west-1:999988887777:parameter/golden/base", r) for r in resources
    )
    # Only in the Regions: the region is open in the ARN and held by aws:RequestedRegion.
    assert given.value(statement["Condition"]["StringEquals"]["aws:RequestedRegion"]) == [
        "eu-west-1",
        "us-east-1",
    ]
    # Without paths nothing private is readable; with the most the parameter allows, all of them are.
    none = _parameter_resources(evaluated(synth.template), statement)
    assert not _can_read(none, REGION, "/golden/base")
    five = "/a,/b,/c,/d,/e"
    everything = _parameter_resources(evaluated(synth.template, BaseParameterPaths=five), statement)
    assert all(_can_read(everything, REGION, f"{path}/base") for path in five.split(","))


def test_rebuild_writes_are_scoped(synth: Synthesized) -> None:
    _, writes = write_policy(synth, "rebuild")
    evaluator = evaluated(synth.template, RebuildMode="enforce")
    by_action = {a: s for s in statements_of(writes) for a in actions_of(s)}

    start = by_action["ssm:StartAutomationExecution"]
    assert actions_of(start) == {"ssm:StartAutomationExecution"}
    assert sorted(arn_of(evaluator, r) for r in resources_of(start)) == [
        "arn:aws:ssm:*:*:automation-definition/AWS-UpdateLinuxAmi:*",
        "arn:aws:ssm:*:*:automation-definition/AWS-UpdateWindowsAmi:*",
        "arn:aws:ssm:*:*:document/AWS-UpdateLinuxAmi",
        "arn:aws:ssm:*:*:document/AWS-UpdateWindowsAmi",
    ]

    pipelines = by_action["imagebuilder:StartImagePipelineExecution"]
    assert [arn_of(evaluator, r) for r in resources_of(pipelines)] == [
        f"arn:aws:imagebuilder:*:{ACCOUNT}:image-pipeline/*"
    ]

    pass_role = by_action["iam:PassRole"]
    assert actions_of(pass_role) == {"iam:PassRole"}
    _, fn = job_function(synth, "rebuild")
    assert resources_of(pass_role) == [fn["Properties"]["Environment"]["Variables"]["AUTOMATION_ROLE_ARN"]]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}

    tags = by_action["ec2:CreateTags"]
    assert tags["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}
    # Any key: an SSM-rebuilt image inherits the user's required tags too.
    assert "ForAllValues:StringLike" not in tags["Condition"]
    execution_tags = by_action["ssm:AddTagsToResource"]
    assert [arn_of(evaluator, r) for r in resources_of(execution_tags)] == [
        f"arn:aws:ssm:*:{ACCOUNT}:automation-execution/*"
    ]


# -- the automation role -------------------------------------------------------------------------


def test_rebuild_gets_the_automation_role_the_stack_creates(synth: Synthesized) -> None:
    _, fn = job_function(synth, "rebuild")
    [role_id, attribute] = fn["Properties"]["Environment"]["Variables"]["AUTOMATION_ROLE_ARN"]["Fn::GetAtt"]
    assert attribute == "Arn"
    trust = synth.template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "ssm.amazonaws.com"}]
    assert trust[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "automation-execution/*" in json.dumps(trust[0]["Condition"]["ArnLike"]["aws:SourceArn"])


def test_automation_role_has_what_the_runbooks_do_and_passes_roles_only_to_ec2(synth: Synthesized) -> None:
    _, fn = job_function(synth, "rebuild")
    role_id = fn["Properties"]["Environment"]["Variables"]["AUTOMATION_ROLE_ARN"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in synth.template["Resources"][role_id]["Properties"]
    statements = [s for p in policies_of(synth, role_id).values() for s in statements_of(p)]
    actions = {a for s in statements for a in actions_of(s)}
    assert {"ec2:RunInstances", "ec2:CreateImage", "ec2:TerminateInstances", "ssm:SendCommand"} <= actions
    assert not any(a.endswith("*") for a in actions)
    for statement in statements:
        if actions_of(statement) == {"iam:PassRole"}:
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
        else:
            assert "aws:RequestedRegion" in statement["Condition"]["StringEquals"]
