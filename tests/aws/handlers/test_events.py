"""Every handler validates the whole event before anything else, and acts only for its account and Regions.

A Scheduled Event of another account, an event from a region outside Regions, or an
event with a malformed region is refused: logged, reported once, and the job never runs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.job import JobSpec as Job
from ami_hygiene.handlers.common import handle
from ami_hygiene.handlers.public import PUBLIC
from ami_hygiene.handlers.rebuild import REBUILD
from ami_hygiene.handlers.rotate import ROTATE
from ami_hygiene.handlers.tags import TAGS, tags
from sandbox.demo import Seeder
from tests.helpers.constants import ACCOUNT, FOREIGN, REGION
from tests.helpers.events import cloudtrail_event, scheduled_event
from tests.helpers.hostile import CONTROL, HUGE, MALFORMED_REGIONS
from tests.helpers.jobs import with_run
from tests.helpers.lambda_context import LambdaContext
from tests.helpers.sandbox import notifications, report_topic, tags_of

CREATOR = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/alice"
JOBS: dict[str, Job[Any]] = {"tags": TAGS, "public": PUBLIC, "rebuild": REBUILD, "rotate": ROTATE}


def _env(regions: str = REGION) -> dict[str, str]:
    return {
        "REGIONS": regions,
        "MODE": "enforce",
        "TOPIC_ARN": report_topic(),
        "AWS_REGION": REGION,
        "REQUIRED_TAGS": "Owner",
    }


def _create_image(image_id: str, region: str = REGION) -> dict[str, Any]:
    event = cloudtrail_event("tags/create_image.json", region=region, actor=CREATOR)
    event["detail"]["responseElements"]["imageId"] = image_id
    return event


def _never_run(job: Job[Any]) -> Job[Any]:
    def run(*_: Any) -> Any:
        raise AssertionError(f"the {job.name} job ran on an event it must refuse")

    return with_run(job, run)


# -- account ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(JOBS))
def test_a_scheduled_event_of_another_account_is_refused_by_every_job(aws: None, name: str) -> None:
    env = _env()
    answer = handle(_never_run(JOBS[name]), scheduled_event(account=FOREIGN), LambdaContext(), env, Clients())
    assert answer["status"] == "rejected" and answer["error"] == "event not acted on"
    assert answer["detail"] == f"event is for account {FOREIGN}, not this account {ACCOUNT}"
    (message,) = notifications(env["TOPIC_ARN"])
    assert FOREIGN in json.dumps(message.body)


def test_the_tag_job_in_enforce_mode_does_not_sweep_for_another_account(seeder: Seeder) -> None:
    image = seeder.image("web-1", 0.01, tags={"Environment": "prod"})
    before = tags_of(image)
    answer = tags(scheduled_event(account=FOREIGN), LambdaContext(), _env(), Clients())
    assert answer["status"] == "rejected"
    assert tags_of(image) == before
    # The same schedule for this account sweeps.
    assert tags(scheduled_event(), LambdaContext(), _env(), Clients())["status"] in {"completed", "failed"}


# -- regions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("region", MALFORMED_REGIONS)
@pytest.mark.parametrize("name", list(JOBS))
def test_a_scheduled_event_with_a_malformed_region_is_refused(aws: None, name: str, region: str) -> None:
    answer = handle(
        _never_run(JOBS[name]), scheduled_event(region=region), LambdaContext(), _env(), Clients()
    )
    assert answer["status"] == "rejected" and answer["error"] == "unexpected event"
    assert "region: " in answer["detail"] and HUGE[:81] not in answer["detail"]


def test_an_event_from_a_region_outside_regions_is_refused_and_changes_nothing(seeder: Seeder) -> None:
    image = seeder.image("web-1", 0.01, tags={"Environment": "prod"})
    before = tags_of(image)
    env = _env(regions="us-east-1,eu-central-1")
    answer = tags(_create_image(image), LambdaContext(), env, Clients())
    assert answer["status"] == "rejected" and answer["error"] == "event not acted on"
    assert answer["detail"] == f"event region '{REGION}' is not one of Regions (us-east-1, eu-central-1)"
    assert tags_of(image) == before
    # In Regions, the same event tags the image.
    assert tags(_create_image(image), LambdaContext(), _env(), Clients())["status"] == "completed"
    assert tags_of(image) != before


@pytest.mark.parametrize("region", MALFORMED_REGIONS)
def test_an_event_with_a_malformed_region_never_reaches_the_client_factory(
    seeder: Seeder, region: str
) -> None:
    event = _create_image("ami-0123456789abcdef0")
    event["detail"]["awsRegion"] = region
    answer = handle(_never_run(TAGS), event, LambdaContext(), _env(), Clients())
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
    answer = handle(
        _never_run(JOBS[name]), scheduled_event(**{field: value}), LambdaContext(), env, Clients()
    )
    assert answer["status"] == "rejected"
    assert value[:81] not in answer["detail"] and "\x00" not in answer["detail"]
    assert len(json.dumps([n.body for n in notifications(env["TOPIC_ARN"])])) < 10_000
