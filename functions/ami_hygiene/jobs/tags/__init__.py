"""The tags job: required tags, auto-tags, tags copied to snapshots, escalation."""

from __future__ import annotations

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.tags.actions import WRITERS
from ami_hygiene.jobs.tags.events import RULES, ImageEvent, parse_event
from ami_hygiene.jobs.tags.policy import JOB
from ami_hygiene.jobs.tags.run import run_tags
from ami_hygiene.jobs.tags.settings import TagsJobSettings
from ami_hygiene.jobs.tags.view import VIEW

SPEC: JobSpec[ImageEvent] = JobSpec(
    JOB,
    summary="required tags, auto-tags, snapshot tags, escalation",
    run=lambda settings, clients, stop, event: run_tags(settings, clients, should_stop=stop, event=event),
    parse_event=parse_event,
    log_keys=lambda e: {"event_name": e.event_name, "image_ids": list(e.image_ids)},
    events=RULES,
    settings=TagsJobSettings,
    writers=WRITERS,
    view=VIEW,
    schedule_parameter="TagSweepSchedule",
)
