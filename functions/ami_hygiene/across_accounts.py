"""`ami-hygiene <job> --accounts ...`: the job in several accounts, by role, with one digest.

`--accounts 111122223333,444455556666` (or `organization`, the organization's ACTIVE accounts)
runs the job in each account over the settings' regions, with the credentials of the role
(`--role-name`, default AmiHygieneMember, the hub's member role) assumed there. Nothing is read
or changed with the caller's own credentials but AssumeRole (and, for `organization`, the
Organizations listing): the caller's own account is acted in only when it is in the list, and
then through its role like any other. `organization` lists the caller's own account too
(Organizations lists the management account); it is acted in when the role can be assumed there
and otherwise skipped, not an error: service-managed StackSets deploy no stack instance to the
management account, so it has no member role unless one was made by hand (CloudFormation API
reference, DeploymentTargets). An account named in a list whose role cannot be assumed is an
error naming the AWS error; the other accounts complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.concurrency import parallel_map
from ami_hygiene.core.coverage import allowed_images_warnings
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.executor import never_stop
from ami_hygiene.core.fleet import Digest, TargetResult
from ami_hygiene.core.job import JobSpec
from ami_hygiene.core.members import AccountUnreachable, member_clients, organization_accounts
from ami_hygiene.core.report import SCHEMA_VERSION, Report

# Accounts run at once by the CLI (the hub's state machine has its own MaxConcurrentTargets).
ACCOUNT_WORKERS = 4
ORGANIZATION = "organization"  # --accounts organization: the organization's ACTIVE accounts
Listener = Callable[[str], None]  # called with 'service.Operation' per request (core/clients.py)


@dataclass(frozen=True)
class AccountRun:
    """The job's run in one account of --accounts: completed (its report), or why not."""

    account: str
    status: str  # completed | unreachable | failed | skipped
    error: str = ""
    report: Report | None = None

    def targets(self, regions: tuple[str, ...]) -> list[TargetResult]:
        """One result per region (none for a skipped account)."""
        if self.report is not None:
            return [
                TargetResult.from_report(self.report, account=self.account, region=r)
                for r in self.report.regions
            ]
        if self.status == "unreachable":
            return [TargetResult.unreachable(self.account, r, self.error) for r in regions]
        if self.status == "failed":
            return [TargetResult.failed(self.account, r, self.error) for r in regions]
        return []

    def to_dict(self) -> dict[str, str]:
        return {"account": self.account, "status": self.status, "error": self.error}


def run_accounts(
    job: JobSpec[Any],
    settings: Any,
    accounts: str | tuple[str, ...],
    role: str,
    *,
    fmt: str,
    listener: Listener | None = None,
) -> tuple[str, bool]:
    """The job in each account (a tuple of ids, or ORGANIZATION), one digest over them all.

    Answers the output (text or JSON) and whether any account failed. Raises the AWS error
    when the caller's credentials or the organization's account list cannot be had.
    `listener` (the CLI's progress line) hears every request, the caller's and each account's.
    """
    regions: tuple[str, ...] = settings.regions
    region = regions[0]  # STS and Organizations are asked there (its partition's endpoints)
    started = datetime.now(UTC)
    base = Clients()
    _listen(base, listener)
    caller = base.account_id(region)
    ids = tuple(a.id for a in organization_accounts(base, region)) if accounts == ORGANIZATION else accounts

    def run(account: str) -> AccountRun:
        skip = accounts == ORGANIZATION and account == caller
        return _run_account(job, settings, base, account, role, skip_if_unreachable=skip, listener=listener)

    # Accounts side by side, a few at a time: each has its own EC2 buckets (and its own pacer).
    runs = parallel_map(run, ids, ACCOUNT_WORKERS)
    digest = Digest(
        job.name,
        settings.mode,
        tuple(t for run in runs for t in run.targets(regions)),
        started,
        datetime.now(UTC),
    )
    text = (
        _accounts_text(digest, runs) if fmt == "text" else _accounts_json(digest, runs, regions, role, caller)
    )
    return text, digest.failed


def _run_account(
    job: JobSpec[Any],
    settings: Any,
    base: Clients,
    account: str,
    role: str,
    *,
    skip_if_unreachable: bool,
    listener: Listener | None = None,
) -> AccountRun:
    region = settings.regions[0]
    try:
        clients = member_clients(base, account, role, region, session_name=f"ami-hygiene-cli-{job.name}")
    except AccountUnreachable as err:
        if skip_if_unreachable and not err.transient:
            return AccountRun(
                account,
                "skipped",
                f"{err}: the caller's own account is acted in only when its role can be assumed",
            )
        return AccountRun(account, "unreachable", str(err))
    _listen(clients, listener)
    try:
        report = job.run(settings, clients, never_stop, None)
        report = report.with_warnings(allowed_images_warnings(clients, report.regions), clients.counter.calls)
    except (ClientError, BotoCoreError) as err:
        return AccountRun(account, "failed", f"account {account}: {describe_error(err)}")
    return AccountRun(account, "completed", report=report)


def _listen(clients: Clients, listener: Listener | None) -> None:
    if listener is not None:
        clients.counter.listeners.append(listener)


def _accounts_json(
    digest: Digest, runs: list[AccountRun], regions: tuple[str, ...], role: str, caller: str
) -> str:
    """One document: the accounts and how each ended, the digest, each account's report (its
    decisions listed once, in `decisions`, each naming its account)."""
    reports, decisions = [], []
    for run in runs:
        if run.report is None:
            continue
        report = run.report.to_dict()
        decisions += [{"account": run.account, **d} for d in report.pop("decisions")]
        reports.append(report)
    document = {
        "schema_version": SCHEMA_VERSION,
        "job": digest.job,
        "mode": str(digest.mode),
        "regions": list(regions),
        "role_name": role,
        "caller_account": caller,
        "accounts": [run.to_dict() for run in runs],
        "digest": digest.to_dict(),
        "reports": reports,
        "decisions": decisions,
    }
    return json.dumps(document, indent=2) + "\n"


def _accounts_text(digest: Digest, runs: list[AccountRun]) -> str:
    parts = [digest.render_text()]
    skipped = [run for run in runs if run.status == "skipped"]
    if skipped:
        parts.append("Skipped\n" + "".join(f"  ~ {run.error}\n" for run in skipped))
    parts += [run.report.render_text() for run in runs if run.report is not None]
    return f"\n{'=' * 78}\n\n".join(parts)
