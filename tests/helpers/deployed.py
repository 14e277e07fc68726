"""The stack's functions as the template deploys them, wired to sandbox stand-ins.

`deploy(synth, wiring, monkeypatch, job=..., **parameters)` finds the job's
function in the synthesized template, evaluates its environment for the given
parameter values, imports its handler and gives a Lambda-like context
(tests/helpers/lambda_context.py); what it publishes is read through an SQS
queue subscribed to the topic. Its events: tests/helpers/events.py.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.helpers.cfn import Evaluator, parameter_values
from tests.helpers.constants import ACCOUNT, REAL_NOW, REGION
from tests.helpers.events import scheduled_event
from tests.helpers.lambda_context import LambdaContext
from tests.helpers.sandbox import notifications
from tests.helpers.synthesized import Synthesized

ROTATE_SCHEDULE_RULE = "AmiHygiene-RotateScheduleRule6E1ACA0B-1X2Y3Z"


def scheduled_now(rule_name: str = ROTATE_SCHEDULE_RULE) -> dict[str, Any]:
    """The schedule rule's event as a deployed function gets it: a new id, sent now (REAL_NOW)."""
    return scheduled_event(rule_name, at=REAL_NOW, event_id=str(uuid.uuid4()))


@dataclass
class Deployed:
    """The rotation function as the template deploys it, wired to sandbox resources."""

    handler: Callable[[Any, Any], Any]
    environment: dict[str, str]
    context: LambdaContext
    topic_arn: str
    queue_url: str

    def messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        out: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for message in got:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def published_bodies(self) -> list[dict[str, str]]:
        return [n.body for n in notifications(self.topic_arn)]


@dataclass(frozen=True)
class Wiring:
    """Sandbox stand-ins for the stack's topic and bucket, and a queue that reads the topic."""

    topic_arn: str
    bucket: str
    queue_url: str


def make_wiring() -> Wiring:
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name="ami-hygiene-reports")["TopicArn"]
    bucket = "ami-hygiene-reports-e2e"
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": REGION},  # type: ignore[typeddict-item]
    )
    queue_url = sqs.create_queue(QueueName="report-reader")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)  # raw delivery off
    return Wiring(topic_arn, bucket, queue_url)


def sandbox_table(logical_id: str, resource: dict[str, Any]) -> str:
    """The template's DynamoDB table in the sandbox (made once; its key, billing and TTL): its name."""
    props = resource["Properties"]
    name = f"AmiHygiene-{logical_id}"
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    if name in dynamodb.list_tables()["TableNames"]:
        return name
    dynamodb.create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode=props["BillingMode"],
    )
    if "TimeToLiveSpecification" in props:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    return name


def deploy(
    synth: Synthesized,
    wiring: Wiring,
    monkeypatch: pytest.MonkeyPatch,
    *,
    job: str = "rotate",
    **parameters: str,
) -> Deployed:
    """The job's function with the template's handler and environment for these parameter values."""
    template = synth.template
    [(fn_id, fn)] = [
        (k, v)
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"].get("Handler", "").endswith(f".handlers.{job}.handler")
    ]
    props = fn["Properties"]
    topic_arn, bucket, queue_url = wiring.topic_arn, wiring.bucket, wiring.queue_url

    physical = {
        **{k: topic_arn for k in synth.resources("AWS::SNS::Topic")},
        **{k: bucket for k in synth.resources("AWS::S3::Bucket")},
        # Roles the functions are told about (e.g. the one SSM Automation assumes).
        **{f"{k}.Arn": f"arn:aws:iam::{ACCOUNT}:role/{k}" for k in synth.resources("AWS::IAM::Role")},
        # The sweep lease table, made in the sandbox as the template describes it: sweeps use it for real.
        **{k: sandbox_table(k, v) for k, v in synth.resources("AWS::DynamoDB::Table").items()},
    }
    evaluator = Evaluator(
        template, parameter_values(template, parameters), region=REGION, account=ACCOUNT, resources=physical
    )
    environment = {k: str(v) for k, v in evaluator.value(props["Environment"]["Variables"]).items()}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"AmiHygiene-{fn_id}")

    module_name, function_name = props["Handler"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    context = LambdaContext(
        function_name=f"AmiHygiene-{fn_id}",
        timeout_ms=int(props["Timeout"]) * 1000,
        memory_limit_in_mb=int(props["MemorySize"]),
        counting=True,
    )
    return Deployed(handler, environment, context, topic_arn, queue_url)
