"""What an AMI carries beyond moto's model, and how DescribeImages shows it.

moto's `Ami` has no deprecation, deregistration protection, last launch or
real block device mappings. Each image gets an `ImageExtras` record; properties
named after the DescribeImages fields (`deprecation_time`, ...) make moto's
serializer emit them, since it looks attributes up by the API's member names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.ec2.exceptions import InvalidAMIIdError, MalformedAMIIdError, UnvailableAMIIdError
from moto.ec2.models.amis import Ami

from ._patching import original, override
from .clock import iso_millis, iso_seconds, now
from .errors import not_authorized_for_image
from .image_table import images_of

PROTECTION_DISABLED = "disabled"
PROTECTION_ENABLED = "enabled-without-cooldown"
PROTECTION_WITH_COOLDOWN = "enabled-with-cooldown"

_EXTRAS_ATTR = "_sandbox_extras"


@dataclass
class ImageExtras:
    # None: moto's own single stand-in mapping (images moto created itself).
    mappings: list[dict[str, Any]] | None = None
    deprecate_at: datetime | None = None
    protection: str = PROTECTION_DISABLED
    # Set when protection "with cooldown" is disabled: still enforced until then.
    protected_until: datetime | None = None
    last_launched: datetime | None = None


def extras_of(image: Any) -> ImageExtras:
    found = image.__dict__.get(_EXTRAS_ATTR)
    if found is None:
        found = image.__dict__.setdefault(_EXTRAS_ATTR, ImageExtras())
    return found


def is_protected(image: Any) -> bool:
    extras = extras_of(image)
    if extras.protection != PROTECTION_DISABLED:
        return True
    return extras.protected_until is not None and now() < extras.protected_until


def is_deprecated(image: Any) -> bool:
    """Deprecated means the deprecation time has passed; a future time only announces it."""
    deprecate_at = extras_of(image).deprecate_at
    return deprecate_at is not None and deprecate_at <= now()


def find_image(backend: Any, image_id: str) -> Any:
    """The registered image, or the error EC2 gives for a malformed, unknown or deregistered id."""
    if not str(image_id).startswith("ami-"):
        raise MalformedAMIIdError([image_id])
    image = images_of(backend).get(image_id)
    if image is None:
        if image_id in backend.deleted_amis:
            raise UnvailableAMIIdError(image_id)
        raise InvalidAMIIdError(image_id)
    return image


def visible_to(backend: Any, image: Any) -> bool:
    """Whether the calling account can see the image: its own, public, or shared with it."""
    if image.owner_id == backend.account_id or image.is_public:
        return True
    return any(p.get("UserId") == backend.account_id for p in image.launch_permissions)


def owned_image(backend: Any, image_id: str) -> Any:
    """As find_image, and only if the calling account owns the image.

    Another account's image that is not shared with the caller does not exist
    as far as the caller can tell; one it can see is refused as not its own.
    """
    image = find_image(backend, image_id)
    if image.owner_id != backend.account_id:
        if not visible_to(backend, image):
            raise InvalidAMIIdError(image_id)
        raise not_authorized_for_image(image_id)
    return image


# -- the DescribeImages fields ------------------------------------------------------------


def _block_device_mappings(self: Any) -> list[dict[str, Any]]:
    mappings = extras_of(self).mappings
    if mappings is not None:
        return mappings
    return original(Ami, "block_device_mappings").fget(self)


def _deprecation_time(self: Any) -> str | None:
    deprecate_at = extras_of(self).deprecate_at
    return None if deprecate_at is None else iso_millis(deprecate_at)


def _deregistration_protection(self: Any) -> str:
    extras = extras_of(self)
    if extras.protection != PROTECTION_DISABLED:
        return extras.protection
    if extras.protected_until is not None and now() < extras.protected_until:
        # The cooldown still refuses deregistration; the field says until when.
        return f"disabled-until {iso_millis(extras.protected_until)}"
    return PROTECTION_DISABLED


def _last_launched_time(self: Any) -> str | None:
    # DescribeImages writes its times with milliseconds; DescribeImageAttribute does not.
    launched = extras_of(self).last_launched
    return None if launched is None else iso_millis(launched)


def last_launched_attribute(image: Any) -> str | None:
    """The lastLaunchedTime attribute value, as the User Guide shows it: "2022-02-10T02:03:18Z"."""
    launched = extras_of(image).last_launched
    return None if launched is None else iso_seconds(launched)


def install() -> None:
    override(Ami, "block_device_mappings", property(_block_device_mappings))
    override(Ami, "deprecation_time", property(_deprecation_time))
    override(Ami, "deregistration_protection", property(_deregistration_protection))
    override(Ami, "last_launched_time", property(_last_launched_time))
