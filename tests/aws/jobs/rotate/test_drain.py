"""A deregistration backlog drains at the configured pace, never throttled by EC2 (issue 15).

A few hundred images disabled by ami-hygiene past their grace: every decision is a
deregistration (CreateTags on the image, CreateTags on its snapshot, DeregisterImage with
DeleteAssociatedSnapshots). The sandbox throttles EC2 as EC2 does, on the virtual clock
the pacer waits on; `bench/drain_bench.py` runs the same drain at 10,000 images.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.estate import TAG_DISABLED_AT
from ami_hygiene.core.pacing import is_read
from ami_hygiene.core.plan import Action, Outcome
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.run import run_rotation
from ami_hygiene.jobs.settings import Settings
from sandbox import throttling
from sandbox.throttling import Throttle
from tests.helpers.clock import VirtualClock
from tests.helpers.constants import NOW, REGION
from tests.helpers.sandbox import register

BACKLOG = 300
GRACE_DAYS = 14


@pytest.fixture
def backlog(aws: None) -> list[str]:
    """BACKLOG images with one snapshot each, disabled by ami-hygiene 40 days before NOW."""
    import sandbox

    ec2 = boto3.client("ec2", region_name=REGION)
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    amis = sandbox.backend("ec2", REGION).amis
    image_ids = []
    for n in range(BACKLOG):
        snap = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        image_id = register(ec2, f"drain-{n:04d}", snap)
        amis[image_id].creation_date = NOW - timedelta(days=400)
        image_ids.append(image_id)
    disabled_at = (NOW - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ec2.create_tags(Resources=image_ids, Tags=[{"Key": TAG_DISABLED_AT, "Value": disabled_at}])
    for image_id in image_ids:
        ec2.disable_image(ImageId=image_id)
    return image_ids


@pytest.fixture
def throttle(backlog: list[str], virtual_pacing_clock: VirtualClock) -> Iterator[Throttle]:
    with throttling.throttling(virtual_pacing_clock) as on:
        yield on


def _drain(clients: Clients) -> Report:
    settings = Settings.load(
        {"REGIONS": REGION},
        overrides={"mode": "enforce", "max_actions": BACKLOG, "disable_grace_days": GRACE_DAYS},
    )
    return run_rotation(settings, clients, now=NOW)


def test_the_backlog_drains_at_the_pace_without_throttling(backlog: list[str], throttle: Throttle) -> None:
    clients = Clients()
    report = _drain(clients)

    assert {(d.action, d.outcome) for d in report.decisions} == {(Action.DEREGISTER, Outcome.DONE)}
    assert sorted(d.image_id for d in report.decisions) == sorted(backlog)
    assert report.summary()["failed"] == 0 and not report.all_errors
    assert throttle.throttled_total() == 0 and report.pacing["throttled"] == 0

    ec2 = boto3.client("ec2", region_name=REGION)
    assert ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"] == []
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []

    writes = {op: n for op, n in report.api_calls.items() if op.startswith("ec2.") and not is_read(op[4:])}
    assert writes == {"ec2.CreateTags": 2 * BACKLOG, "ec2.DeregisterImage": BACKLOG}
    pacing = report.pacing
    per_action = pacing["writes_per_second"]
    assert pacing["writes"] == sum(writes.values()) == 3 * BACKLOG
    # The busiest action (CreateTags, twice an image) sets the drain's length: one every 1/pace s.
    busiest = max(writes.values())
    assert pacing["write_seconds"] == pytest.approx((busiest - 1) / per_action, rel=1e-3)
    assert busiest / pacing["write_seconds"] == pytest.approx(per_action, rel=0.01)
    # Across the three writes an image takes, the run writes 1.5 times the per-action pace.
    assert pacing["write_rate"] == pytest.approx(per_action * 3 / 2, rel=0.01)
