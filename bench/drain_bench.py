"""Benchmark: a deregistration backlog drained in enforce mode against an EC2 that throttles.

Run with `make bench` (or `python -m bench.drain_bench --images 10000`). It seeds N images
disabled by ami-hygiene past their grace, one snapshot each, so every decision of one rotate
run (enforce mode, MaxActionsPerRun N) is a deregistration: CreateTags on the image,
CreateTags on its snapshot, DeregisterImage with DeleteAssociatedSnapshots.

The embedded AWS runs in-process with EC2's request throttling on (sandbox/throttling.py:
a token bucket per account, Region and action, as EC2 has). By default the pacer
(ami_hygiene/core/pacing.py) and the throttling share a virtual clock: every wait moves it
on at once, so hours of paced writing are modelled in the minutes moto takes to answer.
`--real-time` uses the real clock for both (for a small N, to check the model: the same
figures should come out, in real seconds).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

REGION = "eu-west-1"
ACCOUNT = "123456789012"
GRACE_DAYS = 14
MAX_ACTIONS = 10_000  # MaxActionsPerRun's ceiling (core/settings.py)


class VirtualTime:
    """`monotonic()` and `sleep(seconds)` for the pacer and the throttling: sleeping moves time on at once."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)


class RealTime:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def seed(images: int, now: datetime) -> None:
    """`images` images, one snapshot each, disabled by ami-hygiene 40 days ago (past the grace).

    Straight into moto's backend, through the sandbox's own RegisterImage and DisableImage:
    ten thousand images through the API would take longer than the drain.
    """
    import sandbox
    from ami_hygiene.core.estate import TAG_DISABLED_AT

    backend = sandbox.backend("ec2", REGION, ACCOUNT)
    volume = backend.create_volume(size=8, zone_name=f"{REGION}a")
    disabled_at = (now - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for n in range(images):
        snap = backend.create_snapshot(volume.id, "drain bench")
        image = backend.register_image(
            f"drain-{n:05d}",
            "",
            block_device_mappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap.id}}],
            root_device_name="/dev/xvda",
            tags={TAG_DISABLED_AT: disabled_at},
        )
        image.creation_date = now - timedelta(days=400)
        backend.disable_image(image.id)


@dataclass
class Drained:
    images: int
    deregistered: int
    snapshots_deleted: int
    failed: int
    throttled_by_ec2: int  # RequestLimitExceeded answers the embedded EC2 gave
    throttled_seen: int  # the ones the pacer counted (report "pacing.throttled")
    pacing: dict[str, Any]
    busiest_action: tuple[str, int]
    run_clock_seconds: float  # the whole run, on the clock the pacer waits on
    wall_seconds: float
    seed_seconds: float
    images_left: int
    snapshots_left: int


def drain(images: int, real_time: bool, reads_per_second: int, writes_per_second: int) -> Drained:
    from ami_hygiene.core import pacing
    from ami_hygiene.core.clients import Clients
    from ami_hygiene.core.plan import Action, Outcome
    from ami_hygiene.jobs.rotate.run import run_rotation
    from ami_hygiene.jobs.settings import Settings
    from bench.rotate_bench import embedded_aws
    from sandbox import backend, throttling

    now = datetime.now(UTC)
    with embedded_aws():
        started = time.perf_counter()
        seed(images, now)
        seeded = time.perf_counter() - started

        clock: VirtualTime | RealTime = RealTime() if real_time else VirtualTime()
        saved = pacing.monotonic, pacing.sleep
        pacing.monotonic, pacing.sleep = clock.monotonic, clock.sleep
        try:
            with throttling.throttling(clock) as throttle:
                settings = Settings.load(
                    {"REGIONS": REGION},
                    overrides={
                        "mode": "enforce",
                        "max_actions": images,
                        "disable_grace_days": GRACE_DAYS,
                        "reads_per_second": reads_per_second,
                        "writes_per_second": writes_per_second,
                    },
                )
                clients = Clients()
                run_started, wall_started = clock.monotonic(), time.perf_counter()
                report = run_rotation(settings, clients, now=now)
                wall = time.perf_counter() - wall_started
                run_clock = clock.monotonic() - run_started
        finally:
            pacing.monotonic, pacing.sleep = saved

        ec2 = backend("ec2", REGION, ACCOUNT)
        images_left, snapshots_left = len(ec2.amis), len(ec2.snapshots)

    done = [d for d in report.decisions if d.action is Action.DEREGISTER and d.outcome is Outcome.DONE]
    writes = {
        op: n
        for op, n in report.api_calls.items()
        if op.startswith("ec2.") and not pacing.is_read(op.split(".", 1)[1])
    }
    return Drained(
        images=images,
        deregistered=len(done),
        snapshots_deleted=sum(1 for d in done for r in d.snapshot_results if r.deleted),
        failed=report.summary()["failed"],
        throttled_by_ec2=throttle.throttled_total(),
        throttled_seen=report.pacing.get("throttled", 0),
        pacing=report.pacing,
        busiest_action=max(writes.items(), key=lambda kv: kv[1]) if writes else ("-", 0),
        run_clock_seconds=run_clock,
        wall_seconds=wall,
        seed_seconds=seeded,
        images_left=images_left,
        snapshots_left=snapshots_left,
    )


def _hours(seconds: float) -> str:
    return f"{seconds:,.1f} s ({seconds / 3600:.2f} h)"


def show(d: Drained, real_time: bool) -> str:
    p = d.pacing
    clock = "real" if real_time else "virtual"
    busiest, busiest_n = d.busiest_action
    per_action = p.get("writes_per_second", 0)
    # The model: the busiest write action, one request every 1/writes_per_second s.
    modelled = (busiest_n - 1) / per_action if per_action and busiest_n else 0.0
    rate = p.get("write_rate")
    lines = [
        f"Drain of {d.images:,} disabled images past grace (enforce, MaxActionsPerRun {d.images:,}; "
        f"EC2 throttling on, {clock} clock)",
        f"  images deregistered      {d.deregistered:,}  (left registered: {d.images_left:,})",
        f"  snapshots deleted        {d.snapshots_deleted:,}  (left: {d.snapshots_left:,})",
        f"  failed decisions         {d.failed:,}",
        f"  RequestLimitExceeded     {d.throttled_by_ec2:,} answered by EC2 "
        f"(the pacer counted {d.throttled_seen:,})",
        f"  writes                   {p.get('writes', 0):,} ({busiest} {busiest_n:,}, the busiest action)",
        f"  drain time               {_hours(p.get('write_seconds', 0.0))} on the {clock} clock; "
        f"model (busiest - 1) / {per_action:g}: {_hours(modelled)}",
        f"  drain rate               {rate if rate is not None else 0:.3f} writes/s, "
        f"{d.deregistered / p['write_seconds'] if p.get('write_seconds') else 0:.3f} images/s "
        f"(paced at {per_action:g} writes/s per EC2 action)",
        f"  whole run                {_hours(d.run_clock_seconds)} on the {clock} clock (reads too; waited "
        f"{p.get('waited_seconds', 0):,.1f} s)",
        f"  wall time                {d.wall_seconds:,.1f} s for the run, {d.seed_seconds:,.1f} s seeding",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--images", type=int, default=None, help="backlog (10,000; 300 real-time)")
    parser.add_argument("--real-time", action="store_true", help="pace and throttle on the real clock")
    parser.add_argument("--reads-per-second", type=int, default=16)
    parser.add_argument("--writes-per-second", type=int, default=3)
    args = parser.parse_args(argv)
    images = args.images if args.images is not None else (300 if args.real_time else MAX_ACTIONS)
    if not 1 <= images <= MAX_ACTIONS:
        parser.error(f"--images must be 1 to {MAX_ACTIONS:,}: one run (MaxActionsPerRun) drains them all")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("ami_hygiene").setLevel(logging.WARNING)
    drained = drain(images, args.real_time, args.reads_per_second, args.writes_per_second)
    print(show(drained, args.real_time), flush=True)
    ok = drained.failed == 0 and drained.throttled_by_ec2 == 0 and drained.deregistered == images
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
