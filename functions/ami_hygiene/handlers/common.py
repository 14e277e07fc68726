"""What every job's Lambda entry point does the same way: refuse, publish, log, time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import Field

from ..aws import Clients
from ..events import EventError
from ..observability import logger, record_ignored_event, record_rejected_run, record_run
from ..publisher import Publisher, Target, error_message
from ..report import Report
from ..settings import Settings, SettingsError

E = TypeVar("E")

# Time kept back from the invocation's limit for the action in flight, the
# report and publishing it; past this point remaining actions are deferred.
STOP_MARGIN_MS = 60_000


class ScheduledEvent(EventBridgeModel):
    """What an EventBridge schedule rule sends."""

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


@dataclass(frozen=True)
class Job(Generic[E]):
    """How one job's entry point reads its event and runs.

    `parse_event` turns a non-schedule event into the job's event record (or
    raises EventError); None means the job runs on its schedule only.
    `ignore` says why a parsed event needs nothing done (None: it does).
    `run(settings, clients, should_stop, event)` runs the job; event is None
    for a scheduled sweep.
    """

    name: str
    run: Callable[[Settings, Any, Callable[[], bool], E | None], Report]
    parse_event: Callable[[Any, str], E] | None = None
    ignore: Callable[[E], str | None] = lambda _event: None
    log_keys: Callable[[E], dict[str, Any]] = lambda _event: {}


def handle(
    job: Job[E], event: Any, context: Any, env: Mapping[str, str], clients: Any = None
) -> dict[str, Any]:
    """Parse, load settings, run, publish, measure; refuse (report, change nothing) on bad input."""
    clients = clients or Clients()
    region = env.get("AWS_REGION", "")
    account = account_of(context)
    try:
        target = Target.from_env(env)
    except SettingsError as err:
        return refuse(
            job.name, clients, Target(env.get("TOPIC_ARN", "")), account, region, "bad settings", str(err)
        )

    parsed: E | None = None
    scheduled = isinstance(event, dict) and event.get("source") == "aws.events"
    if scheduled or job.parse_event is None:
        try:
            schedule = parse(event=event, model=ScheduledEvent)
        except (ValidationError, InvalidModelTypeError) as err:
            detail = f'The {job.name} job runs on an EventBridge "Scheduled Event"'
            detail += "; it got something else. " if job.parse_event is None else " or its own events. "
            return refuse(job.name, clients, target, account, region, "unexpected event", detail + brief(err))
        logger.append_keys(schedule_event_id=schedule.id, schedule_time=schedule.time.isoformat())
    else:
        try:
            parsed = job.parse_event(event, account)
        except EventError as err:
            return refuse(job.name, clients, target, account, region, "event not acted on", str(err))
        logger.append_keys(**job.log_keys(parsed))
        why = job.ignore(parsed)
        if why:
            logger.info(f"event needs nothing done: {why}")
            record_ignored_event(job.name)
            return {"job": job.name, "status": "ignored", "detail": why, "messages": []}

    try:
        settings = Settings.load(env)
    except SettingsError as err:
        return refuse(job.name, clients, target, account, region, "bad settings", str(err))
    logger.info(f"{job.name} starting", extra={"settings": settings.as_dict(), "sweep": parsed is None})
    report = job.run(settings, clients, time_is_short(context), parsed)
    return finish(job.name, report, clients, target)


def refuse(
    job: str, clients: Any, target: Target, account: str, region: str, problem: str, detail: str
) -> dict[str, Any]:
    """Log, report to the topic, count; change nothing."""
    logger.error(f"run refused: {problem}", extra={"detail": detail})
    record_rejected_run(job)
    message_id = ""
    if target.topic_arn:
        message = error_message(job=job, account=account, region=region, problem=problem, detail=detail)
        message_id = Publisher(clients, target).publish(message).message_id
    return {"job": job, "status": "rejected", "error": problem, "detail": detail, "messages": [message_id]}


def finish(job: str, report: Report, clients: Any, target: Target) -> dict[str, Any]:
    """Record metrics, publish what is worth telling, log, and answer the invocation."""
    summary = report.summary()
    record_run(job, summary)
    published = Publisher(clients, target).publish_report(report) if target.topic_arn else []
    if not target.topic_arn:
        logger.warning("TOPIC_ARN is not set: the report is only logged")
    logger.info(
        f"{job} finished",
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
        "job": job,
        "status": "failed" if report.failed or report.all_errors else "completed",
        "mode": report.mode.value,
        "summary": summary,
        "messages": [p.message_id for p in published],
    }


def time_is_short(context: Any) -> Callable[[], bool]:
    def should_stop() -> bool:
        return bool(context.get_remaining_time_in_millis() < STOP_MARGIN_MS)

    return should_stop


def account_of(context: Any) -> str:
    # arn:aws:lambda:region:account:function:name
    parts = str(getattr(context, "invoked_function_arn", "")).split(":")
    return parts[4] if len(parts) > 4 else ""


def brief(err: Exception) -> str:
    """The first validation problems, one line, without the input's values."""
    if isinstance(err, ValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in err.errors()[:3]]
        return "Problems: " + "; ".join(problems) + "."
    return str(err).splitlines()[0]
