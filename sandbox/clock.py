"""Time as the sandbox sees it, and the two ways EC2 writes it.

moto's clock (`utcnow`) honours time-machine and freezegun, so tests can age
images; everything here is naive UTC, like moto's own timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime

from moto.core.utils import utcnow


def now() -> datetime:
    return utcnow()


def as_utc(moment: datetime) -> datetime:
    """Naive UTC, whatever the caller passed (aware datetimes are converted)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def iso_millis(moment: datetime) -> str:
    """DescribeImages style, e.g. DeprecationTime "2021-05-10T13:17:12.000Z"."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def iso_seconds(moment: datetime) -> str:
    """DescribeImageAttribute lastLaunchedTime style, e.g. "2022-02-10T02:03:18Z"."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
