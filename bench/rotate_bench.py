"""Benchmark: every job in report mode on estates of 1,000 to 50,000 images, c7n beside rotate.

Run with `make bench` (or `python -m bench.rotate_bench --sizes 1000,10000`). It then runs
rotate on 1,000 and on 100 retirement candidates shared with 20 consumer accounts, each
read with an assumed role (`python -m bench.rotate_bench --consumers` runs only that).

The estate is seeded in-process into the embedded AWS, which then serves it
on a loopback port. Each tool runs as its own process against that endpoint,
so wall time and peak memory are the tool's own; API calls are counted where
they arrive, by operation, the same way for both tools.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from sandbox.demo import CONSUMER_ROLE

ROOT = Path(__file__).resolve().parent.parent
REGION = "eu-west-1"
ACCOUNT = "123456789012"
WRITE_PREFIXES = ("Create", "Delete", "Deregister", "Disable", "Enable", "Modify", "Register", "Put")


@dataclass(frozen=True)
class Shape:
    images: int

    @property
    def families(self) -> int:
        return max(5, self.images // 20)

    @property
    def instances(self) -> int:
        return self.images // 5

    @property
    def launch_templates(self) -> int:
        return self.images // 20

    @property
    def groups(self) -> int:
        return self.images // 50


# -- counting requests where they arrive ---------------------------------------------------


class RequestCounter:
    """Counts every request the embedded AWS serves, by 'service.Action' (and by account too).

    While `latency` is set (seconds), every request it counts first waits that long: a stand-in
    for the round trip to a real endpoint, which the embedded AWS (a millisecond or so) hides.
    The server is threaded, so requests sent side by side wait side by side, as on AWS.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        # (account the credentials act as, 'service.Action'): moto maps an assumed role's keys to its account.
        self.by_account: Counter[tuple[str, str]] = Counter()
        self.enabled = False
        self.latency = 0.0

    def install(self) -> None:
        from moto.core.responses import BaseResponse

        original = BaseResponse.call_action
        counter = self

        def counted(response: Any) -> Any:
            if counter.enabled:
                op = f"{response.service_name}.{response._get_action()}"
                counter.calls[op] += 1
                counter.by_account[(getattr(response, "current_account", "?"), op)] += 1
                if counter.latency:
                    time.sleep(counter.latency)
            return original(response)

        BaseResponse.call_action = counted  # type: ignore[method-assign,assignment]

    @contextmanager
    def waiting(self, milliseconds: float) -> Iterator[None]:
        """Every request counted meanwhile waits `milliseconds` first."""
        self.latency = milliseconds / 1000
        try:
            yield
        finally:
            self.latency = 0.0

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        self.calls = Counter()
        self.by_account = Counter()
        self.enabled = True
        try:
            yield self.calls
        finally:
            self.enabled = False


# -- seeding ------------------------------------------------------------------------------


def seed(shape: Shape, now: datetime) -> None:
    """Images in families with shared snapshots, instances, templates, groups, parameters."""
    import sandbox

    ec2 = boto3.client("ec2", region_name=REGION)
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    ssm = boto3.client("ssm", region_name=REGION)
    amis = sandbox.backend("ec2", REGION, ACCOUNT).amis
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/17", AvailabilityZone=f"{REGION}a")
    subnet_id = subnet["Subnet"]["SubnetId"]
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]

    image_ids: list[str] = []
    per_family = shape.images // shape.families
    for n in range(shape.images):
        family, k = divmod(n, per_family)
        snap = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        image_id = ec2.register_image(
            Name=f"fam{family}-v{1000 - k}",
            RootDeviceName="/dev/xvda",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap, "VolumeSize": 8}}],
        )["ImageId"]
        amis[image_id].creation_date = now - timedelta(days=2 + 9 * k)
        image_ids.append(image_id)

    old = image_ids[::7]  # spread usage over old and new images
    # One instance a launch, so one a reservation, as Auto Scaling and most tools launch them.
    # DescribeInstances pages by MaxResults "items" (API reference); moto counts reservations,
    # and whether EC2 counts reservations or instances is not documented. With one instance a
    # reservation both readings give pages of 1,000 instances; 100-instance launches gave moto
    # one page of 10,000 instances at 50,000 images (190 MiB parsed at once).
    for n in range(shape.instances):
        ec2.run_instances(ImageId=old[n // 100 % len(old)], MinCount=1, MaxCount=1, SubnetId=subnet_id)
    templates = []
    for t in range(shape.launch_templates):
        created = ec2.create_launch_template(
            LaunchTemplateName=f"lt-{t}", LaunchTemplateData={"ImageId": old[(t * 3) % len(old)]}
        )["LaunchTemplate"]["LaunchTemplateId"]
        ec2.create_launch_template_version(
            LaunchTemplateId=created, LaunchTemplateData={"ImageId": old[(t * 3 + 1) % len(old)]}
        )
        templates.append(created)
    for g in range(shape.groups):
        version = "1" if g % 2 else "$Latest"  # half pin a numeric version
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=f"asg-{g}",
            LaunchTemplate={"LaunchTemplateId": templates[g % len(templates)], "Version": version},
            MinSize=0,
            MaxSize=0,
            DesiredCapacity=0,
            VPCZoneIdentifier=subnet_id,
        )
    for p in range(50):
        ssm.put_parameter(
            Name=f"/bench/ami/{p}", Value=old[(p * 11) % len(old)], Type="String", DataType="aws:ec2:image"
        )


# -- running the tools --------------------------------------------------------------------


@dataclass
class Run:
    tool: str
    seconds: float
    peak_mib: float
    calls: dict[str, int]
    acted_on: int
    exit_code: int
    # The same run again with every request waiting BENCH_LATENCY_MS (None: not measured).
    latent_seconds: float | None = None

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if not op.split(".", 1)[1].startswith(WRITE_PREFIXES))


# Runs the tool as its child and writes the child's peak RSS (KiB) to argv[1].
# A process forked straight from this one would report *our* resident size as
# its peak (ru_maxrss survives fork and execve, and we hold the whole seeded
# estate); forked from this small launcher, the figure is the tool's own.
LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _measure(
    cmd: list[str], env: dict[str, str], counter: RequestCounter
) -> tuple[float, float, int, Counter[str]]:
    with tempfile.NamedTemporaryFile("r", suffix=".maxrss") as peak_file, counter.counting() as calls:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", LAUNCHER, peak_file.name, *cmd],
            env=env,
            stderr=subprocess.PIPE,
            check=False,
        )
        seconds = time.perf_counter() - started
        peak_kib = int(peak_file.read() or 0)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return seconds, peak_kib / 1024, proc.returncode, Counter(calls)


# Our jobs, each in report mode on the same estate: (job, extra flags).
OUR_JOBS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rotate", ()),
    ("tags", ("--required-tags", "Owner,Environment=^(prod|staging|dev)$")),
    ("public", ()),
    ("rebuild", ()),
)


def run_ours(
    env: dict[str, str], counter: RequestCounter, workdir: Path, job: str = "rotate", *flags: str
) -> Run:
    out = workdir / ("ours.json" if job == "rotate" else f"ours-{job}.json")
    cmd = [
        str(ROOT / ".venv/bin/ami-hygiene"),
        job,
        "--region",
        REGION,
        "--mode",
        "report",
        "--format",
        "json",
        "--output",
        str(out),
        *flags,
    ]
    seconds, peak, code, calls = _measure(cmd, env, counter)
    report = json.loads(out.read_text())
    acted = len(
        {d["image_id"] for d in report["decisions"] if d["action"] != "keep" and d["outcome"] == "planned"}
    )
    tool = "ami-hygiene" if job == "rotate" else f"ami-hygiene {job}"
    return Run(tool, seconds, peak, dict(calls), acted, code)


def run_custodian(env: dict[str, str], counter: RequestCounter, workdir: Path) -> tuple[Run, set[str]]:
    custodian = ROOT / "bench/.venv/bin/custodian"
    outdir = workdir / "c7n"
    cmd = [
        str(custodian),
        "run",
        "--dryrun",
        "--cache-period",  # c7n caches resources between runs; measure a cold run
        "0",
        "-s",
        str(outdir),
        "--region",
        REGION,
        str(ROOT / "bench/c7n_policy.yml"),
    ]
    seconds, peak, code, calls = _measure(cmd, env, counter)
    matched = json.loads((outdir / "ami-rotate-equivalent/resources.json").read_text())
    ids = {r["ImageId"] for r in matched}
    return Run("cloud-custodian", seconds, peak, dict(calls), len(ids), code), ids


def unsafe_matches(c7n_ids: set[str], workdir: Path) -> dict[str, int]:
    """Images c7n would deregister that our report keeps, by the kind of reason."""
    report = json.loads((workdir / "ours.json").read_text())
    kinds: Counter[str] = Counter()
    for d in report["decisions"]:
        if d["image_id"] in c7n_ids and d["action"] == "keep":
            text = " ".join(d["reasons"])
            for kind in ("launch template", "SSM parameter", "instance", "newest", "launched", "shared"):
                if kind in text:
                    kinds[kind] += 1
    return dict(kinds)


# -- consumers: candidates shared with allow-listed accounts -----------------------------------

# The newest images of a family, kept by KeepLatest (3): their ages in days.
NEWEST_AGES = (1, 31, 61)


@dataclass(frozen=True)
class ConsumerShape:
    """Superseded images past retention, shared with consumer accounts family by family.

    A golden-image pipeline shares every version of a family with the accounts of
    the teams that use it: here family f goes to 1, 2 or 3 of the consumer accounts
    (f mod 3 + 1 of them: f, f+7, f+14 mod `accounts`), so each account holds the
    images of about 5 of the 50 families. Each family has its 3 newest images
    (kept) and `candidates / families` images past the 90-day retention.
    """

    candidates: int
    accounts: int = 20
    families: int = 50

    @property
    def per_family(self) -> int:
        return max(1, self.candidates // self.families)

    @property
    def images(self) -> int:
        return self.families * (len(NEWEST_AGES) + self.per_family)

    def account(self, n: int) -> str:
        return f"2{n + 1:011d}"

    @property
    def consumer_accounts(self) -> list[str]:
        return [self.account(n) for n in range(self.accounts)]

    def shared_with(self, family: int) -> list[str]:
        return [self.account((family + 7 * j) % self.accounts) for j in range(1 + family % 3)]


@dataclass
class ConsumerEstate:
    shape: ConsumerShape
    candidates: set[str]
    used: dict[str, str]  # candidate image id -> what in which consumer account uses it
    shared_candidates: dict[str, int]  # consumer account -> candidates shared with it


def seed_consumers(shape: ConsumerShape, now: datetime) -> ConsumerEstate:
    """The owner's families, shared; in each consumer account its role and a handful of users.

    Every consumer account: the role (trusting the owner), 3 instances and a launch
    template on the newest image of its first family, an SSM parameter naming that
    image. Even accounts also run an instance from that family's oldest candidate,
    and accounts 1, 6, 11, 16 keep a launch template whose $Default names its
    youngest candidate: those candidates are kept for their use.
    """
    import sandbox
    from sandbox.demo import consumer_session

    ec2 = boto3.client("ec2", region_name=REGION)
    amis = sandbox.backend("ec2", REGION, ACCOUNT).amis
    volume = ec2.create_volume(Size=8, AvailabilityZone=f"{REGION}a")["VolumeId"]
    newest: list[str] = []
    old: list[list[str]] = []
    shared: Counter[str] = Counter()
    ages = [*NEWEST_AGES, *(100 + 10 * k for k in range(shape.per_family))]
    for family in range(shape.families):
        accounts = shape.shared_with(family)
        ids = []
        for k, age in enumerate(ages):
            snap = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
            image_id = ec2.register_image(
                Name=f"golden{family}-v{len(ages) - k}",
                RootDeviceName="/dev/xvda",
                BlockDeviceMappings=[
                    {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snap, "VolumeSize": 8}}
                ],
            )["ImageId"]
            amis[image_id].creation_date = now - timedelta(days=age)
            ec2.modify_image_attribute(
                ImageId=image_id, LaunchPermission={"Add": [{"UserId": a} for a in accounts]}
            )
            ids.append(image_id)
        newest.append(ids[0])
        old.append(ids[len(NEWEST_AGES) :])
        for account in accounts:
            shared[account] += len(ids) - len(NEWEST_AGES)

    used: dict[str, str] = {}
    for n, account in enumerate(shape.consumer_accounts):
        consumer = consumer_session(account)  # creates the role, trusting the owner
        cec2 = consumer.client("ec2", region_name=REGION)
        cec2.run_instances(ImageId=newest[n], MinCount=3, MaxCount=3)
        cec2.create_launch_template(LaunchTemplateName="app", LaunchTemplateData={"ImageId": newest[n]})
        consumer.client("ssm", region_name=REGION).put_parameter(
            Name="/app/ami", Value=newest[n], Type="String", DataType="aws:ec2:image"
        )
        if n % 2 == 0:
            cec2.run_instances(ImageId=old[n][-1], MinCount=1, MaxCount=1)
            used[old[n][-1]] = f"instance in {account}"
        if n % 5 == 1:
            cec2.create_launch_template(
                LaunchTemplateName="legacy", LaunchTemplateData={"ImageId": old[n][0]}
            )
            used[old[n][0]] = f"launch template in {account}"
    return ConsumerEstate(shape, {i for ids in old for i in ids}, used, dict(shared))


@dataclass
class ConsumerRun:
    estate: ConsumerEstate
    seed_seconds: float
    run: Run
    report: dict[str, Any]
    served_by_account: dict[str, dict[str, int]]  # counted where the calls arrived

    @property
    def by_account(self) -> dict[str, dict[str, int]]:
        return dict(self.report["api_calls_by_account"])

    @property
    def consumers(self) -> dict[str, dict[str, int]]:
        return {a: c for a, c in self.by_account.items() if a != ACCOUNT}

    def consumer_page_reads(self, account: str) -> dict[str, int]:
        return {op: n for op, n in self.consumers[account].items() if op != REFERENCES}


REFERENCES = "ec2.DescribeImageReferences"


def bench_consumers(candidates: int, accounts: int) -> ConsumerRun:
    shape = ConsumerShape(candidates, accounts)
    with embedded_aws() as counter:
        began = time.perf_counter()
        estate = seed_consumers(shape, datetime.now(UTC))
        seeded = time.perf_counter() - began
        with served() as env, tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            flags = (
                "--max-actions",
                str(max(100, 2 * candidates)),  # every candidate checked in one run
                "--allowed-share-accounts",
                ",".join(shape.consumer_accounts),
                "--consumer-role-name",
                CONSUMER_ROLE,
            )
            run = run_ours(env, counter, work, "rotate", *flags)
            run.tool = "ami-hygiene rotate"
            report = json.loads((work / "ours.json").read_text())
            served_by: dict[str, dict[str, int]] = {}
            for (account, op), n in sorted(counter.by_account.items()):
                served_by.setdefault(account, {})[op] = n
    return ConsumerRun(estate, seeded, run, report, served_by)


def render_consumers(results: list[ConsumerRun]) -> str:
    lines: list[str] = []
    for r in results:
        lines += _render_consumer_run(r)
    if len(results) > 1:
        base = results[0]
        same = all(set(r.consumers) == set(base.consumers) for r in results) and all(
            r.consumer_page_reads(a) == base.consumer_page_reads(a) for r in results for a in base.consumers
        )
        sizes = " and ".join(f"{len(r.estate.candidates):,}" for r in results)
        grows = " vs ".join(str(sum(c.get(REFERENCES, 0) for c in r.consumers.values())) for r in results)
        lines.append(
            f"\nper-account page reads {'are the same' if same else 'DIFFER'} for {sizes} candidates; "
            f"only DescribeImageReferences (10 ids a call) grows: {grows} calls in all"
        )
    return "\n".join(lines)


def _render_consumer_run(r: ConsumerRun) -> list[str]:
    shape = r.estate.shape
    candidates = [d for d in r.report["decisions"] if d["image_id"] in r.estate.candidates]
    disable = sum(d["action"] == "disable" and d["outcome"] == "planned" for d in candidates)
    kept_use = {
        d["image_id"] for d in candidates if d["action"] == "keep" and d.get("consumers", {}).get("using")
    }
    found = "all found" if kept_use == set(r.estate.used) else "MISMATCH"
    owner = r.by_account[ACCOUNT]
    assumed = owner.get("sts.AssumeRole", 0)
    reads = sum(n for op, n in owner.items() if not op.split(".", 1)[1].startswith(WRITE_PREFIXES)) - assumed
    per_image = owner.get("ec2.DescribeImageAttribute", 0) + owner.get(REFERENCES, 0)
    pages = {json.dumps(r.consumer_page_reads(a), sort_keys=True) for a in r.consumers}
    first = json.loads(min(pages)) if pages else {}
    lines = [
        f"\n== consumers: {len(r.estate.candidates):,} retirement candidates "
        f"({shape.families} families x {shape.per_family} past retention, "
        f"+ {len(NEWEST_AGES)} newest kept each: {shape.images:,} images) "
        f"shared with {shape.accounts} consumer accounts, 1-3 per family "
        f"(seeded in {r.seed_seconds:.0f} s)",
        f"rotate --max-actions {max(100, 2 * shape.candidates)} --consumer-role-name {CONSUMER_ROLE}: "
        f"wall {r.run.seconds:.1f} s, peak {r.run.peak_mib:.0f} MiB, exit {r.run.exit_code}",
        f"  candidates: {disable} would be disabled, {len(kept_use)} kept for a consumer's use "
        f"(seeded {len(r.estate.used)}: {found}), {len(candidates) - disable - len(kept_use)} kept otherwise",
        f"  owner {ACCOUNT}: {reads} reads ({reads - per_image} page and setup + {per_image} per-image) "
        f"and {assumed} sts.AssumeRole: " + ", ".join(f"{op} {n}" for op, n in sorted(owner.items())),
        f"  consumer accounts read: {len(r.consumers)}, "
        f"{sum(sum(c.values()) for c in r.consumers.values())} calls in all; each account's page reads "
        f"({'the same in every account' if len(pages) == 1 else 'DIFFER'}): "
        + ", ".join(f"{op} {n}" for op, n in first.items()),
        f"  {'account':<14}{'candidates shared':>18}{'page reads':>11}{'DescribeImageReferences':>24}",
    ]
    for account, calls in sorted(r.consumers.items()):
        lines.append(
            f"  {account:<14}{r.estate.shared_candidates.get(account, 0):>18}"
            f"{sum(r.consumer_page_reads(account).values()):>11}{calls.get(REFERENCES, 0):>24}"
        )
    differences = _count_differences(r.served_by_account, r.by_account)
    where = (
        "the same as the report's" if not differences else "as the report's, except " + "; ".join(differences)
    )
    lines.append(f"  counted where the calls arrive, by account: {where}")
    return lines


def _count_differences(served: dict[str, dict[str, int]], reported: dict[str, dict[str, int]]) -> list[str]:
    """Where the server's count by account and operation differs from the report's."""
    out = []
    for account in sorted(set(served) | set(reported)):
        # botocore's service id auto-scaling is moto's autoscaling.
        ours = {op.replace("auto-scaling.", "autoscaling."): n for op, n in reported.get(account, {}).items()}
        theirs = served.get(account, {})
        out += [
            f"{account} {op}: served {theirs.get(op, 0)}, reported {ours.get(op, 0)}"
            for op in sorted(set(ours) | set(theirs))
            if ours.get(op, 0) != theirs.get(op, 0)
        ]
    return out


# -- main ---------------------------------------------------------------------------------


@contextmanager
def embedded_aws() -> Iterator[RequestCounter]:
    """A fresh embedded AWS in this process, and the counter of the requests it serves."""
    from moto import mock_aws

    import sandbox

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    sandbox.install()
    counter = RequestCounter()
    counter.install()
    mock = mock_aws()
    mock.start()
    try:
        yield counter
    finally:
        mock.stop()


@contextmanager
def served() -> Iterator[dict[str, str]]:
    """Serves the embedded AWS on a loopback port; yields the environment a tool needs to reach it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    finally:
        server.stop()


def with_latency(run: Run, again: Callable[[], Run], counter: RequestCounter, latency_ms: float) -> Run:
    """`run`, with the wall time of the same run made `again` while every request waits `latency_ms`."""
    if not latency_ms:
        return run
    with counter.waiting(latency_ms):
        latent = again()
    return replace(run, latent_seconds=latent.seconds)


def bench(size: int, with_c7n: bool, latency_ms: float = 0.0) -> dict[str, Any]:
    shape = Shape(size)
    with embedded_aws() as counter:
        began = time.perf_counter()
        seed(shape, datetime.now(UTC))
        seeded = time.perf_counter() - began
        with served() as env, tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)

            def ours(job: str, flags: tuple[str, ...]) -> Run:
                return run_ours(env, counter, work, job, *flags)

            runs = [
                with_latency(ours(job, flags), lambda j=job, f=flags: ours(j, f), counter, latency_ms)
                for job, flags in OUR_JOBS
            ]
            unsafe: dict[str, int] = {}
            if with_c7n:
                c7n_run, ids = run_custodian(env, counter, work)
                unsafe = unsafe_matches(ids, work)
                runs.append(
                    with_latency(c7n_run, lambda: run_custodian(env, counter, work)[0], counter, latency_ms)
                )
    return {
        "shape": shape,
        "seed_seconds": seeded,
        "latency_ms": latency_ms,
        "runs": runs,
        "c7n_would_delete_but_we_keep": unsafe,
    }


def latent_header(result: dict[str, Any]) -> str:
    return f"@{result['latency_ms']:g} ms s" if result.get("latency_ms") else "-"


def latent(run: Run) -> str:
    return f"{run.latent_seconds:.1f}" if run.latent_seconds is not None else "-"


def render(result: dict[str, Any]) -> str:
    shape: Shape = result["shape"]
    lines = [
        f"\n== {shape.images:,} images, {shape.families:,} families, {shape.instances:,} instances, "
        f"{shape.launch_templates:,} launch templates, {shape.groups:,} Auto Scaling groups "
        f"(seeded in {result['seed_seconds']:.0f} s)",
        f"{'tool':<16} {'wall s':>7} {latent_header(result):>11} {'peak MiB':>9} {'reads':>6} {'acts on':>8}"
        "  calls by operation",
    ]
    for run in result["runs"]:
        ops = ", ".join(f"{op.split('.', 1)[1]} {n}" for op, n in sorted(run.calls.items()))
        lines.append(
            f"{run.tool:<16} {run.seconds:>7.1f} {latent(run):>11} {run.peak_mib:>9.0f} {run.reads:>6} "
            f"{run.acted_on:>8}  {ops}"
        )
    if result["c7n_would_delete_but_we_keep"]:
        kept = ", ".join(f"{k}: {n}" for k, n in result["c7n_would_delete_but_we_keep"].items())
        lines.append(f"images c7n's policy would deregister that a safety rule keeps ({kept})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="comma list of estate sizes")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=float(os.environ.get("BENCH_LATENCY_MS", "50")),
        help="also time every run with each request waiting this long (BENCH_LATENCY_MS, default 50; 0: no)",
    )
    parser.add_argument("--no-c7n", action="store_true", help="skip Cloud Custodian")
    parser.add_argument(
        "--consumers", action="store_true", help="only the consumer-account benchmark (no --sizes estates)"
    )
    parser.add_argument("--no-consumers", action="store_true", help="skip the consumer-account benchmark")
    parser.add_argument(
        "--candidates", default="1000,100", help="comma list of retirement candidates shared with consumers"
    )
    parser.add_argument(
        "--consumer-accounts", type=int, default=20, help="consumer accounts they are shared with"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    sizes = [] if args.consumers else [int(s) for s in args.sizes.split(",") if s]
    candidates = [] if args.no_consumers else [int(c) for c in args.candidates.split(",") if c]
    with_c7n = bool(sizes) and not args.no_c7n and (ROOT / "bench/.venv/bin/custodian").exists()
    if sizes and not with_c7n and not args.no_c7n:
        print("bench/.venv has no custodian: run `make bench` to install it; skipping c7n", file=sys.stderr)
    results = []
    for size in sizes:
        result = bench(size, with_c7n, args.latency_ms)
        print(render(result), flush=True)
        results.append(result)
    consumer_results = [bench_consumers(n, args.consumer_accounts) for n in candidates]
    if consumer_results:
        print(render_consumers(consumer_results), flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "images": r["shape"].images,
                        "seed_seconds": r["seed_seconds"],
                        "latency_ms": r["latency_ms"],
                        "runs": [vars(run) for run in r["runs"]],
                        "unsafe": r["c7n_would_delete_but_we_keep"],
                    }
                    for r in results
                ]
                + [
                    {
                        "consumers": vars(r.estate.shape) | {"candidates_seeded": len(r.estate.candidates)},
                        "seed_seconds": r.seed_seconds,
                        "runs": [vars(r.run)],
                        "api_calls_by_account": r.by_account,
                        "served_by_account": r.served_by_account,
                    }
                    for r in consumer_results
                ],
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
