"""The rotate job: read, plan, check what is about to change, apply, report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.estate import RegionEstate
from ami_hygiene.core.executor import Executor, RunContext, never_stop
from ami_hygiene.core.paging import InventoryError
from ami_hygiene.core.plan import Action, Outcome, Plan
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.actions import WRITERS
from ami_hygiene.jobs.rotate.consumers import ConsumerReader
from ami_hygiene.jobs.rotate.inventory import read_checks, read_region
from ami_hygiene.jobs.rotate.policy import JOB, PENDING_CONSUMERS, PENDING_SHARING, plan_rotation
from ami_hygiene.jobs.rotate.settings import RotateJobSettings
from ami_hygiene.jobs.rotate.view import VIEW

# Guards the check loop: each round checks new images, so it ends anyway;
# this bounds it against a policy bug.
MAX_CHECK_ROUNDS = 50


def run_rotation(
    settings: RotateJobSettings,
    clients: Clients,
    now: datetime | None = None,
    should_stop: Callable[[], bool] = never_stop,
) -> Report:
    now = now or datetime.now(UTC)
    started = datetime.now(UTC)
    account = clients.account_id(settings.regions[0])
    executor = Executor(RunContext(clients, JOB, now, account), settings.mode, WRITERS, should_stop)
    # One reader for the whole run: each consumer account is assumed once, and read
    # once per region, however many images and regions ask about it.
    consumers = ConsumerReader(clients, settings.consumer_role_name, account)
    budget = settings.max_actions
    plans: list[Plan] = []
    errors: list[str] = []
    for region in settings.regions:
        try:
            estate = read_region(clients, region, account)
        except InventoryError as err:
            errors.append(f"{region}: {err}")
            continue
        plan = plan_with_checks(estate, settings, now, budget, clients, consumers)
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
        api_calls_by_account={account: dict(clients.counter.calls), **consumers.calls_by_account()},
        errors=tuple(errors),
        view=VIEW,
    )


def plan_with_checks(
    estate: RegionEstate,
    settings: RotateJobSettings,
    now: datetime,
    budget: int,
    clients: Clients,
    consumers: ConsumerReader | None = None,
) -> Plan:
    """Plan, read the per-image checks the plan asks for, and plan again.

    Only images that would be disabled or deregistered within this run's
    budget are checked; an image found shared (or used by a consumer) frees its
    place for the next. Launch permissions come first; an image shared with
    allow-listed accounts then waits for their usage (`consumers`), read for all
    such images of a round at once.
    """
    if consumers is None:
        consumers = ConsumerReader(clients, settings.consumer_role_name, estate.account_id)
    plan = plan_rotation(estate, settings, now, budget)
    for _ in range(MAX_CHECK_ROUNDS):
        pending: dict[str, list[str]] = {}
        for d in plan.decisions:
            if d.outcome is Outcome.PLANNED and d.action in (Action.DISABLE, Action.DEREGISTER):
                for check in d.pending_checks:
                    pending.setdefault(check, []).append(d.image_id)
        if not pending:
            break
        if PENDING_SHARING in pending:
            estate = read_checks(clients, estate, pending[PENDING_SHARING])
        if PENDING_CONSUMERS in pending:
            estate = consumers.read(estate, pending[PENDING_CONSUMERS])
        plan = plan_rotation(estate, settings, now, budget)
    return plan
