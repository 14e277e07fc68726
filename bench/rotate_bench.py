"""Benchmark: every job in report mode on estates of 1,000 to 50,000 images, c7n beside rotate.

Run with `make bench` (or `python -m bench.rotate_bench --sizes 1000,10000`).

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

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
    """Counts every request the embedded AWS serves, by 'service.Action'."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.enabled = False

    def install(self) -> None:
        from moto.core.responses import BaseResponse

        original = BaseResponse.call_action
        counter = self

        def counted(response: Any) -> Any:
            if counter.enabled:
                counter.calls[f"{response.service_name}.{response._get_action()}"] += 1
            return original(response)

        BaseResponse.call_action = counted  # type: ignore[method-assign]

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        self.calls = Counter()
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
    for start in range(0, shape.instances, 100):
        batch = min(100, shape.instances - start)
        ec2.run_instances(
            ImageId=old[start // 100 % len(old)], MinCount=batch, MaxCount=batch, SubnetId=subnet_id
        )
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


# -- main ---------------------------------------------------------------------------------


def bench(size: int, with_c7n: bool) -> dict[str, Any]:
    from moto import mock_aws
    from moto.server import ThreadedMotoServer

    import sandbox

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    sandbox.install()
    counter = RequestCounter()
    counter.install()
    shape = Shape(size)
    mock = mock_aws()
    mock.start()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        began = time.perf_counter()
        seed(shape, datetime.now(UTC))
        seeded = time.perf_counter() - began
        server.start()
        host, port = server.get_host_and_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            runs = [run_ours(env, counter, work, job, *flags) for job, flags in OUR_JOBS]
            unsafe: dict[str, int] = {}
            if with_c7n:
                c7n_run, ids = run_custodian(env, counter, work)
                runs.append(c7n_run)
                unsafe = unsafe_matches(ids, work)
    finally:
        server.stop()
        mock.stop()
    return {"shape": shape, "seed_seconds": seeded, "runs": runs, "c7n_would_delete_but_we_keep": unsafe}


def render(result: dict[str, Any]) -> str:
    shape: Shape = result["shape"]
    lines = [
        f"\n== {shape.images:,} images, {shape.families:,} families, {shape.instances:,} instances, "
        f"{shape.launch_templates:,} launch templates, {shape.groups:,} Auto Scaling groups "
        f"(seeded in {result['seed_seconds']:.0f} s)",
        f"{'tool':<16} {'wall s':>7} {'peak MiB':>9} {'reads':>6} {'acts on':>8}  calls by operation",
    ]
    for run in result["runs"]:
        ops = ", ".join(f"{op.split('.', 1)[1]} {n}" for op, n in sorted(run.calls.items()))
        lines.append(
            f"{run.tool:<16} {run.seconds:>7.1f} {run.peak_mib:>9.0f} {run.reads:>6} {run.acted_on:>8}  {ops}"
        )
    if result["c7n_would_delete_but_we_keep"]:
        kept = ", ".join(f"{k}: {n}" for k, n in result["c7n_would_delete_but_we_keep"].items())
        lines.append(f"images c7n's policy would deregister that a safety rule keeps ({kept})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="comma list of estate sizes")
    parser.add_argument("--no-c7n", action="store_true", help="skip Cloud Custodian")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    with_c7n = not args.no_c7n and (ROOT / "bench/.venv/bin/custodian").exists()
    if not with_c7n and not args.no_c7n:
        print("bench/.venv has no custodian: run `make bench` to install it; skipping c7n", file=sys.stderr)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = bench(size, with_c7n)
        print(render(result), flush=True)
        results.append(result)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "images": r["shape"].images,
                        "seed_seconds": r["seed_seconds"],
                        "runs": [vars(run) for run in r["runs"]],
                        "unsafe": r["c7n_would_delete_but_we_keep"],
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
