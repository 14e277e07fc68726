"""The tag job: read images (all, or those an event names), plan, apply, report.

A sweep reads every owned image of each region; an event reads only the
images it names, in its own region, and plans only for them. The run's
action budget (MaxActionsPerRun) covers what changes AWS (tag, propagate,
deprecate); notices are free. What is over budget is deferred to the next run.
"""

from __future__ import annotations

from dataclasses import replace

from ami_hygiene.core.plan import Plan
from ami_hygiene.core.regions import Frame, JobRun
from ami_hygiene.jobs.tags.actions import WRITERS
from ami_hygiene.jobs.tags.events import ImageEvent
from ami_hygiene.jobs.tags.inventory import TagEstate, read_all, read_named
from ami_hygiene.jobs.tags.policy import JOB, CreatorInfo, TagSettings, plan_tagging
from ami_hygiene.jobs.tags.settings import TagsJobSettings
from ami_hygiene.jobs.tags.view import VIEW


class TagsRun(JobRun[TagsJobSettings, ImageEvent]):
    job, view, writers, settings_model = JOB, VIEW, WRITERS, TagsJobSettings

    def plan(self, frame: Frame[TagsJobSettings, ImageEvent], region: str) -> Plan:
        settings, event = frame.settings, frame.event
        tag_settings = TagSettings(
            grace_hours=settings.tag_grace_hours,
            propagate_tags=settings.propagate_tags,
            escalation_days=settings.tag_escalation_days,
        )
        if event:
            read = read_named(frame.clients, region, frame.account, event.image_ids)
        else:
            read = read_all(frame.clients, region, frame.account)
        creators = _creators(event) if event else {}
        planned = plan_tagging(
            read.estate, settings.required_tags, tag_settings, frame.now, creators, read.snapshot_tags
        )
        return _for_event(planned, read, event) if event else _with_problems(planned, read)


run_tags = TagsRun()


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
