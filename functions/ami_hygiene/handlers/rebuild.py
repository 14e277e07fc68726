"""Lambda entry point of the patch-rebuild job: a sweep on schedule, a report when a build ends.

A "Scheduled Event" sweeps every region in Regions and starts the builds stale
families need (enforce mode). An "EC2 Image Builder Image State Change"
(aws.imagebuilder) or "EC2 Automation Execution Status-change Notification"
(aws.ssm, the AWS-UpdateLinuxAmi / AWS-UpdateWindowsAmi runbooks) event reports
how that build went, and tags an SSM build's new image with its family tags. A
build still under way is logged, not e-mailed. Any other event, or one that does
not parse or is for another account, is refused: logged, reported, nothing read
or changed.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ami_hygiene.core.observability import logger, metrics, tracer
from ami_hygiene.handlers.common import Job, handle
from ami_hygiene.jobs.rebuild.events import BuildEvent, parse_build_event
from ami_hygiene.jobs.rebuild.policy import JOB
from ami_hygiene.jobs.rebuild.run import run_rebuild

REBUILD: Job[BuildEvent] = Job(
    JOB,
    run=lambda settings, clients, stop, event: run_rebuild(settings, clients, should_stop=stop, event=event),
    parse_event=parse_build_event,
    log_keys=lambda e: {"build_id": e.build_id, "build_status": e.status},
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return handle(REBUILD, event, context, os.environ)


def rebuild(event: Any, context: Any, env: Any, clients: Any = None) -> dict[str, Any]:
    return handle(REBUILD, event, context, env, clients)
