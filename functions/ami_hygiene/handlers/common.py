"""What every job's Lambda entry point does the same way: refuse, publish, log, time.

In the organization hub (MEMBER_ROLE_NAME set: organization/hub.py) a job's function also
takes the state machine's Target Sweeps (organization/sweep.py) and job events from member
accounts, and acts in the member account by its member role.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidModelTypeError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.coverage import allowed_images_warnings, realtime_warnings
from ami_hygiene.core.errors import is_transient
from ami_hygiene.core.events import (
    Envelope,
    EventError,
    check_account,
    describe,
    region_refusal,
    require_object,
)
from ami_hygiene.core.job import JobSpec
from ami_hygiene.core.lease import Held, LeaseError, Leases, expiry, holding
from ami_hygiene.core.members import AccountUnreachable
from ami_hygiene.core.observability import (
    logger,
    metrics,
    record_ignored_event,
    record_rejected_run,
    record_run,
    record_skipped_sweep,
    record_unhandled_error,
    tracer,
)
from ami_hygiene.core.publisher import Publisher, Target, error_message
from ami_hygiene.core.report import Report
from ami_hygiene.core.settings import SettingsError
from ami_hygiene.organization.events import TargetSweep, is_target_sweep
from ami_hygiene.organization.events import parse as parse_input
from ami_hygiene.organization.hub import MEMBER_ROLE_NAME, Hub
from ami_hygiene.organization.sweep import Sweep, sweep_target

E = TypeVar("E")

# Time kept back from the invocation's limit for the action in flight, the
# report and publishing it; past this point remaining actions are deferred.
STOP_MARGIN_MS = 60_000


class ScheduledEvent(Envelope):
    """What an EventBridge schedule rule sends; every field constrained (core/events.py Envelope).

    Its `account` must be the invocation's (checked in `handle`); its `region`,
    the rule's, a well-formed region name.
    """

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    detail: dict[str, Any]


def entry_point(job: JobSpec[Any]) -> Callable[[Any, LambdaContext], dict[str, Any]]:
    """The job's Lambda handler: Powertools' context logging, tracing and metrics around `handle`."""

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
        return handle(job, event, context, os.environ)

    return handler


def handle(
    job: JobSpec[E], event: Any, context: Any, env: Mapping[str, str], clients: Clients | None = None
) -> dict[str, Any]:
    """Parse, load settings, run, publish, measure; refuse (report, change nothing) on bad input.

    The last line of defence: whatever still escapes is logged with the event's
    id, counted (UnhandledErrors), reported once as an `error` message, and the
    invocation answers "failed" instead of raising. A retry would fail the same
    way, and Lambda would retry it twice and dead-letter it with no word to
    anyone. Transient AWS trouble (throttling, timeouts, 5xx: errors.is_transient)
    still raises, so Lambda's retries get their chance.
    """
    clients = clients or Clients()
    try:
        return _handle(job, event, context, env, clients)
    except Exception as err:
        if is_transient(err):
            raise
        return unhandled(job.name, err, event, context, env, clients)


def unhandled(
    job: str, err: Exception, event: Any, context: Any, env: Mapping[str, str], clients: Clients
) -> dict[str, Any]:
    """Log, count and report once what escaped a job; never raises on it."""
    event_id = str(event.get("id", ""))[:80] if isinstance(event, dict) else ""
    problem = "unexpected failure"
    detail = (
        f"{type(err).__name__}: {str(err)[:500]} (event {event_id or 'without an id'}). "
        "This is a bug in ami-hygiene, not in the input; what the run did before it is in the log. "
        "The event is not retried: it would fail the same way."
    )
    logger.exception(f"{job}: {problem}", extra={"event_id": event_id})
    record_unhandled_error(job)
    message_id = ""
    topic = env.get("TOPIC_ARN", "").strip()
    if topic:
        message = error_message(
            job=job,
            account=account_of(context),
            region=env.get("AWS_REGION", ""),
            problem=problem,
            detail=detail,
        )
        try:
            message_id = Publisher(clients, Target(topic)).publish(message).message_id
        except Exception as publish_err:
            if is_transient(publish_err):
                raise  # nobody was told: let Lambda try again
            logger.exception(f"{job}: the report of the failure could not be published")
    return {"job": job, "status": "failed", "error": problem, "detail": detail, "messages": [message_id]}


def _handle(
    job: JobSpec[E], event: Any, context: Any, env: Mapping[str, str], clients: Clients
) -> dict[str, Any]:
    region = env.get("AWS_REGION", "")
    account = account_of(context)
    try:
        target = Target.from_env(env)
    except SettingsError as err:
        return refuse(
            job.name, clients, Target(env.get("TOPIC_ARN", "")), account, region, "bad settings", str(err)
        )

    parsed: E | None = None
    try:
        # Powertools' parse() would also decode a JSON *string*, which no rule sends.
        event = require_object(event)
    except EventError as err:
        problem = "unexpected event" if job.parse_event is None else "event not acted on"
        return refuse(job.name, clients, target, account, region, problem, str(err))
    try:
        hub = Hub.from_env(env)
    except SettingsError as err:
        return refuse(job.name, clients, target, account, region, "bad settings", str(err))
    if is_target_sweep(event):
        return target_sweep(job, event, context, env, clients, target, hub)
    scheduled = event.get("source") == "aws.events"
    if scheduled and hub is not None:
        detail = (
            f"In the organization hub ({MEMBER_ROLE_NAME} is set) the {job.name} job sweeps on the hub's "
            'state machine, one "Target Sweep" per account and region; a Scheduled Event is not acted on.'
        )
        return refuse(job.name, clients, target, account, region, "event not acted on", detail)
    if scheduled or job.parse_event is None:
        try:
            schedule = parse(event=event, model=ScheduledEvent)
        except (ValidationError, InvalidModelTypeError) as err:
            detail = f'The {job.name} job runs on an EventBridge "Scheduled Event"'
            detail += "; it got something else. " if job.parse_event is None else " or its own events. "
            return refuse(job.name, clients, target, account, region, "unexpected event", detail + brief(err))
        logger.append_keys(schedule_event_id=schedule.id, schedule_time=schedule.time.isoformat())
        try:
            check_account(schedule.account, account)
        except EventError as err:
            return refuse(job.name, clients, target, account, region, "event not acted on", str(err))
    else:
        if hub is not None:
            # A member account's event, from the hub bus: acted on in that account, unless excluded.
            try:
                account = hub.event_account(event)
            except EventError as err:
                return refuse(job.name, clients, target, account, region, "event not acted on", str(err))
        own = own_role_of(event, env.get("OWN_ROLE_ARNS", ""), hub)
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
        settings = job.settings.load(env)
    except SettingsError as err:
        return refuse(job.name, clients, target, account, region, "bad settings", str(err))
    # A job event acts in its own region (its `.region`), which must be one of the run's Regions.
    outside = region_refusal(parsed, settings.regions) if parsed is not None else None
    if outside:
        return refuse(job.name, clients, target, account, region, "event not acted on", outside)
    run_clients = clients
    if hub is not None and parsed is not None:
        try:
            run_clients = member_clients(hub, clients, account)
        except AccountUnreachable as err:
            return refuse(job.name, clients, target, account, region, "event not acted on", str(err))
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
            report = job.run(settings, run_clients, time_is_short(context), parsed)
            if parsed is None:
                report = with_sweep_warnings(report, job, clients, env)
            return finish(job.name, report, clients, target)
    except LeaseError as err:
        detail = f"{err}. The sweep did not run: without its lease it could act alongside another sweep."
        return refuse(job.name, clients, target, account, region, "sweep lease unavailable", detail)


def target_sweep(
    job: JobSpec[Any],
    event: dict[str, Any],
    context: Any,
    env: Mapping[str, str],
    clients: Clients,
    target: Target,
    hub: Hub | None,
) -> dict[str, Any]:
    """One account and region of the hub's sweep (organization/sweep.py), once its input is checked.

    Refused (reported, nothing read or changed, nothing written): outside hub mode, a
    malformed event or one for another job, an excluded account, no REPORT_BUCKET or
    another bucket than it, a region outside Regions, bad settings.
    """
    account, region = account_of(context), env.get("AWS_REGION", "")
    if hub is None:
        detail = (
            'A "Target Sweep" is the organization hub\'s: this function is not in hub mode '
            f"({MEMBER_ROLE_NAME} is not set), so it acts in its own account only, on its own schedule."
        )
        return refuse(job.name, clients, target, account, region, "event not acted on", detail)
    try:
        request = parse_input(TargetSweep, event, (job.name,))
        hub.check(request.account)
    except EventError as err:
        return refuse(job.name, clients, target, account, region, "event not acted on", str(err))
    if not target.bucket:
        detail = "REPORT_BUCKET is not set: a Target Sweep's report and result go to the hub's report bucket"
        return refuse(job.name, clients, target, account, region, "bad settings", detail)
    if request.bucket != target.bucket:
        detail = f"bucket {request.bucket!r} is not this hub's report bucket ({target.bucket})"
        return refuse(job.name, clients, target, account, region, "event not acted on", detail)
    logger.append_keys(target_account=request.account, target_region=request.region, run=request.run)
    try:
        settings = job.settings.load(env)
    except SettingsError as err:
        return refuse(job.name, clients, target, account, region, "bad settings", str(err))
    outside = region_refusal(request, settings.regions)
    if outside:
        return refuse(job.name, clients, target, account, region, "event not acted on", outside)
    settings = dataclasses.replace(settings, regions=(request.region,))
    now = datetime.now(UTC)
    sweep = Sweep(
        hub=hub,
        clients=clients,
        target=target,
        leases=Leases.from_env(env, clients, hub.region),
        holder=str(getattr(context, "aws_request_id", "") or uuid.uuid4()),
        now=now,
        expires_at=expiry(now, context.get_remaining_time_in_millis()),
    )

    def run(member: Clients) -> Report:
        logger.info(f"{job.name} starting", extra={"settings": settings.as_dict(), "sweep": True})
        report = job.run(settings, member, time_is_short(context), None)
        return with_sweep_warnings(report, job, member, env)

    return sweep_target(job.name, request, sweep, run)


def member_clients(hub: Hub, clients: Clients, account: str) -> Clients:
    """The member account's Clients; transient trouble assuming its role raises as the AWS error itself."""
    try:
        return hub.clients_for(clients, account)
    except AccountUnreachable as err:
        if err.transient and isinstance(err.__cause__, Exception):
            raise err.__cause__ from None
        raise


def with_sweep_warnings(
    report: Report, job: JobSpec[Any], clients: Clients, env: Mapping[str, str]
) -> Report:
    """What the sweep could not cover: regions without real-time rules, images Allowed AMIs hides."""
    realtime = realtime_warnings(job.name, report.regions, env) if job.parse_event is not None else ()
    hidden = allowed_images_warnings(clients, report.regions)
    for warning in (*realtime, *hidden):
        logger.warning(warning)
    return report.with_warnings((*realtime, *hidden), clients.counter.calls)


def refuse(
    job: str, clients: Clients, target: Target, account: str, region: str, problem: str, detail: str
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


def finish(job: str, report: Report, clients: Clients, target: Target) -> dict[str, Any]:
    """Record metrics, publish what is worth telling, log, and answer the invocation."""
    summary = report.summary()
    record_run(job, summary, report.view.metrics)
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


def own_role_of(event: Any, own_roles: str, hub: Hub | None = None) -> str:
    """The role ARN of this stack's that made a CloudTrail event, or "".

    detail.userIdentity.sessionContext.sessionIssuer.arn is the role behind an
    AssumedRole identity (CloudTrail userIdentity element); a Lambda function
    calls as such a session of its execution role. In the hub, the jobs write in a
    member account as its member role: arn:<partition>:iam::<event account>:role/<MEMBER_ROLE_NAME>.
    """
    roles = {r.strip() for r in own_roles.split(",") if r.strip()}
    if (not roles and hub is None) or not isinstance(event, dict):
        return ""
    node: Any = event.get("detail")
    for key in ("userIdentity", "sessionContext", "sessionIssuer", "arn"):
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, str):
        return ""
    if node in roles:
        return node
    account = event.get("account")
    return node if hub is not None and isinstance(account, str) and hub.is_member_role(node, account) else ""


def account_of(context: Any) -> str:
    # arn:aws:lambda:region:account:function:name
    parts = str(getattr(context, "invoked_function_arn", "")).split(":")
    return parts[4] if len(parts) > 4 else ""


def brief(err: Exception) -> str:
    """The first validation problems, one line: each names its field and shows at most 80 characters of it."""
    if isinstance(err, ValidationError):
        return f"Problems: {describe(err)}."
    return (str(err).splitlines() or [type(err).__name__])[0][:200]
