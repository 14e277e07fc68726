"""Fuzzing the deployed handlers: no event, however malformed, crashes one or acts for another account.

Each example starts a fresh sandbox, wires the stack's topic, bucket and lease
table (tests/helpers/deployed.py), deploys the job's function as the template does,
in enforce mode, seeds an estate that gives every job something to change (old
images of a family, an image public and shared with a stranger, a running or
finished build), binds the event's placeholders to what was seeded, and invokes
the handler while every API call it makes is recorded (botocore's
BaseClient._make_api_call: whatever session the handler builds). Properties:

- the handler returns; it never raises on an event's content, nor does the
  event reach handle()'s last line of defence (an "unexpected failure");
- an event a mutation broke (another account, a malformed id / region / time,
  another call or service, not an object, ...) makes no mutating call: none but
  Describe*/Get*/List*, the report topic's Publish, the report bucket's
  PutObject and the sweep lease's writes; any that is made is in the region;
- a realistic, unmutated event is never refused, and in enforce mode it does
  change something (so the fuzz test's "no mutating call" is not vacuous);
- every message published fits SNS's limits (subject, size, encoding).

Which example counts is the hypothesis profile: "fuzz-ci" (25 examples per job,
no shrinking) unless AMI_HYGIENE_FUZZ=1 selects "fuzz" (300, shrunk; `make fuzz`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.client import BaseClient
from botocore.loaders import Loader, create_loader
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from moto import mock_aws

import sandbox
from sandbox.automation import complete_automation
from sandbox.demo import Seeder
from sandbox.image_builder import complete_build
from tests.helpers.constants import ACCOUNT, FOREIGN, REAL_NOW, REGION, SNS_LIMIT, STRANGER
from tests.helpers.deployed import deploy, make_wiring, scheduled_now
from tests.helpers.fuzz_events import (
    BUILD_ARN,
    EXECUTION_ID,
    IMAGES,
    JOB_KINDS,
    SCHEDULED,
    SNAPSHOT,
    SOURCE_IMAGE,
    Case,
    account_paths,
    bind,
    cases,
    for_another_account,
    realistic_event,
    short,
)
from tests.helpers.synthesized import Synthesized, synthesize

# CI: a few examples per job, no shrinking (a failing example prints its mutations and a clipped
# event; shrinking one through the sandbox takes minutes). AMI_HYGIENE_FUZZ=1: hundreds, shrunk.
settings.register_profile(
    "fuzz-ci",
    max_examples=25,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
settings.register_profile("fuzz", settings.get_profile("fuzz-ci"), max_examples=300, phases=list(Phase))
FUZZ = settings.get_profile("fuzz" if os.environ.get("AMI_HYGIENE_FUZZ") == "1" else "fuzz-ci")

PIPELINE = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-pipeline/web"
PARAMETERS: dict[str, dict[str, str]] = {
    "rotate": {"RotationMode": "enforce"},
    "tags": {"TagPolicyMode": "enforce", "RequiredTags": "Owner,Environment"},
    "public": {"PublicSharingMode": "enforce"},
    "rebuild": {
        "RebuildMode": "enforce",
        "FamilyPipelines": f"web={PIPELINE}",
        "AutomationInstanceProfile": "PatchBuilder",
        "AutomationSecurityGroupIds": "sg-0123456789abcdef0",
        "AutomationSubnetId": "subnet-0123456789abcdef0",
    },
}
READS = ("Describe", "Get", "List")
UNEXPECTED = "unexpected failure"  # handle()'s answer for an exception that escaped the job


class Stack:
    """The synthesized stack (synthesized once per process), printed short in hypothesis' reports."""

    def __init__(self, synthesized: Synthesized) -> None:
        self.synthesized = synthesized

    def __repr__(self) -> str:
        return "<synthesized AmiHygiene stack>"


@pytest.fixture(scope="module")
def synth() -> Stack:
    return Stack(synthesize())


# -- what the handler calls --------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    region: str
    params: dict[str, Any]

    def __repr__(self) -> str:
        return f"{self.service}.{self.operation}@{self.region}({short(self.params, 60)})"


@dataclass
class Recorder:
    """Every API call any boto3 client makes while `recording` is on."""

    recording: bool = False
    calls: list[Call] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<Recorder: {len(self.calls)} call(s)>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis prints an argument
        printer.text(repr(self))


LOADERS: dict[Any, Loader] = {}


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    sandbox.install()
    found = Recorder()
    original = BaseClient._make_api_call

    def recording(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if found.recording:
            service = client.meta.service_model.service_name
            found.calls.append(Call(service, operation_name, client.meta.region_name, dict(api_params)))
        return original(client, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)

    # Every invocation makes a new boto3 Session, which reads botocore's service models again
    # (most of an example's time): share one loader. Its models are read-only.
    def shared_loader(data_path: Any = "") -> Loader:
        if data_path not in LOADERS:
            LOADERS[data_path] = create_loader(data_path)
        return LOADERS[data_path]

    monkeypatch.setattr(botocore.session, "create_loader", shared_loader)
    return found


def mutating(calls: list[Call], env: dict[str, str]) -> list[Call]:
    """Calls that change something other than the report topic, the report bucket and the lease."""

    def allowed(call: Call) -> bool:
        p = call.params
        return (
            call.operation.startswith(READS)
            or (call.service, call.operation) == ("sts", "AssumeRole")  # read-only consumer roles
            or p.get("DryRun") is True
            or (call.operation == "Publish" and p.get("TopicArn") == env.get("TOPIC_ARN"))
            or (call.operation == "PutObject" and p.get("Bucket") == env.get("REPORT_BUCKET"))
            or (
                call.operation in ("PutItem", "UpdateItem", "DeleteItem")
                and p.get("TableName") == env.get("LEASE_TABLE")
            )
        )

    return [c for c in calls if not allowed(c)]


def sns_problems(subject: Any, message: Any, attributes: dict[str, Any] | None) -> list[str]:
    """What breaks SNS Publish's documented limits (empty: nothing)."""
    problems = []
    if subject is not None:
        if not isinstance(subject, str) or not 0 < len(subject) < 100:
            problems.append(f"subject of {len(subject or '')} characters: {short(subject, 80)}")
        elif not subject.isascii() or any(ord(c) < 32 or ord(c) == 127 for c in subject):
            problems.append(f"subject not printable ASCII: {subject!r}")
        elif subject[0].isspace():
            problems.append(f"subject starts with a space: {subject!r}")
    if not isinstance(message, str) or not message:
        return [*problems, f"message is {short(message)}"]
    try:
        size = len(message.encode("utf-8"))
    except UnicodeEncodeError as err:
        return [*problems, f"message is not UTF-8: {err}"]
    for name, attribute in (attributes or {}).items():
        value = attribute.get("StringValue", attribute.get("Value", ""))
        kind = attribute.get("DataType", attribute.get("Type", ""))
        if not value:
            problems.append(f"attribute {name} is empty")
        try:
            size += len(name.encode()) + len(kind.encode()) + len(str(value).encode("utf-8"))
        except UnicodeEncodeError as err:
            problems.append(f"attribute {name} is not UTF-8: {err}")
    if size > SNS_LIMIT:
        problems.append(f"message and attributes are {size} bytes, over {SNS_LIMIT}")
    return problems


# -- one invocation against a fresh sandbox ----------------------------------------------------


@dataclass
class Outcome:
    result: Any
    calls: list[Call]
    environment: dict[str, str]
    notifications: list[tuple[str, str, str | None, dict[str, Any] | None, str | None]]
    seeded: dict[str, str]

    @property
    def mutating(self) -> list[Call]:
        return mutating(self.calls, self.environment)

    @property
    def publishes(self) -> list[Call]:
        return [c for c in self.calls if c.operation == "Publish"]


def seed(case: Case) -> dict[str, str]:
    """An estate with work for every job; the placeholders of the case's events mapped to it."""
    seeder = Seeder(REGION, REAL_NOW)
    ec2 = seeder.ec2
    app = seeder.image("app-2024.01.01", 200, tags={"ami-hygiene:family": "app", "Owner": "payments"})
    old = [
        seeder.image(f"old-2023.0{n + 1}.01", 200 + 30 * n, tags={"ami-hygiene:family": "old"})
        for n in range(4)
    ]
    (image,) = ec2.describe_images(ImageIds=[app])["Images"]
    snapshot = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    ec2.modify_image_attribute(
        ImageId=app, LaunchPermission={"Add": [{"Group": "all"}, {"UserId": STRANGER}]}
    )
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"]
    )
    mapping = {IMAGES[0]: app, IMAGES[1]: old[0], IMAGES[2]: old[1], SOURCE_IMAGE: old[2], SNAPSHOT: snapshot}
    if case.job != "rebuild":
        return mapping
    builder = boto3.client("imagebuilder", region_name=REGION)
    builder.create_image_pipeline(
        name="web",
        imageRecipeArn=f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-recipe/web/1.0.0",
        infrastructureConfigurationArn=f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:infrastructure-configuration/b",
        tags={"ami-hygiene:family": "web"},
        clientToken="create-web",
    )
    seeder.image(
        "web-2024-05-01",
        45,
        tags={"ami-hygiene:family": "web", "ami-hygiene:pipeline": PIPELINE, "Owner": "platform"},
    )
    status = case.base["detail"].get("state", {}).get("status") or case.base["detail"].get("Status")
    if case.kind == "ImageBuilder":
        build = builder.start_image_pipeline_execution(imagePipelineArn=PIPELINE, clientToken="fuzz-build")[
            "imageBuildVersionArn"
        ]
        if status in ("AVAILABLE", "FAILED"):
            complete_build(build, succeed=status == "AVAILABLE", reason="Component update-linux failed")
        mapping[BUILD_ARN] = build
    if case.kind == "Automation":
        windows = case.base["detail"]["Definition"] == "AWS-UpdateWindowsAmi"
        execution = boto3.client("ssm", region_name=REGION).start_automation_execution(
            DocumentName=case.base["detail"]["Definition"],
            Parameters={
                "SourceAmiId": [app],
                **({} if windows else {"SecurityGroupIds": ["sg-0123456789abcdef0"]}),
            },
        )["AutomationExecutionId"]
        if status in ("Success", "Failed"):
            complete_automation(execution, succeed=status == "Success", reason="Step updateOSSoftware failed")
        mapping[EXECUTION_ID] = execution
    return mapping


def invoke(case: Case, synth: Stack, monkeypatch: pytest.MonkeyPatch, recorder: Recorder) -> Outcome:
    """The case's event, bound to a freshly seeded sandbox, through the job's deployed handler."""
    from moto.sns.models import sns_backends

    with mock_aws():
        wiring = make_wiring()
        deployed = deploy(synth.synthesized, wiring, monkeypatch, job=case.job, **PARAMETERS[case.job])
        seeded = seed(case)
        event = bind(case.event, seeded)
        recorder.calls.clear()
        recorder.recording = True
        try:
            result = deployed.handler(event, deployed.context)
        finally:
            recorder.recording = False
        topic = sns_backends[ACCOUNT][REGION].topics[wiring.topic_arn]
        return Outcome(
            result, list(recorder.calls), deployed.environment, list(topic.sent_notifications), seeded
        )


def check(case: Case, outcome: Outcome) -> None:
    """The properties every case must have (see the module docstring)."""
    result = outcome.result
    assert isinstance(result, dict) and isinstance(result.get("status"), str), result
    # handle()'s last line of defence answers "failed" for what escaped a job: a bug, whatever the input.
    assert result.get("error") != UNEXPECTED, f"the event reached the last line of defence: {short(result)}"
    for call in outcome.publishes:
        p = call.params
        problems = sns_problems(p.get("Subject"), p.get("Message"), p.get("MessageAttributes"))
        assert not problems, f"Publish breaks SNS limits: {problems}"
        if p.get("MessageStructure") == "json":
            body = json.loads(p["Message"])
            assert isinstance(body, dict) and isinstance(body.get("default"), str), short(body)
    for _id, message, subject, attributes, _group in outcome.notifications:
        problems = sns_problems(subject, message, attributes)
        assert not problems, f"SNS delivered what breaks its limits: {problems}"
    acted = outcome.mutating
    elsewhere = [c for c in acted if c.region != REGION]
    assert not elsewhere, f"acted outside {REGION}: {elsewhere}"
    if case.broken:
        assert not acted, f"a broken event ({case.mutations}) made mutating calls: {acted}; result {result}"
    if not case.mutations:
        assert result["status"] != "rejected", f"a realistic {case.kind} event was refused: {result}"


# -- the properties ----------------------------------------------------------------------------


@pytest.mark.parametrize("job", list(JOB_KINDS))
@FUZZ
@given(data=st.data())
def test_no_event_crashes_a_handler_or_makes_a_broken_one_act(
    job: str,
    data: st.DataObject,
    synth: Stack,
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,
) -> None:
    drawn = data.draw(cases(job), label="case")
    outcome = invoke(drawn, synth, monkeypatch, recorder)
    event(f"{'realistic' if not drawn.mutations else 'broken' if drawn.broken else 'mutated'}")
    event(f"status: {outcome.result.get('status') if isinstance(outcome.result, dict) else outcome.result}")
    note(f"result: {short(outcome.result)}")
    note(f"calls: {outcome.calls}")
    check(drawn, outcome)


# Realistic events in enforce mode against an estate that needs work: the job acts, so the fuzz
# test's "no mutating call" would show a wrong action (the harness is not blind).
ACTS = {
    ("tags", "CreateImage"),
    ("tags", "CopyImage"),
    ("tags", "RegisterImage"),
    ("tags", "StateChange"),
    ("tags", SCHEDULED),
    ("public", "ModifyImageAttribute"),
    ("public", "ModifySnapshotAttribute"),
    ("public", "DisableImageBlockPublicAccess"),
    ("public", SCHEDULED),
    ("rebuild", "ImageBuilder"),
    ("rebuild", "Automation"),
    ("rebuild", SCHEDULED),
    ("rotate", SCHEDULED),
    ("tags", "CreateTags"),
    ("tags", "DeleteTags"),
}
EVERY_KIND = [(job, kind) for job, kinds in JOB_KINDS.items() for kind in kinds]


@pytest.mark.parametrize(("job", "kind"), EVERY_KIND)
@settings(FUZZ, max_examples=1, derandomize=True)  # one fixed realistic event
@given(data=st.data())
def test_a_realistic_event_of_every_kind_is_never_refused(
    job: str,
    kind: str,
    data: st.DataObject,
    synth: Stack,
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,
) -> None:
    event = data.draw(realistic_event(kind, job), label="event")
    case = Case(job, kind, event, event)
    outcome = invoke(case, synth, monkeypatch, recorder)
    check(case, outcome)
    assert outcome.result["status"] in ("completed", "ignored"), outcome.result
    if (job, kind) in ACTS and outcome.result["status"] == "completed":
        assert outcome.mutating, f"the valid {kind} event changed nothing: {outcome.result}"


FOREIGN_CASES = [
    pytest.param(job, kind, path, id=f"{job}-{kind}-{'.'.join(map(str, path))}")
    for job, kind in EVERY_KIND
    for path in account_paths(kind)
]


@pytest.mark.parametrize(("job", "kind", "path"), FOREIGN_CASES)
@settings(FUZZ, max_examples=1, derandomize=True)  # one fixed realistic event
@given(data=st.data())
def test_an_event_for_another_account_is_refused_with_no_mutating_call(
    job: str,
    kind: str,
    path: tuple[str | int, ...],
    data: st.DataObject,
    synth: Stack,
    monkeypatch: pytest.MonkeyPatch,
    recorder: Recorder,
) -> None:
    """Every kind of event of every job, Scheduled Events included, for another (well-formed) account."""
    event = data.draw(realistic_event(kind, job), label="event")
    foreign = for_another_account(event, path)
    case = Case(job, kind, event, foreign, (f"{'.'.join(map(str, path))} -> account {FOREIGN}",), broken=True)
    outcome = invoke(case, synth, monkeypatch, recorder)
    check(case, outcome)
    assert outcome.result["status"] == "rejected", outcome.result
    [error] = outcome.publishes  # reported once, as an error
    assert error.params["MessageAttributes"]["severity"]["StringValue"] == "error"


@pytest.mark.parametrize("job", list(JOB_KINDS))
@pytest.mark.parametrize(
    "event",
    [None, "str", [scheduled_now()], json.dumps(scheduled_now())],  # the fuzz test draws more
    ids=["None", "str", "list-of-event", "json-string"],
)
def test_an_event_that_is_no_object_is_refused(
    job: str, event: Any, synth: Stack, monkeypatch: pytest.MonkeyPatch, recorder: Recorder
) -> None:
    case = Case(job, SCHEDULED, scheduled_now(), event, ("not an object",), broken=True)
    outcome = invoke(case, synth, monkeypatch, recorder)
    check(case, outcome)
    assert outcome.result["status"] == "rejected", outcome.result


def test_the_sns_check_flags_what_sns_refuses() -> None:
    """The harness is not blind: each limit the fuzz test checks is caught when broken."""
    attributes = {"job": {"DataType": "String", "StringValue": "tags"}}
    assert sns_problems("[ami-hygiene] eu-west-1 tags: ok", "{}", attributes) == []
    assert sns_problems("x" * 100, "{}", None)  # "must be less than 100 characters"
    assert sns_problems("caf\u00e9", "{}", None)  # ASCII only
    assert sns_problems("a\nb", "{}", None)  # no line breaks or control characters
    assert sns_problems(None, "x" * (SNS_LIMIT - 10), attributes)  # body and attributes count together
    assert sns_problems(None, "x\ud800", None)  # not UTF-8
    assert sns_problems(None, "{}", {"job": {"DataType": "String", "StringValue": ""}})  # empty value
    calls = [
        Call("ec2", "DescribeImages", REGION, {}),
        Call("ec2", "CreateTags", REGION, {}),
        Call("ec2", "ModifyImageAttribute", REGION, {"DryRun": True}),
        Call("sns", "Publish", REGION, {"TopicArn": "arn:topic"}),
        Call("sns", "Publish", REGION, {"TopicArn": "arn:other"}),
        Call("dynamodb", "PutItem", REGION, {"TableName": "lease"}),
        Call("dynamodb", "PutItem", REGION, {"TableName": "other"}),
    ]
    env = {"TOPIC_ARN": "arn:topic", "LEASE_TABLE": "lease"}
    assert [(c.operation, c.params) for c in mutating(calls, env)] == [
        ("CreateTags", {}),
        ("Publish", {"TopicArn": "arn:other"}),
        ("PutItem", {"TableName": "other"}),
    ]
