"""The jobs' roles: one per job, least privilege, rotate's calls; writes only in enforce mode.

Each job's own reads and writes: test_permissions_tags.py, _public.py, _rebuild.py.
"""

from __future__ import annotations

import json
import re

import pytest

from infra.permissions import (
    CONSUMER_ORGANIZATION_ACTIONS,
    ROTATION_READ_ACTIONS,
    ROTATION_WRITE_ACTIONS,
    SWEEP_READ_ACTIONS,
)
from tests.helpers.constants import REGION
from tests.helpers.synthesized import Synthesized
from tests.helpers.template import (
    ENFORCE_CONDITION,
    MODE_PARAMETER,
    actions_of,
    evaluated,
    job_function,
    policies_of,
    statements_of,
    write_policy,
)

# -- one role per job ----------------------------------------------------------------------------


def test_one_role_per_job_with_only_the_calls_the_job_makes(synth: Synthesized) -> None:
    roles = synth.resources("AWS::IAM::Role")
    lambda_roles = [
        k
        for k, v in roles.items()
        if "lambda.amazonaws.com" in json.dumps(v["Properties"]["AssumeRolePolicyDocument"])
    ]
    functions = synth.resources("AWS::Lambda::Function").values()
    assert sorted(lambda_roles) == sorted(f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions)
    role_id = job_function(synth, "rotate")[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in roles[role_id]["Properties"]
    actions = {
        a for p in policies_of(synth, role_id).values() for s in statements_of(p) for a in actions_of(s)
    }
    assert actions == {
        *ROTATION_READ_ACTIONS,
        *SWEEP_READ_ACTIONS,  # the Allowed AMIs setting, for the sweep's warning
        *CONSUMER_ORGANIZATION_ACTIONS,  # only while ConsumerRoleName is set
        "sts:AssumeRole",  # the consumer role, by that name only
        "ec2:DescribeImageAttribute",
        "ssm:GetParameters",
        "imagebuilder:GetContainerRecipe",
        *ROTATION_WRITE_ACTIONS,
        "ec2:DeleteSnapshot",
        "ec2:CreateTags",
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "s3:PutObject",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "dynamodb:PutItem",  # its own sweep lease
        "dynamodb:DeleteItem",
    }
    assert not any(a.endswith("*") for a in actions)


def test_every_wildcard_resource_is_fenced_by_a_condition_or_is_x_ray(synth: Synthesized) -> None:
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in statements_of(policy):
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if not any("*" in json.dumps(r) for r in resources):
                continue
            if actions_of(statement) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}:
                continue
            if actions_of(statement) == {"s3:PutObject"}:
                assert re.search(r"/reports/(rotate|tags|public|rebuild)/\*", json.dumps(resources))
                continue
            if (
                actions_of(statement) == {"sts:AssumeRole"}
                or statement.get("Sid") == "ListOrganizationAccountsForShares"
            ):
                # Global services; the fence is the one role name given and the policy's condition.
                assert policy.get("Condition") == "ReadsConsumers", statement
                if actions_of(statement) == {"sts:AssumeRole"}:
                    assert {"Ref": "ConsumerRoleName"} in statement["Resource"]["Fn::Join"][1]
                continue
            if actions_of(statement) == {"iam:PassRole"}:
                # IAM is global: no region; the service the role may be given to is the fence.
                assert "iam:PassedToService" in statement["Condition"]["StringEquals"], statement
                continue
            assert "aws:RequestedRegion" in statement.get("Condition", {}).get("StringEquals", {}), statement


# -- rotate --------------------------------------------------------------------------------------


def test_writes_exist_only_in_enforce_mode_and_only_on_owned_resources_in_the_regions(
    synth: Synthesized,
) -> None:
    fn_id, fn = job_function(synth, "rotate")
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = policies_of(synth, role_id)
    write_actions = {*ROTATION_WRITE_ACTIONS, "ec2:DeleteSnapshot", "ec2:CreateTags"}
    [(write_id, writes)] = [
        (k, p) for k, p in policies.items() if any(actions_of(s) & write_actions for s in statements_of(p))
    ]
    assert writes["Condition"] == "EnforceMode"
    for statement in statements_of(writes):
        assert statement["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}
        assert "aws:RequestedRegion" in statement["Condition"]["StringEquals"]
        assert statement["Resource"] != "*"
        if "ec2:CreateTags" in actions_of(statement):
            assert statement["Condition"]["ForAllValues:StringLike"] == {"aws:TagKeys": ["ami-hygiene:*"]}
    # The function waits for the policies that always exist, never for the conditional one.
    assert write_id not in synth.template["Resources"][fn_id]["DependsOn"]

    report = evaluated(synth.template)
    enforce = evaluated(synth.template, RotationMode="enforce")
    assert (report.created(write_id), enforce.created(write_id)) == (False, True)


def test_region_condition_is_the_regions_parameter_or_the_stack_region(synth: Synthesized) -> None:
    _, fn = job_function(synth, "rotate")
    policies = policies_of(synth, fn["Properties"]["Role"]["Fn::GetAtt"][0])
    [reads] = [
        p for p in policies.values() if any("ec2:DescribeImages" in actions_of(s) for s in statements_of(p))
    ]
    condition = statements_of(reads)[0]["Condition"]["StringEquals"]["aws:RequestedRegion"]
    assert evaluated(synth.template).value(condition) == [REGION]
    assert evaluated(synth.template, Regions="eu-west-1,us-east-1").value(condition) == [
        "eu-west-1",
        "us-east-1",
    ]


# -- the tags, public and rebuild jobs -----------------------------------------------------------


@pytest.mark.parametrize("job", sorted(ENFORCE_CONDITION))
def test_write_policy_exists_only_while_the_jobs_mode_is_enforce(synth: Synthesized, job: str) -> None:
    fn_id, _ = job_function(synth, job)
    write_id, writes = write_policy(synth, job)
    assert writes["Condition"] == ENFORCE_CONDITION[job]
    assert write_id not in synth.template["Resources"][fn_id]["DependsOn"]
    report = evaluated(synth.template)
    enforce = evaluated(synth.template, **{MODE_PARAMETER[job]: "enforce"})
    other = evaluated(synth.template, RotationMode="enforce", **{MODE_PARAMETER[job]: "report"})
    assert (enforce.created(write_id), other.created(write_id)) == (True, False)
    # Tags defaults to enforce (it only adds tags); the others default to report.
    assert report.created(write_id) is (job == "tags")
