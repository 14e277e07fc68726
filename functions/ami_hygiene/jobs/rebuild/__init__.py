"""The rebuild job: starts the patch pipeline of stale image families and reports how builds end."""

from __future__ import annotations

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.rebuild.events import RULES, BuildEvent, parse_build_event
from ami_hygiene.jobs.rebuild.run import run_rebuild

SPEC: JobSpec[BuildEvent] = JobSpec(
    run_rebuild,
    summary="start the patch pipeline of stale image families",
    schedule_parameter="RebuildSchedule",
    parse_event=parse_build_event,
    log_keys=lambda e: {"build_id": e.build_id, "build_status": e.status},
    events=RULES,
)
