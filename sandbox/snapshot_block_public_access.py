"""Block public access for EBS snapshots: the per-region setting, which moto lacks.

Get/Enable/DisableSnapshotBlockPublicAccess keep one State per account and region:
"unblocked" (the sandbox's start), "block-new-sharing" or "block-all-sharing"
(EC2 API reference; EBS User Guide "Block public access for snapshots").
EnableSnapshotBlockPublicAccess takes either blocking state (botocore's enum lists
unblocked too; DisableSnapshotBlockPublicAccess is the documented way back, so the
sandbox refuses it on Enable as InvalidParameterValue).

The setting is state only here: the sandbox neither refuses a new public
ModifySnapshotAttribute while blocked nor hides snapshots already public under
block-all-sharing, which AWS does. Checks that read the setting (ami-hygiene doctor)
see what AWS would answer.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.responses import EC2Response

from ._patching import override
from .errors import invalid_parameter_value

UNBLOCKED = "unblocked"
BLOCKING_STATES = ("block-new-sharing", "block-all-sharing")
_STATE_ATTR = "_sandbox_snapshot_block_public_access"


def state_of(backend: Any) -> str:
    return str(backend.__dict__.get(_STATE_ATTR, UNBLOCKED))


def _get_state(self: Any) -> ActionResult:
    self.error_on_dryrun()
    return ActionResult({"State": state_of(self.ec2_backend), "ManagedBy": "account"})


def _enable(self: Any) -> ActionResult:
    wanted = self._get_param("State")
    if wanted not in BLOCKING_STATES:
        raise invalid_parameter_value(f"Value ({wanted}) for parameter State is invalid.")
    self.error_on_dryrun()
    self.ec2_backend.__dict__[_STATE_ATTR] = wanted
    return ActionResult({"State": wanted})


def _disable(self: Any) -> ActionResult:
    self.error_on_dryrun()
    self.ec2_backend.__dict__[_STATE_ATTR] = UNBLOCKED
    return ActionResult({"State": UNBLOCKED})


def install() -> None:
    override(EC2Response, "get_snapshot_block_public_access_state", _get_state)
    override(EC2Response, "enable_snapshot_block_public_access", _enable)
    override(EC2Response, "disable_snapshot_block_public_access", _disable)
