"""The tag job's part of its report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ami_hygiene.core.plan import Action, Decision, Outcome
from ami_hygiene.core.view import ReportFacts, View, changes, count, counts
from ami_hygiene.jobs.tags.digest import digest_lines, group_non_compliant, problem_kind
from ami_hygiene.jobs.tags.policy import JOB
from ami_hygiene.jobs.tags.settings import TagsJobSettings

# An event's few images are each named in the text; past this many, a sweep's notices,
# keeps and deferrals are told by the summary's groups and counts (digest.py).
ITEMIZED_UP_TO = 10


class TagsView(View):
    job = JOB
    mode_parameter = "TagPolicyMode"
    to_apply = " (it only adds tags; escalation also needs TagEscalationDays > 0)."
    actions = (Action.TAG, Action.PROPAGATE, Action.NOTIFY, Action.DEPRECATE)
    metrics = counts(
        ImagesNonCompliant="non_compliant",
        ImagesTagged="tagged",
        SnapshotsTagged="propagated_snapshots",
        ImagesEscalated="escalated",
    )
    itemize_up_to = ITEMIZED_UP_TO

    def summarize(
        self, decisions: Sequence[Decision], effective: Outcome, report: ReportFacts
    ) -> dict[str, Any]:
        non_compliant = {d.image_id for d in decisions if d.findings}
        # Each image once: its decisions all carry the same findings.
        findings = {d.image_id: d.findings for d in decisions if d.findings}
        by_problem = Counter(problem_kind(f) for fs in findings.values() for f in fs)
        return {
            "non_compliant": len(non_compliant),
            "tagged": count(decisions, Action.TAG, effective),
            "propagated_snapshots": sum(
                len(getattr(d, "snapshot_tags", {}))
                for d in decisions
                if d.action is Action.PROPAGATE and d.outcome is effective
            ),
            "notified": count(decisions, Action.NOTIFY, effective),
            "escalated": count(decisions, Action.DEPRECATE, effective),
            "non_compliant_by_problem": dict(by_problem.most_common()),
            "non_compliant_digest": group_non_compliant(decisions),
        }

    def headline(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
        done = changes(s, ("tagged", "to tag", "tagged"), ("escalated", "to escalate", "escalated"))
        return [f"{s['non_compliant']} non-compliant", *done]

    def summary_lines(self, report: ReportFacts, s: dict[str, Any]) -> list[str]:
        return [
            f"  non-compliant        {s['non_compliant']}",
            *digest_lines(s["non_compliant_digest"]),
            f"  snapshots tagged     {s['propagated_snapshots']}"
            + (" (would be)" if s["would_change"] else ""),
        ]

    def settings_line(self, settings: TagsJobSettings) -> str:
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

    def enforced_footer(self, report: ReportFacts) -> str:
        return "Fix an image by adding the missing tags; the tag job re-checks it within seconds."

    def summarized(self, decision: Decision) -> bool:
        # Notices (the groups), keeps and deferrals (the counts); never a change made or a failure.
        if decision.outcome is Outcome.FAILED:
            return False
        return decision.action in (Action.NOTIFY, Action.KEEP) or decision.outcome is Outcome.DEFERRED

    def is_finding(self, decision: Decision) -> bool:
        # Adding auto-tags to a compliant image is routine: no e-mail for it.
        return decision.action in (Action.NOTIFY, Action.DEPRECATE) or decision.outcome is Outcome.FAILED


VIEW = TagsView()
