"""The CLI's progress line (ami_hygiene/progress.py): what it counts, from many threads, and where."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from ami_hygiene.core.clients import ApiCallCounter
from ami_hygiene.progress import ACTIONS, CHECKS, PAGES, Progress, kind_of, progress_line, shown

ROOT = Path(__file__).resolve().parents[2]

# A rotate run's requests, each with what it counts as.
RUN = [
    ("sts.GetCallerIdentity", PAGES),
    ("ec2.DescribeImages", PAGES),
    ("ec2.DescribeImages", PAGES),
    ("ec2.DescribeSnapshots", PAGES),
    ("ec2.DescribeInstances", PAGES),
    ("ec2.DescribeLaunchTemplateVersions", PAGES),
    ("autoscaling.DescribeAutoScalingGroups", PAGES),
    ("autoscaling.DescribeLaunchConfigurations", PAGES),
    ("ssm.DescribeParameters", PAGES),
    ("ssm.GetParameters", PAGES),
    ("imagebuilder.ListImagePipelines", PAGES),
    ("ec2.DescribeImageAttribute", CHECKS),
    ("ec2.DescribeImageAttribute", CHECKS),
    ("ec2.DescribeSnapshotAttribute", CHECKS),
    ("ec2.DescribeImageReferences", CHECKS),
    ("sts.AssumeRole", PAGES),  # a consumer account's credentials: nothing changed
    ("ec2.DisableImage", ACTIONS),
    ("ec2.DeregisterImage", ACTIONS),
    ("ec2.DeleteSnapshot", ACTIONS),
    ("ec2.CreateTags", ACTIONS),
    ("ec2.ModifyImageAttribute", ACTIONS),
    ("imagebuilder.StartImagePipelineExecution", ACTIONS),
    ("ssm.StartAutomationExecution", ACTIONS),
]


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def drawn_counts(text: str) -> dict[str, int]:
    """The counts on the last line drawn (each redraw starts with a carriage return)."""
    lines = [s for s in text.split("\r") if "pages read" in s]
    assert lines, text
    found = re.search(r"(\d+) pages read, (\d+) image checks, (\d+) actions", lines[-1])
    assert found, lines[-1]
    return dict(zip((PAGES, CHECKS, ACTIONS), map(int, found.groups()), strict=True))


@pytest.mark.parametrize(("operation", "kind"), RUN)
def test_each_request_is_a_page_a_check_or_an_action(operation: str, kind: str) -> None:
    assert kind_of(operation) == kind


def test_a_run_is_counted_by_kind_and_drawn_on_the_stream() -> None:
    stream = FakeTerminal()
    progress = Progress(stream, "ami-hygiene rotate", mininterval=0, delay=0)
    for operation, _ in RUN:
        progress(operation)

    expected = Counter(kind for _, kind in RUN)
    assert progress.counts == {PAGES: expected[PAGES], CHECKS: expected[CHECKS], ACTIONS: expected[ACTIONS]}
    assert drawn_counts(stream.getvalue()) == progress.counts
    assert stream.getvalue().startswith("\rami-hygiene rotate: ")
    progress.close()
    # Cleared at the end: the last thing written blanks the line and returns to its start.
    cleared = stream.getvalue().split("\r")[-2]
    assert cleared.strip() == "" and cleared


class YieldingCounts(dict[str, int]):
    """Counts that let another thread run between reading a count and writing it back: a lost
    update, rare in CPython (its `+=` on a dict item seldom switches threads), happens at once."""

    def __getitem__(self, kind: str) -> int:
        count = super().__getitem__(kind)
        time.sleep(0)
        return count


def test_the_counter_calls_it_from_many_threads_and_no_request_is_lost() -> None:
    stream = FakeTerminal()
    progress = Progress(stream, "ami-hygiene rotate", mininterval=0, delay=0)
    progress.counts = progress._line._counts = YieldingCounts(progress.counts)
    counter = ApiCallCounter()
    counter.listeners.append(progress)
    threads, rounds = 8, 20
    start = threading.Barrier(threads)

    def requests() -> None:
        start.wait()
        for _ in range(rounds):
            for operation, _kind in RUN:
                counter.count(operation)

    workers = [threading.Thread(target=requests) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    progress.close()

    expected = Counter(kind for _, kind in RUN)
    assert progress.counts == {kind: n * threads * rounds for kind, n in expected.items()}
    assert sum(progress.counts.values()) == counter.total
    assert drawn_counts(stream.getvalue()) == progress.counts


def test_redraws_are_rate_limited() -> None:
    stream = FakeTerminal()
    progress = Progress(stream, "ami-hygiene rotate", mininterval=60, delay=0)
    for _ in range(1000):
        progress("ec2.DescribeImages")
    progress.close()
    assert progress.counts[PAGES] == 1000
    assert stream.getvalue().count("pages read") == 1  # the first draw only, within the minute


def test_a_short_run_shows_nothing() -> None:
    stream = FakeTerminal()
    progress = Progress(stream, "ami-hygiene rotate", mininterval=0, delay=60)
    progress("ec2.DescribeImages")
    progress.close()
    assert progress.counts[PAGES] == 1 and stream.getvalue() == ""


def _drain(master: int) -> str:
    """Everything the terminal has to read: a pty may hand it over in pieces, the last a moment late."""
    import select

    chunks = []
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other side is closed and nothing is left
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_drawn_on_a_real_terminal_whose_size_is_not_set() -> None:
    """A fresh pty (as in many containers) has no size: tqdm reads -1 columns and rows."""
    master, replica = os.openpty()
    try:
        with open(replica, "w", encoding="utf-8") as stream:
            assert shown(stream, quiet=False)
            progress = Progress(stream, "ami-hygiene rotate", mininterval=0, delay=0)
            for operation in ("ec2.DescribeImages", "ec2.DescribeImageAttribute", "ec2.DisableImage"):
                progress(operation)
            progress.close()
        text = _drain(master)
    finally:
        os.close(master)
    assert drawn_counts(text) == {PAGES: 1, CHECKS: 1, ACTIONS: 1}


def test_shown_on_a_terminal_only_and_never_when_quiet() -> None:
    assert shown(FakeTerminal(), quiet=False)
    assert not shown(FakeTerminal(), quiet=True)
    assert not shown(io.StringIO(), quiet=False)  # a file or a pipe


def test_progress_line_is_none_off_a_terminal_and_closed_on_leaving() -> None:
    with progress_line(io.StringIO(), "ami-hygiene rotate", quiet=False) as progress:
        assert progress is None
    with progress_line(FakeTerminal(), "ami-hygiene rotate", quiet=True) as progress:
        assert progress is None
    stream = FakeTerminal()
    with pytest.raises(RuntimeError), progress_line(stream, "ami-hygiene rotate", quiet=False) as progress:
        assert progress is not None
        raise RuntimeError("the run failed")
    assert progress is not None and progress._line.disable  # closed on the error's way out


def test_the_lambda_handlers_never_load_the_progress_line() -> None:
    """tqdm is not in the functions' asset (infra/packaging.py): a handler must not import it."""
    code = (
        "import sys, importlib\n"
        "from ami_hygiene.registry import JOBS\n"
        "for job in JOBS: importlib.import_module(job.handler.rpartition('.')[0])\n"
        "loaded = sorted(m for m in sys.modules if m == 'tqdm' or m == 'ami_hygiene.progress')\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}", "AWS_DEFAULT_REGION": "eu-west-1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
