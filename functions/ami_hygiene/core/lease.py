"""One sweep of a job at a time: a lease with an expiry, held in a DynamoDB table.

A scheduled sweep takes the lease named after its job before it reads or changes
anything, and gives it back when it is done. A second sweep of the same job that
starts meanwhile (a retried schedule, an invocation by hand) finds the lease held
and does nothing. Event-driven runs act on one image or snapshot and take no lease:
a sharing event is handled within seconds even while a sweep is running.

Why a DynamoDB lease, and not what else could keep two runs apart:

- Reserved concurrency 1 (what the stack used before) fails the deploy on accounts
  with a low concurrency quota: Lambda must keep 100 executions unreserved (the
  `UnreservedConcurrentExecution` minimum; PutFunctionConcurrency in the Lambda API
  reference), and new accounts start with a reduced concurrency quota ("Lambda
  quotas" in the Lambda developer guide), too low to reserve any. It also made every event
  wait behind a running sweep of its function (the one slot was taken), so "revoked
  within seconds" did not hold while a sweep ran.
- A Step Functions state machine around each sweep does not keep two executions
  apart by itself (AWS's own pattern for that is a semaphore kept in DynamoDB), so it
  would add a service, its role and its costs, and still need this lock.
- The lease is one conditional write (PutItem with a ConditionExpression, which
  DynamoDB evaluates atomically with the write), deploys on any account, costs a few
  requests per sweep, and never makes an event wait. A run that crashes or times out
  cannot give its lease back, so every lease expires: at the invocation's own
  deadline (nothing of that run can still act then) plus a margin for clock skew.

The item: `job` (the key), `holder` (the Lambda request id), `expires_at` (epoch
seconds; also the table's TTL attribute, so DynamoDB deletes old leases, though only
within days: the expiry is checked by the condition, never left to TTL; see
"Working with expired items" in the DynamoDB developer guide).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.observability import logger

# The environment variable that names the lease table; without it no lease is taken
# (the CLI, and tests that don't set it).
LEASE_TABLE_ENV = "LEASE_TABLE"
# The table's attributes. KEY is its partition key; EXPIRES_AT its TTL attribute.
KEY = "job"
HOLDER = "holder"
EXPIRES_AT = "expires_at"
ACQUIRED_AT = "acquired_at"
# Added to the invocation's remaining time: Lambda hosts' clocks may differ a little,
# and the lease must not expire while its holder can still act.
EXPIRY_MARGIN = timedelta(minutes=1)

_CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class Lease:
    """A lease this run holds until it releases it or `expires_at` passes."""

    job: str
    holder: str
    expires_at: datetime


@dataclass(frozen=True)
class Held:
    """Another run holds the lease: who, and until when."""

    job: str
    holder: str
    expires_at: datetime


class LeaseError(Exception):
    """The lease table could not be used: the sweep must not run unguarded."""


def expiry(now: datetime, remaining_ms: int) -> datetime:
    """When a lease taken now expires: the invocation's deadline plus EXPIRY_MARGIN."""
    return now + timedelta(milliseconds=max(remaining_ms, 0)) + EXPIRY_MARGIN


class Leases:
    """The lease table in the stack's region: acquire and release leases by job name."""

    def __init__(self, clients: Clients, table: str, region: str) -> None:
        self.clients = clients
        self.table = table
        self.region = region

    @classmethod
    def from_env(cls, env: Mapping[str, str], clients: Clients, region: str) -> Leases | None:
        """The table LEASE_TABLE names, or None when it names none (no lease is taken)."""
        table = env.get(LEASE_TABLE_ENV, "").strip()
        return cls(clients, table, region) if table else None

    def acquire(self, job: str, holder: str, now: datetime, expires_at: datetime) -> Lease | Held:
        """Take the job's lease if nobody holds it or its holder's lease has expired.

        Raises LeaseError when the table cannot be written (missing, denied, unreachable).
        """
        try:
            # One atomic conditional write: two runs that try at once cannot both succeed.
            self.clients.dynamodb(self.region).put_item(
                TableName=self.table,
                Item={
                    KEY: {"S": job},
                    HOLDER: {"S": holder},
                    EXPIRES_AT: {"N": str(_epoch(expires_at))},
                    ACQUIRED_AT: {"S": _iso(now)},
                },
                ConditionExpression="attribute_not_exists(#key) OR #expires < :now",
                ExpressionAttributeNames={"#key": KEY, "#expires": EXPIRES_AT},
                ExpressionAttributeValues={":now": {"N": str(_epoch(now))}},
                # On a failed condition DynamoDB returns the item that made it fail: the holder.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if _code(err) != _CONDITION_FAILED:
                raise LeaseError(self._problem("take", job, err)) from err
            # The failed condition's item (ReturnValuesOnConditionCheckFailure): botocore's stubs know only
            # the generic error keys.
            response: Mapping[str, Any] = err.response
            item = response.get("Item") or {}
            return Held(
                job=job,
                holder=str(item.get(HOLDER, {}).get("S", "unknown")),
                expires_at=_from_epoch(item.get(EXPIRES_AT, {}).get("N", "0")),
            )
        except BotoCoreError as err:
            raise LeaseError(self._problem("take", job, err)) from err
        return Lease(job=job, holder=holder, expires_at=_from_epoch(str(_epoch(expires_at))))

    def release(self, lease: Lease) -> bool:
        """Give the lease back, only if this run still holds it. False: it did not (or could not).

        A lease that expired and was taken over belongs to its new holder and is left alone.
        """
        try:
            self.clients.dynamodb(self.region).delete_item(
                TableName=self.table,
                Key={KEY: {"S": lease.job}},
                ConditionExpression="#holder = :holder",
                ExpressionAttributeNames={"#holder": HOLDER},
                ExpressionAttributeValues={":holder": {"S": lease.holder}},
            )
        except ClientError as err:
            if _code(err) == _CONDITION_FAILED:
                return False
            raise LeaseError(self._problem("release", lease.job, err)) from err
        except BotoCoreError as err:
            raise LeaseError(self._problem("release", lease.job, err)) from err
        return True

    def _problem(self, verb: str, job: str, err: Exception) -> str:
        return f"could not {verb} the {job} sweep lease in DynamoDB table {self.table}: {err}"


@contextmanager
def holding(
    leases: Leases | None, job: str, holder: str, now: datetime, expires_at: datetime
) -> Iterator[Lease | Held | None]:
    """The job's lease for the duration of the block, released after it however it ends.

    Yields the Lease, or Held when another run has it (the block must then change
    nothing), or None when there is no lease table. Raises LeaseError, before the
    block runs, when the table cannot be used.
    """
    if leases is None:
        yield None
        return
    got = leases.acquire(job, holder, now, expires_at)
    try:
        yield got
    finally:
        if isinstance(got, Lease):
            _release(leases, got)


def _release(leases: Leases, lease: Lease) -> None:
    """Give the lease back; a failure only leaves it to expire, so it is logged, not raised."""
    until = _iso(lease.expires_at)
    try:
        released = leases.release(lease)
    except LeaseError as err:
        logger.warning(f"sweep lease not released, it expires at {until}: {err}")
        return
    if released:
        logger.info("sweep lease released", extra={"lease_holder": lease.holder})
    else:
        logger.warning(f"sweep lease was no longer held by {lease.holder} (it expired at {until})")


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _epoch(when: datetime) -> int:
    """Whole epoch seconds, rounded up: a lease never ends earlier than asked."""
    seconds = when.timestamp()
    return int(seconds) + (0 if seconds.is_integer() else 1)


def _from_epoch(value: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(float(value)), UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(0, UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
