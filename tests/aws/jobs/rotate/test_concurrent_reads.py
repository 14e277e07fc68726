"""Per-image safety reads go side by side, bounded, and paced below EC2's per-action bucket."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.concurrency import READ_WORKERS
from ami_hygiene.core.pacing import BURST_SECONDS, Pace
from ami_hygiene.jobs.rotate.inventory import read_checks, read_region
from sandbox.demo import ACCOUNT_ID, Seeder
from tests.helpers.clock import VirtualClock
from tests.helpers.constants import NOW, REGION


@pytest.fixture
def seeder(aws: None) -> Seeder:
    return Seeder(REGION, NOW)


class Overlap:
    """A round trip of `seconds` for every request of `operation`, counting how many are in flight."""

    def __init__(self, operation: str, seconds: float = 0.02) -> None:
        self.operation, self.seconds = operation, seconds
        self.now = self.most = self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, event_name: str = "", **_: Any) -> None:
        if not event_name.endswith("." + self.operation):
            return
        with self._lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
        time.sleep(self.seconds)
        with self._lock:
            self.now -= 1


def test_launch_permissions_and_references_are_read_side_by_side_within_the_bound(seeder: Seeder) -> None:
    ids = [seeder.image(f"web-{k}", 200) for k in range(30)]
    clients = Clients()
    overlap = Overlap("DescribeImageAttribute")
    clients.session.events.register("before-send.ec2.*", overlap)
    estate = read_checks(clients, read_region(clients, REGION, ACCOUNT_ID), ids)
    assert set(estate.sharing) == set(ids)
    assert overlap.calls == len(ids)  # one read an image: no more than one after another
    assert 1 < overlap.most <= READ_WORKERS
    assert clients.counter.calls["ec2.DescribeImageReferences"] == 3  # 10 images a request


def test_reads_past_the_burst_keep_to_the_pace(seeder: Seeder, virtual_pacing_clock: VirtualClock) -> None:
    pace = Pace(reads_per_second=10, writes_per_second=3)
    ids = [seeder.image(f"app-{k}", 200) for k in range(120)]
    clients = Clients()
    clients.pacer.configure(pace)
    started = virtual_pacing_clock.monotonic()
    read_checks(clients, read_region(clients, REGION, ACCOUNT_ID), ids)
    elapsed = virtual_pacing_clock.monotonic() - started
    past_burst = len(ids) - pace.reads_per_second * BURST_SECONDS
    # 120 reads at 10 a second after a burst of 50: at least 7 s, and not much more.
    assert past_burst / pace.reads_per_second <= elapsed <= past_burst / pace.reads_per_second + 1
    assert clients.pacer.summary()["waited_seconds"] > 0


def test_every_usage_listing_is_read_at_once(seeder: Seeder) -> None:
    seeder.image("web-1", 200)
    clients = Clients()
    listings = (
        "DescribeImages",
        "DescribeSnapshots",
        "DescribeInstances",
        "DescribeLaunchTemplateVersions",
        "DescribeAutoScalingGroups",
        "DescribeLaunchConfigurations",
        "DescribeParameters",
    )
    gate = threading.Barrier(len(listings), timeout=10)
    met: list[str] = []

    def meet(event_name: str = "", **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation in listings:
            gate.wait()  # passes only when every listing is in flight at the same time
            met.append(operation)

    clients.session.events.register("before-send.*.*", meet)
    read_region(clients, REGION, ACCOUNT_ID)
    assert sorted(met) == sorted(listings)


def test_regions_are_read_at_once_and_still_share_one_budget(seeder: Seeder) -> None:
    from ami_hygiene.jobs.rotate.run import run_rotation
    from ami_hygiene.jobs.settings import Settings

    regions = ("eu-west-1", "us-east-1")
    gate = threading.Barrier(len(regions), timeout=10)
    seen: list[str] = []

    def meet(event_name: str = "", request: Any = None, **_: Any) -> None:
        if event_name.endswith(".DescribeImages"):
            gate.wait()  # passes only when both regions list their images at the same time
            seen.append(request.url)

    clients = Clients()
    clients.session.events.register("before-send.ec2.DescribeImages", meet)
    settings = Settings.load({}, overrides={"regions": ",".join(regions), "mode": "report"})
    report = run_rotation(settings, clients, now=NOW)
    assert report.regions == regions and len(seen) == 2
    assert [plan.region for plan in report.plans] == list(regions)  # planned in the settings' order
