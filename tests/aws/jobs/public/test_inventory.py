"""Reading what the sharing guard needs, against the embedded AWS."""

from __future__ import annotations

from typing import Any

import pytest

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.paging import InventoryError
from ami_hygiene.core.plan import Action
from ami_hygiene.jobs.public.inventory import read_sharing
from ami_hygiene.jobs.public.policy import SharingDecision, plan_sharing
from tests.helpers.constants import ACCOUNT, ALLOWED, POLICY_NOW, REGION, STRANGER
from tests.helpers.faults import deny
from tests.helpers.sandbox import foreign_image, register, snapshot

ORG = "arn:aws:organizations::111122223333:organization/o-abcdef1234"


def _share_snapshot(ec2: Any, snap: str, *items: dict[str, str]) -> None:
    ec2.modify_snapshot_attribute(
        SnapshotId=snap, Attribute="createVolumePermission", CreateVolumePermission={"Add": list(items)}
    )


def test_reads_images_permissions_snapshots_and_the_setting(ec2: Any) -> None:
    public_snap, shared_snap = snapshot(ec2), snapshot(ec2)
    public = register(ec2, "pub-1", public_snap)
    shared = register(ec2, "shared-1", shared_snap)
    ec2.modify_image_attribute(ImageId=public, LaunchPermission={"Add": [{"Group": "all"}]})
    ec2.modify_image_attribute(
        ImageId=shared, LaunchPermission={"Add": [{"UserId": STRANGER}, {"OrganizationArn": ORG}]}
    )
    _share_snapshot(ec2, public_snap, {"Group": "all"})
    _share_snapshot(ec2, shared_snap, {"UserId": ALLOWED})
    foreign_image("ami-0000000000000f0e1", shared=True)

    clients = Clients()
    found = read_sharing(clients, REGION, ACCOUNT)
    assert {i.image_id for i in found.estate.images} == {public, shared}
    assert found.estate.sharing[public].public
    assert (found.estate.sharing[shared].accounts, found.estate.sharing[shared].organizations) == (
        frozenset({STRANGER}),
        frozenset({ORG}),
    )
    assert found.snapshots[public_snap].public and found.snapshots[public_snap].owned
    assert found.snapshots[shared_snap].accounts == frozenset({ALLOWED})
    assert found.snapshots[shared_snap].accounts_read and not found.snapshots[shared_snap].public
    assert (found.block_public_access.state, found.problems) == ("unblocked", ())
    # Cost: three pages, one setting, one read per image and per snapshot.
    calls = clients.counter.calls
    assert calls["ec2.DescribeImageAttribute"] == 2
    assert calls["ec2.DescribeSnapshotAttribute"] == 2
    assert calls["ec2.DescribeSnapshots"] == 2

    plan = {d.image_id: d for d in plan_sharing(found, frozenset({ALLOWED}), POLICY_NOW).decisions}
    assert plan[public].action is Action.REVOKE_PUBLIC
    assert plan[shared].action is Action.REVOKE_ACCOUNTS
    assert plan[public_snap].action is Action.REVOKE_PUBLIC
    assert plan[shared_snap].action is Action.KEEP
    assert plan[ACCOUNT].action is Action.BLOCK_PUBLIC_ACCESS


def test_pages_only_still_find_public_images_and_snapshots(ec2: Any) -> None:
    snap = snapshot(ec2)
    image = register(ec2, "pub-2", snap)
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
    _share_snapshot(ec2, snap, {"Group": "all"})
    clients = Clients()
    found = read_sharing(clients, REGION, ACCOUNT, per_resource=False)
    assert found.estate.sharing == {}
    assert found.estate.images[0].public
    assert found.snapshots[snap].public and not found.snapshots[snap].accounts_read
    assert "ec2.DescribeImageAttribute" not in clients.counter.calls
    assert "ec2.DescribeSnapshotAttribute" not in clients.counter.calls
    decisions = plan_sharing(found, frozenset(), POLICY_NOW).decisions
    revoked = {d.image_id for d in decisions if isinstance(d, SharingDecision) and d.remove_groups}
    assert revoked == {image, snap}


def test_only_narrows_the_per_resource_reads(ec2: Any) -> None:
    snap_a, snap_b = snapshot(ec2), snapshot(ec2)
    a, b = register(ec2, "only-a", snap_a), register(ec2, "only-b", snap_b)
    clients = Clients()
    found = read_sharing(clients, REGION, ACCOUNT, only=[snap_b])
    assert set(found.estate.sharing) == {b}
    assert set(found.snapshots) == {snap_b}
    # An event reads only what it names (and the allowed-public images), never the whole estate.
    assert {i.image_id for i in found.estate.images} == {b}
    assert a not in found.estate.sharing


def test_failed_reads_are_recorded_and_the_policy_keeps(ec2: Any) -> None:
    snap = snapshot(ec2)
    image = register(ec2, "denied-1", snap)
    ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"UserId": STRANGER}]})
    clients = Clients()
    for operation in (
        "DescribeImageAttribute",
        "DescribeSnapshotAttribute",
        "GetImageBlockPublicAccessState",
    ):
        deny(clients.session, "ec2", operation)
    found = read_sharing(clients, REGION, ACCOUNT)
    assert len(found.problems) == 3
    assert all("UnauthorizedOperation" in p for p in found.problems)
    assert found.estate.sharing[image].error
    assert found.snapshots[snap].error and not found.snapshots[snap].accounts_read
    plan = plan_sharing(found, frozenset(), POLICY_NOW)
    assert plan.actions == ()
    assert plan.errors == found.problems


def test_images_that_cannot_be_listed_raise(ec2: Any) -> None:
    clients = Clients()
    deny(clients.session, "ec2", "DescribeImages")
    with pytest.raises(InventoryError, match="UnauthorizedOperation"):
        read_sharing(clients, REGION, ACCOUNT)


def test_image_and_snapshot_permissions_are_read_side_by_side(ec2: Any) -> None:
    import threading

    ids = [register(ec2, f"img-{k}", snapshot(ec2)) for k in range(12)]
    gate = threading.Barrier(2, timeout=10)
    met: set[str] = set()
    lock = threading.Lock()

    def meet(event_name: str = "", **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in ("DescribeImageAttribute", "DescribeSnapshotAttribute"):
            return
        with lock:
            first = operation not in met
            met.add(operation)
        if first:
            gate.wait()  # the first of each passes only when the other is in flight too

    clients = Clients()
    clients.session.events.register("before-send.ec2.*", meet)
    read = read_sharing(clients, REGION, ACCOUNT)
    assert met == {"DescribeImageAttribute", "DescribeSnapshotAttribute"}
    assert set(read.estate.sharing) == set(ids) and all(s.accounts_read for s in read.snapshots.values())
    assert clients.counter.calls["ec2.DescribeImageAttribute"] == 12
    assert clients.counter.calls["ec2.DescribeSnapshotAttribute"] == 12
