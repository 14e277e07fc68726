"""The tags job: required tags, auto-tags, tags copied to snapshots, escalation."""

from __future__ import annotations

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.tags.events import RULES, ImageEvent, parse_event
from ami_hygiene.jobs.tags.run import run_tags

SPEC: JobSpec[ImageEvent] = JobSpec(
    run_tags,
    summary="required tags, auto-tags, snapshot tags, escalation",
    schedule_parameter="TagSweepSchedule",
    parse_event=parse_event,
    log_keys=lambda e: {"event_name": e.event_name, "image_ids": list(e.image_ids)},
    events=RULES,
)
