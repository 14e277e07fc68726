"""Image block public access, and the sharing rules ModifyImageAttribute enforces.

- Get/Enable/DisableImageBlockPublicAccess keep one state per account and
  region: "unblocked" or "block-new-sharing". The sandbox starts "unblocked"
  (an existing account that has had public AMIs; new AWS accounts start
  blocked), and a change applies at once, where AWS may take ten minutes.
- While blocked, adding the "all" group to an image's launch permissions fails;
  images already public stay public.
- A disabled image can't be shared, and only the owner changes its permissions.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models import EC2Backend
from moto.ec2.responses import EC2Response

from ._patching import original, override
from .errors import invalid_parameter_value, operation_not_permitted
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


def install() -> None:
    override(EC2Backend, "modify_image_attribute", modify_image_attribute)
    override(EC2Response, "get_image_block_public_access_state", _get_image_block_public_access_state)
    override(EC2Response, "enable_image_block_public_access", _enable_image_block_public_access)
    override(EC2Response, "disable_image_block_public_access", _disable_image_block_public_access)
