"""What every job's Lambda entry point does the same way: refuse, publish, log, time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import ValidationError
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import Field

from ..observability import logger, record_rejected_run, record_run
from ..publisher import Publisher, Target, error_message
from ..report import Report

# Time kept back from the invocation's limit for the action in flight, the
# report and publishing it; past this point remaining actions are deferred.
STOP_MARGIN_MS = 60_000


class ScheduledEvent(EventBridgeModel):
    """What an EventBridge schedule rule sends."""

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


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
