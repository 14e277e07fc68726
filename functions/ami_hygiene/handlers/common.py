"""What every job's Lambda entry point does the same way: refuse, publish, log, time."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import Field

from ..aws import Clients
from ..coverage import allowed_images_warnings, realtime_warnings
from ..events import EventError
from ..lease import Held, LeaseError, Leases, expiry, holding
from ..observability import (
    logger,
    record_ignored_event,
    record_rejected_run,
    record_run,
    record_skipped_sweep,
)
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
        own = own_role_of(event, env.get("OWN_ROLE_ARNS", ""))
        if own:
            # Defence behind the rules' pattern: the job's own write must not start it again.
            mine = f"made by ami-hygiene itself ({own})"
            logger.info(f"event needs nothing done: {mine}")
            record_ignored_event(job.name)
            return {"job": job.name, "status": "ignored", "detail": mine, "messages": []}
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
    # Only a scheduled sweep takes the job's lease (lease.py); an event acts on one resource at once.
    leases = Leases.from_env(env, clients, region) if parsed is None else None
    now = datetime.now(UTC)
    holder = str(getattr(context, "aws_request_id", "") or uuid.uuid4())
    try:
        with holding(
            leases, job.name, holder, now, expiry(now, context.get_remaining_time_in_millis())
        ) as lease:
            if isinstance(lease, Held):
                return skip(job.name, lease)
            logger.info(
                f"{job.name} starting", extra={"settings": settings.as_dict(), "sweep": parsed is None}
            )
            report = job.run(settings, clients, time_is_short(context), parsed)
            if parsed is None:
                report = with_sweep_warnings(report, job, clients, env)
            return finish(job.name, report, clients, target)
    except LeaseError as err:
        detail = f"{err}. The sweep did not run: without its lease it could act alongside another sweep."
        return refuse(job.name, clients, target, account, region, "sweep lease unavailable", detail)


def with_sweep_warnings(report: Report, job: Job[Any], clients: Any, env: Mapping[str, str]) -> Report:
    """What the sweep could not cover: regions without real-time rules, images Allowed AMIs hides."""
    realtime = realtime_warnings(job.name, report.regions, env) if job.parse_event is not None else ()
    hidden = allowed_images_warnings(clients, report.regions)
    for warning in (*realtime, *hidden):
        logger.warning(warning)
    return replace(report, warnings=(*report.warnings, *realtime, *hidden))


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


def skip(job: str, held: Held) -> dict[str, Any]:
    """Another sweep of this job holds the lease: change nothing, publish nothing, log and count it."""
    until = held.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    detail = f"another {job} sweep ({held.holder}) holds the lease until {until}; this sweep changed nothing"
    logger.warning(f"sweep skipped: {detail}", extra={"lease_holder": held.holder, "lease_expires_at": until})
    record_skipped_sweep(job)
    return {
        "job": job,
        "status": "skipped",
        "detail": detail,
        "holder": held.holder,
        "expires_at": until,
        "messages": [],
    }


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


def own_role_of(event: Any, own_roles: str) -> str:
    """The role ARN of this stack's that made a CloudTrail event, or "".

    detail.userIdentity.sessionContext.sessionIssuer.arn is the role behind an
    AssumedRole identity (CloudTrail userIdentity element); a Lambda function
    calls as such a session of its execution role.
    """
    roles = {r.strip() for r in own_roles.split(",") if r.strip()}
    if not roles or not isinstance(event, dict):
        return ""
    node: Any = event.get("detail")
    for key in ("userIdentity", "sessionContext", "sessionIssuer", "arn"):
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, str) and node in roles else ""


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
