"""The rotate job end to end on the demo estate: every safety rule holds in enforce mode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.report import Report
from ami_hygiene.jobs.rotate.run import run_rotation
from ami_hygiene.jobs.settings import Settings
from sandbox.demo import ALLOWED_ACCOUNT, CONSUMER_ROLE, DEMO_REGIONS, seed_demo_estate
from tests.helpers.constants import NOW
from tests.helpers.faults import deny
from tests.helpers.reasons import Reason, has_reason
from tests.helpers.sandbox import account_state

DEMO_REGION = DEMO_REGIONS[0]  # the demo estate's first region
ENV = {"REGIONS": DEMO_REGION, "ALLOWED_SHARE_ACCOUNTS": ALLOWED_ACCOUNT, "CONSUMER_ROLE_NAME": CONSUMER_ROLE}


@pytest.fixture
def estate(aws: None) -> Iterator[dict[str, str]]:
    # EC2 refuses deprecation times in the past: the embedded AWS's clock reads NOW.
    with time_machine.travel(NOW, tick=True):
        yield seed_demo_estate(NOW)[DEMO_REGION]


def _rotate(mode: str, now: datetime = NOW, clients: Clients | None = None, **overrides: Any) -> Report:
    settings = Settings.load(ENV, overrides={"mode": mode, **overrides})
    return run_rotation(settings, clients or Clients(), now=now)


def _by_name(report: Report, estate: dict[str, str]) -> dict[str, Any]:
    names = {v: k for k, v in estate.items()}
    return {names[d.image_id]: d for d in report.decisions if d.image_id in names}


def test_report_mode_changes_nothing(estate: dict[str, str]) -> None:
    before = account_state(DEMO_REGION)
    report = _rotate("report")
    assert report.summary()["retired"] > 0  # there was something to do ...
    assert account_state(DEMO_REGION) == before  # ... and nothing was done
    writes = {op for op in report.api_calls if not op.split(".")[1].startswith(("Describe", "Get", "List"))}
    assert writes == {"sts.AssumeRole"}  # credentials to read the consumer account: it changes nothing
    for account, calls in report.calls_by_account().items():
        assert all(op.split(".")[1].startswith(("Describe", "Get", "List", "AssumeRole")) for op in calls), (
            account
        )


def test_enforce_keeps_everything_a_safety_rule_protects(estate: dict[str, str]) -> None:
    report = _rotate("enforce")
    decided = _by_name(report, estate)
    web = sorted(n for n in estate if n.startswith("web-2"))[::-1]  # newest first
    protected = {
        web[5]: "instance",
        web[6]: "instance",  # running, stopped
        web[7]: "$Default",
        web[10]: "$Latest",
        web[8]: "pinned by Auto Scaling group web-pinned",
        web[9]: "pinned by Auto Scaling group web-mixed",
        "base-al2023-1.8.0": "ami-hygiene:retain=true",
        "base-al2023-1.7.0": "ami-hygiene:retain",
        "base-al2023-1.6.0": "deregistration protection",
        "base-al2023-1.5.0": "SSM parameter",
        "base-al2023-1.4.0": "SSM parameter",
        "base-al2023-1.3.0": "999988887777",
        "base-al2023-1.1.0": "public",
        "app-v56": "launched",
        "app-v55": "launch configuration app-legacy",
        # shared with the allow-listed account, whose launch template uses it
        "base-al2023-1.9.0": "used by launch template lt-",
    }
    for name, why in protected.items():
        d = decided[name]
        assert d.action.value in ("keep", "deprecate"), (name, d.reasons)
        assert any(why in r for r in d.reasons), (name, d.reasons)
    for name in ("web-pending-build", "app-v51", "app-v50", "app-v52"):
        assert decided[name].action.value == "keep", (name, decided[name].reasons)
    assert decided["base-al2023-1.9.0"].reasons[0] == Reason(
        "kept", "version 1, $Default", f"account {ALLOWED_ACCOUNT}"
    )
    # Newest three of every family, and the image shared with an allowed account that does not use it retires.
    for name in (web[0], web[1], web[2], "base-al2023-1.12.0", "app-v60"):
        assert decided[name].action.value == "keep"
    assert decided["base-al2023-1.2.0"].action.value == "disable"
    assert (
        Reason("consumers checked", ALLOWED_ACCOUNT, "none uses it") in decided["base-al2023-1.2.0"].reasons
    )
    assert decided["app-v54"].action.value == "deregister"  # disabled by us 40 days ago
    assert report.errors == () and not report.failed


def test_enforce_applies_and_a_later_run_finishes_the_lifecycle(estate: dict[str, str]) -> None:
    first = _rotate("enforce")
    s = first.summary()
    assert s["failed"] == 0 and s["retired"] >= 2 and s["disabled"] >= 3
    ec2 = boto3.client("ec2", region_name=DEMO_REGION)
    disabled = [d.image_id for d in first.decisions if d.action.value == "disable"]
    images = {i["ImageId"]: i for i in ec2.describe_images(ImageIds=disabled, IncludeDisabled=True)["Images"]}
    for image_id in disabled:
        assert images[image_id]["State"] == "disabled"
        assert {"Key": "ami-hygiene:disabled-at", "Value": "2026-11-27T06:00:00Z"} in images[image_id]["Tags"]
    # The same run again, the same day: nothing new to do.
    again = _rotate("enforce")
    assert again.summary()["retired"] == 0 and again.summary()["disabled"] == 0
    # After the grace period the disabled images go, with their own snapshots.
    later = _rotate("enforce", now=NOW + timedelta(days=15))
    retired = {
        d.image_id for d in later.decisions if d.action.value == "deregister" and d.outcome.value == "done"
    }
    assert set(disabled) <= retired
    left = {i["ImageId"] for i in ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]}
    assert not retired & left


def test_a_snapshot_another_image_uses_is_never_deleted(estate: dict[str, str]) -> None:
    old = estate[next(n for n in estate if n.startswith("build_") and "legacy" not in n and _age(n) >= 199)]
    report = _rotate("enforce", disable_grace_days=0)
    decision = next(d for d in report.decisions if d.image_id == old)
    assert decision.action.value == "deregister" and decision.outcome.value == "done"
    assert decision.snapshots == ()  # its only snapshot is shared with build_legacy_copy_1
    ec2 = boto3.client("ec2", region_name=DEMO_REGION)
    copy = ec2.describe_images(ImageIds=[estate["build_legacy_copy_1"]])["Images"][0]
    shared = copy["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    assert shared in {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


def _age(name: str) -> int:
    stamp = datetime.strptime(name.split("_", 1)[1], "%Y%m%d_%H%M").replace(tzinfo=UTC)
    return (NOW - stamp).days


def test_max_actions_defers_the_rest_and_they_are_reported(estate: dict[str, str]) -> None:
    report = _rotate("enforce", max_actions=2)
    done = [d for d in report.decisions if d.is_action and d.outcome.value == "done"]
    deferred = [d for d in report.decisions if d.outcome.value == "deferred"]
    assert len(done) == 2 and deferred
    assert all(has_reason(d, "MaxActionsPerRun") for d in deferred)


def test_per_image_reads_only_for_images_acted_on(estate: dict[str, str]) -> None:
    clients = Clients()
    report = _rotate("report", clients=clients, max_actions=3)
    acted = [
        d
        for d in report.decisions
        if d.action.value in ("disable", "deregister") and d.outcome.value == "planned"
    ]
    shared_kept = [
        d for d in report.decisions if any("shared with" in r or r == "kept: public" for r in d.reasons)
    ]
    assert clients.counter.calls["ec2.DescribeImageAttribute"] <= len(acted) + len(shared_kept)


def test_one_failure_does_not_stop_the_others(estate: dict[str, str]) -> None:
    clients = Clients()
    deny(clients.session, "ec2", "DisableImage")
    report = _rotate("enforce", clients=clients)
    failed = [d for d in report.decisions if d.outcome.value == "failed"]
    assert failed and all(d.action.value == "disable" for d in failed)
    assert all("UnauthorizedOperation" in (d.error or "") for d in failed)
    assert any(d.action.value == "deregister" and d.outcome.value == "done" for d in report.decisions)
    assert report.failed


def test_an_unreadable_usage_source_stops_retirement_in_that_region(estate: dict[str, str]) -> None:
    clients = Clients()
    deny(clients.session, "auto-scaling", "DescribeAutoScalingGroups", "AccessDenied")
    report = _rotate("enforce", clients=clients)
    assert not [d for d in report.decisions if d.action.value in ("disable", "deregister")]
    assert any(has_reason(d, "AccessDenied") for d in report.decisions)
    # ... and the denial is an error, not only a reason: it must not stay invisible.
    assert any("launch-templates" in e and "AccessDenied" in e for e in report.all_errors)
    assert report.severity == "error"


def test_disabling_an_allow_listed_share_records_it_before_ec2_drops_it(estate: dict[str, str]) -> None:
    # EC2's DisableImage removes every launch permission and EnableImage does not restore them.
    shared = estate["base-al2023-1.2.0"]  # base[10] in the demo: shared with ALLOWED_ACCOUNT only
    report = _rotate("enforce")
    decision = next(d for d in report.decisions if d.image_id == shared)
    assert decision.action.value == "disable" and decision.outcome.value == "done"
    ec2 = boto3.client("ec2", region_name=DEMO_REGION)
    image = ec2.describe_images(ImageIds=[shared], IncludeDisabled=True)["Images"][0]
    tags = {t["Key"]: t["Value"] for t in image["Tags"]}
    assert tags["ami-hygiene:launch-permissions"] == ALLOWED_ACCOUNT
    permissions = ec2.describe_image_attribute(ImageId=shared, Attribute="launchPermission")
    assert permissions["LaunchPermissions"] == []
    ec2.enable_image(ImageId=shared)
    again = ec2.describe_image_attribute(ImageId=shared, Attribute="launchPermission")
    assert again["LaunchPermissions"] == []  # the record is what brings them back (ami-hygiene restore)
