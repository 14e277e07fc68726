"""The public-sharing guard: read sharing, plan revocations, apply, report.

A sweep reads every owned image, its launch permissions and its snapshots'
create-volume permissions in each region. An event (someone shared an image
or snapshot, or turned image block public access off) reads the same pages
but per-resource permissions only for what it names, so the guard answers in
seconds; the decisions reported are those about that resource, plus the
region's block-public-access decision. Each carries who made the change.

Revocations get the run's action budget first (public, then foreign, then
block public access): exposure is the worst thing this job can leave behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ..executor import Applier, Executor, never_stop
from ..inventory import InventoryError
from ..plan import Action, Decision, Outcome, Plan
from ..policies.sharing import JOB, SharingDecision, plan_sharing
from ..remediation import apply_sharing_decision
from ..report import Report
from ..settings import Settings
from ..sharing_events import SharingEvent
from ..sharing_inventory import read_sharing

PRIORITY = {Action.REVOKE_PUBLIC: 0, Action.REVOKE_ACCOUNTS: 1, Action.BLOCK_PUBLIC_ACCESS: 2}
OVER_BUDGET = "deferred: over this run's MaxActionsPerRun; the next run continues"


def run_public(
    settings: Settings,
    clients: Any,
    now: datetime | None = None,
    should_stop: Callable[[], bool] = never_stop,
    event: SharingEvent | None = None,
) -> Report:
    now = now or datetime.now(UTC)
    started = datetime.now(UTC)
    regions = (event.region,) if event else settings.regions
    account = event.account if event else clients.account_id(regions[0])
    executor = Executor(
        clients, settings.mode, now, should_stop, job=JOB, appliers=_appliers(clients, account)
    )
    budget = settings.max_actions
    plans: list[Plan] = []
    errors: list[str] = []
    for region in regions:
        only = _named(event) if event else None
        try:
            read = read_sharing(clients, region, account, per_resource=True, only=only)
        except InventoryError as err:
            errors.append(f"{region}: {err}")
            continue
        plan = plan_sharing(read, settings.allowed_share_accounts, now)
        if event:
            plan = _for_event(plan, event, read.estate.images)
        plan = _within_budget(plan, budget)
        plan = executor.apply(plan)
        budget = max(0, budget - plan.budget_used())
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


def _appliers(clients: Any, account: str) -> dict[Action, Applier]:
    def apply(_ec2: Any, decision: Decision) -> Decision:
        if not isinstance(decision, SharingDecision):
            raise TypeError(f"the public job applies SharingDecisions, not {type(decision).__name__}")
        return apply_sharing_decision(clients, decision, account)

    return dict.fromkeys(PRIORITY, apply)


def _named(event: SharingEvent) -> list[str]:
    # Block public access concerns the account: no image or snapshot to read one by one.
    return [] if event.resource_type == "account" else [event.resource_id]


def _for_event(plan: Plan, event: SharingEvent, images: Any) -> Plan:
    """The decisions about what the event changed (an image: also its snapshots), and who did it."""
    wanted = {event.resource_id}
    if event.resource_type == "image":
        wanted |= {s.snapshot_id for i in images if i.image_id == event.resource_id for s in i.snapshots}
    who = _who(event)
    decisions = tuple(
        replace(d, reasons=(*d.reasons, who)) if d.image_id == event.resource_id else d
        for d in plan.decisions
        if d.image_id in wanted or (isinstance(d, SharingDecision) and d.resource_type == "account")
    )
    notes: tuple[str, ...] = ()
    if event.resource_type != "account" and not any(d.image_id == event.resource_id for d in decisions):
        notes = (f"{event.resource_id} ({event.event_name}) is not an image or snapshot of this account now",)
    return replace(plan, decisions=decisions, errors=plan.errors + notes)


def _who(event: SharingEvent) -> str:
    opened = ", ".join(event.added) or "nothing"
    by = event.principal_arn or "an unknown principal"
    ip = f" from {event.source_ip}" if event.source_ip else ""
    return f"{event.event_name} at {event.time:%Y-%m-%dT%H:%M:%SZ} by {by}{ip} added: {opened}"


def _within_budget(plan: Plan, budget: int) -> Plan:
    order = sorted(
        (i for i, d in enumerate(plan.decisions) if d.is_action),
        key=lambda i: PRIORITY.get(plan.decisions[i].action, 9),
    )
    deferred = set(order[budget:])
    decisions = tuple(
        d.with_outcome(Outcome.DEFERRED, reason=OVER_BUDGET) if i in deferred else d
        for i, d in enumerate(plan.decisions)
    )
    return replace(plan, decisions=decisions)
