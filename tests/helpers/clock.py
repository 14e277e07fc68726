"""A virtual clock for the pacer (core/pacing.py): waiting advances it at once, and no test sleeps.

Every test runs on one (tests/helpers/fixtures.py, `virtual_pacing_clock`), so pacing is
exercised everywhere, in order and in amount, without costing wall time. The sandbox's
EC2 throttling (sandbox/throttling.py) can read the same clock, so "the pacer keeps
below EC2's buckets" is checked on the time both of them see.
"""

from __future__ import annotations

import threading


class VirtualClock:
    """`monotonic()` and `sleep(seconds)`: sleeping moves the time on by that much, at once."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        with self._lock:
            self.now += seconds
            self.slept += seconds

    def advance(self, seconds: float) -> None:
        """Time passing without anyone waiting (e.g. between two runs)."""
        with self._lock:
            self.now += seconds
