"""The CLI's progress line: pages read, image checks and actions done, on standard error.

A long run (thousands of images, many regions or accounts) is otherwise silent until its report.
The line is driven by the run's request counter (core/clients.py, `ApiCallCounter.listeners`):
called with 'service.Operation' for every request sent, retries included, from the reading
threads at once, so the counts are kept under a lock. tqdm draws the line in place and redraws
it at most every `mininterval` seconds, so a request costs a lock, an increment and a clock read.

CLI only: the Lambda functions never show progress, and tqdm is not in their asset
(infra/packaging.py, RUNTIME_DISTRIBUTIONS).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type hints

from ami_hygiene.core.pacing import is_read

PAGES, CHECKS, ACTIONS = "pages", "checks", "actions"
# The per-image safety reads (a call may check several: DescribeImageReferences takes up to 10 ids).
IMAGE_CHECKS = frozenset(
    {"ec2.DescribeImageAttribute", "ec2.DescribeSnapshotAttribute", "ec2.DescribeImageReferences"}
)
LINE = "{desc}: {pages} pages read, {checks} image checks, {actions} actions [{elapsed}]"
REDRAW_SECONDS = 0.25
# A run shorter than this shows no line at all (nothing flashes before a quick report).
SHOW_AFTER_SECONDS = 1.0


def kind_of(operation: str) -> str:
    """PAGES, CHECKS or ACTIONS for 'service.Operation'.

    Reads are Describe*, Get*, List* (core/pacing.py's rule); STS calls (GetCallerIdentity,
    AssumeRole for a consumer or member account) only fetch credentials, so they count as reads,
    not actions: an action is a change to the estate.
    """
    if operation in IMAGE_CHECKS:
        return CHECKS
    service, _, name = operation.partition(".")
    return PAGES if is_read(name) or service == "sts" else ACTIONS


class _StatusLine(tqdm):
    """A tqdm line with no bar: LINE, with the counts read at each redraw."""

    monitor_interval = 0  # no monitor thread: miniters=1 below leaves it nothing to correct

    def __init__(self, counts: Mapping[str, int], **kwargs: Any) -> None:
        self._counts = counts
        super().__init__(**kwargs)

    @property
    def format_dict(self) -> dict[str, Any]:
        # tqdm's format_meter passes extra keys on to bar_format (tqdm/std.py, format_meter).
        return {**super().format_dict, **self._counts}

    # A terminal with no size set (a bare pty, a container's) reads as -1 columns and rows, and tqdm
    # would then trim the line and draw nothing: an unknown size is None (not trimmed, 20 rows).
    @property
    def ncols(self) -> int | None:
        return self._ncols

    @ncols.setter
    def ncols(self, value: int | None) -> None:
        self._ncols = value if value and value > 0 else None

    @property
    def nrows(self) -> int | None:
        return self._nrows

    @nrows.setter
    def nrows(self, value: int | None) -> None:
        self._nrows = value if value and value > 0 else None


class Progress:
    """Counts requests by kind and shows them on one line of `stream`; call it with 'service.Operation'.

    Thread-safe: any number of threads may call it while the run goes on. `close()` clears the line.
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        mininterval: float | None = None,
        delay: float | None = None,
    ) -> None:
        self.counts = dict.fromkeys((PAGES, CHECKS, ACTIONS), 0)
        self._lock = threading.Lock()
        self._line = _StatusLine(
            self.counts,
            file=stream,
            desc=label,
            bar_format=LINE,
            mininterval=REDRAW_SECONDS if mininterval is None else mininterval,
            miniters=1,  # every call checks the clock; mininterval alone limits the redraws
            delay=SHOW_AFTER_SECONDS if delay is None else delay,
            leave=False,  # cleared at the end: the report follows
            dynamic_ncols=True,  # trimmed to the terminal's width, read again at each redraw
        )

    def __call__(self, operation: str) -> None:
        kind = kind_of(operation)
        with self._lock:
            self.counts[kind] += 1
            self._line.update(1)

    def close(self) -> None:
        with self._lock:
            self._line.close()


def shown(stream: TextIO, *, quiet: bool) -> bool:
    """Progress goes to a terminal only: never into a file or pipe the output may be captured in."""
    isatty = getattr(stream, "isatty", None)
    return not quiet and callable(isatty) and bool(isatty())


@contextmanager
def progress_line(stream: TextIO, label: str, *, quiet: bool) -> Iterator[Progress | None]:
    """A Progress on `stream` when it is shown (see `shown`), else None; its line is cleared on exit."""
    progress = Progress(stream, label) if shown(stream, quiet=quiet) else None
    try:
        yield progress
    finally:
        if progress is not None:
            progress.close()
