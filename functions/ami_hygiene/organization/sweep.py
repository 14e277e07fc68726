"""One target of the hub's sweep: a job in one member account and one region.

What the job's function does with a Target Sweep (organization/events.py), once the
handler has checked it (hub mode, the event, the account not excluded, the region in
Regions, the job's settings):

1. take the lease named after the job, the account and the region (core/lease.py), so
   targets run side by side but the same target never twice at once;
2. assume the member role (core/members.py); an account whose role cannot be assumed is
   "unreachable", with the AWS error, and nothing more is done;
3. run the job as a sweep of that region with the member's clients;
4. store the whole report (`Report.to_dict()`, which names the member account) at
   ``<prefix>reports/<account>-<region>.json``;
5. publish, on its own, each message of severity "critical" (a public image: a person must
   act at once); everything else waits for the digest;
6. store the target's result (core/fleet.py TargetResult) at
   ``<prefix>results/<account>-<region>.json`` and answer it.

Transient AWS trouble raises, so the state machine's retries get their chance; the
state's Catch records a "failed" result when they are spent. Anything else that stops the
target is its "failed" result, with the error, and does not raise: one target never fails
the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error, is_transient
from ami_hygiene.core.fleet import TargetResult
from ami_hygiene.core.lease import Held, LeaseError, Leases, holding
from ami_hygiene.core.members import AccountUnreachable
from ami_hygiene.core.observability import logger, record_run, record_skipped_sweep, record_unhandled_error
from ami_hygiene.core.publisher import Publisher, Severity, Target, messages_for
from ami_hygiene.core.report import Report
from ami_hygiene.organization.events import TargetSweep
from ami_hygiene.organization.hub import Hub


def lease_name(job: str, account: str, region: str) -> str:
    """The lease of one target: job, account and region (the lease table's key is one string)."""
    return f"{job}:{account}:{region}"


@dataclass(frozen=True)
class Sweep:
    """What a target's run needs beyond the event: the hub, its clients, lease and topic."""

    hub: Hub
    clients: Clients  # the hub's own: STS, the lease table, S3 and SNS
    target: Target  # the topic (and bucket) reports go to
    leases: Leases | None
    holder: str
    now: datetime
    expires_at: datetime


def sweep_target(
    job: str, request: TargetSweep, sweep: Sweep, run: Callable[[Clients], Report]
) -> dict[str, Any]:
    """Sweep one target with `run(member_clients)` (the job's sweep of its region): its TargetResult dict."""
    account, region = request.account, request.region
    name = lease_name(job, account, region)
    try:
        with holding(sweep.leases, name, sweep.holder, sweep.now, sweep.expires_at) as lease:
            if isinstance(lease, Held):
                until = lease.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                why = f"not swept: another {job} sweep of it ({lease.holder}) holds its lease until {until}"
                logger.warning(why)
                record_skipped_sweep(job)
                return _store(sweep, request, TargetResult.failed(account, region, why)).to_dict()
            return _sweep(job, request, sweep, run).to_dict()
    except LeaseError as err:
        if isinstance(err.__cause__, Exception) and is_transient(err.__cause__):
            raise err.__cause__ from None  # as the AWS error itself: the handler lets it through
        why = f"not swept: {err}"
        logger.error(why)
        return _store(sweep, request, TargetResult.failed(account, region, why)).to_dict()


def _sweep(job: str, request: TargetSweep, sweep: Sweep, run: Callable[[Clients], Report]) -> TargetResult:
    account, region = request.account, request.region
    try:
        member = sweep.hub.clients_for(sweep.clients, account)
    except AccountUnreachable as err:
        if err.transient and isinstance(err.__cause__, Exception):
            raise err.__cause__ from None  # as the AWS error itself: the handler lets it through
        logger.error(f"{job}: {err}", extra={"account": account, "role_arn": err.role_arn})
        return _store(sweep, request, TargetResult.unreachable(account, region, str(err)))
    try:
        report = run(member)
    except Exception as err:
        if is_transient(err):
            raise
        logger.exception(f"{job}: the sweep of {account} {region} failed")
        record_unhandled_error(job)
        return _store(sweep, request, TargetResult.failed(account, region, describe_error(err)))

    location = _put(sweep, request.bucket, request.report_key, {**report.to_dict(), "account": account})
    record_run(job, report.summary(), report.view.metrics)
    result = TargetResult.from_report(report, account=account, region=region, location=location)
    unsent = _publish_critical(report, sweep)
    if unsent:
        result = replace(result, errors=(*result.errors, unsent))
    logger.info(
        f"{job} swept {account} {region}",
        extra={"summary": report.summary(), "errors": list(report.all_errors), "report": location},
    )
    return _store(sweep, request, result)


def _publish_critical(report: Report, sweep: Sweep) -> str:
    """Publish each critical message on its own; what could not be sent, as an error line ("" if none)."""
    critical = [m for m in messages_for(report) if m.attributes.get("severity") == Severity.CRITICAL.value]
    if not critical:
        return ""
    if not sweep.target.topic_arn:
        logger.warning("TOPIC_ARN is not set: critical findings are only in the report")
        return ""
    publisher = Publisher(sweep.clients, sweep.target)
    for message in critical:
        try:
            published = publisher.publish(message)
        except (ClientError, BotoCoreError) as err:
            # The finding is in the stored report and the digest; a retry would act again for nothing.
            logger.exception("a critical finding could not be published on its own")
            return f"critical finding not published on its own: {describe_error(err)}"
        logger.info("critical finding published", extra={"message_id": published.message_id})
    return ""


def _store(sweep: Sweep, request: TargetSweep, result: TargetResult) -> TargetResult:
    _put(sweep, request.bucket, request.result_key, result.to_dict())
    return result


def _put(sweep: Sweep, bucket: str, key: str, document: dict[str, Any]) -> str:
    """Write `document` as JSON to s3://bucket/key in the hub's region: its s3:// URI."""
    sweep.clients.client("s3", sweep.hub.region).put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, indent=1, default=str).encode(),
        ContentType="application/json",
    )
    return f"s3://{bucket}/{key}"
