"""Decisions a policy makes, what the executor did with them, and the one budget rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

from ami_hygiene.core.estate import Image, SnapshotRef


class Action(StrEnum):
    KEEP = "keep"
    DEPRECATE = "deprecate"
    DISABLE = "disable"
    DEREGISTER = "deregister"
    TAG = "tag"
    PROPAGATE = "propagate"
    NOTIFY = "notify"
    REVOKE_PUBLIC = "revoke-public"
    REVOKE_ACCOUNTS = "revoke-accounts"
    BLOCK_PUBLIC_ACCESS = "block-public-access"
    REBUILD = "rebuild"


class Outcome(StrEnum):
    PLANNED = "planned"  # report mode, or not yet executed
    DONE = "done"
    FAILED = "failed"
    DEFERRED = "deferred"  # over MaxActionsPerRun; a later run picks it up


# Order in which actions get the run's action budget: reclaim space first.


@dataclass(frozen=True)
class SnapshotResult:
    snapshot_id: str
    deleted: bool
    detail: str = ""


@dataclass(frozen=True)
class Decision:
    image_id: str
    region: str
    family: str
    name: str
    action: Action
    reasons: tuple[str, ...]
    outcome: Outcome = Outcome.PLANNED
    created: datetime | None = None
    # DEPRECATE: when the image becomes deprecated.
    deprecate_at: datetime | None = None
    # DEREGISTER: snapshots that go with the image (none used by another image).
    snapshots: tuple[SnapshotRef, ...] = ()
    # Checks the policy still needs before this action is safe, e.g.
    # ("launch permissions",). The executor never applies a decision with any.
    pending_checks: tuple[str, ...] = ()
    error: str | None = None
    snapshot_results: tuple[SnapshotResult, ...] = field(default=())
    # What is wrong with the image whatever the action (a broken tag rule, a
    # public permission, a stale base), as sentences; empty when nothing is.
    findings: tuple[str, ...] = ()
    # DISABLE / DEREGISTER: the allow-listed principals the image is shared
    # with; DisableImage drops them, so the executor records them first.
    shared_with: tuple[str, ...] = ()

    @property
    def is_action(self) -> bool:
        return self.action is not Action.KEEP

    def details(self) -> dict[str, Any]:
        """Job-specific fields for the JSON report; subclasses add theirs."""
        return {}

    def with_outcome(
        self,
        outcome: Outcome,
        *,
        error: str | None = None,
        reason: str | None = None,
        snapshot_results: tuple[SnapshotResult, ...] | None = None,
    ) -> Decision:
        # A shallow copy with four fields set: dataclasses.replace (and copy.copy) cost more than the
        # rest of deferring a decision, which a plan of thousands (and a forecast of dozens of plans)
        # feels. Frozen dataclasses keep their fields in __dict__; no Decision validates in
        # __post_init__, so nothing is skipped.
        changed = object.__new__(type(self))
        fields = changed.__dict__
        fields.update(self.__dict__)
        fields["outcome"] = outcome
        fields["error"] = error
        fields["reasons"] = self.reasons + ((reason,) if reason else ())
        if snapshot_results is not None:
            fields["snapshot_results"] = snapshot_results
        return changed


class ImageDecision(TypedDict):
    """The fields every decision about an image sets, for `Decision(**image_decision(...), ...)`."""

    # What the image says of itself.
    image_id: str
    region: str
    name: str
    created: datetime | None
    # What the policy says of it.
    family: str
    action: Action
    reasons: tuple[str, ...]


def image_decision(image: Image, family: str, action: Action, reasons: Iterable[str]) -> ImageDecision:
    """What every job's decision about `image` says first: which image, its family, the action and why."""
    return ImageDecision(
        image_id=image.image_id,
        region=image.region,
        name=image.name,
        created=image.creation_date,
        family=family,
        action=action,
        reasons=tuple(reasons),
    )


@dataclass(frozen=True)
class Plan:
    job: str
    region: str
    decisions: tuple[Decision, ...]
    # Problems that stopped part of the plan, as sentences (e.g. a usage
    # source that could not be read). They are reported, never hidden.
    errors: tuple[str, ...] = ()

    @property
    def actions(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.is_action)

    def budget_used(self) -> int:
        """Actions that changed or would change AWS; a notice (NOTIFY) is free."""
        return sum(
            1
            for d in self.decisions
            if d.is_action and d.action is not Action.NOTIFY and d.outcome is not Outcome.DEFERRED
        )


def costs(decision: Decision) -> bool:
    """An action still to be taken that changes AWS, and so spends budget; a notice is free."""
    return decision.is_action and decision.action is not Action.NOTIFY and decision.outcome is Outcome.PLANNED


def within_budget(
    decisions: Sequence[Decision],
    budget: int,
    *,
    limit: int,
    region: str,
    rank: Callable[[Decision], Any] = lambda _d: 0,
) -> tuple[Decision, ...]:
    """The one budget rule of every job (MaxActionsPerRun, shared by a run's regions).

    The first `budget` costing decisions, in `rank` order then plan order, stay
    planned; the rest are deferred, and say why and that the next run continues.
    `limit` is the run's whole budget, `budget` what earlier regions left of it.
    """
    ranked = sorted((i for i, d in enumerate(decisions) if costs(d)), key=lambda i: rank(decisions[i]))
    deferred = set(ranked[max(budget, 0) :])
    if not deferred:
        return tuple(decisions)
    left = "" if budget >= limit else f" ({max(budget, 0)} left for {region} after earlier regions)"
    reason = f"deferred: MaxActionsPerRun ({limit}) reached{left}; the next run continues"
    return tuple(
        d.with_outcome(Outcome.DEFERRED, reason=reason) if i in deferred else d
        for i, d in enumerate(decisions)
    )
