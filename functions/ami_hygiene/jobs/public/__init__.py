"""The public-sharing guard: revokes public and outside sharing of AMIs and snapshots."""

from __future__ import annotations

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.public.actions import WRITERS
from ami_hygiene.jobs.public.events import RULES, SharingEvent, parse_sharing_event
from ami_hygiene.jobs.public.policy import JOB
from ami_hygiene.jobs.public.run import run_public
from ami_hygiene.jobs.public.settings import PublicJobSettings
from ami_hygiene.jobs.public.view import VIEW

SPEC: JobSpec[SharingEvent] = JobSpec(
    JOB,
    summary="revoke public and outside sharing of AMIs and snapshots",
    run=lambda settings, clients, stop, event: run_public(settings, clients, should_stop=stop, event=event),
    parse_event=parse_sharing_event,
    ignore=lambda e: (
        None
        if e.needs_guard
        else f"{e.event_name} opened nothing (removed: {', '.join(e.removed) or 'none'})"
    ),
    log_keys=lambda e: {"event_name": e.event_name, "resource_id": e.resource_id},
    events=RULES,
    settings=PublicJobSettings,
    writers=WRITERS,
    view=VIEW,
    schedule_parameter="PublicScanSchedule",
)
