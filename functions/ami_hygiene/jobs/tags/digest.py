"""The tag sweep's non-compliant images, grouped by problem, by family and by creator.

A sweep of 50,000 images must not name each one in its e-mail: each group says how
many images it holds and names a few (`EXAMPLES`); the largest `TOP_GROUPS` families
and creators are shown, and how many more there are. The JSON report, and the
whole report stored in the report bucket, still list every image.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ami_hygiene.core.plan import Decision

EXAMPLES = 3  # images named per group
TOP_GROUPS = 10  # families and creators shown, largest first
NO_FAMILY = "(no family)"
UNKNOWN_CREATOR = "(creator unknown)"
NAME_SHOWN = 40  # characters of an example's image name in the text


@dataclass
class _Group:
    images: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)  # (image id, name)

    def add(self, decision: Decision) -> None:
        self.images += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append((decision.image_id, decision.name))


def problem_kind(finding: str) -> str:
    """'missing Owner' stays; "Env='x' does not match ^...$" becomes "Env does not match ^...$"."""
    key, sep, rest = finding.partition("=")
    if sep and " does not match " in rest:
        return f"{key} does not match {rest.split(' does not match ', 1)[1]}"
    return finding


def group_non_compliant(decisions: Iterable[Decision]) -> dict[str, Any]:
    """Non-compliant images (each once, whatever its decisions), by problem, family and creator.

    {"by_problem": [...], "by_family": [...], "families": n, "by_creator": [...], "creators": n};
    each group {"name", "images", "examples": [{"image_id", "name"}]}, largest first. Every
    problem is listed (a rule breaks in at most two ways: missing, or a value that does not
    match); families and creators only the largest TOP_GROUPS.
    """
    seen: set[str] = set()
    by: dict[str, dict[str, _Group]] = {"problem": {}, "family": {}, "creator": {}}
    for d in decisions:
        if not d.findings or d.image_id in seen:
            continue
        seen.add(d.image_id)
        for kind in dict.fromkeys(problem_kind(f) for f in d.findings):
            by["problem"].setdefault(kind, _Group()).add(d)
        by["family"].setdefault(d.family or NO_FAMILY, _Group()).add(d)
        creator = str(getattr(d, "creator", "")) or UNKNOWN_CREATOR
        by["creator"].setdefault(creator, _Group()).add(d)
    return {
        "by_problem": _largest(by["problem"], None),
        "by_family": _largest(by["family"], TOP_GROUPS),
        "families": len(by["family"]),
        "by_creator": _largest(by["creator"], TOP_GROUPS),
        "creators": len(by["creator"]),
    }


def digest_lines(digest: Mapping[str, Any]) -> list[str]:
    """The groups as report lines: a count, the group, and a few of its images."""
    if not digest.get("by_problem"):
        return []
    lines = [f"    by problem ({EXAMPLES} examples each; the JSON report lists every image)"]
    lines += _group_lines(digest["by_problem"])
    for kind, total, plural in (("family", "families", "families"), ("creator", "creators", "creators")):
        shown = digest[f"by_{kind}"]
        more = f"; the {len(shown)} largest" if digest[total] > len(shown) else ""
        lines.append(f"    by {kind} ({digest[total]:,} {plural if digest[total] != 1 else kind}{more})")
        lines += _group_lines(shown)
    return lines


def _largest(groups: Mapping[str, _Group], most: int | None) -> list[dict[str, Any]]:
    ranked = sorted(groups.items(), key=lambda item: (-item[1].images, item[0]))
    return [
        {
            "name": name,
            "images": group.images,
            "examples": [{"image_id": i, "name": n} for i, n in group.examples],
        }
        for name, group in ranked[:most]
    ]


def _group_lines(groups: Iterable[Mapping[str, Any]]) -> list[str]:
    lines = []
    for group in groups:
        examples = ", ".join(f"{e['image_id']} ({_short(e['name'])})" for e in group["examples"])
        lines.append(f"    {group['images']:>6}  {group['name']}")
        lines.append(f"              e.g. {examples}")
    return lines


def _short(name: str) -> str:
    return name if len(name) <= NAME_SHOWN else name[: NAME_SHOWN - 1] + "…"
