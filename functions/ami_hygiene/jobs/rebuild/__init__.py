"""The rebuild job: starts the patch pipeline of stale image families and reports how builds end."""

from __future__ import annotations

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.rebuild.actions import WRITERS
from ami_hygiene.jobs.rebuild.events import RULES, BuildEvent, parse_build_event
from ami_hygiene.jobs.rebuild.model import JOB
from ami_hygiene.jobs.rebuild.run import run_rebuild
from ami_hygiene.jobs.rebuild.settings import RebuildJobSettings
from ami_hygiene.jobs.rebuild.view import VIEW

SPEC: JobSpec[BuildEvent] = JobSpec(
    JOB,
    summary="start the patch pipeline of stale image families",
    run=lambda settings, clients, stop, event: run_rebuild(settings, clients, should_stop=stop, event=event),
    parse_event=parse_build_event,
    log_keys=lambda e: {"build_id": e.build_id, "build_status": e.status},
    events=RULES,
    settings=RebuildJobSettings,
    writers=WRITERS,
    view=VIEW,
    schedule_parameter="RebuildSchedule",
)
