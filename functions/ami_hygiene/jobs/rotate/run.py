"""The rotate job: read, plan, check what is about to change, apply, report."""

from __future__ import annotations

from datetime import datetime

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.estate import RegionEstate
from ami_hygiene.core.plan import Action, Outcome, Plan
from ami_hygiene.core.regions import Frame, JobRun, Results, RunEvent, StopCheck, run_regions
from ami_hygiene.core.report import Section
from ami_hygiene.jobs.rotate.actions import WRITERS
from ami_hygiene.jobs.rotate.coming_up import UNSHARED_NOTE, assumed_unshared, coming_up, not_forecast
from ami_hygiene.jobs.rotate.consumers import ConsumerReader
from ami_hygiene.jobs.rotate.forecast import NewImages, scheduled_runs, simulate
from ami_hygiene.jobs.rotate.inventory import read_checks, read_region
from ami_hygiene.jobs.rotate.policy import JOB, PENDING_CONSUMERS, PENDING_SHARING, plan_rotation
from ami_hygiene.jobs.rotate.schedule import ScheduleError
from ami_hygiene.jobs.rotate.settings import RotateJobSettings
from ami_hygiene.jobs.rotate.view import VIEW

# Guards the check loop: each round checks new images, so it ends anyway;
# this bounds it against a policy bug.
MAX_CHECK_ROUNDS = 50


class RotateRun(JobRun[RotateJobSettings, RunEvent]):
    """A sweep only: rotation answers no event."""

    job, view, writers, settings_model = JOB, VIEW, WRITERS, RotateJobSettings

    def run(
        self, frame: Frame[RotateJobSettings, RunEvent], regions: tuple[str, ...], should_stop: StopCheck
    ) -> Results:
        # One reader for the whole run: each consumer account is assumed once, and read
        # once per region, however many images and regions ask about it.
        consumers = ConsumerReader(frame.clients, frame.settings.consumer_role_name, frame.account)
        # What each region looked like before this run acted (with the checks read): the
        # forecast of the coming weeks starts from there.
        estates: dict[str, RegionEstate] = {}

        def read(region: str) -> RegionEstate:
            return read_region(frame.clients, region, frame.account)

        def plan(estate: RegionEstate, budget: int) -> Plan:
            # The policy spends the budget itself: its checks go to what the budget lets through.
            found, estates[estate.region] = checked_plan(
                estate, frame.settings, frame.now, budget, frame.clients, consumers
            )
            return found

        done = run_regions(regions, frame.settings.max_actions, read, plan, self.executor(frame, should_stop))
        if frame.settings.coming_up_days:
            frame.sections.append(
                _coming_up(frame, [estates[r] for r in regions if r in estates], should_stop)
            )
        calls = frame.clients.counter.calls
        frame.calls_by_account.update({frame.account: dict(calls), **consumers.calls_by_account()})
        return done


run_rotation = RotateRun()


def _coming_up(
    frame: Frame[RotateJobSettings, RunEvent], estates: list[RegionEstate], should_stop: StopCheck
) -> Section:
    """The next weeks of rotation, for the report: the forecast from the estates as read today.

    It makes no call: an image whose launch permissions were not read today is taken as
    unshared (`assumed_unshared`); each is still read before any real run acts on it. It stops
    early, and says so, when the run's time is running out.
    """
    settings = frame.settings

    def planner(estate: RegionEstate, now: datetime, budget: int) -> tuple[Plan, RegionEstate]:
        return plan_rotation(estate, settings, now, budget), estate

    try:
        runs = scheduled_runs(settings.schedule, frame.now, settings.coming_up_days)
    except ScheduleError as err:
        return not_forecast(f"the schedule cannot be simulated: {err}")
    forecast = simulate(
        [assumed_unshared(e) for e in estates],
        settings,
        runs,
        planner,
        days=settings.coming_up_days,
        schedule=settings.schedule,
        new_images=NewImages.CADENCE,
        should_stop=should_stop,
        notes=(UNSHARED_NOTE,),
        keep_first_plans=False,
    )
    cut = forecast.stopped_at
    return coming_up(forecast, cut_short=f"stopped at {cut:%Y-%m-%d}: the run's time ran out" if cut else "")


def plan_with_checks(
    estate: RegionEstate,
    settings: RotateJobSettings,
    now: datetime,
    budget: int,
    clients: Clients,
    consumers: ConsumerReader | None = None,
) -> Plan:
    """Plan, read the per-image checks the plan asks for, and plan again (`checked_plan`)."""
    return checked_plan(estate, settings, now, budget, clients, consumers)[0]


def checked_plan(
    estate: RegionEstate,
    settings: RotateJobSettings,
    now: datetime,
    budget: int,
    clients: Clients,
    consumers: ConsumerReader | None = None,
) -> tuple[Plan, RegionEstate]:
    """Plan, read the per-image checks the plan asks for, and plan again; the plan and the estate
    with what was read.

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
    return plan, estate
