"""Client-side pacing of EC2 calls: a token bucket per account, region and EC2 action.

"Amazon EC2 throttles EC2 API requests for each AWS account on a per-Region basis ...
With request rate limiting, each API is evaluated individually" (EC2 Developer Guide,
Request throttling for the Amazon EC2 API). A non-mutating action's bucket holds 100
tokens and refills 20 a second; a mutating action's refills 5 a second. The run paces
itself below both, so the account's own automation keeps capacity and a long backlog
drains steadily instead of bursting into RequestLimitExceeded:

* reads (Describe*, Get*, List*): `reads_per_second` (default 18 of EC2's 20), after a burst
  of 5 s of that rate (EC2's own bucket holds 5 s of its refill: 100 / 20), never more than
  80 of EC2's 100: the account keeps at least 20 tokens and 2 a second of every action the
  run reads, and every action it does not read is untouched;
* writes (everything else): `writes_per_second`, no burst: one write, then the next
  when its token is there.

Every request sent waits for its token, retries included (a `before-send` hook on each
EC2 client: botocore emits it for every attempt). botocore's adaptive retry mode stays
on top, for what the buckets cannot see (another tool spending the same account's tokens).

Only EC2 is paced here: Auto Scaling, SSM and the others are read a few pages a run, and
their own throttling is answered by the adaptive retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# What the pacer waits with; tests swap both for a virtual clock (tests/helpers/clock.py).
monotonic: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep

READ_PREFIXES = ("Describe", "Get", "List")
# EC2's documented per-action buckets (see the module docstring): the ceilings the defaults stay under.
EC2_READ_REFILL = 20
EC2_WRITE_REFILL = 5
BURST_SECONDS = 5
# The most of EC2's read bucket (100) a run's burst takes: the rest stays the account's.
MAX_READ_BURST = 80
# Error codes EC2 and botocore give a throttled request (botocore/retries/standard.py's list, EC2's first).
THROTTLING_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "EC2ThrottledException",
    }
)


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


class TokenBucket:
    """`rate` tokens a second up to `burst`; `take()` blocks until one is there. Thread-safe."""

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a bucket needs a positive rate and a burst of 1 or more (got {rate}, {burst})")
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp = monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Spend one token, waiting for it if the bucket is empty; returns the seconds waited."""
        with self._lock:
            now = monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1  # reserved now: later callers queue behind it, in order
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            sleep(wait)
        return wait


@dataclass(frozen=True)
class Pace:
    """The rates a run keeps to, per EC2 action in each account and region."""

    reads_per_second: float = 18.0
    writes_per_second: float = 3.0

    @property
    def read_burst(self) -> float:
        return max(1.0, min(self.reads_per_second * BURST_SECONDS, MAX_READ_BURST))


@dataclass
class WriteLog:
    """When a run's writes happened (the pacer's clock), so a report can give the drain's time and rate."""

    count: int = 0
    first: float | None = None
    last: float | None = None
    waited: float = 0.0

    @property
    def seconds(self) -> float:
        return 0.0 if self.first is None or self.last is None else self.last - self.first

    @property
    def rate(self) -> float | None:
        """Writes a second over the drain (None: fewer than two writes)."""
        return (self.count - 1) / self.seconds if self.count > 1 and self.seconds > 0 else None


class Pacer:
    """Token buckets by (region, EC2 action) for one account's clients; records writes and throttling."""

    def __init__(self, pace: Pace | None = None) -> None:
        self.pace = pace or Pace()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self.writes = WriteLog()
        self.read_wait = 0.0
        self.throttled = 0

    def configure(self, pace: Pace) -> None:
        """New rates from now on (a run's settings): buckets, the write log and the counts start afresh."""
        with self._lock:
            self.pace = pace
            self._buckets.clear()
            self.writes = WriteLog()
            self.read_wait = 0.0
            self.throttled = 0

    def bucket(self, region: str, operation: str) -> TokenBucket:
        key = (region, operation)
        with self._lock:
            found = self._buckets.get(key)
            if found is None:
                if is_read(operation):
                    found = TokenBucket(self.pace.reads_per_second, self.pace.read_burst)
                else:
                    found = TokenBucket(self.pace.writes_per_second, 1)
                self._buckets[key] = found
            return found

    def before_send(self, region: str, operation: str) -> None:
        waited = self.bucket(region, operation).take()
        with self._lock:
            if is_read(operation):
                self.read_wait += waited
                return
            log = self.writes
            log.count += 1
            log.waited += waited
            log.last = monotonic()
            if log.first is None:
                log.first = log.last

    def attach(self, client: Any, region: str) -> None:
        """Pace every request `client` sends (an EC2 client), and count the throttled answers."""

        def pace(event_name: str = "", **_: Any) -> None:
            self.before_send(region, event_name.rsplit(".", 1)[-1])

        def seen(parsed_response: Any = None, **_: Any) -> None:
            # response-received: once per attempt (botocore endpoint.py _get_response), so a
            # throttled request that a retry then got through still counts.
            error = parsed_response.get("Error") if isinstance(parsed_response, dict) else None
            if isinstance(error, dict) and error.get("Code", "") in THROTTLING_CODES:
                with self._lock:
                    self.throttled += 1

        client.meta.events.register("before-send.ec2.*", pace)
        client.meta.events.register("response-received.ec2.*", seen)

    def summary(self) -> dict[str, Any]:
        """For the report: the pace kept, what writing took, and how often EC2 throttled anyway."""
        log = self.writes
        return {
            "reads_per_second": self.pace.reads_per_second,
            "writes_per_second": self.pace.writes_per_second,
            "writes": log.count,
            "write_seconds": round(log.seconds, 3),
            "write_rate": None if log.rate is None else round(log.rate, 3),
            "waited_seconds": round(self.read_wait + log.waited, 3),
            "throttled": self.throttled,
        }
