"""Each job's function: runtime, limits, logging, its environment, its failure queue, alarm and outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ami_hygiene.core.observability import NAMESPACE
from infra.parameters import SPECS
from tests.helpers.constants import REGION
from tests.helpers.synthesized import Synthesized
from tests.helpers.template import evaluated, job_function, one_resource, role_of

# -- the rotation function -----------------------------------------------------------------------


def test_parameters_reach_the_function_as_the_cli_environment_variables(synth: Synthesized) -> None:
    _, fn = job_function(synth, "rotate")
    env = fn["Properties"]["Environment"]["Variables"]
    assert {
        k: v for k, v in env.items() if isinstance(v, dict) and v.get("Ref") in {s.name for s in SPECS}
    } == {
        "MODE": {"Ref": "RotationMode"},
        "RETENTION_DAYS": {"Ref": "RetentionDays"},
        "KEEP_LATEST": {"Ref": "KeepLatest"},
        "DISABLE_GRACE_DAYS": {"Ref": "DisableGraceDays"},
        "MAX_ACTIONS": {"Ref": "MaxActionsPerRun"},
        "READS_PER_SECOND": {"Ref": "ReadsPerSecond"},
        "WRITES_PER_SECOND": {"Ref": "WritesPerSecond"},
        "ALLOWED_SHARE_ACCOUNTS": {"Ref": "AllowedShareAccounts"},
        "CONSUMER_ROLE_NAME": {"Ref": "ConsumerRoleName"},
        "CONSUMER_USAGE_UNKNOWN": {"Ref": "ConsumerUsageUnknown"},
        "REGIONS": {"Ref": "Regions"},
        "NOTIFY_ALL_CLEAN": {"Ref": "NotifyAllClean"},
        # The report's "Coming up" simulates rotation on its own schedule, as far as ComingUpDays.
        "ROTATION_SCHEDULE": {"Ref": "RotationSchedule"},
        "COMING_UP_DAYS": {"Ref": "ComingUpDays"},
    }
    assert env["POWERTOOLS_SERVICE_NAME"] == "ami-hygiene"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE


def test_rotation_function_runtime_limits_and_logging(synth: Synthesized) -> None:
    from aws_cdk import aws_lambda

    _, fn = job_function(synth, "rotate")
    props = fn["Properties"]
    newest_python = max(
        (r.name for r in aws_lambda.Runtime.ALL if r.name.startswith("python3.")),
        key=lambda n: int(n.split(".")[1]),
    )
    assert props["Runtime"] == newest_python
    assert (props["Timeout"], props["MemorySize"]) == (300, 768)
    assert "ReservedConcurrentExecutions" not in props  # the sweep lease keeps two sweeps apart
    assert props["TracingConfig"] == {"Mode": "Active"}
    log_group = synth.template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup" and log_group["Properties"]["RetentionInDays"] == 90
    assert "Layers" not in props  # dependencies are bundled with the code


def test_failed_invocations_go_to_an_encrypted_queue_and_errors_alarm_the_topic(synth: Synthesized) -> None:
    fn_id, _ = job_function(synth, "rotate")
    [invoke] = [
        v
        for v in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if v["Properties"]["FunctionName"] == {"Ref": fn_id}
    ]
    queue_id = invoke["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = synth.template["Resources"][queue_id]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert invoke["Properties"]["MaximumRetryAttempts"] == 0
    topic_id, _ = one_resource(synth, "AWS::SNS::Topic")
    [alarm] = [
        a
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": fn_id}}]
    ]
    assert alarm["Properties"]["MetricName"] == "Errors"
    assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]


# -- the tags, public and rebuild functions ------------------------------------------------------


SHARED = {
    "REGIONS": {"Ref": "Regions"},
    "MAX_ACTIONS": {"Ref": "MaxActionsPerRun"},
    "READS_PER_SECOND": {"Ref": "ReadsPerSecond"},
    "WRITES_PER_SECOND": {"Ref": "WritesPerSecond"},
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
    _, fn = job_function(synth, job)
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


@pytest.mark.parametrize("job", sorted(ENVIRONMENTS))
def test_each_job_has_its_failure_queue_alarm_and_outputs(synth: Synthesized, job: str) -> None:
    fn_id, _ = job_function(synth, job)
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


# -- every function ------------------------------------------------------------------------------


def test_no_function_reserves_concurrency(synth: Synthesized) -> None:
    # Reserving any would fail the deploy where the account's quota leaves < 100 unreserved.
    assert "ReservedConcurrentExecutions" not in json.dumps(synth.template)


@pytest.mark.parametrize(
    ("regions", "covered"),
    [("", REGION), (f"{REGION},us-east-1", f"{REGION},us-east-1"), ("us-east-1", "us-east-1")],
)
def test_jobs_with_real_time_rules_know_the_regions_those_rules_cover(
    synth: Synthesized, regions: str, covered: str
) -> None:
    # The stack region's rules and the forwarding rules (infra/forwarding.py) cover every region in Regions.
    for job in ("rotate", "tags", "public", "rebuild"):
        env = job_function(synth, job)[1]["Properties"]["Environment"]["Variables"]
        if job == "rotate":
            assert "REALTIME_REGIONS" not in env  # no real-time rules
            continue
        assert evaluated(synth.template, Regions=regions).value(env["REALTIME_REGIONS"]) == covered


def test_every_job_knows_the_stacks_own_roles(synth: Synthesized) -> None:
    roles = [{"Fn::GetAtt": [role_of(synth, job), "Arn"]} for job in ("rotate", "tags", "public", "rebuild")]
    for job in ("rotate", "tags", "public", "rebuild"):
        env = job_function(synth, job)[1]["Properties"]["Environment"]["Variables"]
        assert env["OWN_ROLE_ARNS"] == {"Fn::Join": [",", roles]}
