"""Applying sharing decisions against the embedded AWS: exactly what they name, only on our own."""

from __future__ import annotations

from typing import Any

import sandbox
from ami_hygiene.core.clients import Clients
from ami_hygiene.core.plan import Action, Outcome
from ami_hygiene.jobs.public.actions import apply_sharing_decision
from ami_hygiene.jobs.public.inventory import read_sharing
from ami_hygiene.jobs.public.policy import SharingDecision, plan_sharing
from tests.helpers.constants import ACCOUNT, ALLOWED, POLICY_NOW, REGION, STRANGER
from tests.helpers.faults import deny
from tests.helpers.reasons import Reason
from tests.helpers.sandbox import foreign_image, launch_permissions, register, snapshot

ORG = "arn:aws:organizations::444455556666:organization/o-zzzzzz9999"
OU = "arn:aws:organizations::111122223333:ou/o-abcdef1234/ou-ab12-cdef5678"


def _decision(resource_id: str, action: Action, kind: str = "image", **removals: Any) -> SharingDecision:
    return SharingDecision(
        image_id=resource_id,
        region=REGION,
        family="web",
        name="web",
        action=action,
        reasons=("test",),
        resource_type=kind,  # type: ignore[arg-type]
        **removals,
    )


def test_image_loses_exactly_the_offending_permissions(ec2: Any) -> None:
    image = register(ec2, "fix-1", snapshot(ec2))
    ec2.modify_image_attribute(
        ImageId=image,
        LaunchPermission={
            "Add": [
                {"Group": "all"},
                {"UserId": STRANGER},
                {"UserId": ALLOWED},
                {"OrganizationArn": ORG},
                {"OrganizationalUnitArn": OU},
            ]
        },
    )
    decision = _decision(
        image,
        Action.REVOKE_PUBLIC,
        remove_groups=("all",),
        remove_accounts=(STRANGER,),
        remove_organizations=(ORG,),
    )
    done = apply_sharing_decision(Clients(), decision, ACCOUNT)
    assert (done.outcome, done.error) == (Outcome.DONE, None)
    assert launch_permissions(image) == [{"OrganizationalUnitArn": OU}, {"UserId": ALLOWED}]


def test_snapshot_loses_public_and_foreign_accounts(ec2: Any) -> None:
    snap = snapshot(ec2)
    ec2.modify_snapshot_attribute(
        SnapshotId=snap,
        Attribute="createVolumePermission",
        CreateVolumePermission={"Add": [{"Group": "all"}, {"UserId": STRANGER}, {"UserId": ALLOWED}]},
    )
    decision = _decision(
        snap, Action.REVOKE_PUBLIC, "snapshot", remove_groups=("all",), remove_accounts=(STRANGER,)
    )
    assert apply_sharing_decision(Clients(), decision, ACCOUNT).outcome is Outcome.DONE
    perms = ec2.describe_snapshot_attribute(SnapshotId=snap, Attribute="createVolumePermission")
    assert perms["CreateVolumePermissions"] == [{"UserId": ALLOWED}]


def test_block_public_access_is_enabled(ec2: Any) -> None:
    done = apply_sharing_decision(
        Clients(), _decision(ACCOUNT, Action.BLOCK_PUBLIC_ACCESS, "account"), ACCOUNT
    )
    assert done.outcome is Outcome.DONE
    assert done.reasons[-1] == Reason("image block public access", "requested", "block-new-sharing")
    assert ec2.get_image_block_public_access_state()["ImageBlockPublicAccessState"] == "block-new-sharing"


def test_another_owners_image_or_snapshot_is_never_changed(ec2: Any) -> None:
    theirs = foreign_image("ami-0000000000000f0e2", shared=True)
    sandbox.backend("ec2", REGION, ACCOUNT).amis[theirs].launch_permissions.append({"Group": "all"})
    failed = apply_sharing_decision(
        Clients(), _decision(theirs, Action.REVOKE_PUBLIC, remove_groups=("all",)), ACCOUNT
    )
    assert failed.outcome is Outcome.FAILED
    assert "owned by 999988887777" in str(failed.error)
    assert {"Group": "all"} in sandbox.backend("ec2", REGION, ACCOUNT).amis[theirs].launch_permissions

    snap = snapshot(ec2)
    sandbox.backend("ec2", REGION, ACCOUNT).snapshots[snap].owner_id = "999988887777"
    failed = apply_sharing_decision(
        Clients(), _decision(snap, Action.REVOKE_PUBLIC, "snapshot", remove_groups=("all",)), ACCOUNT
    )
    assert failed.outcome is Outcome.FAILED and "not by this account" in str(failed.error)


def test_an_image_tagged_public_allowed_since_the_plan_keeps_its_public_permission(ec2: Any) -> None:
    image = register(ec2, "late-tag", snapshot(ec2))
    ec2.modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"Group": "all"}, {"UserId": STRANGER}]}
    )
    ec2.create_tags(Resources=[image], Tags=[{"Key": "ami-hygiene:public-allowed", "Value": "true"}])
    decision = _decision(image, Action.REVOKE_PUBLIC, remove_groups=("all",), remove_accounts=(STRANGER,))
    done = apply_sharing_decision(Clients(), decision, ACCOUNT)
    assert done.outcome is Outcome.DONE and done.reasons[-1] == Reason("public permission kept")
    assert launch_permissions(image) == [{"Group": "all"}]


def test_keep_pending_checks_and_aws_errors(ec2: Any) -> None:
    image = register(ec2, "errs-1", snapshot(ec2))
    assert apply_sharing_decision(Clients(), _decision(image, Action.KEEP), ACCOUNT).outcome is Outcome.DONE
    pending = _decision(image, Action.REVOKE_ACCOUNTS, remove_accounts=(STRANGER,))
    pending = SharingDecision(**{**pending.__dict__, "pending_checks": ("launch permissions",)})
    assert "checks still pending" in str(apply_sharing_decision(Clients(), pending, ACCOUNT).error)
    clients = Clients()
    deny(clients.session, "ec2", "ModifyImageAttribute")
    failed = apply_sharing_decision(
        clients, _decision(image, Action.REVOKE_ACCOUNTS, remove_accounts=(STRANGER,)), ACCOUNT
    )
    assert failed.outcome is Outcome.FAILED and "UnauthorizedOperation" in str(failed.error)
    wrong = apply_sharing_decision(Clients(), _decision(image, Action.DEREGISTER), ACCOUNT)
    assert wrong.outcome is Outcome.FAILED and "does not apply" in str(wrong.error)


def test_scan_plan_and_apply_end_to_end(ec2: Any) -> None:
    snap = snapshot(ec2)
    image = register(ec2, "e2e-1", snap)
    ec2.modify_image_attribute(
        ImageId=image, LaunchPermission={"Add": [{"Group": "all"}, {"UserId": ALLOWED}]}
    )
    ec2.modify_snapshot_attribute(
        SnapshotId=snap,
        Attribute="createVolumePermission",
        CreateVolumePermission={"Add": [{"Group": "all"}]},
    )
    clients = Clients()
    plan = plan_sharing(read_sharing(clients, REGION, ACCOUNT), frozenset({ALLOWED}), POLICY_NOW)
    results = [
        apply_sharing_decision(clients, d, ACCOUNT) for d in plan.actions if isinstance(d, SharingDecision)
    ]
    assert [r.outcome for r in results] == [Outcome.DONE] * 3
    again = plan_sharing(read_sharing(clients, REGION, ACCOUNT), frozenset({ALLOWED}), POLICY_NOW)
    assert again.actions == ()
    assert launch_permissions(image) == [{"UserId": ALLOWED}]
