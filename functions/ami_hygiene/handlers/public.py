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
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..aws import Clients
from ..events import EventError
from ..jobs.public import run_public
from ..observability import logger, metrics, tracer
from ..policies.sharing import JOB
from ..publisher import Target
from ..settings import Settings, SettingsError
from ..sharing_events import SharingEvent, parse_sharing_event
from .common import ScheduledEvent, account_of, brief, finish, refuse, time_is_short


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return public(event, context, os.environ)


def public(event: Any, context: Any, env: Mapping[str, str], clients: Any = None) -> dict[str, Any]:
    clients = clients or Clients()
    region = env.get("AWS_REGION", "")
    account = account_of(context)
    try:
        target = Target.from_env(env)
    except SettingsError as err:
        return refuse(
            JOB, clients, Target(env.get("TOPIC_ARN", "")), account, region, "bad settings", str(err)
        )

    sharing_event: SharingEvent | None = None
    if isinstance(event, dict) and event.get("source") == "aws.events":
        try:
            parse(event=event, model=ScheduledEvent)
        except (ValidationError, InvalidModelTypeError) as err:
            return refuse(JOB, clients, target, account, region, "unexpected event", brief(err))
    else:
        try:
            sharing_event = parse_sharing_event(event, account)
        except EventError as err:
            return refuse(JOB, clients, target, account, region, "event not acted on", str(err))
        logger.append_keys(event_name=sharing_event.event_name, resource_id=sharing_event.resource_id)
        if not sharing_event.needs_guard:
            logger.info(
                "the change opened nothing: no guard needed", extra={"removed": sharing_event.removed}
            )
            return {"job": JOB, "status": "ignored", "detail": "the change opened nothing", "messages": []}

    try:
        settings = Settings.load(env)
    except SettingsError as err:
        return refuse(JOB, clients, target, account, region, "bad settings", str(err))
    logger.info(
        "sharing guard starting", extra={"settings": settings.as_dict(), "sweep": sharing_event is None}
    )
    report = run_public(settings, clients, should_stop=time_is_short(context), event=sharing_event)
    return finish(JOB, report, clients, target)
