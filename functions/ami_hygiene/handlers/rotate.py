"""Lambda entry point of the rotate job: parse, load settings, run, publish, measure.

The EventBridge schedule invokes it with a "Scheduled Event". Anything else is
refused: logged, reported to the topic as an error, and nothing is read or
changed. Bad settings are refused the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..aws import Clients
from ..jobs.rotate import JOB, run_rotation
from ..observability import logger, metrics, tracer
from ..publisher import Target
from ..settings import Settings, SettingsError
from .common import ScheduledEvent, account_of, brief, finish, refuse, time_is_short


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return rotate(event, context, os.environ)


def rotate(event: Any, context: Any, env: Mapping[str, str], clients: Any = None) -> dict[str, Any]:
    clients = clients or Clients()
    region = env.get("AWS_REGION", "")
    account = account_of(context)
    try:
        target = Target.from_env(env)
    except SettingsError as err:
        return refuse(
            JOB, clients, Target(env.get("TOPIC_ARN", "")), account, region, "bad settings", str(err)
        )

    try:
        scheduled = parse(event=event, model=ScheduledEvent)
    except (ValidationError, InvalidModelTypeError) as err:
        return refuse(
            JOB,
            clients,
            target,
            account,
            region,
            "unexpected event",
            f'The rotate job runs on an EventBridge "Scheduled Event"; it got something else. {brief(err)}',
        )
    logger.append_keys(schedule_event_id=scheduled.id, schedule_time=scheduled.time.isoformat())

    try:
        settings = Settings.load(env)
    except SettingsError as err:
        return refuse(JOB, clients, target, account, region, "bad settings", str(err))
    logger.info("rotation starting", extra={"settings": settings.as_dict()})
    report = run_rotation(settings, clients, should_stop=time_is_short(context))
    return finish(JOB, report, clients, target)
