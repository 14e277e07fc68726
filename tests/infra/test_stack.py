"""The synthesized template: parameters, function, least-privilege role, reporting, Recycle Bin."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ami_hygiene.core.estate import TAG_RETIRED_BY
from ami_hygiene.core.observability import METRIC_NAMES, NAMESPACE
from infra.parameters import GROUPS, SPECS
from infra.permissions import (
    CONSUMER_ORGANIZATION_ACTIONS,
    ROTATION_READ_ACTIONS,
    ROTATION_WRITE_ACTIONS,
    SWEEP_READ_ACTIONS,
)
from tests.infra.cfn import Evaluator, parameter_values
from tests.infra.synthesized import Synthesized, synthesize

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ROTATE_HANDLER = "ami_hygiene.handlers.rotate.handler"


@pytest.fixture(scope="module")
def synth() -> Synthesized:
    return synthesize()


@pytest.fixture(scope="module")
def template(synth: Synthesized) -> dict[str, Any]:
    return synth.template


def _evaluator(template: dict[str, Any], **given: str) -> Evaluator:
    return Evaluator(template, parameter_values(template, given), region=REGION, account=ACCOUNT)


def _one(synth: Synthesized, resource_type: str) -> tuple[str, dict[str, Any]]:
    found = synth.resources(resource_type)
    assert len(found) == 1, (resource_type, list(found))
    return next(iter(found.items()))


def _rotate_function(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    [(logical_id, fn)] = [
        (k, v)
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == ROTATE_HANDLER
    ]
    return logical_id, fn


def _role_policies(synth: Synthesized, role_id: str) -> dict[str, dict[str, Any]]:
    return {
        k: v
        for k, v in synth.resources("AWS::IAM::Policy").items()
        if {"Ref": role_id} in v["Properties"]["Roles"]
    }


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


# -- parameters ---------------------------------------------------------------------------


def test_every_parameter_has_a_description_a_constraint_and_a_label(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [name for group in interface["ParameterGroups"] for name in group["Parameters"]]
    for spec in SPECS:
        param = params[spec.name]
        assert param["Description"] and param["ConstraintDescription"], spec.name
        assert {"AllowedValues", "AllowedPattern", "MinValue"} & set(param), spec.name
        assert interface["ParameterLabels"][spec.name]["default"] == spec.label
        assert grouped.count(spec.name) == 1, spec.name
    assert [g["Label"]["default"] for g in interface["ParameterGroups"]] == [label for label, _ in GROUPS]
    # Only CDK's bootstrap-version check is left out of the groups.
    assert set(params) - set(grouped) == {"BootstrapVersion"}


def test_the_issue_parameters_and_their_defaults(template: dict[str, Any]) -> None:
    defaults = parameter_values(template, {})
    assert defaults == {
        "RotationMode": "report",
        "RetentionDays": "90",
        "KeepLatest": "3",
        "DisableGraceDays": "14",
        "MaxActionsPerRun": "100",
        "AllowedShareAccounts": "",
        "ConsumerRoleName": "",
        "ConsumerUsageUnknown": "keep",
        "Regions": "",
        "RotationSchedule": "cron(0 6 * * ? *)",
        "AlertEmail": "",
        "NotifyAllClean": "false",
        "RecycleBinDays": "14",
        "TagPolicyMode": "enforce",
        "RequiredTags": "",
        "TagGraceHours": "24",
        "TagEscalationDays": "0",
        "PropagateTags": "",
        "PublicSharingMode": "report",
        "SharingChecksPerRun": "1000",
        "RebuildMode": "report",
        "MaxImageAgeDays": "30",
        "FamilyPipelines": "",
        "AutomationInstanceProfile": "",
        "AutomationSecurityGroupIds": "",
        "AutomationSubnetId": "",
        "AutomationInstanceTypes": "arm64=t4g.medium,x86_64=t3.medium",
        "BaseParameterPaths": "",
        "CreateSamplePipeline": "false",
        "TagSweepSchedule": "rate(1 day)",
        "PublicScanSchedule": "rate(6 hours)",
        "RebuildSchedule": "rate(1 day)",
    }


def test_parameters_reach_the_function_as_the_cli_environment_variables(synth: Synthesized) -> None:
    _, fn = _rotate_function(synth)
    env = fn["Properties"]["Environment"]["Variables"]
    assert {
        k: v for k, v in env.items() if isinstance(v, dict) and v.get("Ref") in {s.name for s in SPECS}
    } == {
        "MODE": {"Ref": "RotationMode"},
        "RETENTION_DAYS": {"Ref": "RetentionDays"},
        "KEEP_LATEST": {"Ref": "KeepLatest"},
        "DISABLE_GRACE_DAYS": {"Ref": "DisableGraceDays"},
        "MAX_ACTIONS": {"Ref": "MaxActionsPerRun"},
        "ALLOWED_SHARE_ACCOUNTS": {"Ref": "AllowedShareAccounts"},
        "CONSUMER_ROLE_NAME": {"Ref": "ConsumerRoleName"},
        "CONSUMER_USAGE_UNKNOWN": {"Ref": "ConsumerUsageUnknown"},
        "REGIONS": {"Ref": "Regions"},
        "NOTIFY_ALL_CLEAN": {"Ref": "NotifyAllClean"},
    }
    assert env["POWERTOOLS_SERVICE_NAME"] == "ami-hygiene"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE


# -- the rotation function ----------------------------------------------------------------


def test_rotation_function_runtime_limits_and_logging(synth: Synthesized) -> None:
    from aws_cdk import aws_lambda

    _, fn = _rotate_function(synth)
    props = fn["Properties"]
    newest_python = max(
        (r.name for r in aws_lambda.Runtime.ALL if r.name.startswith("python3.")),
        key=lambda n: int(n.split(".")[1]),
    )
    assert props["Runtime"] == newest_python
    assert (props["Timeout"], props["MemorySize"]) == (300, 1024)
    assert "ReservedConcurrentExecutions" not in props  # the sweep lease keeps two sweeps apart
    assert props["TracingConfig"] == {"Mode": "Active"}
    log_group = synth.template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup" and log_group["Properties"]["RetentionInDays"] == 90
    assert "Layers" not in props  # dependencies are bundled with the code


def test_failed_invocations_go_to_an_encrypted_queue_and_errors_alarm_the_topic(synth: Synthesized) -> None:
    fn_id, _ = _rotate_function(synth)
    [invoke] = [
        v
        for v in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if v["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    queue_id = invoke["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = synth.template["Resources"][queue_id]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert invoke["Properties"]["MaximumRetryAttempts"] == 0
    topic_id, _ = _one(synth, "AWS::SNS::Topic")
    [alarm] = [
        a
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": fn_id}}]
    ]
    assert alarm["Properties"]["MetricName"] == "Errors"
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]


def test_schedule_rule_invokes_the_function_with_the_schedule_parameter(synth: Synthesized) -> None:
    fn_id, _ = _rotate_function(synth)
    [rule] = [
        r
        for r in synth.resources("AWS::Events::Rule").values()
        if r["Properties"].get("ScheduleExpression") == {"Ref": "RotationSchedule"}
    ]
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    assert "DeadLetterConfig" in target


# -- least privilege ----------------------------------------------------------------------


def test_one_role_per_job_with_only_the_calls_the_job_makes(synth: Synthesized) -> None:
    roles = synth.resources("AWS::IAM::Role")
    lambda_roles = [
        k
        for k, v in roles.items()
        if "lambda.amazonaws.com" in json.dumps(v["Properties"]["AssumeRolePolicyDocument"])
    ]
    functions = synth.resources("AWS::Lambda::Function").values()
    assert sorted(lambda_roles) == sorted(f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions)
    role_id = _rotate_function(synth)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in roles[role_id]["Properties"]
    actions = {
        a for p in _role_policies(synth, role_id).values() for s in _statements(p) for a in _actions(s)
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


def test_writes_exist_only_in_enforce_mode_and_only_on_owned_resources_in_the_regions(
    synth: Synthesized,
) -> None:
    fn_id, fn = _rotate_function(synth)
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = _role_policies(synth, role_id)
    write_actions = {*ROTATION_WRITE_ACTIONS, "ec2:DeleteSnapshot", "ec2:CreateTags"}
    [(write_id, writes)] = [
        (k, p) for k, p in policies.items() if any(_actions(s) & write_actions for s in _statements(p))
    ]
    assert writes["Condition"] == "EnforceMode"
    for statement in _statements(writes):
        assert statement["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}
        assert "aws:RequestedRegion" in statement["Condition"]["StringEquals"]
        assert statement["Resource"] != "*"
        if "ec2:CreateTags" in _actions(statement):
            assert statement["Condition"]["ForAllValues:StringLike"] == {"aws:TagKeys": ["ami-hygiene:*"]}
    # The function waits for the policies that always exist, never for the conditional one.
    assert write_id not in synth.template["Resources"][fn_id]["DependsOn"]

    report = _evaluator(synth.template)
    enforce = _evaluator(synth.template, RotationMode="enforce")
    assert (report.created(write_id), enforce.created(write_id)) == (False, True)


def test_region_condition_is_the_regions_parameter_or_the_stack_region(synth: Synthesized) -> None:
    _, fn = _rotate_function(synth)
    policies = _role_policies(synth, fn["Properties"]["Role"]["Fn::GetAtt"][0])
    [reads] = [
        p for p in policies.values() if any("ec2:DescribeImages" in _actions(s) for s in _statements(p))
    ]
    condition = _statements(reads)[0]["Condition"]["StringEquals"]["aws:RequestedRegion"]
    assert _evaluator(synth.template).value(condition) == [REGION]
    assert _evaluator(synth.template, Regions="eu-west-1,us-east-1").value(condition) == [
        "eu-west-1",
        "us-east-1",
    ]


def test_every_wildcard_resource_is_fenced_by_a_condition_or_is_x_ray(synth: Synthesized) -> None:
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in _statements(policy):
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if not any("*" in json.dumps(r) for r in resources):
                continue
            if _actions(statement) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}:
                continue
            if _actions(statement) == {"s3:PutObject"}:
                assert re.search(r"/reports/(rotate|tags|public|rebuild)/\*", json.dumps(resources))
                continue
            if (
                _actions(statement) == {"sts:AssumeRole"}
                or statement.get("Sid") == "ListOrganizationAccountsForShares"
            ):
                # Global services; the fence is the one role name given and the policy's condition.
                assert policy.get("Condition") == "ReadsConsumers", statement
                if _actions(statement) == {"sts:AssumeRole"}:
                    assert {"Ref": "ConsumerRoleName"} in statement["Resource"]["Fn::Join"][1]
                continue
            if _actions(statement) == {"iam:PassRole"}:
                # IAM is global: no region; the service the role may be given to is the fence.
                assert "iam:PassedToService" in statement["Condition"]["StringEquals"], statement
                continue
            assert "aws:RequestedRegion" in statement.get("Condition", {}).get("StringEquals", {}), statement


# -- reporting ----------------------------------------------------------------------------


def test_topic_uses_a_rotating_customer_managed_key_and_tls_only(synth: Synthesized) -> None:
    topic_id, topic = _one(synth, "AWS::SNS::Topic")
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert synth.template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    _, policy = _one(synth, "AWS::SNS::TopicPolicy")
    [deny] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]


def test_email_subscription_only_when_an_address_is_given(synth: Synthesized) -> None:
    sub_id, sub = _one(synth, "AWS::SNS::Subscription")
    assert sub["Properties"]["Protocol"] == "email"
    assert sub["Properties"]["Endpoint"] == {"Ref": "AlertEmail"}
    assert _evaluator(synth.template).created(sub_id) is False
    assert _evaluator(synth.template, AlertEmail="ops@example.com").created(sub_id) is True


def test_report_bucket_is_encrypted_private_tls_only_and_expires_reports(synth: Synthesized) -> None:
    bucket_id, bucket = _one(synth, "AWS::S3::Bucket")
    props = bucket["Properties"]
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(props["PublicAccessBlockConfiguration"].values())
    [expiry] = props["LifecycleConfiguration"]["Rules"]
    assert expiry["ExpirationInDays"] == 90 and expiry["Prefix"] == "reports/"
    _, policy = _one(synth, "AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_dashboard_shows_every_job_metric(synth: Synthesized) -> None:
    _, board = _one(synth, "AWS::CloudWatch::Dashboard")
    body = json.dumps(board["Properties"]["DashboardBody"])
    for name in METRIC_NAMES:
        assert f'\\"{NAMESPACE}\\",\\"{name}\\"' in body, name


# -- Recycle Bin ---------------------------------------------------------------------------


def test_recycle_bin_keeps_only_what_rotation_retired_and_can_be_turned_off(synth: Synthesized) -> None:
    rules = synth.resources("AWS::Rbin::Rule")
    assert sorted(r["Properties"]["ResourceType"] for r in rules.values()) == ["EBS_SNAPSHOT", "EC2_IMAGE"]
    for rule in rules.values():
        assert rule["Properties"]["ResourceTags"] == [
            {"ResourceTagKey": TAG_RETIRED_BY, "ResourceTagValue": "rotate"}
        ]
        assert rule["Properties"]["RetentionPeriod"] == {
            "RetentionPeriodUnit": "DAYS",
            "RetentionPeriodValue": {"Ref": "RecycleBinDays"},
        }
    on, off = _evaluator(synth.template), _evaluator(synth.template, RecycleBinDays="0")
    assert all(on.created(k) and not off.created(k) for k in rules)
