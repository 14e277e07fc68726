"""Reads side by side, in a bounded pool: the waiting of round trips overlaps, the rate does not grow.

How fast a run reads is set by the pacer (core/pacing.py), per EC2 action; the pool
only lets independent reads wait for their answers together instead of one after
another. Writes never go through here: the executor applies a plan one action at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")
B = TypeVar("B")

# Requests in flight at once for one pool. At 50 ms a round trip, 10 threads reach 200 a
# second, above any pace a run keeps (18 a second per EC2 action by default): the pacer decides.
READ_WORKERS = 10
# Regions read side by side; each region's reads have pools of their own.
REGION_WORKERS = 4


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int = READ_WORKERS) -> list[R]:
    """`[fn(i) for i in items]`, at most `workers` at a time, in the items' order.

    An exception raised by `fn` is raised here, as it would be in the loop; the
    pool waits for the calls already started before it does.
    """
    listed = list(items)
    if len(listed) <= 1 or workers <= 1:
        return [fn(i) for i in listed]
    with ThreadPoolExecutor(max_workers=min(workers, len(listed)), thread_name_prefix="read") as pool:
        return list(pool.map(fn, listed))


def side_by_side(calls: Mapping[str, Callable[[], R]], workers: int = READ_WORKERS) -> dict[str, R]:
    """Each named call made at once (at most `workers` at a time); their results by name."""
    names = list(calls)
    return dict(zip(names, parallel_map(lambda name: calls[name](), names, workers), strict=True))


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """`(first(), second())`, the two made at once (`second` on this thread)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read") as pool:
        pending = pool.submit(first)
        other = second()
        return pending.result(), other
