"""One digest for many account-and-region runs of one job: what an organization's sweep tells a person.

A sweep over an organization runs the job once per target (an account in a region). Each target
ends as a `TargetResult`: completed (with its Report.summary()), failed (the run raised, e.g. a
Lambda error caught by Step Functions), unreachable (its member role could not be assumed) or
missing (no result was recorded). `Digest` gathers them:

- `render_text()` is the e-mail: a headline ("rotate across 48 accounts x 2 regions: 3 failed,
  12 GiB reclaimed"), the failures first with their errors, then each account and region's counts,
  and where each target's full report is;
- `to_dict()` is the same for machines (every target, failures first);
- `message()` is one SNS message (core/publisher.Message) that fits SNS's limit whatever the
  number of targets: the text and the document list as many targets as fit, failures first,
  and say how many were left out and where the whole digest is.

The counts are the targets' own Report.summary() keys (core/report.py and each job's view:
images, kept, actions, deferred, failed, errors, and e.g. rotate's gib_reclaimed), summed over
the completed targets; nothing here knows a job.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ami_hygiene.core.members import ACCOUNT_ID
from ami_hygiene.core.publisher import SUBJECT_MAX, Message, bounded, is_over, sns_subject
from ami_hygiene.core.report import Report
from ami_hygiene.core.settings import REGION_PATTERN
from ami_hygiene.core.view import SEVERITY_ORDER, highest

SCHEMA_VERSION = 1
COMPLETED, FAILED, UNREACHABLE, MISSING = "completed", "failed", "unreachable", "missing"
STATUSES = (COMPLETED, FAILED, UNREACHABLE, MISSING)
TIMES = "\u00d7"  # MULTIPLICATION SIGN, in the text: "48 accounts TIMES 2 regions"; subjects say "x"
ORGANIZATION = "organization"  # the message's account attribute: the digest speaks for many
NO_RESULT = "no result: the target's run recorded nothing (it may have timed out)"
# What one result keeps of its errors: a quoted AWS error or Lambda cause can be long.
ERROR_MAX = 2_000
ERRORS_MAX = 50
# What the text shows of one error line, and of one target's errors in the message document.
TEXT_ERROR_MAX = 300
MESSAGE_ERRORS_MAX = 3
# (table rows in the text, targets and accounts in the document): each step smaller, the last
# always fits (a headline and the totals).
MESSAGE_STEPS: tuple[tuple[int | None, int | None], ...] = (
    (None, None),
    (500, 100),
    (200, 40),
    (100, 20),
    (40, 10),
    (10, 5),
    (0, 0),
)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float) -> str:
    """12, 12.5, 1,234: whole numbers without a fraction."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


# -- one target ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetResult:
    """How the job's run in one account and region ended, and what it counted."""

    account: str
    region: str
    status: str  # one of STATUSES
    summary: dict[str, Any] = field(default_factory=dict)  # the target's Report.summary(); {} if none
    severity: str = "info"  # its report's severity; "error" for a target that did not complete
    gib_reclaimed: float | int = 0
    errors: tuple[str, ...] = ()  # its report's errors (regions or sources it could not read)
    error: str = ""  # why the target did not run (unreachable, failed, missing)
    report: str = ""  # where its full report is (s3://bucket/key), or ""
    headline: str = ""  # the job's words for it, e.g. "3 would retire, 12 GiB reclaimable"

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")
        if self.severity not in SEVERITY_ORDER:
            raise ValueError(f"severity must be one of {', '.join(SEVERITY_ORDER)}, not {self.severity!r}")

    @classmethod
    def from_report(cls, report: Report, *, account: str, region: str, location: str = "") -> TargetResult:
        """The result of a run that completed: `report`'s part for `region`."""
        regional = report.for_region(region)
        summary = regional.summary()
        gib = summary.get("gib_reclaimed", 0)
        return cls(
            account=account,
            region=region,
            status=COMPLETED,
            summary=summary,
            severity=regional.severity,
            gib_reclaimed=gib if _is_number(gib) else 0,
            errors=tuple(regional.all_errors),
            report=location,
            headline=", ".join(regional.view.headline(regional, summary)),
        )

    @classmethod
    def unreachable(cls, account: str, region: str, error: str) -> TargetResult:
        return cls(account, region, UNREACHABLE, severity="error", error=_cut(error))

    @classmethod
    def failed(cls, account: str, region: str, error: str) -> TargetResult:
        return cls(account, region, FAILED, severity="error", error=_cut(error))

    @classmethod
    def missing(cls, account: str, region: str) -> TargetResult:
        return cls(account, region, MISSING, severity="error", error=NO_RESULT)

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    @property
    def failed_actions(self) -> int:
        n = self.summary.get("failed", 0)
        return int(n) if _is_number(n) else 0

    @property
    def is_problem(self) -> bool:
        """It did not complete, an action failed, or something could not be read."""
        return not self.completed or bool(self.errors) or self.failed_actions > 0

    def problem(self) -> str:
        """One line: what went wrong (empty when nothing did)."""
        if not self.completed:
            # AccountUnreachable's text starts by naming the account, which the line names already.
            return self.error.removeprefix(f"account {self.account}: ") or self.status
        parts = []
        if self.failed_actions:
            parts.append(f"{self.failed_actions} failed action{'s' if self.failed_actions != 1 else ''}")
        if self.errors:
            parts.append(f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''}: {self.errors[0]}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "region": self.region,
            "status": self.status,
            "severity": self.severity,
            "summary": dict(self.summary),
            "gib_reclaimed": self.gib_reclaimed,
            "errors": list(self.errors),
            "error": self.error,
            "report": self.report,
            "headline": self.headline,
        }

    @classmethod
    def from_dict(cls, data: Any) -> TargetResult:
        """A result read back (S3, a Step Functions state); ValueError naming what is wrong.

        account, region and status are required; the rest default (a target that did not
        complete defaults to severity "error"). Keys this version does not know are ignored.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a target result must be an object, not {type(data).__name__}")
        account = _field(data, "account", str, required=True)
        if not ACCOUNT_ID.match(account):
            raise ValueError(f"account must be a 12-digit account id, not {account[:40]!r}")
        region = _field(data, "region", str, required=True)
        if not REGION_PATTERN.match(region):
            raise ValueError(f"region must be a region name, not {region[:40]!r}")
        status = _field(data, "status", str, required=True)
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status[:40]!r}")
        summary = _field(data, "summary", Mapping, default={})
        if not all(isinstance(k, str) for k in summary):
            raise ValueError("summary must have text keys")
        severity = _field(data, "severity", str, default="info" if status == COMPLETED else "error")
        if severity not in SEVERITY_ORDER:
            raise ValueError(f"severity must be one of {', '.join(SEVERITY_ORDER)}, not {severity[:40]!r}")
        gib = data.get("gib_reclaimed", 0)
        if not _is_number(gib) or gib < 0:
            raise ValueError(f"gib_reclaimed must be a number of 0 or more, not {str(gib)[:40]!r}")
        errors = _field(data, "errors", list, default=[])
        if not all(isinstance(e, str) for e in errors):
            raise ValueError("errors must be a list of text")
        return cls(
            account=account,
            region=region,
            status=status,
            summary=dict(summary),
            severity=severity,
            gib_reclaimed=gib,
            errors=tuple(_cut(e) for e in errors[:ERRORS_MAX]),
            error=_cut(_field(data, "error", str, default="")),
            report=_field(data, "report", str, default=""),
            headline=_field(data, "headline", str, default=""),
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _field(
    data: Mapping[str, Any], key: str, kind: type, *, required: bool = False, default: Any = None
) -> Any:
    if key not in data or data[key] is None:
        if required:
            raise ValueError(f"{key} is missing")
        return default
    value = data[key]
    if not isinstance(value, kind):
        raise ValueError(f"{key} must be {kind.__name__}, not {type(value).__name__}")
    return value


def _cut(text: str) -> str:
    return bounded(text, ERROR_MAX)


def ordered(results: Iterable[TargetResult]) -> list[TargetResult]:
    """Failures first (did not complete, then completed with problems), then by account and region."""

    def rank(r: TargetResult) -> tuple[int, str, str]:
        return (0 if not r.completed else 1 if r.is_problem else 2, r.account, r.region)

    return sorted(results, key=rank)


# -- the whole sweep -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    """The sweep of one job over many accounts and regions."""

    job: str
    mode: str  # report | enforce (a Mode is a str)
    results: tuple[TargetResult, ...]
    started: datetime
    finished: datetime
    run: str = ""  # the sweep's name (the Step Functions execution), if any

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(sorted({r.account for r in self.results}))

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted({r.region for r in self.results}))

    @property
    def failed(self) -> bool:
        """Any target did not complete, or completed with failed actions or errors."""
        return any(r.is_problem for r in self.results)

    @property
    def severity(self) -> str:
        found = [r.severity for r in self.results]
        if any(not r.completed for r in self.results):
            found.append("error")
        if not self.results:
            found.append("warning")  # a sweep that covered nothing: someone should look
        return highest(found)

    @property
    def report_mode(self) -> bool:
        return str(self.mode) == "report"

    def totals(self) -> dict[str, Any]:
        """Targets by status, and the completed targets' summaries summed key by key."""
        by_status = {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}
        summed: dict[str, Any] = {}
        for r in self.results:
            if r.completed:
                _add(summed, r.summary)
        gib = sum(r.gib_reclaimed for r in self.results)
        return {
            "accounts": len(self.accounts),
            "regions": len(self.regions),
            "targets": len(self.results),
            **by_status,
            "with_problems": sum(1 for r in self.results if r.is_problem),
            "gib_reclaimed": _rounded(gib),
            "summary": _rounded(summed),
        }

    def account_rows(self) -> list[dict[str, Any]]:
        """Per account: its targets, how many had problems, its highest severity and its counts."""
        by_account: dict[str, list[TargetResult]] = {}
        for r in self.results:
            by_account.setdefault(r.account, []).append(r)
        rows = []
        for account, mine in by_account.items():
            worst = ordered(mine)[0]
            rows.append(
                {
                    "account": account,
                    "regions": sorted(r.region for r in mine),
                    "status": worst.status,
                    "problems": sum(1 for r in mine if r.is_problem),
                    "severity": highest(r.severity for r in mine),
                    "images": sum(_count(r.summary, "images") for r in mine),
                    "changes": sum(self._changes(r) for r in mine),
                    "gib_reclaimed": _rounded(sum(r.gib_reclaimed for r in mine)),
                }
            )
        return sorted(rows, key=lambda row: (row["problems"] == 0, row["account"]))

    # -- JSON ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return self._document(None, None, location="")

    def _document(self, targets: int | None, accounts: int | None, *, location: str) -> dict[str, Any]:
        results = ordered(self.results)
        rows = self.account_rows()
        compact = targets is not None
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "job": self.job,
            "mode": str(self.mode),
            "run": self.run,
            "account": ORGANIZATION,
            "regions": list(self.regions),
            "severity": self.severity,
            "failed": self.failed,
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "totals": self.totals(),
            "accounts": rows[:accounts] if accounts is not None else rows,
            "targets": [_compact(r) if compact else r.to_dict() for r in results[:targets]],
        }
        if targets is not None and len(results) > targets:
            out["targets_omitted"] = len(results) - targets
        if accounts is not None and len(rows) > accounts:
            out["accounts_omitted"] = len(rows) - accounts
        if location:
            out["full_digest"] = location
        return out

    # -- text ------------------------------------------------------------------------------------

    def headline(self, *, times: str = TIMES) -> str:
        return self._headline(times, self._headline_parts())

    def subject(self) -> str:
        """ASCII (SNS subjects), under 100 characters: the headline, its last parts left out if need be."""
        parts = self._headline_parts()
        while len(parts) > 1 and len(self._headline("x", parts)) > SUBJECT_MAX:
            parts = parts[:-1]
        return sns_subject(self._headline("x", parts))

    def _headline(self, times: str, parts: list[str]) -> str:
        t = self.totals()
        where = f"{t['accounts']} account{'s' if t['accounts'] != 1 else ''} {times} {t['regions']} region"
        where += "s" if t["regions"] != 1 else ""
        mode = " (report mode)" if self.report_mode else ""
        return f"[ami-hygiene] {self.job}{mode} across {where}: {', '.join(parts)}"

    def _headline_parts(self) -> list[str]:
        """Failures first, then GiB reclaimed (when any was), then the changes."""
        t = self.totals()
        if not self.results:
            return ["no targets"]
        parts = []
        if t["with_problems"]:
            parts.append(f"{t['with_problems']} failed")
        if t["gib_reclaimed"]:
            parts.append(
                f"{_number(t['gib_reclaimed'])} GiB {'reclaimable' if self.report_mode else 'reclaimed'}"
            )
        changes = sum(self._changes(r) for r in self.results)
        parts.append(f"{changes:,} {'to change' if self.report_mode else 'changed'}")
        return parts

    def render_text(self, *, max_rows: int | None = None, location: str = "") -> str:
        """The digest for a person; `max_rows` limits the failures and the table (failures first)."""
        t = self.totals()
        results = ordered(self.results)
        problems = [r for r in results if r.is_problem]
        lines = [self.headline(), ""]
        if self.report_mode:
            lines.append("REPORT MODE: nothing was changed. Below is what enforce mode would do.")
        elif str(self.mode) == "enforce":
            lines.append("ENFORCE MODE: the actions below were applied.")
        else:  # no target completed ("unknown"), or targets ran in different modes ("mixed")
            lines.append(f"MODE {str(self.mode).upper()}: each target's report says what it changed.")
        run = f"Run {self.run} · " if self.run else ""
        lines.append(f"{run}{_iso(self.started)} to {_iso(self.finished)}")
        counts = ", ".join(
            f"{t[s]} {label}"
            for s, label in (
                (COMPLETED, "completed"),
                (FAILED, "failed"),
                (UNREACHABLE, "unreachable"),
                (MISSING, "without a result"),
            )
            if t[s] or s == COMPLETED
        )
        lines.append(f"{t['targets']} targets (account {TIMES} region): {counts}")
        if not self.results:
            lines += ["", "No targets: no account and region was swept."]

        if problems:
            lines += ["", "Failures (nothing was changed where a target did not complete)"]
            shown = problems if max_rows is None else problems[:max_rows]
            for r in shown:
                what = r.status if not r.completed else "completed with problems"
                lines.append(
                    f"  ! {r.account}  {r.region:<15} {what}: {bounded(r.problem(), TEXT_ERROR_MAX)}"
                )
                if r.report:
                    lines.append(f"      full report: {r.report}")
            if len(shown) < len(problems):
                lines.append(f"  ... and {len(problems) - len(shown):,} more failures{_see(location)}")

        if results:
            gib = any("gib_reclaimed" in r.summary for r in results)
            header = f"  {'account':<12}  {'region':<15} {'images':>7} {'changes':>8}"
            header += f" {'GiB':>7}" if gib else ""
            lines += ["", "By account and region", header + "  what"]
            rows = results if max_rows is None else results[:max_rows]
            for r in rows:
                if r.completed:
                    images, changes = f"{_count(r.summary, 'images'):,}", f"{self._changes(r):,}"
                    reclaimed, what = _number(r.gib_reclaimed), r.headline
                else:
                    images = changes = reclaimed = "-"
                    what = r.status.upper()
                line = f"  {r.account:<12}  {r.region:<15} {images:>7} {changes:>8}"
                line += f" {reclaimed:>7}" if gib else ""
                line += f"  {what}"
                lines.append(line.rstrip())
            if len(rows) < len(results):
                lines.append(f"  ... and {len(results) - len(rows):,} more targets{_see(location)}")

        reports = [r.report for r in results if r.report]
        prefix = _common_prefix(reports)
        if reports:
            lines += ["", "Reports"]
            if prefix and all(
                r.report == f"{prefix}{r.account}-{r.region}.json" for r in results if r.report
            ):
                lines.append(f"  Each target's full report: {prefix}<account>-<region>.json")
            else:
                listed = reports if max_rows is None else reports[:max_rows]
                lines += [f"  {link}" for link in listed]
                if len(listed) < len(reports):
                    lines.append(f"  ... and {len(reports) - len(listed):,} more{_see(location)}")
        if location:
            lines += ["", f"The whole digest (JSON): {location}"]
        return "\n".join(lines) + "\n"

    def message(self, *, location: str = "") -> Message:
        """One SNS message for the whole sweep, within SNS's limit for any number of targets.

        `location`: where the whole digest is stored (s3://...), linked when targets are left out.
        """
        attributes = {
            "job": self.job,
            "severity": self.severity,
            "mode": str(self.mode),
            "account": ORGANIZATION,
        }
        message = Message(self.subject(), "", {}, attributes)
        for rows, documented in MESSAGE_STEPS:
            message = replace(
                message,
                text=self.render_text(max_rows=rows, location=location),
                document=self._document(documented, documented, location=location)
                if documented is not None
                else self.to_dict() | ({"full_digest": location} if location else {}),
            )
            if not is_over(message):
                break
        return message

    def _changes(self, r: TargetResult) -> int:
        """The actions it planned (report mode) or did (enforce): its summary's actions by outcome."""
        outcome = "planned" if self.report_mode else "done"
        actions = r.summary.get("actions", {})
        if not isinstance(actions, Mapping):
            return 0
        return sum(
            _count(by_outcome, outcome) for by_outcome in actions.values() if isinstance(by_outcome, Mapping)
        )


def _see(location: str) -> str:
    return f": see {location}" if location else ""


def _count(summary: Mapping[str, Any], key: str) -> int:
    value = summary.get(key, 0)
    return int(value) if _is_number(value) else 0


def _compact(r: TargetResult) -> dict[str, Any]:
    """A target in the message document: its counts but not its whole summary, a few errors."""
    out = r.to_dict()
    del out["summary"]
    out["images"] = _count(r.summary, "images")
    out["errors"] = [bounded(e, TEXT_ERROR_MAX) for e in r.errors[:MESSAGE_ERRORS_MAX]]
    if len(r.errors) > MESSAGE_ERRORS_MAX:
        out["errors_omitted"] = len(r.errors) - MESSAGE_ERRORS_MAX
    out["error"] = bounded(r.error, TEXT_ERROR_MAX)
    return out


def _add(into: dict[str, Any], summary: Mapping[str, Any]) -> None:
    """Sums the numbers of `summary` into `into`, key by key, nested counts too (flags and lists not)."""
    for key, value in summary.items():
        if _is_number(value):
            current = into.get(key, 0)
            into[key] = (current if _is_number(current) else 0) + value
        elif isinstance(value, Mapping):
            nested = into.setdefault(key, {})
            if isinstance(nested, dict):
                _add(nested, value)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _common_prefix(links: Sequence[str]) -> str:
    """The longest common prefix of `links` ending in "/", or ""."""
    if not links:
        return ""
    first, last = min(links), max(links)
    n = 0
    while n < len(first) and n < len(last) and first[n] == last[n]:
        n += 1
    return first[:n].rpartition("/")[0] + "/" if "/" in first[:n] else ""
