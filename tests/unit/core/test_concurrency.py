"""The bounded pool: the loop's results and errors, never more at once than its bound."""

from __future__ import annotations

import threading
import time

import pytest

from ami_hygiene.core.concurrency import both, parallel_map, side_by_side


class InFlight:
    """Counts calls running at once (each holds for a moment so that overlap can show)."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self, item: int) -> int:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.01)
        with self._lock:
            self.now -= 1
        return item * 2


def test_results_come_in_the_items_order() -> None:
    assert parallel_map(lambda i: i * i, range(50), workers=7) == [i * i for i in range(50)]


def test_no_more_than_the_bound_run_at_once_and_they_do_overlap() -> None:
    seen = InFlight()
    assert parallel_map(seen, range(40), workers=5) == [i * 2 for i in range(40)]
    assert 1 < seen.most <= 5


def test_one_worker_is_the_plain_loop() -> None:
    seen = InFlight()
    parallel_map(seen, range(5), workers=1)
    assert seen.most == 1


def test_an_error_is_raised_as_the_loop_would() -> None:
    def fail_on_three(i: int) -> int:
        if i == 3:
            raise ValueError("three")
        return i

    with pytest.raises(ValueError, match="three"):
        parallel_map(fail_on_three, range(10), workers=4)


def test_side_by_side_names_each_result_and_both_runs_two_at_once() -> None:
    assert side_by_side({"a": lambda: 1, "b": lambda: 2}) == {"a": 1, "b": 2}
    started = threading.Barrier(2, timeout=5)

    def meet() -> str:
        started.wait()  # only passes if the other call runs at the same time
        return "met"

    assert both(meet, meet) == ("met", "met")
