"""Applies one SharingDecision: removes exactly the permissions it names.

* image: ModifyImageAttribute(LaunchPermission={"Remove": [...]}) with the
  groups, user ids, organization and OU ARNs of the decision, nothing else;
* snapshot: ModifySnapshotAttribute(Attribute=createVolumePermission,
  CreateVolumePermission={"Remove": [...]});
* account: EnableImageBlockPublicAccess(ImageBlockPublicAccessState=block-new-sharing).

Before removing anything the owner is read again (DescribeImages /
DescribeSnapshots by id): an image or snapshot of another account is never
changed (safety rule 1), and an image tagged public-allowed since the plan was
made keeps its public permission. Errors come back as a FAILED outcome with
the AWS error, never raised and never swallowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import TAG_PUBLIC_ALLOWED
from ami_hygiene.core.executor import RunContext, Writers, writes
from ami_hygiene.core.plan import Action, Decision, Outcome
from ami_hygiene.jobs.public.policy import BLOCK_NEW_SHARING, PUBLIC_GROUP, SharingDecision

if TYPE_CHECKING:
    from types_boto3_ec2 import EC2Client
    from types_boto3_ec2.type_defs import CreateVolumePermissionTypeDef, LaunchPermissionTypeDef

REVOKES = frozenset({Action.REVOKE_PUBLIC, Action.REVOKE_ACCOUNTS})


def apply_sharing_decision(clients: Clients, decision: SharingDecision, account_id: str) -> SharingDecision:
    """`decision` with its outcome: DONE, or FAILED with the reason."""
    if not decision.is_action:
        return _outcome(decision, Outcome.DONE)
    if decision.pending_checks:
        return _outcome(
            decision,
            Outcome.FAILED,
            error=f"not applied: checks still pending ({', '.join(decision.pending_checks)})",
        )
    ec2 = clients.ec2(decision.region)
    try:
        if decision.action is Action.BLOCK_PUBLIC_ACCESS and decision.resource_type == "account":
            return _block_public_access(ec2, decision, account_id)
        if decision.action in REVOKES and decision.resource_type == "image":
            return _revoke_image(ec2, decision, account_id)
        if decision.action in REVOKES and decision.resource_type == "snapshot":
            return _revoke_snapshot(ec2, decision, account_id)
    except (ClientError, BotoCoreError) as err:
        return _outcome(decision, Outcome.FAILED, error=describe_error(err))
    return _outcome(
        decision,
        Outcome.FAILED,
        error=f"not applied: {decision.action} does not apply to a {decision.resource_type}",
    )


def _revoke_image(ec2: EC2Client, decision: SharingDecision, account_id: str) -> SharingDecision:
    found = ec2.describe_images(ImageIds=[decision.image_id], IncludeDisabled=True).get("Images", [])
    if not found:
        return _outcome(decision, Outcome.FAILED, error=f"not applied: image {decision.image_id} not found")
    image = found[0]
    owner = image.get("OwnerId")
    if owner != account_id:
        return _outcome(
            decision, Outcome.FAILED, error=f"not applied: image owned by {owner}, not by this account"
        )
    groups = decision.remove_groups
    note = None
    tags = {t.get("Key"): t.get("Value", "") for t in image.get("Tags", [])}
    if PUBLIC_GROUP in groups and str(tags.get(TAG_PUBLIC_ALLOWED, "")).lower() == "true":
        # Tagged after the plan was made: the owner now wants it public.
        groups = tuple(g for g in groups if g != PUBLIC_GROUP)
        note = f"public permission kept: tagged {TAG_PUBLIC_ALLOWED}=true since the plan was made"
    remove = (
        [{"Group": g} for g in groups]
        + [{"UserId": a} for a in decision.remove_accounts]
        + [{"OrganizationArn": o} for o in decision.remove_organizations]
        + [{"OrganizationalUnitArn": u} for u in decision.remove_organizational_units]
    )
    if remove:
        # The groups are PUBLIC_GROUP, "all": the only one EC2 takes (the stubs type it Literal["all"]).
        permissions = cast("list[LaunchPermissionTypeDef]", remove)
        ec2.modify_image_attribute(ImageId=decision.image_id, LaunchPermission={"Remove": permissions})
    return _outcome(decision, Outcome.DONE, reason=note)


def _revoke_snapshot(ec2: EC2Client, decision: SharingDecision, account_id: str) -> SharingDecision:
    found = ec2.describe_snapshots(SnapshotIds=[decision.image_id]).get("Snapshots", [])
    owner = found[0].get("OwnerId") if found else None
    if owner != account_id:
        return _outcome(
            decision, Outcome.FAILED, error=f"not applied: snapshot owned by {owner}, not by this account"
        )
    remove = [{"Group": g} for g in decision.remove_groups] + [
        {"UserId": a} for a in decision.remove_accounts
    ]
    ec2.modify_snapshot_attribute(
        SnapshotId=decision.image_id,
        Attribute="createVolumePermission",
        CreateVolumePermission={"Remove": cast("list[CreateVolumePermissionTypeDef]", remove)},
    )
    return _outcome(decision, Outcome.DONE)


def _block_public_access(ec2: EC2Client, decision: SharingDecision, account_id: str) -> SharingDecision:
    if decision.image_id != account_id:
        return _outcome(
            decision,
            Outcome.FAILED,
            error=f"not applied: planned for account {decision.image_id}, not this account",
        )
    answer = ec2.enable_image_block_public_access(ImageBlockPublicAccessState=BLOCK_NEW_SHARING)
    state = answer.get("ImageBlockPublicAccessState")
    # AWS may answer before the setting applies (up to ten minutes); the next scan checks.
    return _outcome(decision, Outcome.DONE, reason=f"image block public access requested: {state}")


def _outcome(
    decision: SharingDecision, outcome: Outcome, *, error: str | None = None, reason: str | None = None
) -> SharingDecision:
    changed = decision.with_outcome(outcome, error=error, reason=reason)
    assert isinstance(changed, SharingDecision)  # with_outcome uses dataclasses.replace
    return changed


@writes(
    "ec2:DescribeImages",
    "ec2:ModifyImageAttribute",
    "ec2:DescribeSnapshots",
    "ec2:ModifySnapshotAttribute",
    "ec2:EnableImageBlockPublicAccess",
)
def guard(_ec2: EC2Client, decision: Decision, run: RunContext) -> Decision:
    if not isinstance(decision, SharingDecision):
        raise TypeError(f"the public job applies SharingDecisions, not {type(decision).__name__}")
    return apply_sharing_decision(run.clients, decision, run.account)


WRITERS: Writers = dict.fromkeys((Action.BLOCK_PUBLIC_ACCESS, *sorted(REVOKES)), guard)
