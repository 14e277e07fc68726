"""Image block public access, and the sharing rules ModifyImageAttribute enforces.

- Get/Enable/DisableImageBlockPublicAccess keep one state per account and
  region: "unblocked" or "block-new-sharing". The sandbox starts "unblocked"
  (an existing account that has had public AMIs; new AWS accounts start
  blocked), and a change applies at once, where AWS may take ten minutes.
- While blocked, adding the "all" group to an image's launch permissions fails;
  images already public stay public.
- A disabled image can't be shared, and only the owner changes its permissions.

EBS snapshot sharing (moto keeps createVolumePermission but misses the rest):
- ModifySnapshotAttribute takes the structured CreateVolumePermission={Add|Remove: [...]}
  form boto3 and the console send (moto only reads OperationType/UserIds/GroupNames);
  items are {"Group": "all"} or {"UserId": <12 digits>}; a request may add or remove,
  not both (the API reference says so); only the owner changes a snapshot.
- DescribeSnapshots honours RestorableByUserIds: "all" lists public snapshots, an
  account id (or "self") the snapshots it can restore: its own, shared with it, public.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import EC2ClientError, InvalidSnapshotIdError
from moto.ec2.models import EC2Backend
from moto.ec2.models.elastic_block_store import Snapshot
from moto.ec2.responses import EC2Response

from ._patching import original, override
from .errors import invalid_parameter_combination, invalid_parameter_value, operation_not_permitted
from .image_model import owned_image

UNBLOCKED = "unblocked"
BLOCK_NEW_SHARING = "block-new-sharing"
_STATE_ATTR = "_sandbox_image_block_public_access"

# The message EC2 gives when block public access stops a public share.
BLOCKED_MESSAGE = (
    "You can't publicly share this image because block public access for AMIs is enabled for this "
    "account. To publicly share the image, you must call the DisableImageBlockPublicAccess API."
)


def block_public_access_state(backend: Any) -> str:
    return str(backend.__dict__.get(_STATE_ATTR, UNBLOCKED))


def set_block_public_access(backend: Any, state: str) -> str:
    if state not in (UNBLOCKED, BLOCK_NEW_SHARING):
        raise invalid_parameter_value(
            f"Value ({state}) for parameter ImageBlockPublicAccessState is invalid."
        )
    backend.__dict__[_STATE_ATTR] = state
    return state


def modify_image_attribute(
    self: Any,
    ami_id: str,
    launch_permissions_to_add: list[dict[str, str]],
    launch_permissions_to_remove: list[dict[str, str]],
) -> None:
    image = owned_image(self, ami_id)
    if launch_permissions_to_add:
        if image.state == "disabled":
            raise operation_not_permitted(f"The image {ami_id} is disabled and can't be shared.")
        if {"Group": "all"} in launch_permissions_to_add and block_public_access_state(
            self
        ) == BLOCK_NEW_SHARING:
            raise operation_not_permitted(BLOCKED_MESSAGE)
    original(EC2Backend, "modify_image_attribute")(
        self, ami_id, launch_permissions_to_add, launch_permissions_to_remove
    )


def _get_image_block_public_access_state(self: Any) -> ActionResult:
    self.error_on_dryrun()
    return ActionResult(
        {
            "ImageBlockPublicAccessState": block_public_access_state(self.ec2_backend),
            "ManagedBy": "account",
        }
    )


def _enable_image_block_public_access(self: Any) -> ActionResult:
    wanted = self._get_param("ImageBlockPublicAccessState")
    if wanted != BLOCK_NEW_SHARING:  # the only value EnableImageBlockPublicAccess takes
        raise invalid_parameter_value(
            f"Value ({wanted}) for parameter ImageBlockPublicAccessState is invalid."
        )
    self.error_on_dryrun()
    return ActionResult({"ImageBlockPublicAccessState": set_block_public_access(self.ec2_backend, wanted)})


def _disable_image_block_public_access(self: Any) -> ActionResult:
    self.error_on_dryrun()
    return ActionResult({"ImageBlockPublicAccessState": set_block_public_access(self.ec2_backend, UNBLOCKED)})


# -- EBS snapshot sharing ------------------------------------------------------------------

CREATE_VOLUME_PERMISSION = "createVolumePermission"
# A filter name no EC2 filter has: DescribeSnapshots' RestorableByUserIds rides on
# moto's filter machinery, so the paging listing (another module) honours it too.
_RESTORABLE_FILTER = "sandbox:restorable-by"


def _owned_snapshot(backend: Any, snapshot_id: str) -> Any:
    snapshot = backend.snapshots.get(snapshot_id)
    if snapshot is None:
        raise InvalidSnapshotIdError()
    if snapshot.owner_id != backend.account_id:
        if backend.account_id not in snapshot.create_volume_permission_userids and (
            "all" not in snapshot.create_volume_permission_groups
        ):
            raise InvalidSnapshotIdError()
        raise EC2ClientError("AuthFailure", f"Not authorized for snapshot:{snapshot_id}")
    return snapshot


def _volume_permissions(items: list[dict[str, str]]) -> tuple[set[str], set[str]]:
    """(groups, user ids) of CreateVolumePermission items, validated as EC2 does."""
    groups: set[str] = set()
    users: set[str] = set()
    for item in items:
        if "Group" in item:
            if item["Group"] != "all":
                raise invalid_parameter_value(f"Value ({item['Group']}) for parameter group is invalid.")
            groups.add("all")
        elif "UserId" in item:
            user = str(item["UserId"])
            if len(user) != 12 or not user.isdigit():
                raise invalid_parameter_value(f"Value ({user}) for parameter userId is invalid.")
            users.add(user)
        else:
            raise invalid_parameter_value("A createVolumePermission item needs Group or UserId.")
    return groups, users


def _modify_snapshot_attribute(self: Any) -> EmptyResult:
    snapshot_id = self._get_param("SnapshotId")
    attribute = self._get_param("Attribute") or CREATE_VOLUME_PERMISSION
    if attribute != CREATE_VOLUME_PERMISSION:
        raise invalid_parameter_value(f"Value ({attribute}) for parameter attribute is invalid.")
    structured = self._get_param("CreateVolumePermission") or {}
    add: list[dict[str, str]] = list(structured.get("Add") or [])
    remove: list[dict[str, str]] = list(structured.get("Remove") or [])
    operation = self._get_param("OperationType")
    if operation:
        if operation not in ("add", "remove"):
            raise invalid_parameter_value(f"Value ({operation}) for parameter operationType is invalid.")
        legacy = [{"Group": g} for g in self._get_param("GroupNames", [])] + [
            {"UserId": u} for u in self._get_param("UserIds", [])
        ]
        (add if operation == "add" else remove).extend(legacy)
    if add and remove:
        raise invalid_parameter_combination(
            "You may add or remove create volume permissions in one request, but not both."
        )
    if not add and not remove:
        raise invalid_parameter_value("No create volume permissions to add or remove were given.")
    snapshot = _owned_snapshot(self.ec2_backend, snapshot_id)
    groups, users = _volume_permissions(add or remove)
    self.error_on_dryrun()
    if add:
        snapshot.create_volume_permission_groups.update(groups)
        snapshot.create_volume_permission_userids.update(users)
    else:
        snapshot.create_volume_permission_groups.difference_update(groups)
        snapshot.create_volume_permission_userids.difference_update(users)
    return EmptyResult()


def restorable_by(snapshot: Any, account_id: str) -> bool:
    """Whether `account_id` ("all": anyone) can create volumes from the snapshot."""
    if "all" in snapshot.create_volume_permission_groups:
        return True
    if account_id == "all":
        return False
    return snapshot.owner_id == account_id or account_id in snapshot.create_volume_permission_userids


def _filters_from_querystring(self: Any) -> dict[str, Any]:
    found: dict[str, Any] = original(EC2Response, "_filters_from_querystring")(self)
    if self._get_action() == "DescribeSnapshots":
        wanted = self._get_param("RestorableByUserIds", [])
        if wanted:
            caller = self.ec2_backend.account_id
            accounts = ",".join(caller if w == "self" else str(w) for w in wanted)
            # The wanted accounts travel in the filter's name; its value is a boolean.
            found[f"{_RESTORABLE_FILTER}:{accounts}"] = ["true"]
    return found


def _snapshot_filter_value(self: Any, filter_name: str, method_name: str | None = None) -> Any:
    if filter_name.startswith(f"{_RESTORABLE_FILTER}:"):
        accounts = filter_name[len(_RESTORABLE_FILTER) + 1 :].split(",")
        return any(restorable_by(self, a) for a in accounts)
    return original(Snapshot, "get_filter_value")(self, filter_name, method_name)


def install() -> None:
    override(EC2Backend, "modify_image_attribute", modify_image_attribute)
    override(EC2Response, "modify_snapshot_attribute", _modify_snapshot_attribute)
    override(EC2Response, "_filters_from_querystring", _filters_from_querystring)
    override(Snapshot, "get_filter_value", _snapshot_filter_value)
    override(EC2Response, "get_image_block_public_access_state", _get_image_block_public_access_state)
    override(EC2Response, "enable_image_block_public_access", _enable_image_block_public_access)
    override(EC2Response, "disable_image_block_public_access", _disable_image_block_public_access)
