"""Running state machines in the embedded AWS: moto executes them, Lambda tasks run in-process handlers.

    with executing():                                   # moto with "execute_state_machine" on
        arn = lambda_function("sweep")                  # a function in moto; its code never runs ...
        with lambda_runner.running({"sweep": handler}):  # ... this handler does (sandbox/lambda_runner.py)
            machine = create_state_machine("m", definition)
            execution = run(machine, {})                # waits for the end: DescribeExecution's answer

`sweep_stack()` synthesizes a small stack holding one SweepMachine (infra/sweep_machine.py)
with three functions and a report bucket, once per process; `definition(stack, arns)` is its
DefinitionString as CloudFormation would make it, with the functions' ARNs filled in.
"""

from __future__ import annotations

import functools
import io
import json
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from tests.helpers.cfn import Evaluator, parameter_values
from tests.helpers.constants import ACCOUNT, REGION

JOB = "rotate"
# The three functions of the test stack, by the part they play, and the Handler each is given.
FUNCTIONS = {"targets": "hub.targets", "sweep": "job.sweep", "digest": "hub.digest"}
MAX_CONCURRENCY_PARAMETER = "MaxConcurrency"
MACHINE_ID = "Machine"  # the SweepMachine's construct id: its resources' logical ids start with it
EXECUTION_TIMEOUT_S = 120


@contextmanager
def executing() -> Iterator[None]:
    """The embedded AWS in-process, with moto executing state machines and the sandbox's fixes."""
    from moto import mock_aws

    import sandbox
    from sandbox import lambda_runner, step_functions

    sandbox.install()
    lambda_runner.install()
    step_functions.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        try:
            yield
        finally:
            lambda_runner.reset()


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# sandbox.lambda_runner runs a registered handler instead\n")
    return buffer.getvalue()


def lambda_function(
    name: str,
    *,
    handler: str = "placeholder.handler",
    environment: Mapping[str, str] | None = None,
    timeout: int = 300,
    region: str = REGION,
) -> str:
    """A Lambda function in moto (its code a placeholder): its ARN."""
    iam = boto3.client("iam", region_name=region)
    try:
        role = iam.get_role(RoleName="lambda-runner")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="lambda-runner", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    answer = boto3.client("lambda", region_name=region).create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler=handler,
        Code={"ZipFile": _code()},
        Timeout=timeout,
        Environment={"Variables": dict(environment or {})},
    )
    return str(answer["FunctionArn"])


def state_machine_role() -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam = boto3.client("iam", region_name=REGION)
    return str(
        iam.create_role(RoleName="state-machine", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )


def create_state_machine(name: str, definition: str | Mapping[str, Any]) -> str:
    """A STANDARD state machine in REGION: its ARN."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    client = boto3.client("stepfunctions", region_name=REGION)
    answer = client.create_state_machine(
        name=name, definition=text, roleArn=state_machine_role(), type="STANDARD"
    )
    return str(answer["stateMachineArn"])


def run(machine: str, execution_input: Any = None, *, name: str | None = None) -> dict[str, Any]:
    """Starts an execution and waits for it to end: DescribeExecution's answer."""
    client = boto3.client("stepfunctions", region_name=REGION)
    started = {
        "stateMachineArn": machine,
        "input": json.dumps({} if execution_input is None else execution_input),
    }
    if name:
        started["name"] = name
    arn = client.start_execution(**started)["executionArn"]
    deadline = time.monotonic() + EXECUTION_TIMEOUT_S
    while True:
        described = client.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {arn} still running after {EXECUTION_TIMEOUT_S} s")
        time.sleep(0.05)


def history(execution: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The execution's events, oldest first."""
    client = boto3.client("stepfunctions", region_name=REGION)
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = client.get_execution_history(
            executionArn=execution["executionArn"], **({"nextToken": token} if token else {})
        )
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


# -- the SweepMachine in a small stack --------------------------------------------------------------


@dataclass(frozen=True)
class SweepStack:
    template: dict[str, Any]
    machine: str  # the state machine's logical id
    functions: dict[str, str]  # "targets" | "sweep" | "digest" -> the function's logical id
    validation_report: dict[str, Any]

    @property
    def definition_string(self) -> Any:
        return self.template["Resources"][self.machine]["Properties"]["DefinitionString"]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}


@functools.cache
def sweep_stack() -> SweepStack:
    """A stack with one SweepMachine for JOB, synthesized with the app's cdk-nag packs (any finding fails)."""
    import tempfile
    from pathlib import Path

    from aws_cdk import App, CfnParameter, Stack
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_s3 as s3

    import tests.helpers.synthesized  # noqa: F401  (quiets jsii's node version warnings)
    from infra.nag import acknowledge, add_checks
    from infra.sweep_machine import SweepMachine

    outdir = Path(tempfile.mkdtemp(prefix="ami-hygiene-sweep-"))
    app = App(outdir=str(outdir))
    stack = Stack(app, "SweepMachineTest")
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    bucket = s3.Bucket(stack, "Reports", encryption_key=key, enforce_ssl=True)
    acknowledge(
        bucket, ("AwsSolutions-S1",), "A test fixture: the real report bucket is infra/reporting.py's."
    )
    maximum = CfnParameter(stack, MAX_CONCURRENCY_PARAMETER, type="Number", default=10, min_value=1)
    functions = {
        part: lambda_.Function(
            stack,
            f"{part.title()}Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler=handler,
            code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
        )
        for part, handler in FUNCTIONS.items()
    }
    for function in functions.values():
        acknowledge(
            function,
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "Serverless-LambdaDefaultMemorySize",
                "Serverless-LambdaDefaultTimeout",
                "Serverless-LambdaDLQ",
                "Serverless-LambdaTracing",
            ),
            "A test fixture standing in for the hub's functions (infra/job_function.py makes the real ones).",
        )
    SweepMachine(
        stack,
        MACHINE_ID,
        job=JOB,
        targets=functions["targets"],
        sweep=functions["sweep"],
        digest=functions["digest"],
        bucket=bucket,
        max_concurrency=maximum.value_as_number,
    )
    add_checks(app)
    assembly = app.synth()  # raises on any unacknowledged cdk-nag finding
    template = assembly.get_stack_by_name("SweepMachineTest").template
    [machine] = [
        k for k, v in template["Resources"].items() if v["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    by_handler = {
        v["Properties"]["Handler"]: k
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function"
    }
    report = (
        json.loads((outdir / "validation-report.json").read_text())
        if (outdir / "validation-report.json").exists()
        else {}
    )
    return SweepStack(
        template=template,
        machine=machine,
        functions={part: by_handler[handler] for part, handler in FUNCTIONS.items()},
        validation_report=report,
    )


def definition(stack: SweepStack, arns: Mapping[str, str], max_concurrency: int = 10) -> dict[str, Any]:
    """The definition as CloudFormation makes it, `arns` being the functions' ("targets", ...)."""
    return resolved_definition(
        stack.template,
        stack.machine,
        {stack.functions[part]: arn for part, arn in arns.items()},
        **{MAX_CONCURRENCY_PARAMETER: str(max_concurrency)},
    )


def functions_of(template: Mapping[str, Any], machine: str) -> list[str]:
    """The logical ids of the resources whose Arn the state machine's definition names, in order."""
    parts = template["Resources"][machine]["Properties"]["DefinitionString"]["Fn::Join"][1]
    named = [p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p]
    return list(dict.fromkeys(named))


def resolved_definition(
    template: Mapping[str, Any], machine: str, arns: Mapping[str, str], **parameters: str
) -> dict[str, Any]:
    """A state machine's DefinitionString as CloudFormation makes it for `parameters` (the rest:
    defaults), `arns` being the ARNs of the resources it names (logical id -> ARN)."""
    evaluator = Evaluator(
        template,
        parameter_values(template, parameters),
        region=REGION,
        account=ACCOUNT,
        resources={f"{logical_id}.Arn": arn for logical_id, arn in arns.items()},
    )
    definition_string = template["Resources"][machine]["Properties"]["DefinitionString"]
    return dict(json.loads(evaluator.value(definition_string)))
