"""Lambda entry point of the tag job: a sweep on schedule, one image on its event.

A "Scheduled Event" sweeps every region in Regions and publishes one digest
per region that has something wrong. An EC2 event (CloudTrail CreateImage,
CopyImage, RegisterImage, ImportImage, CreateTags, DeleteTags, or "EC2 AMI
State Change" to available) checks just the images it names, at once, and
publishes only when one of them breaks the tag policy: no e-mail for a
compliant image. An event that does not parse, is for another account or
names no image is refused: logged, reported, nothing read or changed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..aws import Clients
from ..events import EventError, ImageEvent, parse_event
from ..jobs.tags import run_tags
from ..observability import logger, metrics, tracer
from ..policies.tagging import JOB
from ..publisher import Target
from ..settings import Settings, SettingsError
from .common import ScheduledEvent, account_of, brief, finish, refuse, time_is_short


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return tags(event, context, os.environ)


def tags(event: Any, context: Any, env: Mapping[str, str], clients: Any = None) -> dict[str, Any]:
    clients = clients or Clients()
    region = env.get("AWS_REGION", "")
    account = account_of(context)
    try:
        target = Target.from_env(env)
    except SettingsError as err:
        return refuse(
            JOB, clients, Target(env.get("TOPIC_ARN", "")), account, region, "bad settings", str(err)
        )

    image_event: ImageEvent | None = None
    if isinstance(event, dict) and event.get("source") == "aws.events":
        try:
            parse(event=event, model=ScheduledEvent)
        except (ValidationError, InvalidModelTypeError) as err:
            return refuse(JOB, clients, target, account, region, "unexpected event", brief(err))
    else:
        try:
            image_event = parse_event(event, account)
        except EventError as err:
            return refuse(JOB, clients, target, account, region, "event not acted on", str(err))
        logger.append_keys(event_name=image_event.event_name, image_ids=list(image_event.image_ids))

    try:
        settings = Settings.load(env)
    except SettingsError as err:
        return refuse(JOB, clients, target, account, region, "bad settings", str(err))
    logger.info("tag check starting", extra={"settings": settings.as_dict(), "sweep": image_event is None})
    report = run_tags(settings, clients, should_stop=time_is_short(context), event=image_event)
    return finish(JOB, report, clients, target)
