"""A report written piece by piece: the same JSON and text as whole, one decision at a time."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from ami_hygiene.cli import write_report
from ami_hygiene.core.estate import SnapshotRef
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan, SnapshotResult
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.view import VIEW as ROTATE_VIEW
from ami_hygiene.jobs.settings import Mode, Settings
from tests.helpers.builders import decision
from tests.helpers.constants import ACCOUNT, NOW, REGION

SNAPS = (SnapshotRef("snap-1", "/dev/xvda", 8), SnapshotRef("snap-2", "/dev/xvdb", 100))


@dataclass(frozen=True)
class Counted(Decision):
    """A decision that counts how often the report turns it into JSON (details() is called then)."""

    turned: list[int] | None = None

    def details(self) -> dict[str, Any]:
        if self.turned is not None:
            self.turned.append(1)
        return {"extra": {"nested": ["a", {"b": None}], "empty": [], "none": {}}}


def _report(decisions: Sequence[Decision], *, regions: int = 1) -> Report:
    names = tuple(f"eu-west-{n + 1}" for n in range(regions))
    settings = Settings.load({"REGIONS": ",".join(names)})
    plans = tuple(Plan("rotate", region, tuple(decisions)) for region in names)
    return Report(
        "rotate",
        Mode.REPORT,
        ACCOUNT,
        names,
        plans,
        settings,
        NOW,
        NOW + timedelta(seconds=3),
        api_calls={"ec2.DescribeImages": 2},
        pacing={"writes": 0},
        errors=('eu-west-1: something "quoted" and ünïcode',),
        view=ROTATE_VIEW,
    )


VARIED = [
    decision("ami-1", Action.KEEP, created=NOW, reasons=("kept: newest", 'a "quote" \\ and \n newline')),
    decision("ami-2", Action.DEREGISTER, created=NOW, snapshots=SNAPS, deprecate_at=NOW),
    decision(
        "ami-3",
        Action.DEREGISTER,
        outcome=Outcome.FAILED,
        snapshot_results=(SnapshotResult("snap-9", False, "in use"),),
        pending_checks=("launch permissions",),
        findings=("stale",),
        error="AccessDenied",
    ),
    Counted("ami-4", REGION, "web", "web-4", Action.DISABLE, ("€ and 😀",)),
]


@pytest.mark.parametrize("indent", [None, 0, 1, 2, 4])
@pytest.mark.parametrize("decisions", [VARIED, []], ids=["varied", "none"])
def test_json_chunks_are_the_whole_report_byte_for_byte(
    indent: int | None, decisions: list[Decision]
) -> None:
    report = _report(decisions, regions=2)
    assert "".join(report.json_chunks(indent=indent)) == json.dumps(report.to_dict(), indent=indent)


def test_json_chunks_turn_one_decision_at_a_time() -> None:
    turned: list[int] = []
    many = [
        Counted(f"ami-{n}", REGION, "web", f"web-{n}", Action.KEEP, ("r",), turned=turned) for n in range(50)
    ]
    chunks = _report(many).json_chunks(indent=2)
    next(chunks)  # the head: every count and summary, no decision yet
    assert turned == []
    next(chunks)
    next(chunks)
    assert len(turned) == 2
    list(chunks)
    assert len(turned) == 50


def test_the_text_line_by_line_is_the_text() -> None:
    report = _report(VARIED)
    assert "\n".join(report.text_lines()) + "\n" == report.render_text()
    assert "ami-1" in report.render_text() and "Kept" in report.render_text()


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_cli_writes_what_the_report_says_to_a_file_and_to_stdout(fmt: str, tmp_path: Any) -> None:
    report = _report(VARIED)
    whole = json.dumps(report.to_dict(), indent=2) + "\n" if fmt == "json" else report.render_text()
    path = tmp_path / f"report.{fmt}"
    said = io.StringIO()
    write_report(report, fmt, str(path), said)
    assert path.read_text(encoding="utf-8") == whole
    assert said.getvalue() == f"report written to {path}\n"
    out = io.StringIO()
    write_report(report, fmt, None, out)
    assert out.getvalue() == whole
