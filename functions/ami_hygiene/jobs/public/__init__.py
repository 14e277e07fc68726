"""The public-sharing guard: revokes public and outside sharing of AMIs and snapshots."""

from __future__ import annotations

from ami_hygiene.core.job import JobSpec
from ami_hygiene.jobs.public.events import RULES, SharingEvent, parse_sharing_event
from ami_hygiene.jobs.public.run import run_public

SPEC: JobSpec[SharingEvent] = JobSpec(
    run_public,
    summary="revoke public and outside sharing of AMIs and snapshots",
    schedule_parameter="PublicScanSchedule",
    parse_event=parse_sharing_event,
    ignore=lambda e: (
        None
        if e.needs_guard
        else f"{e.event_name} opened nothing (removed: {', '.join(e.removed) or 'none'})"
    ),
    log_keys=lambda e: {"event_name": e.event_name, "resource_id": e.resource_id},
    events=RULES,
)
