"""Lambda entry point of the rotate job: parse, load settings, run, publish, measure.

The EventBridge schedule invokes it with a "Scheduled Event". Anything else is
refused: logged, reported to the topic as an error, and nothing is read or
changed. Bad settings are refused the same way.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ami_hygiene.core.observability import logger, metrics, tracer
from ami_hygiene.handlers.common import Job, handle
from ami_hygiene.jobs.rotate.run import JOB, run_rotation

ROTATE: Job[None] = Job(
    JOB, run=lambda settings, clients, stop, _event: run_rotation(settings, clients, should_stop=stop)
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return handle(ROTATE, event, context, os.environ)


def rotate(event: Any, context: Any, env: Any, clients: Any = None) -> dict[str, Any]:
    return handle(ROTATE, event, context, env, clients)
