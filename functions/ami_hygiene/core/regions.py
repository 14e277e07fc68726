"""What every job does the same way: walk the regions under one budget, and build the report.

A job's run is a `JobRun`: the core frames it (when, which regions, which account, the
executor with the job's writers) and walks the regions; the job says how to plan one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.concurrency import REGION_WORKERS, parallel_map
from ami_hygiene.core.executor import Executor, RunContext, Writers, never_stop
from ami_hygiene.core.pacing import Pace
from ami_hygiene.core.paging import InventoryError
from ami_hygiene.core.plan import Decision, Plan, within_budget
from ami_hygiene.core.report import Report, Section
from ami_hygiene.core.settings import Settings
from ami_hygiene.core.view import View

T = TypeVar("T")


def run_regions(
    regions: tuple[str, ...],
    budget: int,
    read: Callable[[str], T],
    plan_region: Callable[[T, int], Plan],
    executor: Executor,
) -> tuple[tuple[Plan, ...], tuple[str, ...]]:
    """Read the regions side by side, then plan and apply them one by one under one budget.

    `read(region)` runs for at most REGION_WORKERS regions at once (reads only: each
    region's round trips overlap the others'); `plan_region(what_was_read, budget_left)`
    and the executor then go region by region, in order, so what one region spends
    the next cannot. InventoryError (a region that cannot be read) is reported and the
    other regions go on.
    """

    def attempt(region: str) -> T | InventoryError:
        try:
            return read(region)
        except InventoryError as err:
            return err

    plans: list[Plan] = []
    errors: list[str] = []
    for region, got in zip(regions, parallel_map(attempt, regions, REGION_WORKERS), strict=True):
        try:
            if isinstance(got, InventoryError):
                raise got
            plan = plan_region(got, budget)
        except InventoryError as err:
            errors.append(f"{region}: {err}")
            continue
        plan = executor.apply(plan)
        budget = max(0, budget - plan.budget_used())
        plans.append(plan)
    return tuple(plans), tuple(errors)


def report_of(
    view: View,
    settings: Settings,
    clients: Clients,
    *,
    account: str,
    regions: tuple[str, ...],
    plans: tuple[Plan, ...],
    started: datetime,
    errors: tuple[str, ...] = (),
    calls_by_account: dict[str, dict[str, int]] | None = None,
    sections: tuple[Section, ...] = (),
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
        api_calls_by_account=calls_by_account or {},
        pacing=clients.pacer.summary(),
        errors=errors,
        sections=sections,
        view=view,
    )


class RunEvent(Protocol):
    """What a job's event record says about where to act."""

    @property
    def region(self) -> str: ...

    @property
    def account(self) -> str: ...


S = TypeVar("S", bound=Settings)
# What a run's region walk gives: the plans as applied, and the regions it could not read.
Results = tuple[tuple[Plan, ...], tuple[str, ...]]
StopCheck = Callable[[], bool]
E = TypeVar("E", bound=RunEvent)


@dataclass(frozen=True)
class Frame(Generic[S, E]):
    """One run: its settings, clients, time and account, and the event it answers (None: a sweep)."""

    settings: S
    clients: Clients
    now: datetime
    account: str
    event: E | None
    # Calls by account, when the run read other accounts too (rotation's consumers); else empty.
    calls_by_account: dict[str, dict[str, int]] = field(default_factory=dict)
    # The job's own report sections, added by its run (rotation's "Coming up").
    sections: list[Section] = field(default_factory=list)


class JobRun(Generic[S, E]):
    """A job's run: call it with (settings, clients, now, should_stop, event).

    A sweep covers the settings' regions; an event, its own region. Each region's plan
    (`plan`) gets the run's one budget rule (`rank` orders what goes first), then the
    executor applies it with the job's writers.
    """

    job: str
    view: View
    writers: Writers
    settings_model: type[S]  # what its handler and CLI subcommand load (jobs/<job>/settings.py)

    def __call__(
        self,
        settings: S,
        clients: Clients,
        now: datetime | None = None,
        should_stop: Callable[[], bool] = never_stop,
        event: E | None = None,
    ) -> Report:
        started = datetime.now(UTC)
        clients.pacer.configure(Pace(settings.reads_per_second, settings.writes_per_second))
        regions = (event.region,) if event is not None else settings.regions
        account = event.account if event is not None else clients.account_id(regions[0])
        frame = Frame(settings, clients, now or started, account, event)
        plans, errors = self.run(frame, regions, should_stop)
        return report_of(
            self.view,
            settings,
            clients,
            account=account,
            regions=regions,
            plans=plans,
            started=started,
            errors=errors,
            calls_by_account=frame.calls_by_account,
            sections=tuple(frame.sections),
        )

    def run(self, frame: Frame[S, E], regions: tuple[str, ...], should_stop: StopCheck) -> Results:
        def within(planned: Plan, budget: int) -> Plan:
            limit = frame.settings.max_actions
            region = planned.region
            ranked = within_budget(planned.decisions, budget, limit=limit, region=region, rank=self.rank)
            return replace(planned, decisions=ranked)

        executor = self.executor(frame, should_stop)
        return run_regions(regions, frame.settings.max_actions, partial(self.plan, frame), within, executor)

    def executor(self, frame: Frame[S, E], should_stop: Callable[[], bool]) -> Executor:
        run = RunContext(frame.clients, self.job, frame.now, frame.account, frame.settings)
        return Executor(run, frame.settings.mode, self.writers, should_stop)

    def plan(self, frame: Frame[S, E], region: str) -> Plan:
        """The region's plan before the budget; raises InventoryError when the region cannot be read."""
        raise NotImplementedError

    def rank(self, decision: Decision) -> Any:
        """Which actions go first under the budget (then plan order)."""
        return 0
