"""The AMI operations moto 5.2 lacks or gets wrong, as the EC2 API reference describes them.

Each function here replaces or adds one method on moto's EC2 response or model
classes; `install()` in the package puts them in place. Fields set on moto's
`Ami` (deprecation_time, deregistration_protection, last_launched_time) show in
DescribeImages because moto serializes objects through botocore's model.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import (
    EC2ClientError,
    InvalidAMIIdError,
    InvalidParameterCombination,
    MissingParameterError,
    UnvailableAMIIdError,
)
from moto.ec2.models import amis as moto_amis

from .paging import page

DESCRIBE_IMAGES_MAX = 1000
DEPRECATION_LIMIT = timedelta(days=365 * 10)


class InvalidParameterValue(EC2ClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValue", message)


class ProtectedImage(EC2ClientError):
    # The API reference names no specific code for this refusal.
    def __init__(self, image_id: str) -> None:
        super().__init__(
            "OperationNotPermitted",
            f"Image {image_id} has deregistration protection enabled; disable it first",
        )


def iso_millis(moment: datetime) -> str:
    """The form EC2 uses for DeprecationTime and LastLaunchedTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# -- model --------------------------------------------------------------------------------

Ami: Any = moto_amis.Ami  # typed loosely: we add fields moto does not declare
_original_mappings = Ami.block_device_mappings


def _block_device_mappings(self: Any) -> list[dict[str, Any]]:
    mappings = getattr(self, "sandbox_mappings", None)
    return mappings if mappings is not None else _original_mappings.fget(self)


def patch_model() -> None:
    Ami.deprecation_time = None
    Ami.deregistration_protection = "disabled"
    Ami.last_launched_time = None
    Ami.block_device_mappings = property(_block_device_mappings)


def owned_image(backend: Any, image_id: str) -> Any:
    """The caller's own image, or the error EC2 gives for an unknown one."""
    if image_id in backend.deleted_amis:
        raise UnvailableAMIIdError(image_id)
    ami = backend.amis.get(image_id)
    if ami is None or ami.owner_id != backend.account_id:
        raise InvalidAMIIdError(image_id)
    return ami


# -- responses ----------------------------------------------------------------------------


def register_image(self: Any) -> ActionResult:
    """RegisterImage honouring BlockDeviceMappings and TagSpecifications."""
    self.error_on_dryrun()
    name = self._get_param("Name")
    if not name:
        raise MissingParameterError("Name")
    mappings = self._get_param("BlockDeviceMappings", [])
    ami = self.ec2_backend.register_image(name, self._get_param("Description", ""))
    if mappings:
        # moto made a 15 GiB snapshot for the image; the request names its own.
        self.ec2_backend.snapshots.pop(ami.ebs_snapshot.id, None)
        ami.sandbox_mappings = [_mapping(self.ec2_backend, m) for m in mappings]
        ami.root_device_type = "ebs"
    for attr, param in (
        ("root_device_name", "RootDeviceName"),
        ("architecture", "Architecture"),
        ("virtualization_type", "VirtualizationType"),
        ("boot_mode", "BootMode"),
    ):
        value = self._get_param(param)
        if value:
            setattr(ami, attr, value)
    for spec in self._get_param("TagSpecifications", []):
        if spec.get("ResourceType") == "image":
            for tag in spec.get("Tags", []):
                ami.add_tag(tag["Key"], tag.get("Value", ""))
    return ActionResult({"ImageId": ami.id})


def _mapping(backend: Any, raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"DeviceName": raw.get("DeviceName", "/dev/xvda")}
    ebs = raw.get("Ebs")
    if ebs is not None:
        snapshot_id = ebs.get("SnapshotId")
        size = ebs.get("VolumeSize")
        if snapshot_id:
            snapshot = backend.get_snapshot(snapshot_id)  # InvalidSnapshot.NotFound if absent
            size = size or snapshot.volume.size
        out["Ebs"] = {
            "SnapshotId": snapshot_id,
            "VolumeSize": int(size or 8),
            "VolumeType": ebs.get("VolumeType", "gp3"),
            "DeleteOnTermination": ebs.get("DeleteOnTermination", True),
            "Encrypted": bool(ebs.get("Encrypted", False)),
        }
    if raw.get("VirtualName"):
        out["VirtualName"] = raw["VirtualName"]
    return out


def image_snapshot_ids(ami: Any) -> list[str]:
    return [m["Ebs"]["SnapshotId"] for m in ami.block_device_mappings if m.get("Ebs", {}).get("SnapshotId")]


def describe_images(self: Any) -> ActionResult:
    """DescribeImages with IncludeDisabled, IncludeDeprecated and real pages."""
    self.error_on_dryrun()
    ami_ids = self._get_param("ImageIds", [])
    max_results = self._get_int_param("MaxResults")
    if ami_ids and max_results:
        raise InvalidParameterCombination("The parameter ImageIds cannot be used with MaxResults")
    if max_results is not None and not 1 <= max_results <= DESCRIBE_IMAGES_MAX:
        raise InvalidParameterValue(f"MaxResults must be between 1 and {DESCRIBE_IMAGES_MAX}")
    images = self.ec2_backend.describe_images(
        ami_ids=ami_ids,
        filters=self._filters_from_querystring(),
        exec_users=self._get_param("ExecutableUsers", []),
        owners=self._get_param("Owners", []),
    )
    if not self._get_bool_param("IncludeDisabled", False):
        images = [i for i in images if i.state != "disabled"]
    if not ami_ids and not self._get_bool_param("IncludeDeprecated", False):
        # Owners always see their deprecated images; others only when asked.
        now = datetime.now(UTC)
        account = self.ec2_backend.account_id
        images = [i for i in images if i.owner_id == account or not _deprecated(i, now)]
    images.sort(key=lambda i: i.id)
    items, token = page(images, max_results, self._get_param("NextToken"))
    result: dict[str, Any] = {"Images": items}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def _deprecated(ami: Any, now: datetime) -> bool:
    return bool(ami.deprecation_time) and _as_datetime(ami.deprecation_time) <= now


def enable_image_deprecation(self: Any) -> ActionResult:
    self.error_on_dryrun()
    ami = owned_image(self.ec2_backend, self._get_param("ImageId"))
    raw = self._get_param("DeprecateAt")
    if raw is None:
        raise MissingParameterError("DeprecateAt")
    when = _as_datetime(raw)
    if when - datetime.now(UTC) > DEPRECATION_LIMIT:
        raise InvalidParameterValue("DeprecateAt can be at most 10 years in the future")
    # EC2 rounds seconds to the nearest minute.
    rounded = (when + timedelta(seconds=30)).replace(second=0, microsecond=0)
    ami.deprecation_time = iso_millis(rounded)
    return ActionResult({"Return": True})


def disable_image_deprecation(self: Any) -> ActionResult:
    self.error_on_dryrun()
    owned_image(self.ec2_backend, self._get_param("ImageId")).deprecation_time = None
    return ActionResult({"Return": True})


def enable_image_deregistration_protection(self: Any) -> ActionResult:
    self.error_on_dryrun()
    ami = owned_image(self.ec2_backend, self._get_param("ImageId"))
    cooldown = self._get_bool_param("WithCooldown", False)
    ami.deregistration_protection = "enabled-with-cooldown" if cooldown else "enabled"
    return ActionResult({"Return": "true"})


def disable_image_deregistration_protection(self: Any) -> ActionResult:
    self.error_on_dryrun()
    ami = owned_image(self.ec2_backend, self._get_param("ImageId"))
    if ami.deregistration_protection == "enabled-with-cooldown":
        # Protected for 24 hours more, as EC2 does for a cooldown.
        until = datetime.now(UTC) + timedelta(hours=24)
        ami.deregistration_protection = f"disabled-until-{iso_millis(until)}"
    else:
        ami.deregistration_protection = "disabled"
    return ActionResult({"Return": "true"})


def _protected(ami: Any) -> bool:
    state = str(ami.deregistration_protection)
    if state.startswith("enabled"):
        return True
    if state.startswith("disabled-until-"):
        return _as_datetime(state.removeprefix("disabled-until-")) > datetime.now(UTC)
    return False


def deregister_image(self: Any) -> ActionResult:
    """DeregisterImage refusing protected images; DeleteAssociatedSnapshots as documented."""
    self.error_on_dryrun()
    backend = self.ec2_backend
    image_id = self._get_param("ImageId")
    ami = owned_image(backend, image_id)
    if _protected(ami):
        raise ProtectedImage(image_id)
    delete_snapshots = self._get_bool_param("DeleteAssociatedSnapshots", False)
    snapshot_ids = image_snapshot_ids(ami)
    backend.deregister_image(image_id)
    result: dict[str, Any] = {"Return": True}
    if delete_snapshots:
        result["DeleteSnapshotResults"] = [_delete_snapshot(backend, s) for s in snapshot_ids]
    return ActionResult(result)


def _delete_snapshot(backend: Any, snapshot_id: str) -> dict[str, str]:
    # A snapshot another registered image still uses is left in place.
    users = [a for a in backend.amis.values() if snapshot_id in image_snapshot_ids(a)]
    if users:
        return {"SnapshotId": snapshot_id, "ReturnCode": "skipped"}
    snapshot = backend.snapshots.get(snapshot_id)
    if snapshot is None:
        return {"SnapshotId": snapshot_id, "ReturnCode": "client-error"}
    if snapshot.owner_id != backend.account_id:
        return {"SnapshotId": snapshot_id, "ReturnCode": "missing-permissions"}
    backend.snapshots.pop(snapshot_id)
    return {"SnapshotId": snapshot_id, "ReturnCode": "success"}


def disable_image(self: Any) -> ActionResult:
    """DisableImage: the image turns disabled and, if shared or public, private."""
    self.error_on_dryrun()
    ami = owned_image(self.ec2_backend, self._get_param("ImageId"))
    ami.state = "disabled"
    ami.launch_permissions = []
    return ActionResult({"Return": True})


def enable_image(self: Any) -> ActionResult:
    self.error_on_dryrun()
    ami = owned_image(self.ec2_backend, self._get_param("ImageId"))
    ami.state = "available"
    return ActionResult({"Return": True})


def describe_image_attribute_last_launched(original: Any) -> Any:
    """DescribeImageAttribute lastLaunchedTime answers from the image's stamp."""

    def describe_image_attribute(self: Any) -> Any:
        if self._get_param("Attribute") == "lastLaunchedTime":
            ami = owned_image(self.ec2_backend, self._get_param("ImageId"))
            value = {"Value": ami.last_launched_time} if ami.last_launched_time else {}
            return ActionResult({"ImageId": ami.id, "LastLaunchedTime": value})
        return original(self)

    return describe_image_attribute


def stamp_launches(original: Any) -> Any:
    """RunInstances stamps LastLaunchedTime on the image it launched from."""

    def run_instances(self: Any, image_id: str, *args: Any, **kwargs: Any) -> Any:
        reservation = original(self, image_id, *args, **kwargs)
        for instance in reservation.instances:
            ami = self.amis.get(instance.image_id)
            if ami is not None:
                ami.last_launched_time = iso_millis(datetime.now(UTC))
        return reservation

    return run_instances
