"""Every handler validates the whole event before anything else, and acts only for its account and Regions.

A Scheduled Event of another account, an event from a region outside Regions, or an
event with a malformed region is refused: logged, reported once, and the job never runs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import time_machine

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.job import JobSpec as Job
from ami_hygiene.handlers.common import handle
from ami_hygiene.handlers.public import PUBLIC
from ami_hygiene.handlers.rebuild import REBUILD
from ami_hygiene.handlers.rotate import ROTATE
from ami_hygiene.handlers.tags import TAGS, tags
from sandbox.demo import Seeder
from tests.conftest import ACCOUNT_ID, REGION
from tests.unit.hostile import CONTROL, HUGE, MALFORMED_REGIONS

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
EVENTS = Path(__file__).parent.parent / "unit" / "events"
FOREIGN = "999988887777"
CREATOR = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/Builder/alice"
JOBS: dict[str, Job[Any]] = {"tags": TAGS, "public": PUBLIC, "rebuild": REBUILD, "rotate": ROTATE}


@pytest.fixture
def seeder(aws: None) -> Iterator[Seeder]:
    with time_machine.travel(NOW, tick=True):
        yield Seeder(REGION, NOW)


def _context() -> Any:
    return SimpleNamespace(
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:ami-hygiene",
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: 300_000,
    )


def _env(regions: str = REGION) -> dict[str, str]:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="ami-hygiene")["TopicArn"]
    return {
        "REGIONS": regions,
        "MODE": "enforce",
        "TOPIC_ARN": topic,
        "AWS_REGION": REGION,
        "REQUIRED_TAGS": "Owner",
    }


def _published(env: dict[str, str]) -> list[dict[str, Any]]:
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT_ID][REGION].topics[env["TOPIC_ARN"]]
    return [json.loads(body) for _, body, *_ in topic.sent_notifications]


def _scheduled(**changes: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": "2026-11-27T06:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/ami-hygiene"],
        "detail": {},
        **changes,
    }


def _create_image(image_id: str, region: str = REGION) -> dict[str, Any]:
    event = json.loads((EVENTS / "create_image.json").read_text())
    event.update(account=ACCOUNT_ID, region=region)
    detail = event["detail"]
    detail.update(recipientAccountId=ACCOUNT_ID, awsRegion=region)
    detail["userIdentity"]["arn"] = CREATOR
    detail["responseElements"]["imageId"] = image_id
    return event


def _never_run(job: Job[Any]) -> Job[Any]:
    def run(*_: Any) -> Any:
        raise AssertionError(f"the {job.name} job ran on an event it must refuse")

    return replace(job, run=run)


def _tags_of(image_id: str) -> dict[str, str]:
    (image,) = boto3.client("ec2", region_name=REGION).describe_images(ImageIds=[image_id])["Images"]
    return {t["Key"]: t["Value"] for t in image.get("Tags", [])}


# -- account ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(JOBS))
def test_a_scheduled_event_of_another_account_is_refused_by_every_job(aws: None, name: str) -> None:
    env = _env()
    answer = handle(_never_run(JOBS[name]), _scheduled(account=FOREIGN), _context(), env, Clients())
    assert answer["status"] == "rejected" and answer["error"] == "event not acted on"
    assert answer["detail"] == f"event is for account {FOREIGN}, not this account {ACCOUNT_ID}"
    (message,) = _published(env)
    assert FOREIGN in json.dumps(message)


def test_the_tag_job_in_enforce_mode_does_not_sweep_for_another_account(seeder: Seeder) -> None:
    image = seeder.image("web-1", 0.01, tags={"Environment": "prod"})
    before = _tags_of(image)
    answer = tags(_scheduled(account=FOREIGN), _context(), _env(), Clients())
    assert answer["status"] == "rejected"
    assert _tags_of(image) == before
    # The same schedule for this account sweeps.
    assert tags(_scheduled(), _context(), _env(), Clients())["status"] in {"completed", "failed"}


# -- regions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("region", MALFORMED_REGIONS)
@pytest.mark.parametrize("name", list(JOBS))
def test_a_scheduled_event_with_a_malformed_region_is_refused(aws: None, name: str, region: str) -> None:
    answer = handle(_never_run(JOBS[name]), _scheduled(region=region), _context(), _env(), Clients())
    assert answer["status"] == "rejected" and answer["error"] == "unexpected event"
    assert "region: " in answer["detail"] and HUGE[:81] not in answer["detail"]


def test_an_event_from_a_region_outside_regions_is_refused_and_changes_nothing(seeder: Seeder) -> None:
    image = seeder.image("web-1", 0.01, tags={"Environment": "prod"})
    before = _tags_of(image)
    env = _env(regions="us-east-1,eu-central-1")
    answer = tags(_create_image(image), _context(), env, Clients())
    assert answer["status"] == "rejected" and answer["error"] == "event not acted on"
    assert answer["detail"] == f"event region '{REGION}' is not one of Regions (us-east-1, eu-central-1)"
    assert _tags_of(image) == before
    # In Regions, the same event tags the image.
    assert tags(_create_image(image), _context(), _env(), Clients())["status"] == "completed"
    assert _tags_of(image) != before


@pytest.mark.parametrize("region", MALFORMED_REGIONS)
def test_an_event_with_a_malformed_region_never_reaches_the_client_factory(
    seeder: Seeder, region: str
) -> None:
    event = _create_image("ami-0123456789abcdef0")
    event["detail"]["awsRegion"] = region
    answer = handle(_never_run(TAGS), event, _context(), _env(), Clients())
    assert answer["status"] == "rejected" and answer["error"] == "event not acted on"
    assert "detail.awsRegion: " in answer["detail"]


# -- every job's refusals are bounded ----------------------------------------------------------


@pytest.mark.parametrize("value", [HUGE, CONTROL], ids=["huge", "control"])
@pytest.mark.parametrize("field", ["id", "source", "detail-type", "version"])
@pytest.mark.parametrize("name", list(JOBS))
def test_a_hostile_envelope_is_refused_with_a_short_message(
    aws: None, name: str, field: str, value: str
) -> None:
    env = _env()
    answer = handle(_never_run(JOBS[name]), _scheduled(**{field: value}), _context(), env, Clients())
    assert answer["status"] == "rejected"
    assert value[:81] not in answer["detail"] and "\x00" not in answer["detail"]
    assert len(json.dumps(_published(env))) < 10_000
