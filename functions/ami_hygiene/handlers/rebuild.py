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
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..aws import Clients
from ..build_events import BuildEvent, parse_build_event
from ..events import EventError
from ..jobs.rebuild import run_rebuild
from ..observability import logger, metrics, tracer
from ..policies.staleness import JOB
from ..publisher import Target
from ..settings import Settings, SettingsError
from .common import ScheduledEvent, account_of, brief, finish, refuse, time_is_short


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return rebuild(event, context, os.environ)


def rebuild(event: Any, context: Any, env: Mapping[str, str], clients: Any = None) -> dict[str, Any]:
    clients = clients or Clients()
    region = env.get("AWS_REGION", "")
    account = account_of(context)
    try:
        target = Target.from_env(env)
    except SettingsError as err:
        return refuse(
            JOB, clients, Target(env.get("TOPIC_ARN", "")), account, region, "bad settings", str(err)
        )

    build_event: BuildEvent | None = None
    if isinstance(event, dict) and event.get("source") == "aws.events":
        try:
            parse(event=event, model=ScheduledEvent)
        except (ValidationError, InvalidModelTypeError) as err:
            return refuse(JOB, clients, target, account, region, "unexpected event", brief(err))
    else:
        try:
            build_event = parse_build_event(event, account)
        except EventError as err:
            return refuse(JOB, clients, target, account, region, "event not acted on", str(err))
        logger.append_keys(build_id=build_event.build_id, build_status=build_event.status)

    try:
        settings = Settings.load(env)
    except SettingsError as err:
        return refuse(JOB, clients, target, account, region, "bad settings", str(err))
    logger.info("rebuild starting", extra={"settings": settings.as_dict(), "sweep": build_event is None})
    report = run_rebuild(settings, clients, should_stop=time_is_short(context), event=build_event)
    return finish(JOB, report, clients, target)
