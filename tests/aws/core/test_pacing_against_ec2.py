"""The pacer keeps a run under EC2's request buckets (sandbox/throttling.py), on one virtual clock.

The sandbox throttles as EC2 does (per account, Region and action: a read's bucket holds
100 and refills 20 a second) and reads the same virtual clock the pacer waits on, so
"no RequestLimitExceeded" is checked on the time both of them see, without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.concurrency import parallel_map
from ami_hygiene.core.pacing import Pace, Pacer
from sandbox import throttling
from sandbox.throttling import Throttle
from tests.helpers.clock import VirtualClock
from tests.helpers.constants import REGION
from tests.helpers.sandbox import register, snapshot

CALLS = 500
THREADS = 10
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def image_id(aws: None) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    return register(ec2, "paced", snapshot(ec2))


@pytest.fixture
def throttle(image_id: str, virtual_pacing_clock: VirtualClock) -> Iterator[Throttle]:
    with throttling.throttling(virtual_pacing_clock) as on:
        yield on


def _read_attribute(ec2: Any, image_id: str) -> Callable[[int], str]:
    def read(_: int) -> str:
        try:
            ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
            return "ok"
        except ClientError as err:
            return str(err.response["Error"]["Code"])

    return read


def test_a_paced_run_reading_from_ten_threads_is_never_throttled(
    throttle: Throttle, image_id: str, virtual_pacing_clock: VirtualClock
) -> None:
    clients = Clients()
    start = virtual_pacing_clock.monotonic()
    answers = parallel_map(_read_attribute(clients.ec2(REGION), image_id), range(CALLS), THREADS)
    assert answers == ["ok"] * CALLS
    assert throttle.throttled_total() == 0 and clients.pacer.throttled == 0
    assert clients.counter.calls["ec2.DescribeImageAttribute"] == CALLS  # one attempt each: none retried
    # It was paced: past the burst (80), at most 18 a second.
    pace = clients.pacer.pace
    assert virtual_pacing_clock.monotonic() - start >= (CALLS - pace.read_burst) / pace.reads_per_second


def test_unpaced_the_same_reads_are_throttled(throttle: Throttle, image_id: str) -> None:
    # Nothing waits, so no time passes: EC2's bucket lets its 100 through and no more.
    ec2 = boto3.client("ec2", region_name=REGION, config=ONE_ATTEMPT)
    answers = parallel_map(_read_attribute(ec2, image_id), range(CALLS), THREADS)
    assert answers.count("ok") == 100
    assert answers.count("RequestLimitExceeded") == CALLS - 100 == throttle.throttled_total()


def test_a_pace_above_ec2s_refill_is_throttled(throttle: Throttle, image_id: str) -> None:
    # 40 reads a second (a 200-read burst) outruns EC2's 100 tokens and 20 a second.
    ec2 = boto3.client("ec2", region_name=REGION, config=ONE_ATTEMPT)
    pacer = Pacer(Pace(reads_per_second=40))
    pacer.attach(ec2, REGION)
    answers = [_read_attribute(ec2, image_id)(n) for n in range(CALLS)]
    assert answers.count("RequestLimitExceeded") == pacer.throttled == throttle.throttled_total() >= 100
