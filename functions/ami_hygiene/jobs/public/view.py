"""The public-sharing guard's part of its report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ami_hygiene.core.plan import Action, Decision, Outcome
from ami_hygiene.core.view import ReportFacts, View, count, counts, highest
from ami_hygiene.jobs.public.policy import JOB
from ami_hygiene.jobs.public.settings import PublicJobSettings


class PublicView(View):
    job = JOB
    mode_parameter = "PublicSharingMode"
    to_apply = ". Allow an image to be public with the tag ami-hygiene:public-allowed=true."
    seen_label = "resources seen"
    actions = (Action.REVOKE_PUBLIC, Action.REVOKE_ACCOUNTS, Action.BLOCK_PUBLIC_ACCESS)
    metrics = counts(
        ImagesPublic="public",
        ImagesSharedOutside="foreign_shared",
        ImagesRevoked="revoked",
        BlockPublicAccessEnabled="block_public_access_enabled",
    )

    def summarize(
        self, decisions: Sequence[Decision], effective: Outcome, report: ReportFacts
    ) -> dict[str, Any]:
        public = [d for d in decisions if d.action is Action.REVOKE_PUBLIC]
        foreign = [d for d in decisions if d.action is Action.REVOKE_ACCOUNTS]
        return {
            "public": len(public),
            "public_snapshots": sum(1 for d in public if d.name.startswith("snapshot")),
            "foreign_shared": len(foreign),
            "revoked": sum(1 for d in public + foreign if d.outcome is effective),
            "block_public_access_enabled": count(decisions, Action.BLOCK_PUBLIC_ACCESS, effective),
            "block_public_access_off": sum(1 for d in decisions if d.action is Action.BLOCK_PUBLIC_ACCESS),
        }

    def headline(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
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

    def summary_lines(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
        return [
            f"  public               {s['public']}{_incl_snapshots(s['public_snapshots'])}",
            f"  foreign-shared       {s['foreign_shared']}",
        ]

    def settings_line(self, settings: PublicJobSettings) -> str:
        allowed = ", ".join(sorted(settings.allowed_share_accounts)) or "none"
        return f"allowed share accounts {allowed} · at most {settings.max_actions} actions per run"

    def enforced_footer(self, report: ReportFacts) -> str:
        return (
            "To share on purpose: add the account to AllowedShareAccounts, or tag the image "
            "ami-hygiene:public-allowed=true."
        )

    def severity(self, report: ReportFacts) -> str:
        found = [str(getattr(d, "severity", "info")) for d in report.decisions if d.is_action]
        if report.all_errors or report.failed:
            found.append("error")
        elif any(d.outcome is Outcome.DEFERRED for d in report.decisions):
            found.append("warning")
        return highest(found)


VIEW = PublicView()


def _incl_snapshots(n: int) -> str:
    return f" (incl. {n} snapshot{'s' if n != 1 else ''})" if n else ""
