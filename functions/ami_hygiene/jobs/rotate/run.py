"""The rotate job: read, plan, check what is about to change, apply, report."""

from __future__ import annotations

from datetime import datetime

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.estate import RegionEstate
from ami_hygiene.core.plan import Action, Outcome, Plan
from ami_hygiene.core.regions import Frame, JobRun, Results, RunEvent, StopCheck, run_regions
from ami_hygiene.jobs.rotate.actions import WRITERS
from ami_hygiene.jobs.rotate.consumers import ConsumerReader
from ami_hygiene.jobs.rotate.inventory import read_checks, read_region
from ami_hygiene.jobs.rotate.policy import JOB, PENDING_CONSUMERS, PENDING_SHARING, plan_rotation
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

        def read(region: str) -> RegionEstate:
            return read_region(frame.clients, region, frame.account)

        def plan(estate: RegionEstate, budget: int) -> Plan:
            # The policy spends the budget itself: its checks go to what the budget lets through.
            return plan_with_checks(estate, frame.settings, frame.now, budget, frame.clients, consumers)

        done = run_regions(regions, frame.settings.max_actions, read, plan, self.executor(frame, should_stop))
        calls = frame.clients.counter.calls
        frame.calls_by_account.update({frame.account: dict(calls), **consumers.calls_by_account()})
        return done


run_rotation = RotateRun()


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
