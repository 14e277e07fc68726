"""The sweep lease as deployed: the functions' LEASE_TABLE from the template, the table in the sandbox.

A sweep that finds another sweep of its job holding the lease is skipped: nothing
read or changed, nothing published. A sharing event is handled at once all the same.
Once the holder's lease has expired (a crashed run), the next sweep takes it over.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import time_machine

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.lease import HOLDER, KEY, Lease, Leases
from sandbox.demo import Seeder
from tests.helpers.constants import REAL_NOW, REGION
from tests.helpers.deployed import Wiring, deploy, make_wiring, scheduled_now
from tests.helpers.events import cloudtrail_event
from tests.helpers.sandbox import is_public, make_public
from tests.helpers.synthesized import Synthesized

pytestmark = pytest.mark.slow


@pytest.fixture
def wiring(aws: None) -> Iterator[Wiring]:
    with time_machine.travel(REAL_NOW, tick=True):
        yield make_wiring()


def _leases(table: str) -> dict[str, str]:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=table, ConsistentRead=True)["Items"]
    return {i[KEY]["S"]: i[HOLDER]["S"] for i in items}


def _sharing_event(image: str) -> dict[str, Any]:
    event = cloudtrail_event("public/image_public.json")
    event["detail"]["requestParameters"]["imageId"] = image
    return event


def test_a_sweep_while_another_holds_the_lease_is_skipped_and_an_event_is_still_handled(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, job="public", PublicSharingMode="enforce")
    table = deployed.environment["LEASE_TABLE"]
    # A sweep started a minute ago by another invocation still runs: it holds the lease.
    running = Leases(Clients(), table, REGION).acquire(
        "public",
        "request-of-the-running-sweep",
        REAL_NOW - timedelta(minutes=1),
        REAL_NOW + timedelta(minutes=5),
    )
    assert isinstance(running, Lease)
    before = make_public(Seeder(REGION, REAL_NOW).image("web-1", 1))

    skipped = deployed.handler(scheduled_now(), deployed.context)

    assert skipped["status"] == "skipped" and skipped["holder"] == "request-of-the-running-sweep"
    assert is_public(before) and deployed.messages() == []

    during = make_public(Seeder(REGION, REAL_NOW).image("web-2", 1))
    handled = deployed.handler(_sharing_event(during), deployed.context)
    assert handled["status"] == "completed" and not is_public(during)
    [envelope] = deployed.messages()
    assert envelope["MessageAttributes"]["severity"]["Value"] == "critical"
    assert _leases(table) == {"public": "request-of-the-running-sweep"}


def test_a_lease_left_by_a_crashed_sweep_expires_and_the_next_sweep_runs(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(synth, wiring, monkeypatch, job="public", PublicSharingMode="enforce")
    table = deployed.environment["LEASE_TABLE"]
    Leases(Clients(), table, REGION).acquire(
        "public", "request-that-timed-out", REAL_NOW - timedelta(minutes=8), REAL_NOW - timedelta(seconds=5)
    )
    image = make_public(Seeder(REGION, REAL_NOW).image("web-1", 1))

    swept = deployed.handler(scheduled_now(), deployed.context)

    assert swept["status"] == "completed" and not is_public(image)
    assert len(deployed.messages()) == 1
    assert _leases(table) == {}  # taken over, then released


def test_every_job_sweeps_under_its_own_lease(
    synth: Synthesized, wiring: Wiring, monkeypatch: pytest.MonkeyPatch
) -> None:
    for job in ("rotate", "tags", "public", "rebuild"):
        deployed = deploy(synth, wiring, monkeypatch, job=job, RequiredTags="Owner")
        table = deployed.environment["LEASE_TABLE"]
        Leases(Clients(), table, REGION).acquire(
            job, "another-sweep", REAL_NOW, REAL_NOW + timedelta(minutes=6)
        )
        assert deployed.handler(scheduled_now(), deployed.context)["status"] == "skipped", job
    assert _leases(table) == dict.fromkeys(("rotate", "tags", "public", "rebuild"), "another-sweep")
    assert deployed.messages() == []
