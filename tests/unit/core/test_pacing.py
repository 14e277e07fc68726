"""The pacer (core/pacing.py): token buckets, the write log, throttled answers counted.

Every test runs on the virtual clock (`virtual_pacing_clock`): a wait advances it at once.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any, cast

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.exceptions import ClientError

from ami_hygiene.core import pacing
from ami_hygiene.core.pacing import Pace, Pacer, TokenBucket
from tests.helpers.clock import VirtualClock
from tests.helpers.constants import OTHER_REGION, REGION

# -- TokenBucket --------------------------------------------------------------------------


def test_a_bucket_bursts_then_keeps_its_rate(virtual_pacing_clock: VirtualClock) -> None:
    bucket = TokenBucket(rate=4, burst=3)
    start = virtual_pacing_clock.monotonic()
    assert [bucket.take() for _ in range(7)] == [0, 0, 0, 0.25, 0.25, 0.25, 0.25]
    assert virtual_pacing_clock.monotonic() - start == 1.0


def test_an_idle_bucket_refills_to_its_burst_and_no_further(virtual_pacing_clock: VirtualClock) -> None:
    bucket = TokenBucket(rate=2, burst=3)
    for _ in range(5):
        bucket.take()
    virtual_pacing_clock.advance(1.0)  # two tokens back
    assert [bucket.take() for _ in range(3)] == [0, 0, 0.5]
    virtual_pacing_clock.advance(3600)
    assert [bucket.take() for _ in range(4)] == [0, 0, 0, 0.5]


def test_callers_at_the_same_instant_queue_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # Time stands still while they wait: each reserved its token when it asked, so each waits longer.
    waits: list[float] = []
    monkeypatch.setattr(pacing, "sleep", waits.append)
    bucket = TokenBucket(rate=2, burst=1)
    assert [bucket.take() for _ in range(5)] == [0, 0.5, 1.0, 1.5, 2.0]
    assert waits == [0.5, 1.0, 1.5, 2.0]


def test_threads_each_get_a_slot_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    monkeypatch.setattr(pacing, "sleep", record)
    bucket = TokenBucket(rate=10, burst=2)
    threads = [threading.Thread(target=bucket.take) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Two from the burst, then one every tenth of a second: no two callers share a slot.
    assert sorted(round(w, 6) for w in waits) == [round(0.1 * k, 6) for k in range(1, 11)]


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 5), (3, 0.5)])
def test_a_bucket_needs_a_positive_rate_and_a_whole_token(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(rate, burst)


# -- Pacer --------------------------------------------------------------------------------


def test_reads_burst_five_seconds_of_their_rate_writes_not_at_all() -> None:
    pacer = Pacer(Pace(reads_per_second=16, writes_per_second=3))
    for _ in range(80):
        pacer.before_send(REGION, "DescribeImageAttribute")
    assert pacer.read_wait == 0
    pacer.before_send(REGION, "DescribeImageAttribute")
    assert pacer.read_wait == pytest.approx(1 / 16)

    pacer.before_send(REGION, "DeregisterImage")
    pacer.before_send(REGION, "DeregisterImage")
    assert pacer.writes.waited == pytest.approx(1 / 3)


@pytest.mark.parametrize(("rate", "burst"), [(18, 80), (16, 80), (10, 50), (50, 80), (0.1, 1)])
def test_the_read_burst_never_takes_more_than_80_of_ec2s_100_tokens(rate: float, burst: float) -> None:
    # The default, 18 a second, would burst 90 at five seconds' worth: capped, the account keeps 20.
    assert Pace(reads_per_second=rate).read_burst == burst
    pacer = Pacer(Pace(reads_per_second=rate))
    for _ in range(int(burst)):
        pacer.before_send(REGION, "DescribeSnapshotAttribute")
    assert pacer.read_wait == 0
    pacer.before_send(REGION, "DescribeSnapshotAttribute")
    assert pacer.read_wait == pytest.approx(1 / rate)


def test_the_default_pace_keeps_a_tenth_of_ec2s_read_refill_and_most_of_its_write_refill() -> None:
    pace = Pace()
    assert (pace.reads_per_second, pace.read_burst, pace.writes_per_second) == (18, 80, 3)


def test_each_region_and_action_is_paced_on_its_own() -> None:
    pacer = Pacer(Pace(reads_per_second=16, writes_per_second=3))
    for region, action in [(REGION, "CreateTags"), (REGION, "DeregisterImage"), (OTHER_REGION, "CreateTags")]:
        pacer.before_send(region, action)
    assert pacer.writes.waited == 0
    assert pacer.bucket(REGION, "CreateTags") is not pacer.bucket(OTHER_REGION, "CreateTags")
    assert pacer.bucket(REGION, "CreateTags") is pacer.bucket(REGION, "CreateTags")


def test_the_write_log_gives_the_drains_time_and_rate(virtual_pacing_clock: VirtualClock) -> None:
    pacer = Pacer(Pace(writes_per_second=3))
    start = virtual_pacing_clock.monotonic()
    for _ in range(10):
        pacer.before_send(REGION, "DeregisterImage")
        pacer.before_send(REGION, "DescribeImages")  # reads are not in the write log
    log = pacer.writes
    assert (log.count, log.first) == (10, start)
    assert log.seconds == pytest.approx(3.0) and log.rate == pytest.approx(3.0)
    assert log.waited == pytest.approx(3.0)
    summary = pacer.summary()
    assert summary == {
        "reads_per_second": 18.0,
        "writes_per_second": 3,
        "writes": 10,
        "write_seconds": 3.0,
        "write_rate": 3.0,
        "waited_seconds": 3.0,
        "throttled": 0,
    }


def test_the_write_rate_is_the_runs_across_actions() -> None:
    # Two actions, each at 3 a second, alternate: the run writes nearly twice as fast as either.
    pacer = Pacer(Pace(writes_per_second=3))
    for _ in range(5):
        pacer.before_send(REGION, "CreateTags")
        pacer.before_send(REGION, "DeregisterImage")
    assert (pacer.writes.count, pacer.writes.seconds) == (10, pytest.approx(4 / 3))
    assert pacer.writes.rate == pytest.approx(9 / (4 / 3))


def test_fewer_than_two_writes_have_no_rate() -> None:
    pacer = Pacer()
    assert (pacer.writes.seconds, pacer.writes.rate, pacer.summary()["write_rate"]) == (0.0, None, None)
    pacer.before_send(REGION, "DeregisterImage")
    assert (pacer.writes.count, pacer.writes.seconds, pacer.writes.rate) == (1, 0.0, None)


def test_configure_sets_new_rates_on_fresh_buckets() -> None:
    pacer = Pacer(Pace(writes_per_second=1))
    pacer.before_send(REGION, "DeregisterImage")
    old = pacer.bucket(REGION, "DeregisterImage")
    pacer.configure(Pace(reads_per_second=8, writes_per_second=10))
    assert pacer.pace == Pace(8, 10)
    fresh = pacer.bucket(REGION, "DeregisterImage")
    assert fresh is not old and fresh.rate == 10
    pacer.before_send(REGION, "DeregisterImage")  # the old bucket was empty; the new one is full
    assert pacer.writes.waited == 0
    pacer.before_send(REGION, "DeregisterImage")
    assert pacer.writes.waited == pytest.approx(0.1)
    assert pacer.bucket(REGION, "DescribeImages").burst == 40


def test_configure_starts_a_runs_counts_afresh() -> None:
    pacer = Pacer(Pace(writes_per_second=1))
    for _ in range(3):
        pacer.before_send(REGION, "DeregisterImage")
    pacer.throttled = 2
    pacer.configure(Pace())  # the next run on the same clients reports only its own writes
    summary = pacer.summary()
    assert (summary["writes"], summary["write_seconds"], summary["throttled"], summary["waited_seconds"]) == (
        0,
        0.0,
        0,
        0.0,
    )


# -- throttled answers --------------------------------------------------------------------

THROTTLED_BODY = (
    b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
    b"</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
)
NOT_FOUND_BODY = (
    b"<Response><Errors><Error><Code>InvalidAMIID.NotFound</Code><Message>no such image"
    b"</Message></Error></Errors><RequestID>r-2</RequestID></Response>"
)
IMAGES_BODY = (
    b'<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
    b"<requestId>r-3</requestId><imagesSet/></DescribeImagesResponse>"
)


class _Raw:
    """The body botocore reads from a response."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def _answering(answers: list[tuple[int, bytes]], retries: int = 0) -> tuple[Any, Pacer]:
    """A paced EC2 client whose requests get `answers`, in turn, instead of reaching AWS."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 1 + retries})
    client = boto3.client(
        "ec2", region_name=REGION, config=config, aws_access_key_id="k", aws_secret_access_key="s"
    )
    pacer = Pacer()
    pacer.attach(client, REGION)
    queue = list(answers)

    def answer(request: Any, **_: Any) -> AWSResponse:
        status, body = queue.pop(0)
        return AWSResponse(request.url, status, HTTPHeaders(), _Raw(body))

    # After the pacer's own before-send hook: the request is paced, then answered here.
    # (botocore's stubs type a handler as returning None; a before-send handler may answer the request.)
    client.meta.events.register_last("before-send.ec2.*", cast(Any, answer))
    return client, pacer


def _calls(client: Any, times: int) -> list[str]:
    found = []
    for _ in range(times):
        try:
            client.describe_images(Owners=["self"])
            found.append("ok")
        except ClientError as err:
            found.append(err.response["Error"]["Code"])
    return found


def test_a_throttled_answer_is_counted_and_no_other() -> None:
    client, pacer = _answering([(503, THROTTLED_BODY), (400, NOT_FOUND_BODY), (200, IMAGES_BODY)])
    assert _calls(client, 3) == ["RequestLimitExceeded", "InvalidAMIID.NotFound", "ok"]
    assert pacer.throttled == 1 and pacer.summary()["throttled"] == 1


def test_a_throttled_attempt_that_a_retry_mends_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    no_sleep: Callable[[float], None] = lambda _seconds: None  # noqa: E731
    # botocore's retry backoff sleeps with the time module endpoint.py imports: not in a unit test.
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=no_sleep))
    client, pacer = _answering([(503, THROTTLED_BODY), (503, THROTTLED_BODY), (200, IMAGES_BODY)], retries=2)
    assert _calls(client, 1) == ["ok"]
    assert pacer.throttled == 2
