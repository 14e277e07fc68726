"""Match reason sentences on their key parts, so rewording a sentence breaks only the tests about wording.

A decision explains itself in sentences ("kept: used by launch template lt-0abc ($Default)").
Most tests are about what a reason says, not how: the rule that applied and the facts it names.
Those compare with `Reason`, which equals any sentence containing all of its parts:

    assert d.reasons == (Reason("kept", "launch template", "lt-0abc", "$Default"),)
    assert Reason("deletes", "snap-1", "8 GiB") in d.reasons
    assert d.reasons[0] == Reason("kept", "public")
    assert has_reason(d, "consumers checked", ALLOWED)

Tests where the wording is the point (a README example, a rendered report, the format of a
date or a plural) keep comparing whole strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Reason:
    """Equal to a sentence that contains every one of `parts` (case-sensitive), in any order."""

    __slots__ = ("parts",)

    def __init__(self, *parts: str) -> None:
        if not parts or not all(isinstance(p, str) and p for p in parts):
            raise ValueError("a Reason needs at least one non-empty part")
        self.parts = parts

    def matches(self, sentence: object) -> bool:
        return isinstance(sentence, str) and all(part in sentence for part in self.parts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Reason):
            return self.parts == other.parts
        return self.matches(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # equal to many strings: no hash can agree with them all

    def __repr__(self) -> str:
        return f"Reason({', '.join(map(repr, self.parts))})"


def reasons_of(decision_or_reasons: Any) -> tuple[str, ...]:
    """The reasons of a decision (anything with `.reasons`, or a report's dict), or the sentences given."""
    if isinstance(decision_or_reasons, dict):
        return tuple(decision_or_reasons["reasons"])
    found: Iterable[str] = getattr(decision_or_reasons, "reasons", decision_or_reasons)
    return tuple(found)


def has_reason(decision_or_reasons: Any, *parts: str) -> bool:
    """Whether one of the reasons contains every one of `parts`."""
    wanted = Reason(*parts)
    return any(wanted.matches(r) for r in reasons_of(decision_or_reasons))
