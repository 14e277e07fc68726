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

from ..events import ImageEvent
from ..executor import Executor, never_stop
from ..inventory import InventoryError
from ..plan import Action, Decision, Outcome, Plan
from ..policies.tagging import JOB, CreatorInfo, TagSettings, plan_tagging
from ..report import Report
from ..settings import Settings
from ..tag_actions import tag_appliers
from ..tag_inventory import TagEstate, read_all, read_named

FREE_ACTIONS = frozenset({Action.KEEP, Action.NOTIFY})


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
    executor = Executor(clients, settings.mode, now, should_stop, job=JOB, appliers=tag_appliers())
    tag_settings = TagSettings(
        grace_hours=settings.tag_grace_hours,
        propagate_tags=settings.propagate_tags,
        escalation_days=settings.tag_escalation_days,
    )
    budget = settings.max_actions
    plans: list[Plan] = []
    errors: list[str] = []
    for region in regions:
        try:
            read = (
                read_named(clients, region, account, event.image_ids)
                if event
                else read_all(clients, region, account)
            )
        except InventoryError as err:
            errors.append(f"{region}: {err}")
            continue
        creators = _creators(event) if event else {}
        plan = plan_tagging(
            read.estate, settings.required_tags, tag_settings, now, creators, read.snapshot_tags
        )
        plan = _for_event(plan, read, event) if event else _with_problems(plan, read)
        plan = _within_budget(plan, budget)
        plan = executor.apply(plan)
        budget = max(
            0, budget - sum(1 for d in plan.decisions if _costs(d) and d.outcome is not Outcome.DEFERRED)
        )
        plans.append(plan)
    return Report(
        job=JOB,
        mode=settings.mode,
        account=account,
        regions=regions,
        plans=tuple(plans),
        settings=settings,
        started=started,
        finished=datetime.now(UTC),
        api_calls=dict(clients.counter.calls),
        errors=tuple(errors),
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


def _costs(decision: Decision) -> bool:
    return decision.action not in FREE_ACTIONS


def _within_budget(plan: Plan, budget: int) -> Plan:
    out: list[Decision] = []
    for d in plan.decisions:
        if _costs(d):
            if budget <= 0:
                d = d.with_outcome(
                    Outcome.DEFERRED,
                    reason="deferred: over this run's MaxActionsPerRun; the next run continues",
                )
            budget -= 1
        out.append(d)
    return replace(plan, decisions=tuple(out))
