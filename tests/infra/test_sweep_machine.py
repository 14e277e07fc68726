"""infra/sweep_machine.py: the organization sweep's state machine definition, logging and role.

Executed in tests/aws/organization/test_state_machine.py; here, what the template says.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from ami_hygiene.core.errors import is_transient
from ami_hygiene.organization.events import TargetSweep, parse, run_prefix
from infra.sweep_machine import FUNCTION_TRANSIENT_ERRORS, LAMBDA_SERVICE_ERRORS
from tests.helpers.constants import ACCOUNT, REGION
from tests.helpers.step_functions import (
    JOB,
    MACHINE_ID,
    MAX_CONCURRENCY_PARAMETER,
    SweepStack,
    definition,
    sweep_stack,
)

ARNS = {part: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{part}" for part in ("targets", "sweep", "digest")}


@pytest.fixture(scope="module")
def stack() -> SweepStack:
    return sweep_stack()  # synthesized with the app's cdk-nag packs: a finding would fail it here


@pytest.fixture(scope="module")
def states(stack: SweepStack) -> dict[str, Any]:
    return definition(stack, ARNS, max_concurrency=7)


def _map(states: dict[str, Any]) -> dict[str, Any]:
    return dict(states["States"]["SweepTargets"])


def _children(states: dict[str, Any]) -> dict[str, Any]:
    return dict(_map(states)["ItemProcessor"]["States"])


def _retried(state: dict[str, Any]) -> set[str]:
    return {name for retrier in state.get("Retry", []) for name in retrier["ErrorEquals"]}


# -- the flow --------------------------------------------------------------------------------------


def test_list_targets_then_sweep_them_then_digest(states: dict[str, Any]) -> None:
    assert states["StartAt"] == "ListTargets"
    flow = states["States"]
    assert set(flow) == {"ListTargets", "SweepTargets", "Digest"}
    assert flow["ListTargets"]["Next"] == "SweepTargets"
    assert flow["SweepTargets"]["Next"] == "Digest"
    assert flow["Digest"]["End"] is True


def test_the_targets_function_gets_the_job_and_the_executions_name_as_the_run(states: dict[str, Any]) -> None:
    task = states["States"]["ListTargets"]
    assert (task["Type"], task["Resource"]) == ("Task", ARNS["targets"])
    assert task["Parameters"] == {"job": JOB, "run.$": "$$.Execution.Name"}


def test_the_digest_function_gets_the_targets_answer_as_it_is(states: dict[str, Any]) -> None:
    task = states["States"]["Digest"]
    assert (task["Type"], task["Resource"]) == ("Task", ARNS["digest"])
    assert "Parameters" not in task and "InputPath" not in task  # the state's input: ListTargets' answer


# -- the Distributed Map ----------------------------------------------------------------------------


def test_the_map_is_distributed_with_standard_children(states: dict[str, Any]) -> None:
    sweep = _map(states)
    assert sweep["Type"] == "Map"
    # A target's Lambda may run 5 minutes and be retried: Express children end after 5 minutes.
    assert sweep["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert sweep["Label"] == JOB


def test_the_map_reads_the_targets_file_named_by_the_targets_function(states: dict[str, Any]) -> None:
    reader = _map(states)["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:getObject"
    assert reader["ReaderConfig"] == {"InputType": "JSON"}
    assert reader["Parameters"] == {"Bucket.$": "$.bucket", "Key.$": "$.key"}


def test_the_concurrency_comes_from_the_stack_parameter(stack: SweepStack, states: dict[str, Any]) -> None:
    assert _map(states)["MaxConcurrency"] == 7
    assert {"Ref": MAX_CONCURRENCY_PARAMETER} in stack.definition_string["Fn::Join"][1]


def test_no_failed_target_fails_the_map_and_no_result_grows_the_state(states: dict[str, Any]) -> None:
    sweep = _map(states)
    assert sweep["ToleratedFailurePercentage"] == 100
    assert sweep["ResultPath"] is None  # the Digest gets the map's input
    children = _children(states)
    for name in ("SweepTarget", "RecordFailure"):  # the children's last states answer {}
        assert children[name]["End"] is True and children[name]["OutputPath"] is None, name


def test_each_item_becomes_a_target_sweep_event_the_job_function_accepts(states: dict[str, Any]) -> None:
    selector = _map(states)["ItemSelector"]
    item = {"account": "111122223333", "region": "eu-central-1"}
    run = "0d2b7b1e-9a36-4e0a-8f51-6a0f4c2d9b10"
    state_input = {"job": JOB, "run": run, "bucket": "reports-bucket", "prefix": run_prefix(JOB, run)}

    def value(path: str) -> Any:
        source, field = (
            (item, path.removeprefix("$$.Map.Item.Value."))
            if path.startswith("$$.")
            else (
                state_input,
                path.removeprefix("$."),
            )
        )
        return source[field]

    event = {k.removesuffix(".$"): value(v) if k.endswith(".$") else v for k, v in selector.items()}
    sweep = parse(TargetSweep, event, {JOB})  # organization/events.py: strict, no extra keys
    assert (sweep.account, sweep.region, sweep.run, sweep.bucket) == (
        "111122223333",
        "eu-central-1",
        run,
        "reports-bucket",
    )
    assert event["source"] == "ami-hygiene.organization" and event["detail-type"] == "Target Sweep"


# -- retries and the catch --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ListTargets", "Digest"])
def test_the_hub_functions_are_retried_on_lambda_and_their_transient_errors(
    states: dict[str, Any], name: str
) -> None:
    task = states["States"][name]
    assert _retried(task) == {*LAMBDA_SERVICE_ERRORS, "States.Timeout", *FUNCTION_TRANSIENT_ERRORS}
    assert "Catch" not in task  # a run without targets or digest fails, visibly


def test_every_lambda_task_waits_longer_each_time_with_jitter_and_a_cap(states: dict[str, Any]) -> None:
    tasks = [states["States"]["ListTargets"], states["States"]["Digest"], _children(states)["SweepTarget"]]
    for task in tasks:
        assert task["TimeoutSeconds"] == 900  # Lambda's own maximum: only a stuck invocation reaches it
        for retrier in task["Retry"]:
            assert retrier["BackoffRate"] > 1 and retrier["JitterStrategy"] == "FULL", retrier
            assert 0 < retrier["IntervalSeconds"] <= retrier["MaxDelaySeconds"] <= 120, retrier
            assert 1 <= retrier["MaxAttempts"] <= 6, retrier
        assert "Lambda.Unknown" not in _retried(
            task
        )  # a crash or timeout of the function: caught, not repeated


def test_a_target_is_retried_then_caught_whatever_the_error(states: dict[str, Any]) -> None:
    sweep = _children(states)["SweepTarget"]
    assert (sweep["Type"], sweep["Resource"]) == ("Task", ARNS["sweep"])
    assert "Parameters" not in sweep  # the item selector's Target Sweep event, as it is
    assert {"Lambda.TooManyRequestsException", "Lambda.ServiceException", "States.Timeout"} <= _retried(sweep)
    assert {"ClientError", "ThrottlingException", "RequestLimitExceeded"} <= _retried(sweep)
    assert sweep["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "ExplainFailure"}
    ]


def test_every_failure_path_ends_in_one_s3_put_of_the_targets_result(states: dict[str, Any]) -> None:
    children = _children(states)
    explain = children["ExplainFailure"]
    assert explain["Type"] == "Choice"
    describers = {"DescribeFunctionError", "DescribeFailure", "DescribeError"}
    for name in describers:
        assert children[name]["Type"] == "Pass" and children[name]["ResultPath"] == "$.record"
        assert children[name]["Next"] == "RecordFailure"
        record = children[name]["Parameters"]
        assert (record["status"], record["account.$"], record["region.$"]) == (
            "failed",
            "$.account",
            "$.region",
        )
    record_failure = children["RecordFailure"]
    assert record_failure["Resource"] == "arn:aws:states:::aws-sdk:s3:putObject"
    assert record_failure["Parameters"] == {
        "Bucket.$": "$.bucket",
        "Key.$": "States.Format('{}results/{}-{}.json', $.prefix, $.account, $.region)",
        "ContentType": "application/json",
        "Body.$": "States.JsonToString($.record)",
    }
    assert record_failure["Retry"][0]["ErrorEquals"] == ["States.ALL"]


def test_the_function_transient_error_names_are_what_lambda_reports_for_them() -> None:
    """Lambda names a raised exception by its class (errorType): each transient kind must be listed."""
    throttled = ClientError(
        {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}}, "DescribeImages"
    )
    organizations = boto3.client("organizations", region_name=REGION)
    modeled = organizations.exceptions.TooManyRequestsException(
        {"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "ListAccounts"
    )
    for err in (
        throttled,
        modeled,
        EndpointConnectionError(endpoint_url="https://ec2"),
        ConnectTimeoutError(endpoint_url="x"),
    ):
        assert is_transient(err), err
        assert type(err).__name__ in FUNCTION_TRANSIENT_ERRORS, type(err).__name__


# -- logging, tracing, the role ----------------------------------------------------------------------


def test_standard_type_all_events_logged_without_data_and_traced(stack: SweepStack) -> None:
    machine = stack.template["Resources"][stack.machine]["Properties"]
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    logging = machine["LoggingConfiguration"]
    assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", False)
    [(group_id, group)] = stack.resources("AWS::Logs::LogGroup").items()
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [group_id, "Arn"]}}}
    ]
    assert group["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert group["Properties"]["RetentionInDays"] == 90


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _role_statements(stack: SweepStack) -> list[dict[str, Any]]:
    role = stack.template["Resources"][stack.machine]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in stack.resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _grants(stack: SweepStack) -> dict[str, list[str]]:
    """action -> the resources it is granted on, each as compact JSON."""
    grants: dict[str, list[str]] = {}
    for statement in _role_statements(stack):
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            grants.setdefault(action, []).extend(_compact(r) for r in resources)
    return grants


def test_the_role_may_do_only_what_the_machine_does(stack: SweepStack) -> None:
    grants = _grants(stack)
    assert set(grants) == {
        "lambda:InvokeFunction",
        "s3:GetObject",
        "s3:PutObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        "states:RedriveExecution",
        *(
            f"logs:{a}"
            for a in ("CreateLogDelivery", "GetLogDelivery", "UpdateLogDelivery", "DeleteLogDelivery")
        ),
        *(
            f"logs:{a}"
            for a in (
                "ListLogDeliveries",
                "PutResourcePolicy",
                "DescribeResourcePolicies",
                "DescribeLogGroups",
            )
        ),
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
    functions = {_compact({"Fn::GetAtt": [logical_id, "Arn"]}) for logical_id in stack.functions.values()}
    invoked = set(grants["lambda:InvokeFunction"])
    assert functions <= invoked and all(any(f[:-1] in r for f in functions) for r in invoked)
    [bucket] = stack.resources("AWS::S3::Bucket")
    assert grants["s3:GetObject"] == [
        _compact({"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/organization/*/targets.json"]]})
    ]
    assert grants["s3:PutObject"] == [
        _compact({"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/organization/*/results/*"]]})
    ]
    [key] = stack.resources("AWS::KMS::Key")
    assert grants["kms:Decrypt"] == grants["kms:GenerateDataKey"] == [_compact({"Fn::GetAtt": [key, "Arn"]})]


def test_the_distributed_map_may_start_and_stop_executions_of_this_machine_only(stack: SweepStack) -> None:
    """Step Functions Developer Guide, "IAM policies for using Distributed Map states"."""
    grants = _grants(stack)
    assert grants["states:StartExecution"] == [_compact({"Ref": stack.machine})]
    machine_name = _compact({"Fn::Select": [6, {"Fn::Split": [":", {"Ref": stack.machine}]}]})
    for action in ("states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"):
        [resource] = grants[action]
        assert ":execution:" in resource and machine_name in resource, action
    assert grants["states:RedriveExecution"][0].endswith(f'"/{JOB}:*"]]}}')


def test_the_acknowledged_nag_findings_say_why(stack: SweepStack) -> None:
    role = stack.template["Resources"][stack.machine]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    acknowledged = [
        rule
        for logical_id, resource in stack.template["Resources"].items()
        if logical_id in (stack.machine, role)
        or (resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"])
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledged
    assert all(
        rule["id"].startswith("AwsSolutions-IAM5[Resource::") and len(rule["reason"]) > 80
        for rule in acknowledged
    )


def test_cfn_lint_finds_no_error_or_warning(stack: SweepStack) -> None:
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(stack.template), config=ManualArgs(regions=[REGION]))
    ours = [m for m in matches if str(m.path[1]).startswith(MACHINE_ID)]  # not the test's own functions
    assert [f"{m.rule.id} {m.message}" for m in ours] == []
    assert stack.machine.startswith(MACHINE_ID)  # the filter above sees the machine's resources


def test_the_machine_waits_for_its_roles_policy(stack: SweepStack) -> None:
    [policy] = [
        k
        for k, v in stack.resources("AWS::IAM::Policy").items()
        if "lambda:InvokeFunction" in json.dumps(v["Properties"]["PolicyDocument"])
    ]
    assert stack.template["Resources"][stack.machine]["DependsOn"] == [policy]
