"""What each job's report says beyond the common part: counts, headline, settings, footer.

`Report` (report.py) holds what every job shares: decisions with outcomes,
errors, per-action counts, text and JSON. A `JobView` adds the job's own
summary keys, the words of its subject line, the settings it shows, which
decisions are worth telling a person, and how severe its findings are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ami_hygiene.core.plan import Action, Decision, Outcome
from ami_hygiene.core.settings import Mode, Settings

if TYPE_CHECKING:
    from .report import Report

TOP_PROBLEMS = 5  # broken rules listed in a tag report's summary, most common first
# Severities, lowest first: a message carries the highest of its findings.
SEVERITY_ORDER = ("info", "warning", "medium", "high", "error", "critical")


class JobView:
    """The rotate job's view; other jobs override what differs."""

    job = "rotate"
    seen_label = "images seen"
    actions: Sequence[Action] = (Action.DEPRECATE, Action.DISABLE, Action.DEREGISTER)

    def summary(self, report: Report) -> dict[str, Any]:
        decisions = report.decisions
        effective = _effective(report)
        deregistered = [d for d in decisions if d.action is Action.DEREGISTER and d.outcome is effective]
        snapshots = list(_reclaimed_snapshots(deregistered, enforced=report.mode is Mode.ENFORCE))
        gib = sum(size for _, size in snapshots)
        return {
            "retired": len(deregistered),
            "disabled": _count(decisions, Action.DISABLE, effective),
            "deprecated": _count(decisions, Action.DEPRECATE, effective),
            "snapshots_deleted": len(snapshots),
            "gib_reclaimed": gib,
            "monthly_saving_usd": round(gib * report.settings.price_per_gib_month, 2),
            "consumers": _consumers(decisions),
        }

    def headline(self, report: Report, s: dict[str, Any]) -> list[str]:
        verb = "would retire" if report.mode is Mode.REPORT else "retired"
        parts = [f"{s['retired']} {verb}"]
        if s["gib_reclaimed"]:
            parts.append(f"{s['gib_reclaimed']:,} GiB {'reclaimable' if s['would_change'] else 'reclaimed'}")
        if s["disabled"]:
            parts.append(f"{s['disabled']} {'to disable' if s['would_change'] else 'disabled'}")
        return parts

    def summary_lines(self, report: Report, s: dict[str, Any]) -> list[str]:
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

    def settings_line(self, settings: Settings) -> str:
        if settings.consumer_role_name:
            consumers = f"consumers read with role {settings.consumer_role_name}"
        else:
            consumers = f"consumer use unknown: {settings.consumer_usage_unknown.value} shared images"
        return (
            f"retention {settings.retention_days} days · keep newest {settings.keep_latest} · "
            f"grace {settings.disable_grace_days} days · at most {settings.max_actions} actions per run · "
            f"{consumers}"
        )

    def footer(self, report: Report) -> str:
        if report.mode is Mode.REPORT:
            return (
                "To apply: run with --mode enforce (CLI) or set the stack parameter RotationMode=enforce. "
                "Protect an image with the tag ami-hygiene:retain=true."
            )
        return "Retired images stay restorable from the Recycle Bin while its retention rule lasts."

    def is_finding(self, decision: Decision) -> bool:
        """Whether this decision alone is worth a message to a person."""
        return decision.is_action

    def severity(self, report: Report) -> str:
        if report.all_errors or report.failed:
            return "error"
        if any(d.outcome is Outcome.DEFERRED for d in report.decisions):
            return "warning"
        return "info"


class TagsView(JobView):
    job = "tags"
    actions = (Action.TAG, Action.PROPAGATE, Action.NOTIFY, Action.DEPRECATE)

    def summary(self, report: Report) -> dict[str, Any]:
        decisions = report.decisions
        effective = _effective(report)
        non_compliant = {d.image_id for d in decisions if d.findings}
        # Each image once: its decisions all carry the same findings.
        findings = {d.image_id: d.findings for d in decisions if d.findings}
        by_problem = Counter(_problem_kind(f) for fs in findings.values() for f in fs)
        return {
            "non_compliant": len(non_compliant),
            "tagged": _count(decisions, Action.TAG, effective),
            "propagated_snapshots": sum(
                len(getattr(d, "snapshot_tags", {}))
                for d in decisions
                if d.action is Action.PROPAGATE and d.outcome is effective
            ),
            "notified": _count(decisions, Action.NOTIFY, effective),
            "escalated": _count(decisions, Action.DEPRECATE, effective),
            "non_compliant_by_problem": dict(by_problem.most_common()),
        }

    def headline(self, report: Report, s: dict[str, Any]) -> list[str]:
        parts = [f"{s['non_compliant']} non-compliant"]
        if s["tagged"]:
            parts.append(f"{s['tagged']} {'to tag' if s['would_change'] else 'tagged'}")
        if s["escalated"]:
            parts.append(f"{s['escalated']} {'to escalate' if s['would_change'] else 'escalated'}")
        return parts

    def summary_lines(self, report: Report, s: dict[str, Any]) -> list[str]:
        top = list(s["non_compliant_by_problem"].items())[:TOP_PROBLEMS]
        return [
            f"  non-compliant        {s['non_compliant']}",
            *(f"    {count:>6}  {problem}" for problem, count in top),
            f"  snapshots tagged     {s['propagated_snapshots']}"
            + (" (would be)" if s["would_change"] else ""),
        ]

    def settings_line(self, settings: Settings) -> str:
        rules = ", ".join(r.spec for r in settings.required_tags) or "none"
        keys = "the required keys"
        if settings.propagate_tags is not None:
            keys = ", ".join(settings.propagate_tags)
        escalation = (
            f"deprecate after {settings.tag_escalation_days} days"
            if settings.tag_escalation_days
            else "notify only"
        )
        return (
            f"required tags {rules} · grace {settings.tag_grace_hours} hours · {escalation} · "
            f"propagate {keys}"
        )

    def footer(self, report: Report) -> str:
        if report.mode is Mode.REPORT:
            return (
                "To apply: run with --mode enforce (CLI) or set the stack parameter TagPolicyMode=enforce "
                "(it only adds tags; escalation also needs TagEscalationDays > 0)."
            )
        return "Fix an image by adding the missing tags; the tag job re-checks it within seconds."

    def is_finding(self, decision: Decision) -> bool:
        # Adding auto-tags to a compliant image is routine: no e-mail for it.
        return decision.action in (Action.NOTIFY, Action.DEPRECATE) or decision.outcome is Outcome.FAILED


class PublicView(JobView):
    job = "public"
    seen_label = "resources seen"
    actions = (Action.REVOKE_PUBLIC, Action.REVOKE_ACCOUNTS, Action.BLOCK_PUBLIC_ACCESS)

    def summary(self, report: Report) -> dict[str, Any]:
        decisions = report.decisions
        effective = _effective(report)
        public = [d for d in decisions if d.action is Action.REVOKE_PUBLIC]
        foreign = [d for d in decisions if d.action is Action.REVOKE_ACCOUNTS]
        return {
            "public": len(public),
            "public_snapshots": sum(1 for d in public if d.name.startswith("snapshot")),
            "foreign_shared": len(foreign),
            "revoked": sum(1 for d in public + foreign if d.outcome is effective),
            "block_public_access_enabled": _count(decisions, Action.BLOCK_PUBLIC_ACCESS, effective),
            "block_public_access_off": sum(1 for d in decisions if d.action is Action.BLOCK_PUBLIC_ACCESS),
        }

    def headline(self, report: Report, s: dict[str, Any]) -> list[str]:
        parts: list[str] = []
        done = "to revoke" if s["would_change"] else "revoked"
        if s["public"]:
            snapshots = _incl_snapshots(s["public_snapshots"])
            parts.append(f"CRITICAL {s['public']} public{snapshots}")
        if s["foreign_shared"]:
            parts.append(f"{s['foreign_shared']} shared outside the allow-list")
        if s["public"] or s["foreign_shared"]:
            parts.append(f"{s['revoked']} {done}")
        if s["block_public_access_off"]:
            parts.append("block public access off")
        return parts or ["nothing public or foreign-shared"]

    def summary_lines(self, report: Report, s: dict[str, Any]) -> list[str]:
        return [
            f"  public               {s['public']}{_incl_snapshots(s['public_snapshots'])}",
            f"  foreign-shared       {s['foreign_shared']}",
        ]

    def settings_line(self, settings: Settings) -> str:
        allowed = ", ".join(sorted(settings.allowed_share_accounts)) or "none"
        return f"allowed share accounts {allowed} · at most {settings.max_actions} actions per run"

    def footer(self, report: Report) -> str:
        if report.mode is Mode.REPORT:
            return (
                "To apply: run with --mode enforce (CLI) or set the stack parameter "
                "PublicSharingMode=enforce. Allow an image to be public with the tag "
                "ami-hygiene:public-allowed=true."
            )
        return (
            "To share on purpose: add the account to AllowedShareAccounts, or tag the image "
            "ami-hygiene:public-allowed=true."
        )

    def severity(self, report: Report) -> str:
        found = [str(getattr(d, "severity", "info")) for d in report.decisions if d.is_action]
        if report.all_errors or report.failed:
            found.append("error")
        elif any(d.outcome is Outcome.DEFERRED for d in report.decisions):
            found.append("warning")
        return highest(found)


class RebuildView(JobView):
    """The patch-rebuild job: stale families, builds started, and how builds ended."""

    job = "rebuild"
    actions = (Action.REBUILD,)

    def summary(self, report: Report) -> dict[str, Any]:
        decisions = report.decisions
        effective = _effective(report)
        ended = [d for d in decisions if _build_ended(d)]
        return {
            "stale_families": len({(d.region, d.family) for d in decisions if _is_stale(d)}),
            "builds_started": sum(
                1
                for d in decisions
                if d.action is Action.REBUILD and not _is_build_result(d) and d.outcome is effective
            ),
            "builds_finished": sum(1 for d in ended if getattr(d, "succeeded", False)),
            "builds_failed": sum(1 for d in ended if not getattr(d, "succeeded", False)),
        }

    def headline(self, report: Report, s: dict[str, Any]) -> list[str]:
        results = [d for d in report.decisions if _is_build_result(d)]
        if results:
            parts = []
            for d in results:
                if _build_ended(d) and getattr(d, "succeeded", False):
                    parts.append(f"{d.family} rebuilt: {getattr(d, 'new_image_id', None) or 'no image'}")
                else:
                    parts.append(f"{d.family} build {getattr(d, 'status', '')}")
            return parts
        started = "build started" if s["builds_started"] == 1 else "builds started"
        verb = "to rebuild" if s["would_change"] else started
        return [f"{s['stale_families']} stale", f"{s['builds_started']} {verb}"]

    def summary_lines(self, report: Report, s: dict[str, Any]) -> list[str]:
        return [
            f"  stale families       {s['stale_families']}",
            f"  builds started       {s['builds_started']}" + (" (would be)" if s["would_change"] else ""),
            f"  builds finished      {s['builds_finished']}",
            f"  builds failed        {s['builds_failed']}",
        ]

    def settings_line(self, settings: Settings) -> str:
        pipelines = ", ".join(
            f"{family}={arn.rsplit('/', 1)[-1]}" for family, arn in sorted(settings.family_pipelines.items())
        )
        role = settings.automation_role_arn.rsplit("/", 1)[-1] if settings.automation_role_arn else "none"
        return (
            f"max image age {settings.max_image_age_days} days · pipelines {pipelines or 'by tag only'} · "
            f"other families by SSM runbook (role {role}) · at most {settings.max_actions} builds per run"
        )

    def footer(self, report: Report) -> str:
        if report.mode is Mode.REPORT:
            return (
                "To apply: run with --mode enforce (CLI) or set the stack parameter RebuildMode=enforce. "
                "A family is rebuilt by the pipeline in its ami-hygiene:pipeline tag or FamilyPipelines, "
                "else by the AWS-UpdateLinuxAmi / AWS-UpdateWindowsAmi runbook."
            )
        ended = [d for d in report.decisions if _build_ended(d)]
        if any(not getattr(d, "succeeded", False) for d in ended):
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
        if _is_build_result(decision):
            return _build_ended(decision)
        return decision.action is Action.REBUILD or decision.outcome is Outcome.FAILED


VIEWS: dict[str, JobView] = {view.job: view for view in (JobView(), TagsView(), PublicView(), RebuildView())}


def view_of(job: str) -> JobView:
    return VIEWS.get(job, VIEWS["rotate"])


def highest(severities: Iterable[str]) -> str:
    ranked = [s for s in severities if s in SEVERITY_ORDER]
    return max(ranked, key=SEVERITY_ORDER.index) if ranked else "info"


def _is_build_result(d: Decision) -> bool:
    """A decision reporting how a build ended (rebuild_actions.BuildResult), known by its fields."""
    return hasattr(d, "finished") and hasattr(d, "succeeded")


def _build_ended(d: Decision) -> bool:
    return _is_build_result(d) and bool(getattr(d, "finished", False))


def _is_stale(d: Decision) -> bool:
    return any(f.startswith("stale:") for f in d.findings)


def _problem_kind(finding: str) -> str:
    """'missing Owner' stays; "Env='x' does not match ^...$" becomes "Env does not match ^...$"."""
    key, sep, rest = finding.partition("=")
    if sep and " does not match " in rest:
        return f"{key} does not match {rest.split(' does not match ', 1)[1]}"
    return finding


def _incl_snapshots(n: int) -> str:
    return f" (incl. {n} snapshot{'s' if n != 1 else ''})" if n else ""


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


def _effective(report: Report) -> Outcome:
    return Outcome.DONE if report.mode is Mode.ENFORCE else Outcome.PLANNED


def _count(decisions: Iterable[Decision], action: Action, outcome: Outcome) -> int:
    return sum(1 for d in decisions if d.action is action and d.outcome is outcome)


def _reclaimed_snapshots(decisions: Iterable[Decision], *, enforced: bool) -> Iterable[tuple[str, int]]:
    for d in decisions:
        sizes = {s.snapshot_id: s.size_gib for s in d.snapshots}
        if enforced:
            yield from ((r.snapshot_id, sizes.get(r.snapshot_id, 0)) for r in d.snapshot_results if r.deleted)
        else:
            yield from sizes.items()
