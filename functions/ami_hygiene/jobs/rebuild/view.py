"""The rebuild job's part of its report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ami_hygiene.core.plan import Action, Decision, Outcome
from ami_hygiene.core.view import ReportFacts, View, counts
from ami_hygiene.jobs.rebuild.model import JOB, BuildResult
from ami_hygiene.jobs.rebuild.settings import RebuildJobSettings


class RebuildView(View):
    """The patch-rebuild job: stale families, builds started, and how builds ended."""

    metrics = counts(
        FamiliesStale="stale_families",
        BuildsStarted="builds_started",
        BuildsFinished="builds_finished",
        BuildsFailed="builds_failed",
    )
    dashboard_metrics = tuple(metrics)  # no ImagesSeen: a rebuild counts families

    job = JOB
    mode_parameter = "RebuildMode"
    to_apply = (
        ". A family is rebuilt by the pipeline in its ami-hygiene:pipeline tag or FamilyPipelines, "
        "else by the AWS-UpdateLinuxAmi / AWS-UpdateWindowsAmi runbook."
    )
    actions = (Action.REBUILD,)

    def summarize(
        self, decisions: Sequence[Decision], effective: Outcome, report: ReportFacts
    ) -> dict[str, Any]:
        ended = _ended(decisions)
        return {
            "stale_families": len({(d.region, d.family) for d in decisions if _is_stale(d)}),
            "builds_started": sum(
                1
                for d in decisions
                if d.action is Action.REBUILD and not isinstance(d, BuildResult) and d.outcome is effective
            ),
            "builds_finished": sum(1 for d in ended if d.succeeded),
            "builds_failed": sum(1 for d in ended if not d.succeeded),
        }

    def headline(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
        results = [d for d in report.decisions if isinstance(d, BuildResult)]
        if results:
            parts = []
            for d in results:
                if d.finished and d.succeeded:
                    parts.append(f"{d.family} rebuilt: {d.new_image_id or 'no image'}")
                else:
                    parts.append(f"{d.family} build {d.status}")
            return parts
        started = "build started" if s["builds_started"] == 1 else "builds started"
        verb = "to rebuild" if s["would_change"] else started
        return [f"{s['stale_families']} stale", f"{s['builds_started']} {verb}"]

    def summary_lines(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
        return [
            f"  stale families       {s['stale_families']}",
            f"  builds started       {s['builds_started']}" + (" (would be)" if s["would_change"] else ""),
            f"  builds finished      {s['builds_finished']}",
            f"  builds failed        {s['builds_failed']}",
        ]

    def settings_line(self, settings: RebuildJobSettings) -> str:
        pipelines = ", ".join(
            f"{family}={arn.rsplit('/', 1)[-1]}" for family, arn in sorted(settings.family_pipelines.items())
        )
        role = settings.automation_role_arn.rsplit("/", 1)[-1] if settings.automation_role_arn else "none"
        return (
            f"max image age {settings.max_image_age_days} days · pipelines {pipelines or 'by tag only'} · "
            f"other families by SSM runbook (role {role}) · at most {settings.max_actions} builds per run"
        )

    def enforced_footer(self, report: ReportFacts) -> str:
        ended = _ended(report.decisions)
        if any(not d.succeeded for d in ended):
            return (
                "A failed build is started again by the first sweep of the next UTC day (a start the same "
                "day carries the same client token and gets this build back)."
            )
        if ended:
            return "The next sweep checks the new image; rotation retires the older images of its family."
        return (
            "Each build started reports again when it ends; the old images stay until rotation retires them."
        )

    def is_finding(self, decision: Decision) -> bool:
        # A rebuild planned or started, a finished build (either way), or a failure.
        if isinstance(decision, BuildResult):
            return decision.finished
        return decision.action is Action.REBUILD or decision.outcome is Outcome.FAILED


VIEW = RebuildView()


def _ended(decisions: Iterable[Decision]) -> list[BuildResult]:
    """The reports of builds that ended (either way), from their completion events."""
    return [d for d in decisions if isinstance(d, BuildResult) and d.finished]


def _is_stale(d: Decision) -> bool:
    return any(f.startswith("stale:") for f in d.findings)
