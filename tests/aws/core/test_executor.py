"""The executor on its own: isolation, safety nets, nothing hidden."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.estate import SnapshotRef
from ami_hygiene.core.executor import Executor, RunContext
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.settings import Mode
from ami_hygiene.jobs.rotate.actions import WRITERS
from sandbox.demo import Seeder
from tests.helpers.builders import decision
from tests.helpers.constants import REAL_NOW, REGION
from tests.helpers.reasons import Reason


@pytest.fixture
def seeder(aws: None) -> Seeder:
    return Seeder(REGION, REAL_NOW)


def _decision(image_id: str, action: Action, **kw: Any) -> Decision:
    return decision(image_id, action, family="fam", name="name", reasons=("because",), **kw)


def _run(mode: Mode, *decisions: Decision, stop: bool = False) -> Plan:
    plan = Plan("rotate", REGION, tuple(decisions))
    executor = Executor(RunContext(Clients(), "rotate", REAL_NOW), mode, WRITERS, should_stop=lambda: stop)
    return executor.apply(plan)


def test_a_snapshot_ec2_did_not_delete_is_a_failure_not_a_silence(seeder: Seeder) -> None:
    shared = seeder.snapshot(8)
    doomed = seeder.image("a-1", 200, snapshot_id=shared)
    seeder.image("a-2", 10, snapshot_id=shared)
    # A plan that (wrongly) lists a shared snapshot: EC2 keeps it, and the report must say so.
    decision = _decision(doomed, Action.DEREGISTER, snapshots=(SnapshotRef(shared, "/dev/xvda", 8),))
    result = _run(Mode.ENFORCE, decision).decisions[0]
    assert result.outcome is Outcome.FAILED
    assert result.error == f"image deregistered but snapshots not deleted: {shared}: skipped"
    assert [(r.snapshot_id, r.deleted) for r in result.snapshot_results] == [(shared, False)]


def test_deregister_tags_for_the_recycle_bin_then_deletes_own_snapshots(seeder: Seeder) -> None:
    own = seeder.snapshot(8)
    image_id = seeder.image("b-1", 200, snapshot_id=own)
    tagged: list[dict[str, object]] = []
    clients = Clients()
    clients.session.events.register(
        "provide-client-params.ec2.CreateTags", lambda params, **_: tagged.append(params)
    )
    decision = _decision(image_id, Action.DEREGISTER, snapshots=(SnapshotRef(own, "/dev/xvda", 8),))
    result = (
        Executor(RunContext(clients, "rotate", REAL_NOW), Mode.ENFORCE, WRITERS)
        .apply(Plan("rotate", REGION, (decision,)))
        .decisions[0]
    )
    assert result.outcome is Outcome.DONE
    assert [t["Resources"] for t in tagged] == [[image_id], [own]]
    assert {"Key": "ami-hygiene:retired-by", "Value": "rotate"} in tagged[0]["Tags"]  # type: ignore[operator]
    # Each snapshot names the image it went with: restore finds exactly its snapshots in the bin.
    assert {"Key": "ami-hygiene:retired-with", "Value": image_id} in tagged[1]["Tags"]  # type: ignore[operator]
    ec2 = boto3.client("ec2", region_name=REGION)
    assert own not in {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


def test_pending_checks_are_never_applied(seeder: Seeder) -> None:
    image_id = seeder.image("c-1", 200)
    result = _run(Mode.ENFORCE, _decision(image_id, Action.DISABLE, pending_checks=("launch permissions",)))
    assert result.decisions[0].outcome is Outcome.FAILED
    ec2 = boto3.client("ec2", region_name=REGION)
    assert ec2.describe_images(ImageIds=[image_id])["Images"][0]["State"] == "available"


def test_report_mode_and_deferred_decisions_change_nothing(seeder: Seeder) -> None:
    image_id = seeder.image("d-1", 200)
    clients = Clients()
    report = Executor(RunContext(clients, "rotate", REAL_NOW), Mode.REPORT, WRITERS).apply(
        Plan("rotate", REGION, (_decision(image_id, Action.DISABLE),))
    )
    deferred = Executor(RunContext(clients, "rotate", REAL_NOW), Mode.ENFORCE, WRITERS).apply(
        Plan("rotate", REGION, (_decision(image_id, Action.DISABLE, outcome=Outcome.DEFERRED),))
    )
    assert report.decisions[0].outcome is Outcome.PLANNED
    assert deferred.decisions[0].outcome is Outcome.DEFERRED
    assert clients.counter.total == 0


def test_running_out_of_time_defers_instead_of_failing(seeder: Seeder) -> None:
    image_id = seeder.image("e-1", 200)
    deprecate = _decision(image_id, Action.DEPRECATE, deprecate_at=REAL_NOW + timedelta(days=3))
    result = _run(Mode.ENFORCE, deprecate, stop=True).decisions[0]
    assert result.outcome is Outcome.DEFERRED
    assert result.reasons[-1] == Reason("time ran out")


@pytest.mark.parametrize("action", [Action.DISABLE, Action.DEREGISTER])
def test_launch_permissions_too_many_to_record_are_never_dropped(seeder: Seeder, action: Action) -> None:
    # Safety net behind the policy: DisableImage (and deregistration) loses them for good.
    image_id = seeder.image("r-1", 200)
    many = tuple(f"{n:012d}" for n in range(200))
    result = _run(Mode.ENFORCE, _decision(image_id, action, shared_with=many)).decisions[0]
    assert result.outcome is Outcome.FAILED and "too many to record" in (result.error or "")
    ec2 = boto3.client("ec2", region_name=REGION)
    (image,) = ec2.describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"]
    assert image["State"] == "available" and not image.get("Tags")
