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

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ami_hygiene.core.plan import Action, Decision, Plan
from ami_hygiene.core.regions import Frame, JobRun
from ami_hygiene.jobs.public.actions import WRITERS
from ami_hygiene.jobs.public.events import SharingEvent
from ami_hygiene.jobs.public.inventory import read_sharing
from ami_hygiene.jobs.public.model import SharingEstate
from ami_hygiene.jobs.public.policy import JOB, SharingDecision, plan_sharing
from ami_hygiene.jobs.public.settings import PublicJobSettings
from ami_hygiene.jobs.public.view import VIEW

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PRIORITY = {Action.REVOKE_PUBLIC: 0, Action.REVOKE_ACCOUNTS: 1, Action.BLOCK_PUBLIC_ACCESS: 2}


class PublicRun(JobRun[PublicJobSettings, SharingEvent]):
    job, view, writers, settings_model = JOB, VIEW, WRITERS, PublicJobSettings

    def plan(self, frame: Frame[PublicJobSettings, SharingEvent], region: str) -> Plan:
        settings, event = frame.settings, frame.event
        if event:
            read = read_sharing(frame.clients, region, frame.account, only=_named(event))
        else:
            day = (frame.now - EPOCH).days
            read = read_sharing(
                frame.clients, region, frame.account, limit=settings.sharing_checks_per_run, day=day
            )
        planned = plan_sharing(read, settings.allowed_share_accounts, frame.now)
        return _for_event(planned, event, read.estate.images) if event else _coverage(planned, read)

    def rank(self, decision: Decision) -> int:
        return PRIORITY.get(decision.action, len(PRIORITY))


run_public = PublicRun()


def _coverage(plan: Plan, read: SharingEstate) -> Plan:
    """Says, on the region's decision, how much of the estate had its permissions read."""
    owned = [i for i in read.estate.images if i.owner_id == read.account_id]
    checked = len(read.estate.sharing)
    if checked >= len(owned):
        return plan
    limit = max(1, checked)
    days = -(-len(owned) // limit)
    note = (
        f"account shares read for {checked} of {len(owned)} images this run (a slice that moves on daily: "
        f"every image within {days} days); public images and snapshots were checked for all"
    )
    return replace(
        plan,
        decisions=tuple(
            replace(d, reasons=(*d.reasons, note))
            if isinstance(d, SharingDecision) and d.resource_type == "account"
            else d
            for d in plan.decisions
        ),
    )


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
        notes = (
            f"{event.resource_id} ({event.event_name}) is not an image of this account, "
            "nor a snapshot behind one: nothing to guard",
        )
    return replace(plan, decisions=decisions, errors=plan.errors + notes)


def _who(event: SharingEvent) -> str:
    opened = ", ".join(event.added) or "nothing"
    by = event.principal_arn or "an unknown principal"
    ip = f" from {event.source_ip}" if event.source_ip else ""
    return f"{event.event_name} at {event.time:%Y-%m-%dT%H:%M:%SZ} by {by}{ip} added: {opened}"
