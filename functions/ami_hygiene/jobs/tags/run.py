"""The tag job: read images (all, or those an event names), plan, apply, report.

A sweep reads every owned image of each region; an event reads only the
images it names, in its own region, and plans only for them. The run's
action budget (MaxActionsPerRun) covers what changes AWS (tag, propagate,
deprecate); notices are free. What is over budget is deferred to the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ami_hygiene.core.executor import Executor, RunContext, never_stop
from ami_hygiene.core.plan import Plan
from ami_hygiene.core.regions import report_of, run_regions, within_budget
from ami_hygiene.core.report import Report
from ami_hygiene.core.settings import Settings
from ami_hygiene.jobs.tags.actions import WRITERS
from ami_hygiene.jobs.tags.events import ImageEvent
from ami_hygiene.jobs.tags.inventory import TagEstate, read_all, read_named
from ami_hygiene.jobs.tags.policy import JOB, CreatorInfo, TagSettings, plan_tagging
from ami_hygiene.jobs.tags.view import VIEW


def run_tags(
    settings: Settings,
    clients: Any,
    now: datetime | None = None,
    should_stop: Callable[[], bool] = never_stop,
    event: ImageEvent | None = None,
) -> Report:
    now = now or datetime.now(UTC)
    started = datetime.now(UTC)
    regions = (event.region,) if event else settings.regions
    account = event.account if event else clients.account_id(regions[0])
    executor = Executor(RunContext(clients, JOB, now), settings.mode, WRITERS, should_stop)
    tag_settings = TagSettings(
        grace_hours=settings.tag_grace_hours,
        propagate_tags=settings.propagate_tags,
        escalation_days=settings.tag_escalation_days,
    )

    def plan(region: str, budget: int) -> Plan:
        read = (
            read_named(clients, region, account, event.image_ids)
            if event
            else read_all(clients, region, account)
        )
        creators = _creators(event) if event else {}
        planned = plan_tagging(
            read.estate, settings.required_tags, tag_settings, now, creators, read.snapshot_tags
        )
        planned = _for_event(planned, read, event) if event else _with_problems(planned, read)
        return within_budget(planned, budget)

    plans, errors = run_regions(regions, settings.max_actions, plan, executor)
    return report_of(
        VIEW, settings, clients, account=account, regions=regions, plans=plans, started=started, errors=errors
    )


def _creators(event: ImageEvent) -> dict[str, CreatorInfo]:
    info = CreatorInfo(
        principal_arn=event.principal_arn or "",
        event_name=event.event_name,
        source_image=event.source_image,
        source_region=event.source_region,
    )
    return dict.fromkeys(event.image_ids, info)


def _for_event(plan: Plan, read: TagEstate, event: ImageEvent) -> Plan:
    """Only the event's images (the estate also holds images sharing their snapshots)."""
    named = set(event.image_ids)
    decisions = tuple(d for d in plan.decisions if d.image_id in named)
    notes = [
        f"{image_id} no longer exists (deleted, deregistered or never created): nothing to do"
        for image_id in read.missing
    ]
    owners = {i.image_id: i.owner_id for i in read.estate.images}
    notes += [
        f"{image_id} is owned by account {owners[image_id]}, not this account: left alone"
        for image_id in event.image_ids
        if image_id in owners and owners[image_id] != event.account
    ]
    return replace(plan, decisions=decisions, errors=plan.errors + tuple(notes) + read.problems)


def _with_problems(plan: Plan, read: TagEstate) -> Plan:
    return replace(plan, errors=plan.errors + read.problems) if read.problems else plan
