"""The deployed rotation function, end to end, without an AWS account.

Synthesize the stack, take the rotation function's handler and environment
from the template (parameters at the values a user would deploy with), import
the handler and invoke it in-process against the sandbox with a real-shaped
EventBridge "Scheduled Event", then read what it published through an SQS
queue subscribed to the topic (raw delivery off: the SNS envelope with subject
and message attributes, and the JSON report SQS subscribers get).

E-mail cannot be received here; what an e-mail subscriber gets is the "email"
member of the published MessageStructure=json body, read from moto's record of
published notifications (its documented test hook).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine

from ami_hygiene.core.observability import metric_names_for
from ami_hygiene.jobs.rotate import SPEC as ROTATE
from tests.helpers.constants import ACCOUNT, REAL_NOW, REGION
from tests.helpers.deployed import Wiring, deploy, make_wiring, scheduled_now
from tests.helpers.synthesized import Synthesized

pytestmark = pytest.mark.slow


@pytest.fixture
def wiring(aws: None) -> Wiring:
    return make_wiring()


def seed_family(name: str, ages_days: list[int]) -> dict[str, str]:
    """Registers images of one family, each created `age` days ago (moto stamps the current time)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    images = {}
    for i, age in enumerate(ages_days):
        with time_machine.travel(REAL_NOW - timedelta(days=age), tick=False):
            image_name = f"{name}-2026.{i:02d}"
            images[image_name] = ec2.register_image(
                Name=image_name,
                RootDeviceName="/dev/xvda",
                BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
                Architecture="x86_64",
                VirtualizationType="hvm",
            )["ImageId"]
    return images


def account_images() -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    return {
        i["ImageId"]: i["State"] for i in ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    }


@pytest.fixture
def estate(wiring: Wiring) -> Iterator[dict[str, str]]:
    web = seed_family("web", [400, 300, 200, 20, 10, 5])
    app = seed_family("app", [30, 15])
    yield {**web, **app}


def test_scheduled_run_publishes_a_readable_email_and_a_json_report(
    synth: Synthesized,
    wiring: Wiring,
    estate: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployed = deploy(synth, wiring, monkeypatch)  # the defaults a new user deploys with: report mode
    assert deployed.environment["MODE"] == "report" and deployed.environment["REGIONS"] == ""
    before = account_images()

    result = deployed.handler(scheduled_now(), deployed.context)

    assert result["status"] == "completed", result
    assert account_images() == before  # report mode changed nothing
    [envelope] = deployed.messages()
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == deployed.topic_arn
    subject = envelope["Subject"]
    assert subject.startswith(f"[ami-hygiene] {REGION} rotate (report mode): ")
    assert len(subject) < 100 and subject.isascii()
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {
        "job": "rotate",
        "severity": "info",
        "region": REGION,
        "account": ACCOUNT,
        "mode": "report",
    }

    report = json.loads(envelope["Message"])  # what SQS, Lambda and HTTPS subscribers get
    assert (report["job"], report["mode"], report["account"], report["regions"]) == (
        "rotate",
        "report",
        ACCOUNT,
        [REGION],
    )
    assert report["summary"]["images"] == len(estate)
    assert report["summary"]["disabled"] == 3  # the three web images older than 90 days
    decided = {d["name"]: d for d in report["decisions"]}
    for name in ("web-2026.00", "web-2026.01", "web-2026.02"):
        assert (decided[name]["action"], decided[name]["outcome"]) == ("disable", "planned")
    for name in ("web-2026.03", "web-2026.04", "web-2026.05", "app-2026.00", "app-2026.01"):
        assert decided[name]["action"] == "keep", decided[name]

    [body] = deployed.published_bodies()
    email = body["email"]  # what an e-mail subscriber reads
    assert body["default"] == email
    assert email.startswith(subject.replace("...", "…"))
    assert "REPORT MODE: nothing was changed." in email
    assert "DISABLE" in email and "web-2026.00" in email
    assert "RotationMode=enforce" in email
    for protocol in ("sqs", "lambda", "https", "email-json"):
        assert json.loads(body[protocol]) == report

    # Powertools metrics (EMF on stdout): every metric the dashboard draws, per job.
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert {m["Name"] for m in directive["Metrics"]} == metric_names_for(
        report["summary"], ROTATE.view.metrics
    )
    assert "ImagesRetired" in metric_names_for(report["summary"], ROTATE.view.metrics)
    assert directive["Dimensions"] == [["job", "service"]] and emf["job"] == "rotate"
    assert (emf["ImagesSeen"], emf["ImagesDisabled"]) == ([8.0], [3.0])


def test_enforce_mode_from_the_template_disables_what_the_report_listed(
    synth: Synthesized, wiring: Wiring, estate: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, RotationMode="enforce", MaxActionsPerRun="2")

    result = deployed.handler(scheduled_now(), deployed.context)

    states = account_images()
    disabled = sorted(n for n, i in estate.items() if states[i] == "disabled")
    assert disabled == ["web-2026.00", "web-2026.01"]  # the oldest two, within MaxActionsPerRun
    [envelope] = deployed.messages()
    report = json.loads(envelope["Message"])
    assert result["status"] == "completed"
    assert (report["mode"], report["summary"]["disabled"], report["summary"]["deferred"]) == ("enforce", 2, 1)
    assert envelope["MessageAttributes"]["severity"]["Value"] == "warning"  # work left for the next run


def test_nothing_to_say_publishes_nothing_unless_all_clean_is_asked_for(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_family("fresh", [3, 2, 1])
    quiet = deploy(synth, wiring, monkeypatch)
    assert quiet.handler(scheduled_now(), quiet.context)["messages"] == []
    assert quiet.messages() == []

    chatty = deploy(synth, wiring, monkeypatch, NotifyAllClean="true")
    chatty.handler(scheduled_now(), chatty.context)
    [envelope] = chatty.messages()
    assert envelope["Subject"].startswith(f"[ami-hygiene] {REGION} rotate (report mode): 0 would retire")
    assert envelope["MessageAttributes"]["severity"]["Value"] == "info"


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"detail-type": "Scheduled Event", "source": "aws.events"},
        {**scheduled_now(), "source": "aws.ec2", "detail-type": "EC2 AMI State Change"},
        "not even json",
    ],
)
def test_an_unparseable_event_is_reported_as_an_error_and_changes_nothing(
    synth: Synthesized, wiring: Wiring, estate: dict[str, str], monkeypatch: pytest.MonkeyPatch, event: Any
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, RotationMode="enforce", DisableGraceDays="0")
    before = account_images()

    result = deployed.handler(event, deployed.context)

    assert result["status"] == "rejected"
    assert account_images() == before
    [envelope] = deployed.messages()
    assert envelope["Subject"] == f"[ami-hygiene] {REGION} rotate: ERROR unexpected event"
    assert envelope["MessageAttributes"]["severity"]["Value"] == "error"
    document = json.loads(envelope["Message"])
    assert document["changed"] is False and document["error"] == "unexpected event"


def test_bad_settings_are_reported_as_an_error_and_change_nothing(
    synth: Synthesized, wiring: Wiring, estate: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, RotationMode="enforce")
    monkeypatch.setenv("KEEP_LATEST", "0")  # past the template's constraints, e.g. an edited function
    before = account_images()

    result = deployed.handler(scheduled_now(), deployed.context)

    assert result["status"] == "rejected" and "KEEP_LATEST" in result["detail"]
    assert account_images() == before
    [envelope] = deployed.messages()
    assert envelope["Subject"] == f"[ami-hygiene] {REGION} rotate: ERROR bad settings"
    assert "KEEP_LATEST must be between 1 and 100" in json.loads(envelope["Message"])["detail"]
