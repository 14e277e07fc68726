"""Lambda entry point of the tag job: a sweep on schedule, one image on its event.

A "Scheduled Event" sweeps every region in Regions and publishes one digest
per region that has something wrong. An EC2 event (CloudTrail CreateImage,
CopyImage, RegisterImage, CreateTags, DeleteTags, or "EC2 AMI
State Change" to available) checks just the images it names, at once, and
publishes only when one of them breaks the tag policy: no e-mail for a
compliant image. An event that does not parse, is for another account or
names no image is refused: logged, reported, nothing read or changed.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ami_hygiene.core.observability import logger, metrics, tracer
from ami_hygiene.handlers.common import Job, handle
from ami_hygiene.jobs.tags.events import ImageEvent, parse_event
from ami_hygiene.jobs.tags.policy import JOB
from ami_hygiene.jobs.tags.run import run_tags

TAGS: Job[ImageEvent] = Job(
    JOB,
    run=lambda settings, clients, stop, event: run_tags(settings, clients, should_stop=stop, event=event),
    parse_event=parse_event,
    log_keys=lambda e: {"event_name": e.event_name, "image_ids": list(e.image_ids)},
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return handle(TAGS, event, context, os.environ)


def tags(event: Any, context: Any, env: Any, clients: Any = None) -> dict[str, Any]:
    return handle(TAGS, event, context, env, clients)
