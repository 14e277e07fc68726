"""The view protocol: what a job's report says beyond the common part.

`Report` (report.py) holds what every job shares: decisions with outcomes,
errors, per-action counts, text and JSON. A job's `View` (jobs/<job>/view.py)
adds its own summary keys, the words of its subject line, the settings it shows,
which decisions are worth telling a person, and how severe its findings are.
The report imports no job's view: the job hands its view to the report it makes;
and a view reads the report only through the small `ReportFacts` protocol here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from ami_hygiene.core.plan import Action, Decision, Outcome
from ami_hygiene.core.settings import Mode

# Severities, lowest first: a message carries the highest of its findings.
SEVERITY_ORDER = ("info", "warning", "medium", "high", "error", "critical")


class ReportFacts(Protocol):
    """What a view reads of the report it is part of (core/report.py's Report has it all)."""

    @property
    def mode(self) -> Mode: ...

    @property
    def settings(self) -> Any: ...  # the job's own model (jobs/<job>/settings.py)

    @property
    def decisions(self) -> tuple[Decision, ...]: ...

    @property
    def all_errors(self) -> tuple[str, ...]: ...

    @property
    def failed(self) -> bool: ...


class View:
    """One job's part of its report. Subclasses say what differs; the defaults are the common rule."""

    job: str
    seen_label = "images seen"
    actions: Sequence[Action] = ()
    # Its run metrics beyond the common ones (core/observability): name -> (summary key, unit).
    metrics: Mapping[str, tuple[str, MetricUnit]] = MappingProxyType({})
    storage_graph = False  # whether its dashboard row has a storage graph

    @property
    def dashboard_metrics(self) -> tuple[str, ...]:
        """What its dashboard row draws in the "images" graph."""
        return ("ImagesSeen", *self.metrics)

    def summary(self, report: ReportFacts) -> dict[str, Any]:
        return self.summarize(report.decisions, counted_outcome(report), report)

    def summarize(
        self, decisions: Sequence[Decision], effective: Outcome, report: ReportFacts
    ) -> dict[str, Any]:
        """Its summary keys; `effective` is the outcome that counts (DONE enforced, else PLANNED)."""
        raise NotImplementedError

    def headline(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def summary_lines(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def settings_line(self, settings: Any) -> str:  # the job's own settings model
        raise NotImplementedError

    # The stack parameter that turns the job to enforce, and what the report-mode footer adds.
    mode_parameter: str = ""
    to_apply: str = "."

    def footer(self, report: ReportFacts) -> str:
        if report.mode is Mode.REPORT:
            return (
                "To apply: run with --mode enforce (CLI) or set the stack parameter "
                f"{self.mode_parameter}=enforce{self.to_apply}"
            )
        return self.enforced_footer(report)

    def enforced_footer(self, report: ReportFacts) -> str:
        """The footer of an enforce-mode report: what happens next, how to undo or allow."""
        raise NotImplementedError

    # The text names every decision on lines of its own, except those `summarized` says its
    # summary lines already cover, once there are more than this many (None: every one is named).
    itemize_up_to: int | None = None

    def summarized(self, decision: Decision) -> bool:
        """Whether the summary lines cover this decision, so a long text need not name it."""
        return False

    def is_finding(self, decision: Decision) -> bool:
        """Whether this decision alone is worth a message to a person."""
        return decision.is_action

    def severity(self, report: ReportFacts) -> str:
        if report.all_errors or report.failed:
            return "error"
        if any(d.outcome is Outcome.DEFERRED for d in report.decisions):
            return "warning"
        return "info"


def highest(severities: Iterable[str]) -> str:
    ranked = [s for s in severities if s in SEVERITY_ORDER]
    return max(ranked, key=SEVERITY_ORDER.index) if ranked else "info"


def counted_outcome(report: ReportFacts) -> Outcome:
    """The outcome a report counts: DONE when enforced, PLANNED in report mode."""
    return Outcome.DONE if report.mode is Mode.ENFORCE else Outcome.PLANNED


def counts(**names: str) -> Mapping[str, tuple[str, MetricUnit]]:
    """Run metrics that count: metric name = summary key."""
    return MappingProxyType({name: (key, MetricUnit.Count) for name, key in names.items()})


def changes(s: Mapping[str, Any], *phrases: tuple[str, str, str]) -> list[str]:
    """One phrase per nonzero count: "3 to tag" in report mode, "3 tagged" once done."""
    return [f"{s[key]} {planned if s['would_change'] else done}" for key, planned, done in phrases if s[key]]


def count(decisions: Iterable[Decision], action: Action, outcome: Outcome) -> int:
    return sum(1 for d in decisions if d.action is action and d.outcome is outcome)
