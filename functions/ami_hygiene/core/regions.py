"""What every job does the same way: walk the regions under one budget, and build the report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ami_hygiene.core.executor import Executor
from ami_hygiene.core.paging import InventoryError
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.report import Report
from ami_hygiene.core.settings import Settings
from ami_hygiene.core.view import View

OVER_BUDGET = "deferred: over this run's MaxActionsPerRun; the next run continues"


def run_regions(
    regions: tuple[str, ...],
    budget: int,
    plan_region: Callable[[str, int], Plan],
    executor: Executor,
) -> tuple[tuple[Plan, ...], tuple[str, ...]]:
    """Plan and apply region by region; what one region spends, the next cannot.

    `plan_region(region, budget_left)` raises InventoryError when the region
    cannot be read: that is reported and the other regions go on.
    """
    plans: list[Plan] = []
    errors: list[str] = []
    for region in regions:
        try:
            plan = plan_region(region, budget)
        except InventoryError as err:
            errors.append(f"{region}: {err}")
            continue
        plan = executor.apply(plan)
        budget = max(0, budget - plan.budget_used())
        plans.append(plan)
    return tuple(plans), tuple(errors)


def within_budget(plan: Plan, budget: int, priority: Mapping[Action, int] | None = None) -> Plan:
    """Defers the actions past `budget`, taken in `priority` order (then plan order)."""
    rank = priority or {}
    order = sorted(
        (i for i, d in enumerate(plan.decisions) if _costs(d)),
        key=lambda i: rank.get(plan.decisions[i].action, len(rank)),
    )
    deferred = set(order[max(0, budget) :])
    return replace(
        plan,
        decisions=tuple(
            d.with_outcome(Outcome.DEFERRED, reason=OVER_BUDGET) if i in deferred else d
            for i, d in enumerate(plan.decisions)
        ),
    )


def report_of(
    view: View,
    settings: Settings,
    clients: Any,
    *,
    account: str,
    regions: tuple[str, ...],
    plans: tuple[Plan, ...],
    started: datetime,
    errors: tuple[str, ...] = (),
) -> Report:
    return Report(
        job=view.job,
        mode=settings.mode,
        account=account,
        regions=regions,
        plans=plans,
        settings=settings,
        started=started,
        finished=datetime.now(UTC),
        api_calls=dict(clients.counter.calls),
        errors=errors,
        view=view,
    )


def _costs(decision: Decision) -> bool:
    """An action that changes AWS and so spends budget; a notice is free."""
    return decision.is_action and decision.action is not Action.NOTIFY and decision.outcome is Outcome.PLANNED
