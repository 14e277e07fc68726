"""A sharing change in another region reaches the guard through the forwarding rules, and is undone there.

The stack deployed with Regions = REGION,OTHER_REGION, in the sandbox:
- in OTHER_REGION, the forwarding rules the StackSet's instance there creates (the forwarding
  template evaluated as that instance: tests/helpers/cfn.py), targeting REGION's default bus;
- in REGION, the public job's rule as the stack creates it, with an SQS queue standing in for
  its Lambda target (the sandbox runs no function images; the queue shows what EventBridge
  would invoke the function with);
- the public function's handler and environment from the template (tests/helpers/deployed.py).

Moto's EventBridge matches the patterns and delivers to the cross-region bus target
(moto.events.models Rule.send_to_targets: an event-bus target is a PutEvents on that
region's bus). What moto does not keep is the envelope: its re-put event has the target
region's `region` and a new id, where EventBridge delivers the event as it was. The guard
reads the region from the CloudTrail record (detail.awsRegion, jobs/public/events.py), which
both keep.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import time_machine

from sandbox.demo import Seeder
from tests.helpers.cfn import Evaluator, parameter_values
from tests.helpers.constants import ACCOUNT, OTHER_REGION, REAL_NOW, REGION
from tests.helpers.deployed import Deployed, Wiring, deploy, make_wiring
from tests.helpers.events import cloudtrail_event
from tests.helpers.synthesized import Synthesized
from tests.helpers.template import job_function

pytestmark = pytest.mark.slow

REGIONS = f"{REGION},{OTHER_REGION}"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/AmiHygiene/5f7e6d4c-3b2a-4190-8f7e-6d5c4b3a2910"
PERSON = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/alice"
# The whole event, as EventBridge gives a Lambda target. Moto's default delivery to a queue leaves
# out `account` (moto.events.utils EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE), which every
# EventBridge event has (EventBridge user guide, "Amazon EventBridge events": the envelope's fields).
_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
WHOLE_EVENT = {
    "InputPathsMap": {field: f"$.{field}" for field in _FIELDS},
    "InputTemplate": '{"version": "<version>", "id": "<id>", "detail-type": "<detail-type>", '
    '"source": "<source>", "account": "<account>", "time": <time>, "region": "<region>", '
    '"resources": <resources>, "detail": <detail>}',
}


@pytest.fixture
def wiring(aws: None) -> Iterator[Wiring]:
    with time_machine.travel(REAL_NOW, tick=True):
        yield make_wiring()


def _stack(synth: Synthesized) -> Evaluator:
    """The AmiHygiene template in REGION with Regions = REGIONS (role ARNs as deploy() names them)."""
    roles = {f"{k}.Arn": f"arn:aws:iam::{ACCOUNT}:role/{k}" for k in synth.resources("AWS::IAM::Role")}
    return Evaluator(
        synth.template,
        parameter_values(synth.template, {"Regions": REGIONS}),
        region=REGION,
        account=ACCOUNT,
        resources={**roles, "AWS::StackId": STACK_ID, "AWS::StackName": "AmiHygiene"},
    )


def _deploy_forwarding(synth: Synthesized) -> list[str]:
    """Each stack instance's rules, made in the sandbox in its region: the regions that got rules."""
    stack = _stack(synth)
    [stack_set] = synth.resources("AWS::CloudFormation::StackSet").values()
    props = stack.value(stack_set["Properties"])
    template = json.loads(props["TemplateBody"])
    given = {p["ParameterKey"]: p["ParameterValue"] for p in props["Parameters"]}
    [group] = props["StackInstancesGroup"]
    assert group["DeploymentTargets"]["Accounts"] == [ACCOUNT]
    with_rules = []
    for region in group["Regions"]:
        instance = Evaluator(template, parameter_values(template, given), region=region, account=ACCOUNT)
        events = boto3.client("events", region_name=region)
        for name, resource in template["Resources"].items():
            if resource["Type"] != "AWS::Events::Rule" or not instance.created(name):
                continue
            rule = instance.value(resource["Properties"])
            events.put_rule(
                Name=name,
                EventPattern=json.dumps(rule["EventPattern"]),
                EventBusName=rule["EventBusName"],
                State=rule["State"],
            )
            events.put_targets(Rule=name, EventBusName=rule["EventBusName"], Targets=rule["Targets"])
            with_rules.append(region)
    return sorted(set(with_rules))


def _deploy_home_rule(synth: Synthesized) -> str:
    """The public job's rule in REGION as the stack makes it; an SQS queue stands in for its function."""
    fn_id, _ = job_function(synth, "public")
    [rule] = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"]
        and r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    ]
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="public-function-invocations")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(
        Name="PublicSharingCalls", EventPattern=json.dumps(_stack(synth).value(rule["EventPattern"]))
    )
    events.put_targets(
        Rule="PublicSharingCalls",
        Targets=[{"Id": "PublicFunction", "Arn": queue_arn, "InputTransformer": WHOLE_EVENT}],
    )
    return str(queue_url)


def _invocations(queue_url: str) -> list[dict[str, Any]]:
    """The events EventBridge would have invoked the public function with, oldest first."""
    sqs = boto3.client("sqs", region_name=REGION)
    found = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return found
        for message in got:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _put_cloudtrail_event(event: dict[str, Any], region: str) -> None:
    """The CloudTrail event on `region`'s default bus, as CloudTrail puts it there."""
    answer = boto3.client("events", region_name=region).put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0, answer


def _made_public(region: str, name: str) -> tuple[str, dict[str, Any]]:
    """An image in `region` made public, and the CloudTrail event of that call."""
    image = Seeder(region, REAL_NOW).image(name, 1)
    boto3.client("ec2", region_name=region).modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]}
    )
    event = cloudtrail_event("public/image_public.json", region=region, actor=PERSON)
    event["detail"]["requestParameters"]["imageId"] = image
    return image, event


def _launch_permissions(region: str, image: str) -> list[dict[str, Any]]:
    ec2 = boto3.client("ec2", region_name=region)
    return list(
        ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")["LaunchPermissions"]
    )


@pytest.fixture
def deployed(synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    return deploy(synth, wiring, monkeypatch, job="public", PublicSharingMode="enforce", Regions=REGIONS)


def test_an_image_made_public_in_another_region_is_private_after_one_invocation(
    synth: Synthesized, deployed: Deployed
) -> None:
    # Every region in Regions has real-time coverage now: the function says so.
    assert deployed.environment["REALTIME_REGIONS"] == REGIONS
    # The stack region's own instance is skipped: its rules see its events already.
    assert _deploy_forwarding(synth) == [OTHER_REGION]
    queue_url = _deploy_home_rule(synth)
    image, event = _made_public(OTHER_REGION, "web-1")

    _put_cloudtrail_event(event, OTHER_REGION)

    [delivered] = _invocations(queue_url)  # forwarded once, to the stack region's rule
    assert delivered["detail"] == event["detail"] and delivered["detail"]["awsRegion"] == OTHER_REGION
    result = deployed.handler(delivered, deployed.context)
    assert result["status"] == "completed", result
    assert _launch_permissions(OTHER_REGION, image) == []
    [envelope] = deployed.messages()
    assert envelope["Subject"].startswith(f"[ami-hygiene] {OTHER_REGION} public: CRITICAL 1 public")


def test_a_stack_region_event_reaches_the_guard_once(synth: Synthesized, deployed: Deployed) -> None:
    _deploy_forwarding(synth)
    queue_url = _deploy_home_rule(synth)
    image, event = _made_public(REGION, "web-2")

    _put_cloudtrail_event(event, REGION)

    [delivered] = _invocations(queue_url)  # no forwarding rule in the stack region: no second copy
    result = deployed.handler(delivered, deployed.context)
    assert result["status"] == "completed", result
    assert _launch_permissions(REGION, image) == []


def test_the_jobs_own_revocation_in_another_region_is_not_forwarded(
    synth: Synthesized, deployed: Deployed
) -> None:
    _deploy_forwarding(synth)
    queue_url = _deploy_home_rule(synth)
    own = [r for r in deployed.environment["OWN_ROLE_ARNS"].split(",") if "/PublicRole" in r]
    assert len(own) == 1
    _, event = _made_public(OTHER_REGION, "web-3")
    event["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{own[0].rsplit('/', 1)[1]}/AmiHygiene-public",
        "accountId": ACCOUNT,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": own[0]}},
    }

    _put_cloudtrail_event(event, OTHER_REGION)

    assert _invocations(queue_url) == []
    # A person's call in that region is forwarded (the queue works).
    _, person = _made_public(OTHER_REGION, "web-4")
    _put_cloudtrail_event(person, OTHER_REGION)
    assert len(_invocations(queue_url)) == 1
