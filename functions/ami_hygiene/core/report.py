"""What a run planned, did, failed and deferred, for people and for machines.

`Report.to_dict()` is the JSON contract (job, mode, account, regions, summary,
decisions, ...); `render_text()` is what an e-mail or a terminal shows;
`subject()` is a one-line headline under 100 characters.

A report of 50,000 images is written piece by piece, never held whole as one
string: `json_chunks()` is the same JSON as `to_dict()` (byte for byte as
`json.dumps` writes it), one decision at a time, and `text_lines()` is the text
line by line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.settings import Mode, Settings
from ami_hygiene.core.view import View

SUBJECT_LIMIT = 99
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Section:
    """A job's own part of a report, beside the decisions: rotation's "Coming up".

    In the JSON under `key`; in the text under `title`, after the summary, so a
    clipped e-mail keeps it.
    """

    key: str
    title: str
    data: Mapping[str, Any]
    lines: tuple[str, ...]
    # The same part for one region, for a region's own message (`Report.for_region`).
    by_region: Mapping[str, Section] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    job: str
    mode: Mode
    account: str
    regions: tuple[str, ...]
    plans: tuple[Plan, ...]
    settings: Settings
    started: datetime
    finished: datetime
    # Calls made with this account's credentials, by operation.
    api_calls: dict[str, int] = field(default_factory=dict)
    # Calls by account and operation: this account's and, for rotation, each consumer
    # account it read with an assumed role. Empty: only this account's (`api_calls`).
    api_calls_by_account: dict[str, dict[str, int]] = field(default_factory=dict)
    # The pace kept and what writing took (core/pacing.py Pacer.summary); empty: not recorded.
    pacing: dict[str, Any] = field(default_factory=dict)
    # Region-level failures (e.g. images could not be listed).
    errors: tuple[str, ...] = ()
    # What this run could not see or cover, "region: sentence" (e.g. no real-time rule there).
    warnings: tuple[str, ...] = ()
    # The job's own sections (jobs/rotate: the forecast of the coming weeks).
    sections: tuple[Section, ...] = ()
    # The job's part of the report (jobs/<job>/view.py); the report imports no view.
    view: View = field(kw_only=True, compare=False)

    def with_warnings(self, warnings: tuple[str, ...], calls: Mapping[str, int]) -> Report:
        """Adds what the run could not cover; `calls` recounts this account's calls, reads for it included."""
        by_account = (
            {**self.api_calls_by_account, self.account: dict(calls)} if self.api_calls_by_account else {}
        )
        return replace(
            self,
            warnings=(*self.warnings, *warnings),
            api_calls=dict(calls),
            api_calls_by_account=by_account,
        )

    # -- views ---------------------------------------------------------------------------

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return tuple(d for plan in self.plans for d in plan.decisions)

    @property
    def all_errors(self) -> tuple[str, ...]:
        return self.errors + tuple(e for plan in self.plans for e in plan.errors)

    def for_region(self, region: str) -> Report:
        return replace(
            self,
            regions=(region,),
            plans=tuple(p for p in self.plans if p.region == region),
            errors=tuple(e for e in self.errors if e.startswith(f"{region}:")),
            warnings=tuple(w for w in self.warnings if w.startswith(f"{region}:")),
            sections=tuple(section.by_region.get(region, section) for section in self.sections),
        )

    def calls_by_account(self) -> dict[str, dict[str, int]]:
        return self.api_calls_by_account or {self.account: dict(self.api_calls)}

    @property
    def failed(self) -> bool:
        return any(d.outcome is Outcome.FAILED for d in self.decisions)

    @property
    def has_findings(self) -> bool:
        """Anything worth telling a person: a finding the job's view names, a failure, an error."""
        return bool(self.all_errors) or any(self.view.is_finding(d) for d in self.decisions)

    @property
    def severity(self) -> str:
        return self.view.severity(self)

    def summary(self) -> dict[str, Any]:
        decisions = self.decisions
        by_action: dict[str, dict[str, int]] = {}
        for action in self.view.actions:
            counts = Counter(d.outcome.value for d in decisions if d.action is action)
            by_action[action.value] = {o.value: counts.get(o.value, 0) for o in Outcome}
        images = {d.image_id for d in decisions}
        acted = {d.image_id for d in decisions if d.is_action}
        return {
            "images": len(images),
            "kept": len(images - acted),
            "actions": by_action,
            **self.view.summary(self),
            "deferred": sum(1 for d in decisions if d.outcome is Outcome.DEFERRED),
            "failed": sum(1 for d in decisions if d.outcome is Outcome.FAILED),
            "errors": len(self.all_errors),
            "would_change": self.mode is Mode.REPORT,
        }

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {**self.head_dict(), "decisions": [_decision_dict(d) for d in self.decisions]}

    def head_dict(self) -> dict[str, Any]:
        """Everything `to_dict()` holds but the decisions (its last key)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "job": self.job,
            "mode": self.mode.value,
            "account": self.account,
            "regions": list(self.regions),
            # Also a message attribute; here too, since SNS may not send attributes with JSON bodies.
            "severity": self.severity,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "settings": self.settings.as_dict(),
            "summary": self.summary(),
            "errors": list(self.all_errors),
            "warnings": list(self.warnings),
            "api_calls": dict(sorted(self.api_calls.items())),
            "api_calls_by_account": {
                account: dict(sorted(calls.items()))
                for account, calls in sorted(self.calls_by_account().items())
            },
            "pacing": dict(self.pacing),
            **{section.key: dict(section.data) for section in self.sections},
        }

    def json_chunks(self, indent: int | None = None) -> Iterator[str]:
        """`json.dumps(self.to_dict(), indent=indent)` in pieces: the head, then one decision at a time.

        Only one decision's dict is held at once, so a 50,000-image report is written (to a file,
        to S3) in the memory of one, not of the whole document and its text.
        """
        head = json.dumps(self.head_dict(), indent=indent, default=str)
        decisions = iter(self.decisions)
        first = next(decisions, None)
        if indent is None:
            yield head[:-1] + ', "decisions": ['
            if first is not None:
                yield json.dumps(_decision_dict(first), default=str)
            for d in decisions:
                yield ", " + json.dumps(_decision_dict(d), default=str)
            yield "]}"
            return
        # json.dumps puts each nested item on its own lines, `indent` deeper per level.
        outer, inner = "\n" + " " * indent, "\n" + " " * 2 * indent
        yield f'{head[:-2]},{outer}"decisions": ['
        if first is None:
            yield "]\n}"
            return
        yield inner + json.dumps(_decision_dict(first), indent=indent, default=str).replace("\n", inner)
        for d in decisions:
            yield "," + inner + json.dumps(_decision_dict(d), indent=indent, default=str).replace("\n", inner)
        yield f"{outer}]\n}}"

    # -- text ----------------------------------------------------------------------------

    def subject(self) -> str:
        s = self.summary()
        where = self.regions[0] if len(self.regions) == 1 else f"{len(self.regions)} regions"
        parts = self.view.headline(self, s)
        if s["failed"]:
            parts.insert(0, f"{s['failed']} FAILED")
        if s["errors"]:
            parts.insert(0, f"{s['errors']} ERRORS")
        mode = " (report mode)" if self.mode is Mode.REPORT else ""
        text = f"[ami-hygiene] {where} {self.job}{mode}: {', '.join(parts)}"
        return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"

    def render_text(self) -> str:
        return "\n".join(self.text_lines()) + "\n"

    def text_lines(self) -> Iterator[str]:
        """The text, line by line (`render_text()` joins them): a 50,000-image report is never one string.

        Every decision gets its lines, except those the view `summarized` once there are more
        than its `itemize_up_to` (the tag sweep's non-compliant images: its summary groups them).
        """
        s = self.summary()
        yield from (self.subject(), "")
        if self.mode is Mode.REPORT:
            yield "REPORT MODE: nothing was changed. Below is what enforce mode would do."
        else:
            yield "ENFORCE MODE: the actions below were applied."
        yield from (
            f"Account {self.account} · {', '.join(self.regions)} · {_iso(self.started)}",
            f"Settings: {self.view.settings_line(self.settings)}",
            "",
            "Summary",
            f"  {self.view.seen_label:<20} {s['images']}",
            f"  kept                 {s['kept']}",
        )
        for action, counts in s["actions"].items():
            shown = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
            yield f"  {action:<20} {shown or '0'}"
        yield from self.view.summary_lines(self, s)
        yield from _pacing_lines(self.pacing)
        for section in self.sections:
            yield from ("", section.title, *section.lines)
        if self.all_errors:
            yield from ("", "Errors (nothing was changed where these apply)")
            yield from (f"  ! {e}" for e in self.all_errors)
        if self.warnings:
            yield from ("", "Warnings")
            yield from (f"  ~ {w}" for w in self.warnings)
        itemized = self._itemized()
        yield from _section("Actions", (d for d in self.decisions if d.is_action), itemized)
        yield from _section("Kept", (d for d in self.decisions if not d.is_action), itemized)
        yield from ("", self.view.footer(self))

    def _itemized(self) -> Callable[[Decision], bool]:
        """Which decisions the text names one by one (see text_lines)."""
        view, most = self.view, self.view.itemize_up_to
        if most is None or sum(1 for d in self.decisions if view.summarized(d)) <= most:
            return lambda _d: True
        return lambda d: not view.summarized(d)


def _section(
    title: str, decisions: Iterator[Decision], itemized: Callable[[Decision], bool]
) -> Iterator[str]:
    """A titled list of decisions, or nothing; those not itemized are counted in a last line."""
    titled = False
    left_out = 0
    for d in decisions:
        if not itemized(d):
            left_out += 1
            continue
        if not titled:
            yield from ("", title)
            titled = True
        yield from _decision_lines(d)
    if left_out:
        if not titled:
            yield from ("", title)
        yield (
            f"  ... {left_out:,} {'more ' if titled else ''}not listed one by one: the summary above "
            "groups them, the JSON report lists every one"
        )


def _pacing_lines(pacing: Mapping[str, Any]) -> list[str]:
    """How long the writes took and at what rate: a backlog's drain, in a sentence."""
    if not pacing.get("writes"):
        return []
    rate = pacing.get("write_rate")
    took = f"{pacing['write_seconds']:,.1f} s" + (f", {rate:.1f} a second" if rate else "")
    throttled = pacing.get("throttled", 0)
    return [
        f"  writes               {pacing['writes']:,} in {took} (paced at {pacing['writes_per_second']:g} "
        f"a second per EC2 action); throttled by EC2: {throttled}"
    ]


def _decision_dict(d: Decision) -> dict[str, Any]:
    out: dict[str, Any] = {
        "image_id": d.image_id,
        "region": d.region,
        "family": d.family,
        "name": d.name,
        "created": _iso(d.created) if d.created else None,
        "action": d.action.value,
        "outcome": d.outcome.value,
        "reasons": list(d.reasons),
    }
    if d.deprecate_at:
        out["deprecate_at"] = _iso(d.deprecate_at)
    if d.snapshots:
        out["snapshots"] = [{"snapshot_id": s.snapshot_id, "size_gib": s.size_gib} for s in d.snapshots]
    if d.snapshot_results:
        out["snapshot_results"] = [
            {"snapshot_id": r.snapshot_id, "deleted": r.deleted, "detail": r.detail}
            for r in d.snapshot_results
        ]
    if d.pending_checks:
        out["pending_checks"] = list(d.pending_checks)
    if d.findings:
        out["findings"] = list(d.findings)
    out.update(d.details())
    if d.error:
        out["error"] = d.error
    return out


def _decision_lines(d: Decision) -> list[str]:
    outcome = "" if d.action is Action.KEEP else f" [{d.outcome.value}]"
    facts = [d.family] if d.family else []
    facts.append(d.region)
    if d.created:
        facts.append(f"created {d.created:%Y-%m-%d}")
    where = f"({', '.join(facts)})"
    lines = [f"  {d.action.value.upper():<10} {d.image_id}  {d.name}  {where}{outcome}"]
    lines += [f"      - {r}" for r in d.reasons]
    if d.error:
        lines.append(f"      ! {d.error}")
    return lines


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
