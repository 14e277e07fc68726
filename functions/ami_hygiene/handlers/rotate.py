"""Lambda entry point of the rotate job: parse, load settings, run, publish, measure.

The EventBridge schedule invokes it with a "Scheduled Event". Anything else is
refused: logged, reported to the topic as an error, and nothing is read or
changed. Bad settings are refused the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from ..aws import Clients
from ..jobs.rotate import JOB, run_rotation
from ..observability import logger, metrics, record_rejected_run, record_run, tracer
from ..publisher import Publisher, Target, error_message
from ..settings import Settings, SettingsError

# Time kept back from the invocation's limit for the action in flight, the
# report and publishing it; past this point remaining actions are deferred.
STOP_MARGIN_MS = 60_000


class ScheduledEvent(EventBridgeModel):
    """What an EventBridge schedule rule sends."""

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    return rotate(event, context, os.environ)


def rotate(event: Any, context: Any, env: Mapping[str, str], clients: Any = None) -> dict[str, Any]:
    clients = clients or Clients()
    region = env.get("AWS_REGION", "")
    account = _account_of(context)
    try:
        target = Target.from_env(env)
    except SettingsError as err:
        return _refuse(clients, Target(env.get("TOPIC_ARN", "")), account, region, "bad settings", str(err))

    try:
        scheduled = parse(event=event, model=ScheduledEvent)
    except (ValidationError, InvalidModelTypeError) as err:
        return _refuse(
            clients,
            target,
            account,
            region,
            "unexpected event",
            f'The rotate job runs on an EventBridge "Scheduled Event"; it got something else. {_brief(err)}',
        )
    logger.append_keys(schedule_event_id=scheduled.id, schedule_time=scheduled.time.isoformat())

    try:
        settings = Settings.load(env)
    except SettingsError as err:
        return _refuse(clients, target, account, region, "bad settings", str(err))
    logger.info("rotation starting", extra={"settings": settings.as_dict()})

    report = run_rotation(settings, clients, should_stop=_time_is_short(context))
    summary = report.summary()
    record_run(JOB, summary)
    published = Publisher(clients, target).publish_report(report) if target.topic_arn else []
    if not target.topic_arn:
        logger.warning("TOPIC_ARN is not set: the report is only logged")
    logger.info(
        "rotation finished",
        extra={
            "summary": summary,
            "errors": list(report.all_errors),
            "published": [
                {
                    "region": p.region,
                    "severity": p.severity,
                    "message_id": p.message_id,
                    "stored_at": p.stored_at,
                }
                for p in published
            ],
        },
    )
    return {
        "job": JOB,
        "status": "failed" if report.failed or report.all_errors else "completed",
        "mode": report.mode.value,
        "summary": summary,
        "messages": [p.message_id for p in published],
    }


def _refuse(
    clients: Any, target: Target, account: str, region: str, problem: str, detail: str
) -> dict[str, Any]:
    """Log, report to the topic, count; change nothing."""
    logger.error(f"run refused: {problem}", extra={"detail": detail})
    record_rejected_run(JOB)
    message_id = ""
    if target.topic_arn:
        message = error_message(job=JOB, account=account, region=region, problem=problem, detail=detail)
        message_id = Publisher(clients, target).publish(message).message_id
    return {"job": JOB, "status": "rejected", "error": problem, "detail": detail, "messages": [message_id]}


def _time_is_short(context: Any) -> Callable[[], bool]:
    def should_stop() -> bool:
        return bool(context.get_remaining_time_in_millis() < STOP_MARGIN_MS)

    return should_stop


def _account_of(context: Any) -> str:
    # arn:aws:lambda:region:account:function:name
    parts = str(getattr(context, "invoked_function_arn", "")).split(":")
    return parts[4] if len(parts) > 4 else ""


def _brief(err: Exception) -> str:
    """The first validation problems, one line, without the input's values."""
    if isinstance(err, ValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in err.errors()[:3]]
        return "Problems: " + "; ".join(problems) + "."
    return str(err).splitlines()[0]
