"""Benchmark: the hub's sweep of an organization, at several fan-out concurrency limits.

Run with `make bench` (or `python -m bench.organization_bench --accounts 50 --regions 2`).

An organization of N member accounts, each with the member role and a small estate in every
region, is seeded into the embedded AWS in this process. Then the hub's sweep runs as the state
machine runs it: the targets function, one Target Sweep per account x region through the job
function's real handler (hub mode: it assumes the member role, runs the job, stores the report
and the result in S3), then the digest function. The Map state's MaxConcurrency is played by a
thread pool of that size.

The embedded AWS answers in about a millisecond; real AWS does not. Every request here first
waits `--latency-ms` (default 50 ms; bench.rotate_bench's RequestCounter), a stand-in for the
network and AWS's own time, so that the fan-out's gain is visible; S3's requests do not (moto
serves S3 outside the dispatch the counter wraps), nor are they counted. The emulator's own
work is CPU in this process and on 2 cores it is the floor under every concurrency limit: the
table shows it as "emulator CPU". On AWS each target is its own Lambda invocation, with its own CPU.

Calls are counted where they arrive, by the account whose credentials made them (moto maps an
assumed role's keys to the role's account), so a member account's calls are its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from bench.rotate_bench import ACCOUNT, REGION, RequestCounter, embedded_aws

# The functions log a line per target (Powertools, to standard output): the tables are the output here.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF blob of every target's metrics

OTHER_REGION = "us-east-1"
ROLE = "AmiHygieneMember"
TOPIC = "ami-hygiene-org-bench"
BUCKET = "ami-hygiene-org-bench-reports"
LEASES = "ami-hygiene-org-bench-leases"
# Per account and region: 20 images aged 10 to 200 days. Their names differ only in trailing numbers,
# so they are one family (core/families.py): rotation keeps the newest 3 and, in report mode, would
# disable the 10 past 90 days' retention and deprecate the 7 others.
FAMILIES = 5
AGES = (200.0, 150.0, 60.0, 10.0)
# Lambda arm64 price per GB-second (us-east-1, first 6 billion GB-s a month) and Step Functions
# Standard price per state transition: AWS Lambda and AWS Step Functions pricing pages.
LAMBDA_GB_SECOND_USD = 0.0000133334
TRANSITION_USD = 0.000025
FUNCTION_GB = 1.0  # the job functions' 1,024 MB (infra/stack.py JOB_MEMORY_MB)
# EC2 API request throttling (EC2 API reference, "Request throttling"): non-mutating actions
# refill 20 tokens a second into a bucket of 100, per account and region.
EC2_READ_REFILL_PER_SECOND = 20
EC2_READ_BUCKET = 100


@dataclass
class Context:
    """The Lambda context the handlers read: the function's ARN, a request id, time left."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass
class FanOut:
    concurrency: int
    targets: int
    accounts: int
    seconds: float
    targets_seconds: float
    sweep_seconds: float
    digest_seconds: float
    target_seconds: list[float]
    cpu_seconds: float
    completed: int
    problems: int
    calls: dict[str, int]
    calls_by_account: dict[str, dict[str, int]]

    def member_calls(self) -> list[int]:
        """Calls each member account received (every target of it), one figure per account."""
        return [sum(c.values()) for a, c in self.calls_by_account.items() if a != ACCOUNT]


def seed(accounts: int, regions: tuple[str, ...]) -> list[str]:
    """The organization, its members' roles and estates, and the hub's bucket, topic and lease table."""
    from tests.helpers.organization import account_session, create_organization, seed_images
    from tests.helpers.sandbox import lease_table

    organization = create_organization([""] * accounts, role_name=ROLE)
    now = datetime.now(UTC)
    for account in organization.accounts:
        for region in regions:
            session = account_session(account, ROLE, region)
            seed_images(
                session,
                region,
                [(f"family-{f}-v{k}", age) for f in range(FAMILIES) for k, age in enumerate(AGES)],
                now=now,
            )
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    boto3.client("sns", region_name=REGION).create_topic(Name=TOPIC)
    lease_table(LEASES)
    return list(organization.accounts)


def hub_env(job: str, regions: tuple[str, ...]) -> dict[str, str]:
    """A hub function's environment, as the organization stack sets it."""
    return {
        "AWS_REGION": REGION,
        "REGIONS": ",".join(regions),
        "MODE": "report",
        "TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}",
        "REPORT_BUCKET": BUCKET,
        "LEASE_TABLE": LEASES,
        "MEMBER_ROLE_NAME": ROLE,
        # The hub here is the management account, which the targets leave out by themselves.
        "EXCLUDED_ACCOUNTS": "",
        "ORGANIZATIONAL_UNIT_IDS": "",
        "NOTIFY_ALL_CLEAN": "false",
    }


def fan_out(job: str, regions: tuple[str, ...], concurrency: int, counter: RequestCounter) -> FanOut:
    """One sweep of the organization, as the state machine runs it, with `concurrency` targets at once."""
    from ami_hygiene.core.clients import Clients
    from ami_hygiene.handlers.common import handle
    from ami_hygiene.handlers.organization_digest import run as digest
    from ami_hygiene.handlers.organization_targets import run as list_targets
    from ami_hygiene.organization.service import serve
    from ami_hygiene.registry import BY_NAME

    env = hub_env(job, regions)
    spec = BY_NAME[job]
    run = f"bench-{concurrency}-{uuid.uuid4().hex[:8]}"
    durations: list[float] = []
    lock = threading.Lock()

    def sweep(target: dict[str, str], listed: dict[str, Any]) -> dict[str, Any]:
        event = {
            "source": "ami-hygiene.organization",
            "detail-type": "Target Sweep",
            "job": job,
            "account": target["account"],
            "region": target["region"],
            "run": listed["run"],
            "bucket": listed["bucket"],
            "prefix": listed["prefix"],
        }
        began = time.perf_counter()
        # A new Clients per invocation, as each Lambda invocation of the Map makes its own.
        answer = handle(spec, event, Context(f"hub-{job}"), env, Clients())
        with lock:
            durations.append(time.perf_counter() - began)
        return answer

    cpu_began = time.process_time()
    with counter.counting():
        began = time.perf_counter()
        listed = serve("targets", list_targets, {"job": job, "run": run}, Context("targets"), env, Clients())
        listed_at = time.perf_counter()
        s3 = boto3.client("s3", region_name=REGION)
        targets = json.loads(s3.get_object(Bucket=listed["bucket"], Key=listed["key"])["Body"].read())
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            answers = list(pool.map(lambda t: sweep(t, listed), targets))
        swept_at = time.perf_counter()
        summary = serve("digest", digest, listed, Context("digest"), env, Clients())
        ended = time.perf_counter()
        calls = dict(counter.calls)
        by_account: dict[str, Counter[str]] = {}
        for (account, op), n in counter.by_account.items():
            by_account.setdefault(account, Counter())[op] += n
    completed = sum(1 for a in answers if a.get("status") == "completed")
    return FanOut(
        concurrency=concurrency,
        targets=len(targets),
        accounts=len(listed["accounts"]),
        seconds=ended - began,
        targets_seconds=listed_at - began,
        sweep_seconds=swept_at - listed_at,
        digest_seconds=ended - swept_at,
        target_seconds=durations,
        cpu_seconds=time.process_time() - cpu_began,
        completed=completed,
        problems=int(summary.get("failed", 0)),
        calls=calls,
        calls_by_account={a: dict(c) for a, c in by_account.items()},
    )


def single_account_calls(job: str, account: str, region: str, counter: RequestCounter) -> dict[str, int]:
    """The same job in one member account and region, run there directly (no hub): its calls."""
    from ami_hygiene.core.clients import Clients
    from ami_hygiene.core.coverage import allowed_images_warnings
    from ami_hygiene.core.members import member_clients
    from ami_hygiene.registry import BY_NAME

    spec = BY_NAME[job]
    settings = spec.settings.load({"REGIONS": region, "MODE": "report", "AWS_REGION": region})
    clients = member_clients(Clients(), account, ROLE, region)
    with counter.counting():
        spec.run(settings, clients, lambda: False, None)
        allowed_images_warnings(clients, (region,))  # a sweep's one setting read, as the CLI and handler make
        return {op: n for (a, op), n in counter.by_account.items() if a == account}


@dataclass(frozen=True)
class Estimate:
    """On paper: one sweep of `accounts` x `regions` targets of `images` each."""

    accounts: int
    regions: int
    images: int
    reads_per_target: int
    seconds_per_target: float  # measured in the embedded AWS, which answers in about a millisecond
    latency_seconds: float  # what each of those reads waits on AWS
    concurrency: int

    @property
    def targets(self) -> int:
        return self.accounts * self.regions

    @property
    def throttle_floor_seconds(self) -> float:
        """The least time EC2 allows a target's reads: the bucket's burst, then the refill rate."""
        return max(0.0, (self.reads_per_target - EC2_READ_BUCKET) / EC2_READ_REFILL_PER_SECOND)

    @property
    def target_seconds(self) -> float:
        """The measured time plus every read's wait, or EC2's floor if that is longer."""
        waited = self.seconds_per_target + self.reads_per_target * self.latency_seconds
        return max(waited, self.throttle_floor_seconds)

    @property
    def wall_seconds(self) -> float:
        waves = -(-self.targets // self.concurrency)
        return waves * self.target_seconds

    @property
    def lambda_usd(self) -> float:
        return self.targets * self.target_seconds * FUNCTION_GB * LAMBDA_GB_SECOND_USD

    @property
    def transitions_usd(self) -> float:
        # Per target: the Map iteration's start, its task and its end; plus the run's own states.
        return (self.targets * 3 + 10) * TRANSITION_USD


def render(results: list[FanOut], single: dict[str, int], job: str, latency_ms: float, seeded: float) -> str:
    first = results[0]
    lines = [
        f"\n== organization: {first.accounts} member accounts x {first.targets // max(first.accounts, 1)} "
        f"regions = {first.targets} targets, {FAMILIES * len(AGES)} images each "
        f"({FAMILIES * len(AGES) * first.targets:,} images; seeded in {seeded:.0f} s); "
        f"job {job}, report mode; {latency_ms:g} ms per request",
        f"{'concurrency':>11} {'wall s':>7} {'targets s':>9} {'fan-out s':>9} {'digest s':>8} "
        f"{'target median s':>15} {'emulator CPU s':>14} {'completed':>9}",
    ]
    lines += [
        f"{r.concurrency:>11} {r.seconds:>7.1f} {r.targets_seconds:>9.2f} {r.sweep_seconds:>9.1f} "
        f"{r.digest_seconds:>8.2f} {statistics.median(r.target_seconds):>15.2f} {r.cpu_seconds:>14.1f} "
        f"{r.completed:>9}"
        for r in results
    ]
    regions = first.targets // max(first.accounts, 1)
    per_target = [n / regions for n in first.member_calls()]
    hub = first.calls_by_account.get(ACCOUNT, {})
    member = next(c for a, c in sorted(first.calls_by_account.items()) if a != ACCOUNT)
    lines += [
        f"calls per member account-region (hub sweep): min {min(per_target):.0f}, "
        f"median {statistics.median(per_target):.0f}, max {max(per_target):.0f} "
        f"(one account, {regions} regions: {_ops(member)})",
        f"calls of a single-account run of one account-region (no hub): {sum(single.values())} "
        f"({_ops(single)})",
        f"hub account calls for {first.targets} targets: {sum(hub.values())} ({_ops(hub)})",
    ]
    return "\n".join(lines)


def _ops(calls: dict[str, int]) -> str:
    return ", ".join(f"{op.split('.', 1)[-1]} {n}" for op, n in sorted(calls.items()))


def render_estimate(estimates: list[Estimate]) -> str:
    lines = [
        "\n== on paper: one sweep of 500 accounts x 4 regions x 10,000 images each",
        f"{'concurrency':>11} {'per target s':>12} {'EC2 floor s':>11} {'wall min':>8} "
        f"{'Lambda USD':>10} {'Step Functions USD':>18}",
    ]
    lines += [
        f"{e.concurrency:>11} {e.target_seconds:>12.1f} {e.throttle_floor_seconds:>11.1f} "
        f"{e.wall_seconds / 60:>8.1f} {e.lambda_usd:>10.2f} {e.transitions_usd:>18.2f}"
        for e in estimates
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=50, help="member accounts (default 50)")
    parser.add_argument("--regions", type=int, default=2, choices=(1, 2), help="regions per account")
    parser.add_argument("--job", default="rotate", help="the job to sweep with (default rotate)")
    parser.add_argument("--concurrency", default="1,10,50", help="the Map's MaxConcurrency values to run")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="what each request waits (default 50)")
    parser.add_argument(
        "--target-seconds-10k",
        type=float,
        default=12.8,
        help="one target's time at 10,000 images (default: rotate's 12.8 s from bench.rotate_bench)",
    )
    parser.add_argument(
        "--reads-10k",
        type=int,
        default=147,
        help="one target's read calls at 10,000 images (default: rotate's 146 + GetAllowedImagesSettings)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    regions = (REGION, OTHER_REGION)[: args.regions]
    levels = [int(c) for c in args.concurrency.split(",") if c]
    with embedded_aws() as counter:
        began = time.perf_counter()
        accounts = seed(args.accounts, regions)
        seeded = time.perf_counter() - began
        with counter.waiting(args.latency_ms):  # every request waits, as in bench.rotate_bench
            results = [fan_out(args.job, regions, c, counter) for c in levels]
            single = single_account_calls(args.job, accounts[0], REGION, counter)
    print(render(results, single, args.job, args.latency_ms, seeded), flush=True)
    estimates = [
        Estimate(500, 4, 10_000, args.reads_10k, args.target_seconds_10k, args.latency_ms / 1000, c)
        for c in (10, 100, 500)
    ]
    print(render_estimate(estimates), flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "runs": [{k: v for k, v in vars(r).items() if k != "target_seconds"} for r in results],
                    "single_account_calls": single,
                    "estimates": [vars(e) for e in estimates],
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
