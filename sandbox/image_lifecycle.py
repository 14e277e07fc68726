"""Deprecation, deregistration protection, disabling, deregistration, launches.

Each operation behaves as the EC2 API reference describes it:
- EnableImageDeprecation rounds DeprecateAt to the minute and refuses a time in
  the past or more than 10 years ahead (2 years after creation for a public AMI).
- Deregistration protection "with cooldown" keeps refusing deregistration for
  24 hours after it is disabled.
- DisableImage makes the image private: it removes every launch permission.
- DeregisterImage with DeleteAssociatedSnapshots deletes the image's snapshots,
  except ones another registered image uses, which it reports as "skipped".
- RunInstances stamps the image's LastLaunchedTime (EC2 reports it a day late;
  the sandbox at once, so tests need not wait).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models import EC2Backend
from moto.ec2.models.instances import Instance
from moto.ec2.responses import EC2Response

from ._patching import original, override
from .clock import as_utc, now
from .errors import invalid_parameter_value, operation_not_permitted
from .image_model import (
    PROTECTION_DISABLED,
    PROTECTION_ENABLED,
    PROTECTION_WITH_COOLDOWN,
    extras_of,
    find_image,
    is_protected,
    owned_image,
)
from .image_table import images_of, snapshot_ids_of

COOLDOWN = timedelta(hours=24)
DEPRECATION_HORIZON = timedelta(days=365 * 10)
PUBLIC_DEPRECATION_HORIZON = timedelta(days=365 * 2)

SNAPSHOT_DELETED = "success"
SNAPSHOT_SKIPPED = "skipped"
SNAPSHOT_CLIENT_ERROR = "client-error"


def _to_minute(moment: datetime) -> datetime:
    """EC2 rounds DeprecateAt's seconds to the nearest minute."""
    return (moment + timedelta(seconds=30)).replace(second=0, microsecond=0)


# -- backend ------------------------------------------------------------------------------


def enable_image_deprecation(self: Any, image_id: str, deprecate_at: datetime) -> None:
    image = owned_image(self, image_id)
    when = _to_minute(as_utc(deprecate_at))
    current = now()
    # "Now" itself is accepted: only a minute already over counts as the past.
    if when < current.replace(second=0, microsecond=0):
        raise invalid_parameter_value(
            f"The deprecation time {when:%Y-%m-%dT%H:%M:%SZ} cannot be in the past."
        )
    limit = (
        image.creation_date + PUBLIC_DEPRECATION_HORIZON if image.is_public else current + DEPRECATION_HORIZON
    )
    if when > as_utc(limit):
        raise invalid_parameter_value(
            f"The deprecation time {when:%Y-%m-%dT%H:%M:%SZ} is too far in the future."
        )
    extras_of(image).deprecate_at = when


def disable_image_deprecation(self: Any, image_id: str) -> None:
    extras_of(owned_image(self, image_id)).deprecate_at = None


def enable_image_deregistration_protection(self: Any, image_id: str, with_cooldown: bool = False) -> str:
    extras = extras_of(owned_image(self, image_id))
    extras.protection = PROTECTION_WITH_COOLDOWN if with_cooldown else PROTECTION_ENABLED
    extras.protected_until = None
    return extras.protection


def disable_image_deregistration_protection(self: Any, image_id: str) -> str:
    extras = extras_of(owned_image(self, image_id))
    if extras.protection == PROTECTION_WITH_COOLDOWN:
        extras.protected_until = now() + COOLDOWN
    extras.protection = PROTECTION_DISABLED
    return PROTECTION_DISABLED


def disable_image(self: Any, ami_id: str) -> None:
    image = owned_image(self, ami_id)
    image.state = "disabled"
    image.launch_permissions = []  # public or shared: made private, and sharing is not restored later


def enable_image(self: Any, ami_id: str) -> None:
    owned_image(self, ami_id).state = "available"


def deregister_image(
    self: Any, ami_id: str, delete_associated_snapshots: bool = False
) -> list[dict[str, str]]:
    """Deregisters; with delete_associated_snapshots, what became of each snapshot."""
    image = owned_image(self, ami_id)
    if is_protected(image):
        raise operation_not_permitted(
            f"Image {ami_id} has deregistration protection enabled; disable it before deregistering."
        )
    table = images_of(self)
    snapshots = snapshot_ids_of(image)
    del table[ami_id]
    self.deleted_amis.append(ami_id)
    if not delete_associated_snapshots:
        return []
    results = []
    for snapshot_id in snapshots:
        if table.users_of(snapshot_id):
            code = SNAPSHOT_SKIPPED  # another registered image still uses it
        elif snapshot_id in self.snapshots:
            self.snapshots.pop(snapshot_id)
            code = SNAPSHOT_DELETED
        else:
            code = SNAPSHOT_CLIENT_ERROR
        results.append({"SnapshotId": snapshot_id, "ReturnCode": code})
    return results


def run_instances(self: Any, image_id: str, count: int, *args: Any, **kwargs: Any) -> Any:
    reservation = original(EC2Backend, "run_instances")(self, image_id, count, *args, **kwargs)
    launched = now()
    table = images_of(self)
    for instance in reservation.instances:
        image = table.get(instance.image_id)
        if image is not None:
            extras_of(image).last_launched = launched
    return reservation


def _terminate(self: Any) -> Any:
    previous = original(Instance, "terminate")(self)
    # EC2 forgets a terminated instance about an hour later; references need the time.
    self.__dict__.setdefault("sandbox_terminated_at", now())
    return previous


def set_last_launched(backend: Any, image_id: str, when: datetime) -> None:
    extras_of(find_image(backend, image_id)).last_launched = as_utc(when)


# -- responses ----------------------------------------------------------------------------


def _enable_image_deprecation(self: Any) -> ActionResult:
    self.error_on_dryrun()
    self.ec2_backend.enable_image_deprecation(self._get_param("ImageId"), self._get_param("DeprecateAt"))
    return ActionResult({"Return": True})


def _disable_image_deprecation(self: Any) -> ActionResult:
    self.error_on_dryrun()
    self.ec2_backend.disable_image_deprecation(self._get_param("ImageId"))
    return ActionResult({"Return": True})


def _enable_image_deregistration_protection(self: Any) -> ActionResult:
    self.error_on_dryrun()
    state = self.ec2_backend.enable_image_deregistration_protection(
        self._get_param("ImageId"), bool(self._get_param("WithCooldown", False))
    )
    return ActionResult({"Return": state})


def _disable_image_deregistration_protection(self: Any) -> ActionResult:
    self.error_on_dryrun()
    return ActionResult(
        {"Return": self.ec2_backend.disable_image_deregistration_protection(self._get_param("ImageId"))}
    )


def _deregister_image(self: Any) -> ActionResult:
    self.error_on_dryrun()
    delete = bool(self._get_param("DeleteAssociatedSnapshots", False))
    results = self.ec2_backend.deregister_image(
        self._get_param("ImageId"), delete_associated_snapshots=delete
    )
    answer: dict[str, Any] = {"Return": True}
    if delete:
        answer["DeleteSnapshotResults"] = results
    return ActionResult(answer)


def install() -> None:
    for name, function in {
        "enable_image_deprecation": enable_image_deprecation,
        "disable_image_deprecation": disable_image_deprecation,
        "enable_image_deregistration_protection": enable_image_deregistration_protection,
        "disable_image_deregistration_protection": disable_image_deregistration_protection,
        "disable_image": disable_image,
        "enable_image": enable_image,
        "deregister_image": deregister_image,
        "run_instances": run_instances,
    }.items():
        override(EC2Backend, name, function)
    override(Instance, "terminate", _terminate)
    for name, function in {
        "enable_image_deprecation": _enable_image_deprecation,
        "disable_image_deprecation": _disable_image_deprecation,
        "enable_image_deregistration_protection": _enable_image_deregistration_protection,
        "disable_image_deregistration_protection": _disable_image_deregistration_protection,
        "deregister_image": _deregister_image,
    }.items():
        override(EC2Response, name, function)
