"""The rotate job: read, plan, check what is about to change, apply, report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..estate import RegionEstate
from ..executor import Executor, never_stop
from ..inventory import InventoryError, read_checks, read_region
from ..plan import Action, Outcome, Plan
from ..policies.rotation import plan_rotation
from ..report import Report
from ..settings import Settings

JOB = "rotate"
# Guards the check loop: each round checks new images, so it ends anyway;
# this bounds it against a policy bug.
MAX_CHECK_ROUNDS = 50


def run_rotation(
    settings: Settings,
    clients: Any,
    now: datetime | None = None,
    should_stop: Callable[[], bool] = never_stop,
) -> Report:
    now = now or datetime.now(UTC)
    started = datetime.now(UTC)
    account = clients.account_id(settings.regions[0])
    executor = Executor(clients, settings.mode, now, should_stop, job=JOB)
    budget = settings.max_actions
    plans: list[Plan] = []
    errors: list[str] = []
    for region in settings.regions:
        try:
            estate = read_region(clients, region, account)
        except InventoryError as err:
            errors.append(f"{region}: {err}")
            continue
        plan = plan_with_checks(estate, settings, now, budget, clients)
        plan = executor.apply(plan)
        budget = max(0, budget - plan.budget_used())
        plans.append(plan)
    return Report(
        job=JOB,
        mode=settings.mode,
        account=account,
        regions=settings.regions,
        plans=tuple(plans),
        settings=settings,
        started=started,
        finished=datetime.now(UTC),
        api_calls=dict(clients.counter.calls),
        errors=tuple(errors),
    )


def plan_with_checks(
    estate: RegionEstate, settings: Settings, now: datetime, budget: int, clients: Any
) -> Plan:
    """Plan, read the per-image checks the plan asks for, and plan again.

    Only images that would be disabled or deregistered within this run's
    budget are checked; an image found shared frees its place for the next.
    """
    plan = plan_rotation(estate, settings, now, budget)
    for _ in range(MAX_CHECK_ROUNDS):
        pending = [
            d.image_id
            for d in plan.decisions
            if d.pending_checks
            and d.outcome is Outcome.PLANNED
            and d.action in (Action.DISABLE, Action.DEREGISTER)
        ]
        if not pending:
            break
        estate = read_checks(clients, estate, pending)
        plan = plan_rotation(estate, settings, now, budget)
    return plan
