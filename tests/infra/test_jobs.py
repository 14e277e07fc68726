"""The tags, public and rebuild jobs: parameters, environment, rules, roles, the sample pipeline."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from ami_hygiene.core.estate import TAG_ESCALATED_AT, TAG_FAMILY, TAG_PIPELINE
from ami_hygiene.core.observability import JOB_IMAGE_METRICS, NAMESPACE, RUN_METRICS
from ami_hygiene.core.settings import Settings
from infra.lease_table import LEASE_ACTIONS
from infra.permissions import SWEEP_READ_ACTIONS
from infra.permissions_public import PUBLIC_LIST_ACTIONS, PUBLIC_WRITE_ACTIONS
from infra.permissions_rebuild import REBUILD_LIST_ACTIONS, REBUILD_WRITE_ACTIONS
from infra.permissions_tags import TAGS_READ_ACTIONS, TAGS_WRITE_ACTIONS
from infra.rebuild_pipeline import PARENT_IMAGE, PIPELINE_NAME
from tests.infra.cfn import Evaluator, ParameterError, parameter_values
from tests.infra.synthesized import Synthesized, synthesize

REGION = "eu-west-1"
ACCOUNT = "123456789012"
HANDLERS = {
    "rotate": "ami_hygiene.handlers.rotate.handler",
    "tags": "ami_hygiene.handlers.tags.handler",
    "public": "ami_hygiene.handlers.public.handler",
    "rebuild": "ami_hygiene.handlers.rebuild.handler",
}
ENFORCE = {"tags": "TagsEnforceMode", "public": "PublicEnforceMode", "rebuild": "RebuildEnforceMode"}
MODE_PARAMETER = {"tags": "TagPolicyMode", "public": "PublicSharingMode", "rebuild": "RebuildMode"}
REPORTING_ACTIONS = {
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
    *LEASE_ACTIONS,  # the job's own sweep lease (tested below)
}


@pytest.fixture(scope="module")
def synth() -> Synthesized:
    return synthesize()


def _evaluator(template: dict[str, Any], **given: str) -> Evaluator:
    return Evaluator(template, parameter_values(template, given), region=REGION, account=ACCOUNT)


def _function(synth: Synthesized, job: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, fn)] = [
        (k, v)
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == HANDLERS[job]
    ]
    return logical_id, fn


def _role_id(synth: Synthesized, job: str) -> str:
    return str(_function(synth, job)[1]["Properties"]["Role"]["Fn::GetAtt"][0])


def _policies(synth: Synthesized, role_id: str) -> dict[str, dict[str, Any]]:
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


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def _arn(evaluator: Evaluator, node: Any) -> str:
    return str(evaluator.value(node))


def _write_policy(synth: Synthesized, job: str) -> tuple[str, dict[str, Any]]:
    [(policy_id, policy)] = [
        (k, p) for k, p in _policies(synth, _role_id(synth, job)).items() if p.get("Condition")
    ]
    return policy_id, policy


def _job_actions(synth: Synthesized, job: str) -> tuple[set[str], set[str]]:
    """(actions in policies that always exist, actions only in the conditional write policy)."""
    always: set[str] = set()
    conditional: set[str] = set()
    for policy in _policies(synth, _role_id(synth, job)).values():
        actions = {a for s in _statements(policy) for a in _actions(s)}
        (conditional if policy.get("Condition") else always).update(actions)
    return always - REPORTING_ACTIONS, conditional


# -- parameters ---------------------------------------------------------------------------

NEW_PARAMETERS: dict[str, dict[str, Any]] = {
    "TagPolicyMode": {"Type": "String", "Default": "enforce", "AllowedValues": ["report", "enforce"]},
    "RequiredTags": {"Type": "String", "Default": "", "MaxLength": 1024},
    "TagGraceHours": {"Type": "Number", "Default": 24, "MinValue": 0, "MaxValue": 8760},
    "TagEscalationDays": {"Type": "Number", "Default": 0, "MinValue": 0, "MaxValue": 3650},
    "PropagateTags": {"Type": "String", "Default": ""},
    "TagSweepSchedule": {"Type": "String", "Default": "rate(1 day)"},
    "PublicSharingMode": {"Type": "String", "Default": "report", "AllowedValues": ["report", "enforce"]},
    "PublicScanSchedule": {"Type": "String", "Default": "rate(6 hours)"},
    "RebuildMode": {"Type": "String", "Default": "report", "AllowedValues": ["report", "enforce"]},
    "MaxImageAgeDays": {"Type": "Number", "Default": 30, "MinValue": 1, "MaxValue": 3650},
    "RebuildSchedule": {"Type": "String", "Default": "rate(1 day)"},
    "FamilyPipelines": {"Type": "String", "Default": "", "MaxLength": 2048},
    "AutomationInstanceProfile": {"Type": "String", "Default": ""},
    "AutomationSecurityGroupIds": {"Type": "String", "Default": ""},
    "AutomationSubnetId": {"Type": "String", "Default": ""},
    "AutomationInstanceTypes": {
        "Type": "String",
        "Default": "arm64=t4g.medium,x86_64=t3.medium",
        "MaxLength": 1024,
    },
    "BaseParameterPaths": {"Type": "String", "Default": "", "MaxLength": 1024},
    "CreateSamplePipeline": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"]},
}


def test_every_new_parameter_has_its_type_default_and_bounds(synth: Synthesized) -> None:
    params = synth.template["Parameters"]
    for name, expected in NEW_PARAMETERS.items():
        param = params[name]
        assert {k: param.get(k) for k in expected} == expected, name
        assert param["Description"] and param["ConstraintDescription"].startswith(name), name
        assert {"AllowedValues", "AllowedPattern", "MinValue"} & set(param), name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TagPolicyMode", "delete"),
        ("RequiredTags", "=^x$"),
        ("RequiredTags", "Owner\nTeam"),
        ("RequiredTags", "O" * 1025),
        ("TagGraceHours", "-1"),
        ("TagGraceHours", "8761"),
        ("TagEscalationDays", "3651"),
        ("PropagateTags", "Owner,,Team"),
        ("PropagateTags", "Owner=x"),
        ("TagSweepSchedule", "every day"),
        ("PublicSharingMode", "revoke"),
        ("PublicScanSchedule", "rate(0 hours)"),
        ("RebuildMode", "yes"),
        ("MaxImageAgeDays", "0"),
        ("MaxImageAgeDays", "3651"),
        ("RebuildSchedule", "cron(0 6 * *)"),
        ("FamilyPipelines", "web"),
        ("FamilyPipelines", "web=arn:aws:imagebuilder:eu-west-1:123456789012:image-pipeline/Web"),
        ("FamilyPipelines", "web=arn:aws:imagebuilder:eu-west-1:123456789012:image-recipe/web"),
        ("AutomationInstanceProfile", "bad profile"),
        ("AutomationSecurityGroupIds", "sg-123"),
        ("AutomationSecurityGroupIds", "sg-0123456789abcdef0, sg-0123456789abcdef1"),
        ("AutomationSubnetId", "subnet-xyz"),
        ("AutomationInstanceTypes", ""),
        ("AutomationInstanceTypes", "arm64"),
        ("AutomationInstanceTypes", "aarch64=t4g.medium"),
        ("AutomationInstanceTypes", "arm64=T4G.MEDIUM"),
        ("AutomationInstanceTypes", "arm64=t4g.medium, x86_64=t3.medium"),
        ("BaseParameterPaths", "golden"),
        ("BaseParameterPaths", "/golden/"),
        ("BaseParameterPaths", "/golden base"),
        ("BaseParameterPaths", "/golden, /team"),
        ("BaseParameterPaths", "/a,/b,/c,/d,/e,/f"),
        ("CreateSamplePipeline", "yes"),
    ],
)
def test_a_bad_new_parameter_is_refused_with_its_constraint(
    synth: Synthesized, name: str, value: str
) -> None:
    with pytest.raises(ParameterError) as refused:
        parameter_values(synth.template, {name: value})
    message = str(refused.value)
    assert synth.template["Parameters"][name]["ConstraintDescription"] in message or "number" in message


GOOD = {
    "TagPolicyMode": "report",
    "RequiredTags": r"Owner,Environment=^(prod|staging|dev)$,CostCenter=^\d{1\,4}$",
    "TagGraceHours": "0",
    "TagEscalationDays": "3650",
    "PropagateTags": "Owner,Cost Center,team:name",
    "TagSweepSchedule": "cron(0 7 * * ? *)",
    "PublicSharingMode": "enforce",
    "PublicScanSchedule": "rate(30 minutes)",
    "RebuildMode": "enforce",
    "MaxImageAgeDays": "3650",
    "RebuildSchedule": "rate(12 hours)",
    "FamilyPipelines": "web=arn:aws:imagebuilder:eu-west-1:123456789012:image-pipeline/web-al2023,"
    "db=arn:aws:imagebuilder:eu-west-1:123456789012:image-pipeline/db",
    "AutomationInstanceProfile": "ManagedInstanceProfile",
    "AutomationSecurityGroupIds": "sg-0123456789abcdef0,sg-01234567",
    "AutomationSubnetId": "subnet-0123456789abcdef0",
    "AutomationInstanceTypes": "arm64=m7g.large,x86_64=c7i.metal-24xl,i386=t2.medium,arm64_mac=mac2.metal",
    "BaseParameterPaths": "/golden,/team-a/images.v2,/a/b/c,/d,/e_f",
    "CreateSamplePipeline": "true",
}


def test_good_new_parameters_are_accepted_and_load_as_settings(synth: Synthesized) -> None:
    values = parameter_values(synth.template, GOOD)
    assert values.items() >= GOOD.items()
    # What CloudFormation lets through is what the functions accept.
    settings = Settings.load(
        {
            "AWS_REGION": REGION,
            "MODE": "enforce",
            "REQUIRED_TAGS": GOOD["RequiredTags"],
            "TAG_GRACE_HOURS": GOOD["TagGraceHours"],
            "TAG_ESCALATION_DAYS": GOOD["TagEscalationDays"],
            "PROPAGATE_TAGS": GOOD["PropagateTags"],
            "MAX_IMAGE_AGE_DAYS": GOOD["MaxImageAgeDays"],
            "FAMILY_PIPELINES": GOOD["FamilyPipelines"],
            "AUTOMATION_INSTANCE_PROFILE": GOOD["AutomationInstanceProfile"],
            "AUTOMATION_SECURITY_GROUP_IDS": GOOD["AutomationSecurityGroupIds"],
            "AUTOMATION_SUBNET_ID": GOOD["AutomationSubnetId"],
            "AUTOMATION_INSTANCE_TYPES": GOOD["AutomationInstanceTypes"],
            "BASE_PARAMETER_PATHS": GOOD["BaseParameterPaths"],
        }
    )
    assert [r.key for r in settings.required_tags] == ["Owner", "Environment", "CostCenter"]
    assert set(settings.family_pipelines) == {"web", "db"}
    assert settings.automation_security_group_ids == ("sg-0123456789abcdef0", "sg-01234567")
    assert settings.automation_instance_types["x86_64"] == "c7i.metal-24xl"
    assert settings.base_parameter_paths == ("/golden", "/team-a/images.v2", "/a/b/c", "/d", "/e_f")
    # The default too is what the function accepts, and means what the function's own default means.
    default = parameter_values(synth.template, {})["AutomationInstanceTypes"]
    assert dict(
        Settings.load({"AWS_REGION": REGION, "AUTOMATION_INSTANCE_TYPES": default}).automation_instance_types
    ) == (dict(Settings.load({"AWS_REGION": REGION}).automation_instance_types))


def test_new_parameters_are_grouped_and_labelled(synth: Synthesized) -> None:
    interface = synth.template["Metadata"]["AWS::CloudFormation::Interface"]
    groups = {g["Label"]["default"]: g["Parameters"] for g in interface["ParameterGroups"]}
    assert groups["Tag policy"] == [
        "TagPolicyMode",
        "RequiredTags",
        "TagGraceHours",
        "TagEscalationDays",
        "PropagateTags",
    ]
    assert groups["Public sharing"] == ["PublicSharingMode", "SharingChecksPerRun"]
    assert groups["Rebuild"][0] == "RebuildMode" and "CreateSamplePipeline" in groups["Rebuild"]
    assert {"TagSweepSchedule", "PublicScanSchedule", "RebuildSchedule"} <= set(groups["Where and when"])
    assert all(name in interface["ParameterLabels"] for name in NEW_PARAMETERS)


# -- functions and their environment ------------------------------------------------------

SHARED = {
    "REGIONS": {"Ref": "Regions"},
    "MAX_ACTIONS": {"Ref": "MaxActionsPerRun"},
    "NOTIFY_ALL_CLEAN": {"Ref": "NotifyAllClean"},
}
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "tags": {
        **SHARED,
        "MODE": {"Ref": "TagPolicyMode"},
        "REQUIRED_TAGS": {"Ref": "RequiredTags"},
        "TAG_GRACE_HOURS": {"Ref": "TagGraceHours"},
        "TAG_ESCALATION_DAYS": {"Ref": "TagEscalationDays"},
        "PROPAGATE_TAGS": {"Ref": "PropagateTags"},
    },
    "public": {
        **SHARED,
        "MODE": {"Ref": "PublicSharingMode"},
        "ALLOWED_SHARE_ACCOUNTS": {"Ref": "AllowedShareAccounts"},
        "SHARING_CHECKS_PER_RUN": {"Ref": "SharingChecksPerRun"},
    },
    "rebuild": {
        **SHARED,
        "MODE": {"Ref": "RebuildMode"},
        "MAX_IMAGE_AGE_DAYS": {"Ref": "MaxImageAgeDays"},
        "FAMILY_PIPELINES": {"Ref": "FamilyPipelines"},
        "AUTOMATION_INSTANCE_PROFILE": {"Ref": "AutomationInstanceProfile"},
        "AUTOMATION_SECURITY_GROUP_IDS": {"Ref": "AutomationSecurityGroupIds"},
        "AUTOMATION_SUBNET_ID": {"Ref": "AutomationSubnetId"},
        "AUTOMATION_INSTANCE_TYPES": {"Ref": "AutomationInstanceTypes"},
        "BASE_PARAMETER_PATHS": {"Ref": "BaseParameterPaths"},
    },
}


@pytest.mark.parametrize("job", sorted(ENVIRONMENTS))
def test_each_function_gets_exactly_its_parameters_and_the_reporting_targets(
    synth: Synthesized, job: str
) -> None:
    _, fn = _function(synth, job)
    env = fn["Properties"]["Environment"]["Variables"]
    params = set(synth.template["Parameters"])
    assert {k: v for k, v in env.items() if isinstance(v, dict) and v.get("Ref") in params} == ENVIRONMENTS[
        job
    ]
    assert env["TOPIC_ARN"] == {"Ref": next(iter(synth.resources("AWS::SNS::Topic")))}
    assert env["REPORT_BUCKET"] == {"Ref": next(iter(synth.resources("AWS::S3::Bucket")))}
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
    props = fn["Properties"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert "ReservedConcurrentExecutions" not in props  # a sweep lease keeps sweeps apart instead
    assert env["LEASE_TABLE"] == {"Ref": next(iter(synth.resources("AWS::DynamoDB::Table")))}


def test_rebuild_gets_the_automation_role_the_stack_creates(synth: Synthesized) -> None:
    _, fn = _function(synth, "rebuild")
    [role_id, attribute] = fn["Properties"]["Environment"]["Variables"]["AUTOMATION_ROLE_ARN"]["Fn::GetAtt"]
    assert attribute == "Arn"
    trust = synth.template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "ssm.amazonaws.com"}]
    assert trust[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "automation-execution/*" in json.dumps(trust[0]["Condition"]["ArnLike"]["aws:SourceArn"])


@pytest.mark.parametrize("job", sorted(ENVIRONMENTS))
def test_each_job_has_its_failure_queue_alarm_and_outputs(synth: Synthesized, job: str) -> None:
    fn_id, _ = _function(synth, job)
    [invoke] = [
        v
        for v in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if v["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    queue_id = invoke["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert any(
        a["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": fn_id}}]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    )
    outputs = synth.template["Outputs"]
    name = job.title()
    assert outputs[f"{name}Function"]["Value"] == {"Ref": fn_id}
    assert outputs[f"{name}FailedInvocations"]["Value"] == {"Ref": queue_id}


# -- sweep leases instead of reserved concurrency ------------------------------------------


def test_no_function_reserves_concurrency(synth: Synthesized) -> None:
    # Reserving any would fail the deploy where the account's quota leaves < 100 unreserved.
    assert "ReservedConcurrentExecutions" not in json.dumps(synth.template)


def test_the_lease_table_is_on_demand_encrypted_recoverable_expiring_and_deleted_with_the_stack(
    synth: Synthesized,
) -> None:
    [(table_id, table)] = synth.resources("AWS::DynamoDB::Table").items()
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "job", "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert synth.template["Outputs"]["SweepLeaseTable"]["Value"] == {"Ref": table_id}


@pytest.mark.parametrize("job", sorted(HANDLERS))
def test_each_job_may_take_and_give_back_only_its_own_lease(synth: Synthesized, job: str) -> None:
    _, fn = _function(synth, job)
    [table_id] = synth.resources("AWS::DynamoDB::Table")
    statements = [
        (policy_id, s)
        for policy_id, p in _policies(synth, _role_id(synth, job)).items()
        for s in _statements(p)
        if any(a.startswith("dynamodb:") for a in _actions(s))
    ]
    [(policy_id, statement)] = statements
    assert _actions(statement) == {"dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert statement["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    assert statement["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [job]}}
    # It always exists (sweeps take the lease in report mode too), and the function waits for it.
    assert "Condition" not in synth.template["Resources"][policy_id]
    assert policy_id in fn["DependsOn"]


def test_template_description_names_every_job(synth: Synthesized) -> None:
    description = synth.template["Description"]
    assert all(job in description for job in HANDLERS)


# -- rules ----------------------------------------------------------------------------------


def _rules_of(synth: Synthesized, job: str) -> list[dict[str, Any]]:
    fn_id, _ = _function(synth, job)
    rules = []
    for rule in synth.resources("AWS::Events::Rule").values():
        [target] = rule["Properties"]["Targets"]
        if target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}:
            rules.append(rule["Properties"])
    return rules


CLOUDTRAIL = "AWS API Call via CloudTrail"
EXPECTED_RULES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "tags": (
        "TagSweepSchedule",
        [
            {
                "source": ["aws.ec2"],
                "detail-type": ["EC2 AMI State Change"],
                "detail": {"State": ["available"]},
            },
            {
                "source": ["aws.ec2"],
                "detail-type": [CLOUDTRAIL],
                "detail": {
                    "eventSource": ["ec2.amazonaws.com"],
                    # No ImportImage: its CloudTrail record names an import task, never an image.
                    "eventName": ["CreateImage", "CopyImage", "RegisterImage", "CreateTags", "DeleteTags"],
                },
            },
        ],
    ),
    "public": (
        "PublicScanSchedule",
        [
            {
                "source": ["aws.ec2"],
                "detail-type": [CLOUDTRAIL],
                "detail": {
                    "eventSource": ["ec2.amazonaws.com"],
                    "eventName": [
                        "ModifyImageAttribute",
                        "ModifySnapshotAttribute",
                        "DisableImageBlockPublicAccess",
                    ],
                },
            }
        ],
    ),
    "rebuild": (
        "RebuildSchedule",
        [
            {"source": ["aws.imagebuilder"], "detail-type": ["EC2 Image Builder Image State Change"]},
            {
                "source": ["aws.ssm"],
                "detail-type": ["EC2 Automation Execution Status-change Notification"],
                "detail": {"Definition": ["AWS-UpdateLinuxAmi", "AWS-UpdateWindowsAmi"]},
            },
        ],
    ),
}


def _own_roles_clause(synth: Synthesized) -> list[dict[str, Any]]:
    roles = [{"Fn::GetAtt": [_role_id(synth, job), "Arn"]} for job in ("rotate", "tags", "public", "rebuild")]

    def issuer(matchers: list[Any]) -> dict[str, Any]:
        return {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": matchers}}}}

    return [issuer([{"exists": False}]), issuer([{"anything-but": roles}])]


def test_jobs_with_real_time_rules_know_the_region_those_rules_cover(synth: Synthesized) -> None:
    for job in ("rotate", "tags", "public", "rebuild"):
        env = _function(synth, job)[1]["Properties"]["Environment"]["Variables"]
        expected = None if job == "rotate" else {"Ref": "AWS::Region"}
        assert env.get("REALTIME_REGIONS") == expected


def test_every_job_knows_the_stacks_own_roles(synth: Synthesized) -> None:
    roles = [{"Fn::GetAtt": [_role_id(synth, job), "Arn"]} for job in ("rotate", "tags", "public", "rebuild")]
    for job in ("rotate", "tags", "public", "rebuild"):
        env = _function(synth, job)[1]["Properties"]["Environment"]["Variables"]
        assert env["OWN_ROLE_ARNS"] == {"Fn::Join": [",", roles]}


@pytest.mark.parametrize("job", sorted(EXPECTED_RULES))
def test_each_job_has_its_schedule_and_exactly_its_event_patterns(synth: Synthesized, job: str) -> None:
    schedule, patterns = EXPECTED_RULES[job]
    rules = _rules_of(synth, job)
    assert [r["ScheduleExpression"] for r in rules if "ScheduleExpression" in r] == [{"Ref": schedule}]
    found = [r["EventPattern"] for r in rules if "EventPattern" in r]
    own = _own_roles_clause(synth)
    for pattern in found:
        # CloudTrail rules leave out the calls of the stack's own job roles (they would trigger themselves).
        if pattern["detail-type"] == [CLOUDTRAIL]:
            assert pattern["detail"].pop("$or") == own

    def key(pattern: dict[str, Any]) -> str:
        return json.dumps(pattern, sort_keys=True)

    assert sorted(found, key=key) == sorted(patterns, key=key)
    for rule in rules:
        assert rule["State"] == "ENABLED"
        [target] = rule["Targets"]
        # Same delivery settings as the rotate schedule: two retries in an hour, then the job's queue.
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}
        assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][1] == "Arn"


# -- roles ----------------------------------------------------------------------------------


def test_tags_role_reads_always_and_writes_only_in_enforce(synth: Synthesized) -> None:
    always, conditional = _job_actions(synth, "tags")
    assert always == {*TAGS_READ_ACTIONS, *SWEEP_READ_ACTIONS}
    assert conditional == set(TAGS_WRITE_ACTIONS)
    _, writes = _write_policy(synth, "tags")
    evaluator = _evaluator(synth.template)
    by_sid = {s["Sid"]: s for s in _statements(writes)}
    for statement in by_sid.values():
        assert statement["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}
    image_tags = by_sid["AutoTagOwnImagesWithControlTags"]
    assert [_arn(evaluator, r) for r in _resources(image_tags)] == ["arn:aws:ec2:*::image/*"]
    assert image_tags["Condition"]["ForAllValues:StringLike"] == {"aws:TagKeys": ["ami-hygiene:*"]}
    snapshot_tags = by_sid["CopyImageTagsToOwnSnapshots"]
    assert [_arn(evaluator, r) for r in _resources(snapshot_tags)] == ["arn:aws:ec2:*::snapshot/*"]
    delete = by_sid["RemoveOnlyTheEscalationMarker"]
    assert _actions(delete) == {"ec2:DeleteTags"}
    assert delete["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": [TAG_ESCALATED_AT]}
    assert delete["Condition"]["Null"] == {"aws:TagKeys": "false"}
    assert _actions(by_sid["EscalateOwnNonCompliantImages"]) == {"ec2:EnableImageDeprecation"}


def test_public_role_reads_always_and_writes_only_own_resources_in_enforce(synth: Synthesized) -> None:
    always, conditional = _job_actions(synth, "public")
    assert always == {
        *PUBLIC_LIST_ACTIONS,
        *SWEEP_READ_ACTIONS,
        "ec2:DescribeImageAttribute",
        "ec2:DescribeSnapshotAttribute",
    }
    assert conditional == set(PUBLIC_WRITE_ACTIONS)
    _, writes = _write_policy(synth, "public")
    evaluator = _evaluator(synth.template)
    for statement in _statements(writes):
        resources = [_arn(evaluator, r) for r in _resources(statement)]
        if _actions(statement) == {"ec2:EnableImageBlockPublicAccess"}:
            assert resources == ["*"]  # an account setting
        else:
            assert statement["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}
            assert resources in (["arn:aws:ec2:*::image/*"], ["arn:aws:ec2:*::snapshot/*"])
        assert "aws:RequestedRegion" in statement["Condition"]["StringEquals"]


def test_rebuild_role_reads_always_and_writes_only_in_enforce(synth: Synthesized) -> None:
    always, conditional = _job_actions(synth, "rebuild")
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
    evaluator = _evaluator(synth.template)
    reads = [
        s
        for p in _policies(synth, _role_id(synth, "rebuild")).values()
        if not p.get("Condition")
        for s in _statements(p)
    ]
    [parameters] = [s for s in reads if "ssm:GetParameters" in _actions(s)]
    assert _parameter_resources(evaluator, parameters) == ["arn:aws:ssm:*::parameter/aws/service/*"]


def _parameter_resources(evaluator: Evaluator, statement: dict[str, Any]) -> list[str]:
    """The statement's resources as CloudFormation leaves them (AWS::NoValue items dropped)."""
    return [str(v) for v in (evaluator.value(r) for r in _resources(statement)) if v is not None]


def _can_read(resources: list[str], region: str, name: str) -> bool:
    """Whether an IAM resource list allows a parameter of this account (* matches anything, / too)."""
    arn = f"arn:aws:ssm:{region}:{ACCOUNT}:parameter{name}"
    return any(fnmatch.fnmatchcase(arn, resource) for resource in resources)


def test_rebuild_role_reads_the_private_base_parameter_paths_it_is_given_and_no_others(
    synth: Synthesized,
) -> None:
    reads = [
        s
        for p in _policies(synth, _role_id(synth, "rebuild")).values()
        if not p.get("Condition")
        for s in _statements(p)
    ]
    [statement] = [s for s in reads if "ssm:GetParameters" in _actions(s)]
    assert _actions(statement) == {"ssm:GetParameters", "ssm:GetParameter"}
    given = _evaluator(
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
    none = _parameter_resources(_evaluator(synth.template), statement)
    assert not _can_read(none, REGION, "/golden/base")
    five = "/a,/b,/c,/d,/e"
    everything = _parameter_resources(_evaluator(synth.template, BaseParameterPaths=five), statement)
    assert all(_can_read(everything, REGION, f"{path}/base") for path in five.split(","))


def test_rebuild_writes_are_scoped(synth: Synthesized) -> None:
    _, writes = _write_policy(synth, "rebuild")
    evaluator = _evaluator(synth.template, RebuildMode="enforce")
    by_action = {a: s for s in _statements(writes) for a in _actions(s)}

    start = by_action["ssm:StartAutomationExecution"]
    assert _actions(start) == {"ssm:StartAutomationExecution"}
    assert sorted(_arn(evaluator, r) for r in _resources(start)) == [
        "arn:aws:ssm:*:*:automation-definition/AWS-UpdateLinuxAmi:*",
        "arn:aws:ssm:*:*:automation-definition/AWS-UpdateWindowsAmi:*",
        "arn:aws:ssm:*:*:document/AWS-UpdateLinuxAmi",
        "arn:aws:ssm:*:*:document/AWS-UpdateWindowsAmi",
    ]

    pipelines = by_action["imagebuilder:StartImagePipelineExecution"]
    assert [_arn(evaluator, r) for r in _resources(pipelines)] == [
        f"arn:aws:imagebuilder:*:{ACCOUNT}:image-pipeline/*"
    ]

    pass_role = by_action["iam:PassRole"]
    assert _actions(pass_role) == {"iam:PassRole"}
    _, fn = _function(synth, "rebuild")
    assert _resources(pass_role) == [fn["Properties"]["Environment"]["Variables"]["AUTOMATION_ROLE_ARN"]]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}

    tags = by_action["ec2:CreateTags"]
    assert tags["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}
    # Any key: an SSM-rebuilt image inherits the user's required tags too.
    assert "ForAllValues:StringLike" not in tags["Condition"]
    execution_tags = by_action["ssm:AddTagsToResource"]
    assert [_arn(evaluator, r) for r in _resources(execution_tags)] == [
        f"arn:aws:ssm:*:{ACCOUNT}:automation-execution/*"
    ]


@pytest.mark.parametrize("job", sorted(ENFORCE))
def test_write_policy_exists_only_while_the_jobs_mode_is_enforce(synth: Synthesized, job: str) -> None:
    fn_id, _ = _function(synth, job)
    write_id, writes = _write_policy(synth, job)
    assert writes["Condition"] == ENFORCE[job]
    assert write_id not in synth.template["Resources"][fn_id]["DependsOn"]
    report = _evaluator(synth.template)
    enforce = _evaluator(synth.template, **{MODE_PARAMETER[job]: "enforce"})
    other = _evaluator(synth.template, RotationMode="enforce", **{MODE_PARAMETER[job]: "report"})
    assert (enforce.created(write_id), other.created(write_id)) == (True, False)
    # Tags defaults to enforce (it only adds tags); the others default to report.
    assert report.created(write_id) is (job == "tags")


def test_automation_role_has_what_the_runbooks_do_and_passes_roles_only_to_ec2(synth: Synthesized) -> None:
    _, fn = _function(synth, "rebuild")
    role_id = fn["Properties"]["Environment"]["Variables"]["AUTOMATION_ROLE_ARN"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in synth.template["Resources"][role_id]["Properties"]
    statements = [s for p in _policies(synth, role_id).values() for s in _statements(p)]
    actions = {a for s in statements for a in _actions(s)}
    assert {"ec2:RunInstances", "ec2:CreateImage", "ec2:TerminateInstances", "ssm:SendCommand"} <= actions
    assert not any(a.endswith("*") for a in actions)
    for statement in statements:
        if _actions(statement) == {"iam:PassRole"}:
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
        else:
            assert "aws:RequestedRegion" in statement["Condition"]["StringEquals"]


# -- the sample pipeline ------------------------------------------------------------------

PIPELINE_TYPES = (
    "AWS::ImageBuilder::ImageRecipe",
    "AWS::ImageBuilder::InfrastructureConfiguration",
    "AWS::ImageBuilder::DistributionConfiguration",
    "AWS::ImageBuilder::ImagePipeline",
    "AWS::IAM::InstanceProfile",
)


def test_sample_pipeline_exists_only_when_asked_for(synth: Synthesized) -> None:
    ids = [k for t in PIPELINE_TYPES for k in synth.resources(t)]
    [instance_role] = [
        k
        for k, v in synth.resources("AWS::IAM::Role").items()
        if "ec2.amazonaws.com" in json.dumps(v["Properties"]["AssumeRolePolicyDocument"])
    ]
    ids.append(instance_role)
    assert len(ids) == len(PIPELINE_TYPES) + 1
    off, on = _evaluator(synth.template), _evaluator(synth.template, CreateSamplePipeline="true")
    assert not any(off.created(k) for k in ids)
    assert all(on.created(k) for k in ids)
    output = synth.template["Outputs"]["SamplePipelineArn"]
    assert output["Condition"] == "SamplePipelineOn"
    [pipeline_id] = synth.resources("AWS::ImageBuilder::ImagePipeline")
    assert output["Value"] == {"Fn::GetAtt": [pipeline_id, "Arn"]}
    managed = synth.template["Resources"][instance_role]["Properties"]["ManagedPolicyArns"]
    assert sorted(json.dumps(m).split("policy/")[1].split('"')[0] for m in managed) == [
        "AmazonSSMManagedInstanceCore",
        "EC2InstanceProfileForImageBuilder",
    ]


def test_sample_pipeline_builds_al2023_with_updates_and_tags_the_family(synth: Synthesized) -> None:
    evaluator = _evaluator(synth.template, CreateSamplePipeline="true")
    [recipe] = synth.resources("AWS::ImageBuilder::ImageRecipe").values()
    assert recipe["Properties"]["ParentImage"] == PARENT_IMAGE
    assert PARENT_IMAGE.startswith("ssm:/aws/service/ami-amazon-linux-latest/al2023-")
    [component] = recipe["Properties"]["Components"]
    assert _arn(evaluator, component["ComponentArn"]) == (
        f"arn:aws:imagebuilder:{REGION}:aws:component/update-linux/x.x.x"
    )
    [pipeline] = synth.resources("AWS::ImageBuilder::ImagePipeline").values()
    assert pipeline["Properties"]["Name"] == PIPELINE_NAME
    assert "Schedule" not in pipeline["Properties"]  # the rebuild job starts it
    assert pipeline["Properties"]["Tags"] == {TAG_FAMILY: "sample-al2023"}
    [distribution] = synth.resources("AWS::ImageBuilder::DistributionConfiguration").values()
    [target] = distribution["Properties"]["Distributions"]
    tags = evaluator.value(target["AmiDistributionConfiguration"]["AmiTags"])
    pipeline_arn = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-pipeline/{PIPELINE_NAME}"
    assert tags == {TAG_FAMILY: "sample-al2023", TAG_PIPELINE: pipeline_arn}
    # The tag is an ARN the rebuild job accepts as a family pipeline.
    assert Settings.load(
        {"AWS_REGION": REGION, "FAMILY_PIPELINES": f"sample={pipeline_arn}"}
    ).family_pipelines
    [infrastructure] = synth.resources("AWS::ImageBuilder::InfrastructureConfiguration").values()
    [profile_id] = synth.resources("AWS::IAM::InstanceProfile")
    assert infrastructure["Properties"]["InstanceProfileName"] == {"Ref": profile_id}


# -- dashboard ------------------------------------------------------------------------------


def test_dashboard_has_a_row_per_job_with_its_metrics(synth: Synthesized) -> None:
    [board] = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(board["Properties"]["DashboardBody"])
    for job in HANDLERS:
        assert f"## {job}" in body, job
        for name in JOB_IMAGE_METRICS.get(job, ()):
            assert name in RUN_METRICS
            assert f'\\"{name}\\",\\"job\\",\\"{job}\\"' in body, (job, name)


def test_public_and_rebuild_metrics_read_the_summary_keys_of_their_jobs() -> None:
    keys = {name: key for name, (key, _) in RUN_METRICS.items()}
    public = {keys[n] for n in JOB_IMAGE_METRICS["public"] if n != "ImagesSeen"}
    assert public == {"public", "foreign_shared", "revoked", "block_public_access_enabled"}
    rebuild = {keys[n] for n in JOB_IMAGE_METRICS["rebuild"]}
    assert rebuild == {"stale_families", "builds_started", "builds_finished", "builds_failed"}
