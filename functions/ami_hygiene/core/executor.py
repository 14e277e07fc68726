"""Applies a Plan, one action at a time, each isolated from the others.

Report mode applies nothing. A failed action is recorded with its error and
the run goes on; nothing is swallowed. When the caller's time runs short the
remaining actions are deferred, so a run stops cleanly and the next resumes.

A job brings its writes as `Writer`s: the function and the IAM actions it calls,
as Cloud Custodian's actions carry their `permissions`. The stack grants each
job's role exactly what its writers declare (tests/infra check it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.settings import Mode

if TYPE_CHECKING:
    from types_boto3_ec2 import EC2Client


@dataclass(frozen=True)
class RunContext:
    """What a write may need beyond its decision: the clients, the job, the run's time and account."""

    clients: Clients
    job: str
    now: datetime
    account: str = ""
    settings: Any = None  # the run's settings, for writes that take parameters from them


@dataclass(frozen=True)
class Writer:
    """One action's write: `apply(ec2, decision, run)` returns the decision with its outcome,
    or raises ClientError; `permissions` are the IAM actions it calls."""

    apply: Callable[[EC2Client, Decision, RunContext], Decision]
    permissions: tuple[str, ...]


Writers = Mapping[Action, Writer]


def writes(*permissions: str) -> Callable[[Callable[[EC2Client, Decision, RunContext], Decision]], Writer]:
    """Declare a write function with the IAM actions it calls."""

    def declare(apply: Callable[[EC2Client, Decision, RunContext], Decision]) -> Writer:
        return Writer(apply, tuple(permissions))

    return declare


def permissions_of(writers: Iterable[Writer]) -> tuple[str, ...]:
    """Every IAM action the writers call, sorted, once."""
    return tuple(sorted({p for w in writers for p in w.permissions}))


def never_stop() -> bool:
    return False


class Executor:
    def __init__(
        self,
        run: RunContext,
        mode: Mode,
        writers: Writers,
        should_stop: Callable[[], bool] = never_stop,
    ) -> None:
        self.run = run
        self.mode = mode
        self.should_stop = should_stop
        self.writers = dict(writers)

    def apply(self, plan: Plan) -> Plan:
        if self.mode is Mode.REPORT:
            return plan
        return Plan(
            job=plan.job,
            region=plan.region,
            decisions=tuple(self._apply_one(d) for d in plan.decisions),
            errors=plan.errors,
        )

    def _apply_one(self, decision: Decision) -> Decision:
        if not decision.is_action:
            return decision.with_outcome(Outcome.DONE)
        if decision.outcome is Outcome.DEFERRED:
            return decision
        if decision.pending_checks:
            # Safety net: a policy must finish its checks before anything changes.
            return decision.with_outcome(
                Outcome.FAILED,
                error=f"not applied: checks still pending ({', '.join(decision.pending_checks)})",
            )
        if self.should_stop():
            return decision.with_outcome(
                Outcome.DEFERRED, reason="deferred: this run's time ran out; the next run continues"
            )
        writer = self.writers.get(decision.action)
        if writer is None:
            return decision.with_outcome(
                Outcome.FAILED, error=f"not applied: this run cannot apply {decision.action.value}"
            )
        try:
            return writer.apply(self.run.clients.ec2(decision.region), decision, self.run)
        except (ClientError, BotoCoreError) as err:
            return decision.with_outcome(Outcome.FAILED, error=describe_error(err))
