"""The event-driven functions as deployed: tag check on image creation, sharing guard on a share.

Each takes its handler and environment from the synthesized template, gets a
real-shaped EventBridge event, runs against the sandbox, and is read through
the SQS queue subscribed to the report topic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import time_machine

from sandbox.demo import Seeder
from tests.helpers.constants import ACCOUNT, REAL_NOW, REGION, STRANGER
from tests.helpers.deployed import Wiring, deploy, make_wiring, scheduled_now
from tests.helpers.events import cloudtrail_event, load_event
from tests.helpers.sandbox import tags_of
from tests.helpers.synthesized import Synthesized

pytestmark = pytest.mark.slow

CREATOR = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/alice"


@pytest.fixture
def wiring(aws: None) -> Iterator[Wiring]:
    with time_machine.travel(REAL_NOW, tick=True):
        yield make_wiring()


def _cloudtrail(name: str, **request: Any) -> dict[str, Any]:
    event = cloudtrail_event(name, actor=CREATOR)
    detail = event["detail"]
    for key, value in request.items():
        section, field = key.split("__")
        detail[section][field] = value
    return event


# -- tags -------------------------------------------------------------------------------------


def test_an_image_created_without_owner_is_tagged_and_one_email_says_what_is_missing(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(
        synth, wiring, monkeypatch, job="tags", RequiredTags="Owner,Environment=^(prod|staging|dev)$"
    )
    assert deployed.environment["MODE"] == "enforce"  # the default: it only adds tags
    image = Seeder(REGION, REAL_NOW).image("web-2026.11.27", 0.001, tags={"Environment": "prod"})

    result = deployed.handler(
        _cloudtrail("tags/create_image.json", responseElements__imageId=image), deployed.context
    )

    assert result["status"] == "completed", result
    tags = tags_of(image)
    assert tags["ami-hygiene:created-by"] == CREATOR and "ami-hygiene:created-at" in tags
    (snapshot,) = [
        m["Ebs"]["SnapshotId"]
        for m in boto3.client("ec2", region_name=REGION).describe_images(ImageIds=[image])["Images"][0][
            "BlockDeviceMappings"
        ]
    ]
    assert tags_of(snapshot) == {"Environment": "prod"}
    [envelope] = deployed.messages()
    assert envelope["Subject"] == f"[ami-hygiene] {REGION} tags: 1 non-compliant, 1 tagged"
    [body] = deployed.published_bodies()
    assert "missing Owner" in body["email"] and CREATOR in body["email"]
    assert envelope["MessageAttributes"]["job"]["Value"] == "tags"


def test_a_compliant_image_sends_no_email(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, job="tags", RequiredTags="Owner")
    image = Seeder(REGION, REAL_NOW).image("app-1", 0.001, tags={"Owner": "alice"})
    result = deployed.handler(
        _cloudtrail("tags/create_image.json", responseElements__imageId=image), deployed.context
    )
    assert result["status"] == "completed" and result["messages"] == []
    assert deployed.messages() == []
    assert "ami-hygiene:created-by" in tags_of(image)


@pytest.mark.parametrize("name", ["create_image_foreign.json", "create_tags_instance_only.json"])
def test_a_foreign_or_unrelated_event_changes_nothing_and_says_why(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, job="tags", RequiredTags="Owner")
    event = load_event(f"tags/{name}")
    result = deployed.handler(event, deployed.context)
    assert result["status"] == "rejected"
    [envelope] = deployed.messages()
    assert envelope["Subject"] == f"[ami-hygiene] {REGION} tags: ERROR event not acted on"
    assert json.loads(envelope["Message"])["changed"] is False


def test_the_sweep_sends_one_digest(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, job="tags", RequiredTags="Owner", TagPolicyMode="report")
    seeder = Seeder(REGION, REAL_NOW)
    for n in range(3):
        seeder.image(f"old-{n}", 3)
    result = deployed.handler(scheduled_now(), deployed.context)
    assert result["status"] == "completed"
    [envelope] = deployed.messages()
    assert envelope["Subject"] == f"[ami-hygiene] {REGION} tags (report mode): 3 non-compliant, 3 to tag"


# -- public -----------------------------------------------------------------------------------


def test_an_image_made_public_is_private_after_one_invocation_and_one_critical_email(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, job="public", PublicSharingMode="enforce")
    image = Seeder(REGION, REAL_NOW).image("web-1", 1)
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"Group": "all"}, {"UserId": STRANGER}]}
    )
    snapshot = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0]["Ebs"][
        "SnapshotId"
    ]
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission", OperationType="add", GroupNames=["all"]
    )
    event = load_event("public/image_public.json")
    event.update(account=ACCOUNT, region=REGION)
    event["detail"]["requestParameters"]["imageId"] = image

    result = deployed.handler(event, deployed.context)

    assert result["status"] == "completed", result
    assert (
        ec2.describe_image_attribute(ImageId=image, Attribute="launchPermission")["LaunchPermissions"] == []
    )
    volume = ec2.describe_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission")
    assert volume["CreateVolumePermissions"] == []
    [envelope] = deployed.messages()
    assert envelope["MessageAttributes"]["severity"]["Value"] == "critical"
    assert envelope["Subject"].startswith(f"[ami-hygiene] {REGION} public: CRITICAL 2 public")
    [body] = deployed.published_bodies()
    who = event["detail"]["userIdentity"]["arn"]
    assert who in body["email"] and event["detail"]["sourceIPAddress"] in body["email"]
    assert "REVOKE-PUBLIC" in body["email"]


def test_removing_a_share_needs_no_guard(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, job="public", PublicSharingMode="enforce")
    event = load_event("public/image_remove_only.json")
    result = deployed.handler(event, deployed.context)
    assert result["status"] == "ignored" and deployed.messages() == []


# -- rebuild ----------------------------------------------------------------------------------


def test_a_stale_family_gets_one_build_and_its_completion_names_the_new_image(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.image_builder import complete_build

    pipeline = boto3.client("imagebuilder", region_name=REGION).create_image_pipeline(
        name="web",
        imageRecipeArn=f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-recipe/web/1.0.0",
        infrastructureConfigurationArn=f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:infrastructure-configuration/b",
        tags={"ami-hygiene:family": "web"},
        clientToken="create-web",
    )["imagePipelineArn"]
    Seeder(REGION, REAL_NOW).image("web-2026-10-01", 45, tags={"ami-hygiene:family": "web"})
    deployed = deploy(
        synth, wiring, monkeypatch, job="rebuild", RebuildMode="enforce", FamilyPipelines=f"web={pipeline}"
    )

    first = deployed.handler(scheduled_now(), deployed.context)
    again = deployed.handler(scheduled_now(), deployed.context)

    assert first["summary"]["builds_started"] == 1 and again["summary"]["builds_started"] == 0
    builds = boto3.client("imagebuilder", region_name=REGION).list_image_pipeline_images(
        imagePipelineArn=pipeline
    )["imageSummaryList"]
    assert len(builds) == 1
    [started] = deployed.messages()  # the second run found the build running: nothing to say
    assert started["Subject"] == f"[ami-hygiene] {REGION} rebuild: 1 stale, 1 build started"

    event = complete_build(builds[0]["arn"])
    done = deployed.handler(event, deployed.context)

    assert done["status"] == "completed", done
    [finished] = deployed.messages()
    [new_image] = [
        i["ImageId"]
        for i in boto3.client("ec2", region_name=REGION).describe_images(Owners=["self"])["Images"]
        if i["Name"] != "web-2026-10-01"
    ]
    assert finished["Subject"] == f"[ami-hygiene] {REGION} rebuild: web rebuilt: {new_image}"
    assert new_image in deployed.published_bodies()[-1]["email"]


# -- the jobs never trigger themselves ---------------------------------------------------------


def _own_role_event(deployed: Any, name: str, job_role: str) -> dict[str, Any]:
    """A CloudTrail event as the function of `job_role` makes it: a session of its execution role."""
    event = _cloudtrail(name)
    (role,) = [r for r in deployed.environment["OWN_ROLE_ARNS"].split(",") if f"/{job_role}Role" in r]
    event["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/AmiHygiene-fn",
        "accountId": ACCOUNT,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role}},
    }
    return event


def _rule_pattern(synth: Synthesized, logical_prefix: str) -> Any:
    """The rule's event pattern as deployed (role ARNs as the e2e wiring names them), as moto matches it."""
    from moto.events.models import EventPattern

    from tests.helpers.cfn import Evaluator, parameter_values

    [rule] = [v for k, v in synth.resources("AWS::Events::Rule").items() if k.startswith(logical_prefix)]
    roles = {f"{k}.Arn": f"arn:aws:iam::{ACCOUNT}:role/{k}" for k in synth.resources("AWS::IAM::Role")}
    evaluator = Evaluator(
        synth.template, parameter_values(synth.template, {}), region=REGION, account=ACCOUNT, resources=roles
    )
    pattern = evaluator.value(rule["Properties"]["EventPattern"])
    return EventPattern(json.dumps(pattern), pattern)


@pytest.mark.parametrize(
    ("job", "rule", "fixture", "writer"),
    [
        ("tags", "TagsImageCalls", "tags/create_tags.json", "Rotate"),  # rotate's disabled-at / retired tags
        ("tags", "TagsImageCalls", "tags/create_tags.json", "Tags"),  # the tag job's own auto-tags
        ("tags", "TagsImageCalls", "tags/create_tags.json", "Rebuild"),  # rebuild's family tags
        ("public", "PublicSharingCalls", "public/image_public.json", "Public"),  # the guard's revocation
    ],
)
def test_an_event_made_by_the_stacks_own_role_matches_no_rule_and_does_nothing(
    synth: Synthesized,
    wiring: Wiring,
    monkeypatch: pytest.MonkeyPatch,
    job: str,
    rule: str,
    fixture: str,
    writer: str,
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, job=job, RequiredTags="Owner", PublicSharingMode="enforce")
    own = _own_role_event(deployed, fixture, writer)
    pattern = _rule_pattern(synth, rule)
    assert not pattern.matches_event(own)
    # A person's call, and an IAM user's (no session issuer at all), still match.
    person = _cloudtrail(fixture)
    assert pattern.matches_event(person)
    user = json.loads(json.dumps(person))
    user["detail"]["userIdentity"] = {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob"}
    assert pattern.matches_event(user)
    # Defence in depth: delivered anyway (a direct invocation), the handler does nothing and says nothing.
    result = deployed.handler(own, deployed.context)
    assert result["status"] == "ignored" and "made by ami-hygiene itself" in result["detail"]
    assert deployed.messages() == []


# -- what a sweep cannot cover ---------------------------------------------------------------


def _sweep_warnings(deployed: Any) -> tuple[set[str], list[str]]:
    """A sweep with a public image in each region: its reports' warnings, and its e-mails."""
    for region in (REGION, "us-east-1"):
        boto3.client("ec2", region_name=region).modify_image_attribute(
            ImageId=Seeder(region, REAL_NOW).image("web-2", 1), LaunchPermission={"Add": [{"Group": "all"}]}
        )
    result = deployed.handler(scheduled_now(), deployed.context)
    assert result["status"] == "completed", result
    bodies = deployed.published_bodies()
    assert {r for body in bodies for r in json.loads(body["sqs"])["regions"]} == {REGION, "us-east-1"}
    return {w for body in bodies for w in json.loads(body["sqs"])["warnings"]}, [b["email"] for b in bodies]


def test_every_region_in_regions_has_real_time_rules_and_a_sweep_warns_of_none(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stack region's rules, and the forwarding rules of the other regions (infra/forwarding.py).
    deployed = deploy(synth, wiring, monkeypatch, job="public", Regions=f"{REGION},us-east-1")
    assert deployed.environment["REALTIME_REGIONS"] == f"{REGION},us-east-1"
    warnings, _ = _sweep_warnings(deployed)
    assert not any("real-time" in w for w in warnings)


def test_a_sweep_names_each_region_no_real_time_rule_reaches(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A function whose rules reach its own region only (deployed without the forwarding rules).
    deployed = deploy(synth, wiring, monkeypatch, job="public", Regions=f"{REGION},us-east-1")
    monkeypatch.setenv("REALTIME_REGIONS", REGION)
    warnings, texts = _sweep_warnings(deployed)
    assert any(w.startswith("us-east-1: no real-time rule here") for w in warnings)
    assert not any(w.startswith(f"{REGION}:") for w in warnings)
    assert any("Warnings" in t and "covered by this sweep only" in t for t in texts)
