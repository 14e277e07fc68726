"""EC2's request throttling, in the embedded AWS: a token bucket per account, Region and action.

EC2 Developer Guide, "Request throttling for the Amazon EC2 API"
(https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html):

* "Amazon EC2 throttles EC2 API requests for each AWS account on a per-Region basis";
  "with request rate limiting, each API is evaluated individually ... Each request that
  you make removes one token from the API's bucket";
* "If the bucket is below its maximum capacity, a set number of tokens is added back to it
  every second until it reaches its maximum capacity" (refilled continuously here, which
  no request can tell apart at these rates);
* "If you exceed an API throttling limit, you get the RequestLimitExceeded error code".

Its table "Request token bucket sizes and refill rates" gives (capacity, refill a second):
non-mutating actions (Describe*, List*, Search*, Get*) 100, 20; unfiltered and unpaginated
non-mutating actions (DescribeInstances, DescribeSnapshots and five more, "when requested
without specifying either pagination or a filter") 50, 10; mutating actions 50, 5; and
"uncategorized actions" with their own sizes, among them the AMI writes: DeregisterImage,
DeleteSnapshot and ModifyImageAttribute 100, 5; CreateTags and DeleteTags 100, 10.
The mutating bucket is 50 there, not 200: no page found says 200.

Resource rate limiting (RunInstances and a few others, counted in instances) is not
modelled, nor the console's own buckets. A throttled request takes no token.

Off unless switched on: `throttling(clock)` for a block, or `install(clock)` ... `uninstall()`.
`clock` is anything with `monotonic()` (the tests' VirtualClock; by default the real one),
so a test can empty a bucket and refill it without waiting.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response

from ._patching import override

READ_PREFIXES = ("Describe", "List", "Search", "Get")
REQUEST_LIMIT_EXCEEDED = "RequestLimitExceeded"
# EC2 answers it with HTTP 503; botocore's _retry.json retries it as throttling on that status.
STATUS = 503
_MARK = "_sandbox_throttles"


class Clock(Protocol):
    def monotonic(self) -> float: ...


class _RealClock:
    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class Limit:
    """A bucket's maximum capacity (tokens) and refill rate (tokens a second)."""

    capacity: float
    refill: float


NON_MUTATING = Limit(100, 20)
UNFILTERED_NON_MUTATING = Limit(50, 10)
MUTATING = Limit(50, 5)
# The guide's "Unfiltered and unpaginated non-mutating actions".
UNFILTERED_ACTIONS = frozenset(
    {
        "DescribeInstances",
        "DescribeInstanceStatus",
        "DescribeNetworkInterfaces",
        "DescribeSecurityGroups",
        "DescribeSnapshots",
        "DescribeSpotInstanceRequests",
        "DescribeVolumes",
    }
)
# The guide's "Uncategorized actions" that the jobs, the demo or the seeding send.
OWN_LIMITS: Mapping[str, Limit] = {
    "CopyImage": Limit(100, 1),
    "CreateLaunchTemplateVersion": Limit(100, 5),
    "CreateSnapshot": Limit(100, 5),
    "CreateTags": Limit(100, 10),
    "CreateVolume": Limit(100, 5),
    "DeleteSnapshot": Limit(100, 5),
    "DeleteTags": Limit(100, 10),
    "DeleteVolume": Limit(100, 5),
    "DeregisterImage": Limit(100, 5),
    "DisableImageBlockPublicAccess": Limit(1, 0.1),
    "DisableSnapshotBlockPublicAccess": Limit(1, 0.1),
    "EnableImageBlockPublicAccess": Limit(1, 0.1),
    "EnableSnapshotBlockPublicAccess": Limit(1, 0.1),
    "ModifyImageAttribute": Limit(100, 5),
    "ModifyLaunchTemplate": Limit(100, 5),
    "ModifySnapshotAttribute": Limit(100, 5),
    "RunInstances": Limit(5, 2),
    "StartInstances": Limit(5, 2),
    "TerminateInstances": Limit(100, 5),
}


def is_read(action: str) -> bool:
    return action.startswith(READ_PREFIXES)


def limit_of(action: str, narrowed: bool = True) -> Limit:
    """The bucket `action` draws on; `narrowed`: the request names a filter or pagination."""
    if action in OWN_LIMITS:
        return OWN_LIMITS[action]
    if not is_read(action):
        return MUTATING
    if action in UNFILTERED_ACTIONS and not narrowed:
        return UNFILTERED_NON_MUTATING
    return NON_MUTATING


class BucketKey(NamedTuple):
    account: str
    region: str
    action: str
    unfiltered: bool = False  # the smaller bucket of an unfiltered, unpaginated read


class _Bucket:
    def __init__(self, limit: Limit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.capacity
        self.stamp = now

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.limit.capacity, self.tokens + elapsed * self.limit.refill)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Throttle:
    """The buckets, and what was let through or throttled, by BucketKey. Thread-safe."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or _RealClock()
        self._buckets: dict[BucketKey, _Bucket] = {}
        self._lock = threading.Lock()
        self.admitted: Counter[BucketKey] = Counter()
        self.throttled: Counter[BucketKey] = Counter()

    def admit(self, account: str, region: str, action: str, narrowed: bool = True) -> bool:
        """Whether a request may run now; False: it is answered RequestLimitExceeded."""
        limit = limit_of(action, narrowed)
        key = BucketKey(account, region, action, action in UNFILTERED_ACTIONS and not narrowed)
        with self._lock:
            now = self.clock.monotonic()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(limit, now)
            allowed = bucket.take(now)
            (self.admitted if allowed else self.throttled)[key] += 1
        return allowed

    def throttled_total(self, action: str | None = None) -> int:
        """Requests answered RequestLimitExceeded (of one action, or all)."""
        with self._lock:
            return sum(n for key, n in self.throttled.items() if action in (None, key.action))


_active: Throttle | None = None


def active() -> Throttle | None:
    """The throttle requests are checked against now; None: EC2 is not throttled."""
    return _active


def install(clock: Clock | None = None) -> Throttle:
    """Throttles every EC2 request the embedded AWS serves, from now on, on fresh buckets."""
    global _active
    current = EC2Response.call_action
    if not getattr(current, _MARK, False):
        override(EC2Response, "call_action", _checked_call_action)
    _active = Throttle(clock)
    return _active


def uninstall() -> None:
    """No more throttling; the hook left in place lets every request through."""
    global _active
    _active = None


@contextmanager
def throttling(clock: Clock | None = None) -> Iterator[Throttle]:
    """EC2 throttled within the block (whatever was in force before is back after it)."""
    global _active
    before = _active
    throttle = install(clock)
    try:
        yield throttle
    finally:
        _active = before


def _narrowed(querystring: Mapping[str, Any]) -> bool:
    # The EC2 query protocol's names for a filter and for pagination (EC2 API reference,
    # e.g. DescribeSnapshots: Filter.N, MaxResults, NextToken).
    return any(key.startswith("Filter.") or key in ("MaxResults", "NextToken") for key in querystring)


def _checked_call_action(self: Any) -> Any:
    throttle = _active
    if throttle is not None:
        action = self._get_action()
        if not throttle.admit(self.current_account, self.region, action, _narrowed(self.querystring)):
            return _request_limit_exceeded(self, action)
    # Whatever answers EC2Response's requests next (moto's BaseResponse.call_action, or a wrapper of it).
    return super(EC2Response, self).call_action()


setattr(_checked_call_action, _MARK, True)


def _request_limit_exceeded(response: Any, action: str) -> tuple[int, dict[str, str], str]:
    # The message EC2 gives, e.g. "Request limit exceeded. Account 123456789012 has been
    # throttled on ec2:RunInstances because it exceeded its request rate limit." (as quoted
    # in CloudSnorkel/cdk-github-runners issue 946); rendered as moto renders any EC2 error.
    message = (
        f"Request limit exceeded. Account {response.current_account} has been throttled on "
        f"ec2:{action} because it exceeded its request rate limit."
    )
    _status, headers, body = response.serialized(
        ActionResult(EC2ClientError(REQUEST_LIMIT_EXCEEDED, message))
    )
    headers["status"] = str(STATUS)
    headers, body = response._enrich_response(headers, body)
    return STATUS, headers, body
