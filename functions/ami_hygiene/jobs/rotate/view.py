"""The rotate job's part of its report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ami_hygiene.core.plan import Action, Decision, Outcome
from ami_hygiene.core.settings import Mode
from ami_hygiene.core.view import ReportFacts, View, changes, count, counts
from ami_hygiene.jobs.rotate.policy import JOB
from ami_hygiene.jobs.rotate.settings import RotateJobSettings


class RotateView(View):
    """Retired, disabled, deprecated; snapshots and storage reclaimed; consumer accounts read."""

    metrics = MappingProxyType(
        {
            **counts(ImagesRetired="retired", ImagesDisabled="disabled", ImagesDeprecated="deprecated"),
            "GiBReclaimed": ("gib_reclaimed", MetricUnit.Gigabytes),
            "EstimatedMonthlySavingUSD": ("monthly_saving_usd", MetricUnit.NoUnit),
        }
    )
    dashboard_metrics = ("ImagesSeen", "ImagesRetired", "ImagesDisabled", "ImagesDeprecated")
    storage_graph = True

    job = JOB
    mode_parameter = "RotationMode"
    to_apply = ". Protect an image with the tag ami-hygiene:retain=true."
    actions: Sequence[Action] = (Action.DEPRECATE, Action.DISABLE, Action.DEREGISTER)

    def summarize(
        self, decisions: Sequence[Decision], effective: Outcome, report: ReportFacts
    ) -> dict[str, Any]:
        deregistered = [d for d in decisions if d.action is Action.DEREGISTER and d.outcome is effective]
        snapshots = list(_reclaimed_snapshots(deregistered, enforced=report.mode is Mode.ENFORCE))
        gib = sum(size for _, size in snapshots)
        return {
            "retired": len(deregistered),
            "disabled": count(decisions, Action.DISABLE, effective),
            "deprecated": count(decisions, Action.DEPRECATE, effective),
            "snapshots_deleted": len(snapshots),
            "gib_reclaimed": gib,
            "monthly_saving_usd": round(gib * report.settings.price_per_gib_month, 2),
            "consumers": _consumers(decisions),
        }

    def headline(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
        verb = "would retire" if report.mode is Mode.REPORT else "retired"
        parts = [f"{s['retired']} {verb}"]
        if s["gib_reclaimed"]:
            parts.append(f"{s['gib_reclaimed']:,} GiB {'reclaimable' if s['would_change'] else 'reclaimed'}")
        return parts + changes(s, ("disabled", "to disable", "disabled"))

    def summary_lines(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
        lines = [
            f"  snapshots deleted    {s['snapshots_deleted']}" + (" (would be)" if s["would_change"] else ""),
            f"  storage reclaimed    {s['gib_reclaimed']:,} GiB"
            f" (~{s['monthly_saving_usd']:,.2f} USD/month"
            f" at {report.settings.price_per_gib_month} USD/GiB-month)",
        ]
        consumers = s["consumers"]
        if consumers["accounts_checked"] or consumers["accounts_failed"]:
            failed = consumers["accounts_failed"]
            lines.append(
                f"  consumer accounts    {len(consumers['accounts_checked'])} checked"
                + (f", {len(failed)} could not be read ({', '.join(failed)})" if failed else "")
                + f"; {consumers['images_kept_by_consumer_use']} images kept for their use"
            )
        return lines

    def settings_line(self, settings: RotateJobSettings) -> str:
        if settings.consumer_role_name:
            consumers = f"consumers read with role {settings.consumer_role_name}"
        else:
            consumers = f"consumer use unknown: {settings.consumer_usage_unknown.value} shared images"
        return (
            f"retention {settings.retention_days} days · keep newest {settings.keep_latest} · "
            f"grace {settings.disable_grace_days} days · at most {settings.max_actions} actions per run · "
            f"{consumers}"
        )

    def enforced_footer(self, report: ReportFacts) -> str:
        return "Retired images stay restorable from the Recycle Bin while its retention rule lasts."


VIEW = RotateView()


def _consumers(decisions: Iterable[Decision]) -> dict[str, Any]:
    """Rotation's consumer checks over the run: accounts read, those that could not be, images kept."""
    checked: set[str] = set()
    failed: set[str] = set()
    kept = 0
    for d in decisions:
        checked.update(getattr(d, "consumers_checked", ()))
        failed.update(who for who, _ in getattr(d, "consumers_unknown", ()))
        using: tuple[str, ...] = getattr(d, "consumers_using", ())
        if not d.is_action and using:
            kept += 1
    return {
        "accounts_checked": sorted(checked),
        "accounts_failed": sorted(failed),
        "images_kept_by_consumer_use": kept,
    }


def _reclaimed_snapshots(decisions: Iterable[Decision], *, enforced: bool) -> Iterable[tuple[str, int]]:
    for d in decisions:
        sizes = {s.snapshot_id: s.size_gib for s in d.snapshots}
        if enforced:
            yield from ((r.snapshot_id, sizes.get(r.snapshot_id, 0)) for r in d.snapshot_results if r.deleted)
        else:
            yield from sizes.items()
