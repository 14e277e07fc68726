"""Lambda entry point of the public-sharing guard: a sweep on schedule, one resource on its event.

A "Scheduled Event" sweeps every region in Regions. A CloudTrail event
(ModifyImageAttribute, ModifySnapshotAttribute, DisableImageBlockPublicAccess)
guards the one resource it names within the same invocation, and the message
says who made the change, from where, and what the guard did. An event that
opened nothing (a removal, another attribute) is logged and ends there. An
event that does not parse or is for another account is refused: logged,
reported, nothing read or changed.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ami_hygiene.core.observability import logger, metrics, tracer
from ami_hygiene.handlers.common import Job, handle
from ami_hygiene.jobs.public.events import SharingEvent, parse_sharing_event
from ami_hygiene.jobs.public.policy import JOB
from ami_hygiene.jobs.public.run import run_public

PUBLIC: Job[SharingEvent] = Job(
    JOB,
    run=lambda settings, clients, stop, event: run_public(settings, clients, should_stop=stop, event=event),
    parse_event=parse_sharing_event,
    ignore=lambda e: (
        None
        if e.needs_guard
        else f"{e.event_name} opened nothing (removed: {', '.join(e.removed) or 'none'})"
    ),
    log_keys=lambda e: {"event_name": e.event_name, "resource_id": e.resource_id},
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return handle(PUBLIC, event, context, os.environ)


def public(event: Any, context: Any, env: Any, clients: Any = None) -> dict[str, Any]:
    return handle(PUBLIC, event, context, env, clients)
