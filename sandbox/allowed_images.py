"""Allowed AMIs: the account's per-region setting, and what it hides from DescribeImages.

Get/Enable/DisableAllowedImagesSettings and ReplaceImageCriteriaInAllowedImagesSettings
keep one setting per account and region (EC2 API reference; User Guide "Control the
discovery and use of AMIs in Amazon EC2 with Allowed AMIs"):

- State "disabled" (where every account starts), "audit-mode" or "enabled".
  EnableAllowedImagesSettings takes only enabled | audit-mode.
- ImageCriteria: up to 10 criteria. An image is allowed when it meets every parameter
  one criterion names (the parameters of a criterion narrow, the criteria widen).
  With no criteria the sandbox allows no image of another owner (the reference does
  not say; nothing meets a criterion that does not exist).
- enabled: DescribeImages leaves out images outside the criteria, and marks the rest
  ImageAllowed=true. audit-mode: every image is listed, ImageAllowed says whether
  it meets the criteria. disabled: no ImageAllowed field.
- "The Allowed AMIs feature does not restrict the AMIs owned by your account ...
  always discoverable" (API reference): the caller's own images are never hidden
  and always ImageAllowed=true.

Criteria parameters as the sandbox reads them:
- ImageProviders: an account id matches the owner; amazon, aws-marketplace and
  aws-backup-vault match the owner alias of that name (the sandbox knows no
  "verified providers"); none allows no one but the account itself.
- ImageNames: * and ? wildcards over the whole name.
- MarketplaceProductCodes: any of the image's product codes.
- CreationDateCondition.MaximumDaysSinceCreated: created at most that many days ago.
- DeprecationTimeCondition.MaximumDaysSinceDeprecated: not deprecated, or deprecated
  less than that many days ago (0 excludes every deprecated image).
- ImageWatermarks, ScanResultCondition: sandbox images carry no watermark and no
  Inspector scan, and the API reference says unscanned AMIs are not allowed, so a
  criterion naming either matches nothing here.
Only DescribeImages applies the setting; RunInstances does not refuse a launch here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models.amis import Ami
from moto.ec2.responses import EC2Response

from ._patching import override
from .clock import as_utc, now
from .errors import invalid_parameter_combination, invalid_parameter_value
from .image_model import extras_of, is_deprecated

DISABLED = "disabled"
AUDIT_MODE = "audit-mode"
ENABLED = "enabled"
ENABLE_STATES = (ENABLED, AUDIT_MODE)
MANAGED_BY = "account"  # declarative policies (the other value) are not modelled

MAX_CRITERIA = 10
MAX_PROVIDERS = 200
MAX_NAMES = 50
MAX_PRODUCT_CODES = 50
NAMED_PROVIDERS = ("amazon", "aws-marketplace", "aws-backup-vault")
NO_PROVIDER = "none"

_SETTING_ATTR = "_sandbox_allowed_images"
_ACCOUNT_ID = re.compile(r"^\d{12}$")


@dataclass
class AllowedImages:
    state: str = DISABLED
    criteria: list[dict[str, Any]] = field(default_factory=list)


def setting_of(backend: Any) -> AllowedImages:
    found = backend.__dict__.get(_SETTING_ATTR)
    if found is None:
        found = backend.__dict__.setdefault(_SETTING_ATTR, AllowedImages())
    return found


# -- criteria -------------------------------------------------------------------------------


def _wildcard(pattern: str) -> re.Pattern[str]:
    # Only * and ? are wildcards; brackets and dots are plain name characters.
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z"
    )


def _provider_ok(image: Any, providers: list[str]) -> bool:
    for provider in providers:
        if provider == image.owner_id or (provider in NAMED_PROVIDERS and provider == image.owner_alias):
            return True
    return False


def _days_since(moment: Any) -> timedelta:
    return now() - as_utc(moment)


def _criterion_ok(image: Any, criterion: dict[str, Any]) -> bool:
    if criterion.get("ImageWatermarks") or criterion.get("ScanResultCondition"):
        return False
    providers = criterion.get("ImageProviders")
    if providers and not _provider_ok(image, providers):
        return False
    names = criterion.get("ImageNames")
    if names and not any(_wildcard(n).match(image.name or "") for n in names):
        return False
    codes = criterion.get("MarketplaceProductCodes")
    if codes and not set(codes) & set(image.product_codes or ()):
        return False
    created = (criterion.get("CreationDateCondition") or {}).get("MaximumDaysSinceCreated")
    if created is not None and _days_since(image.creation_date) > timedelta(days=int(created)):
        return False
    deprecated = (criterion.get("DeprecationTimeCondition") or {}).get("MaximumDaysSinceDeprecated")
    if deprecated is not None and is_deprecated(image):
        since = _days_since(extras_of(image).deprecate_at)
        if int(deprecated) == 0 or since > timedelta(days=int(deprecated)):
            return False
    return True


def meets_criteria(backend: Any, image: Any) -> bool:
    """Whether the image is allowed: the caller's own always, others by the criteria."""
    if image.owner_id == backend.account_id:
        return True
    return any(_criterion_ok(image, c) for c in setting_of(backend).criteria)


def discoverable(backend: Any, image: Any) -> bool:
    """Whether DescribeImages may list the image for the backend's account."""
    return setting_of(backend).state != ENABLED or meets_criteria(backend, image)


def _image_allowed(self: Any) -> bool | None:
    # The ImageAllowed field of DescribeImages; absent while the setting is disabled.
    backend = self.ec2_backend
    if setting_of(backend).state == DISABLED:
        return None
    return meets_criteria(backend, self)


# -- validation -----------------------------------------------------------------------------


def _too_many(name: str, limit: int) -> Exception:
    return invalid_parameter_value(f"The parameter {name} can have at most {limit} values.")


def _validated(criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(criteria) > MAX_CRITERIA:
        raise _too_many("ImageCriteria", MAX_CRITERIA)
    providers_total = 0
    for criterion in criteria:
        providers = list(criterion.get("ImageProviders") or [])
        providers_total += len(providers)
        for provider in providers:
            if provider not in (*NAMED_PROVIDERS, NO_PROVIDER) and not _ACCOUNT_ID.match(provider):
                raise invalid_parameter_value(f"Value ({provider}) for parameter ImageProvider is invalid.")
        if NO_PROVIDER in providers and len(providers) > 1:
            raise invalid_parameter_combination("When none is specified, no other image provider can be.")
        if len(criterion.get("ImageNames") or []) > MAX_NAMES:
            raise _too_many("ImageNames", MAX_NAMES)
        if len(criterion.get("MarketplaceProductCodes") or []) > MAX_PRODUCT_CODES:
            raise _too_many("MarketplaceProductCodes", MAX_PRODUCT_CODES)
    if providers_total > MAX_PROVIDERS:
        raise _too_many("ImageProviders", MAX_PROVIDERS)
    return criteria


# -- the four operations --------------------------------------------------------------------


def _get_allowed_images_settings(self: Any) -> ActionResult:
    self.error_on_dryrun()
    setting = setting_of(self.ec2_backend)
    return ActionResult({"State": setting.state, "ImageCriteria": setting.criteria, "ManagedBy": MANAGED_BY})


def _enable_allowed_images_settings(self: Any) -> ActionResult:
    wanted = self._get_param("AllowedImagesSettingsState")
    if wanted not in ENABLE_STATES:
        raise invalid_parameter_value(
            f"Value ({wanted}) for parameter AllowedImagesSettingsState is invalid."
        )
    self.error_on_dryrun()
    setting_of(self.ec2_backend).state = wanted
    return ActionResult({"AllowedImagesSettingsState": wanted})


def _disable_allowed_images_settings(self: Any) -> ActionResult:
    self.error_on_dryrun()
    setting_of(self.ec2_backend).state = DISABLED
    return ActionResult({"AllowedImagesSettingsState": DISABLED})


def _replace_image_criteria(self: Any) -> ActionResult:
    criteria = _validated(list(self._get_param("ImageCriteria") or []))
    self.error_on_dryrun()
    setting_of(self.ec2_backend).criteria = criteria
    return ActionResult({"ReturnValue": True})


def install() -> None:
    override(Ami, "image_allowed", property(_image_allowed))
    override(EC2Response, "get_allowed_images_settings", _get_allowed_images_settings)
    override(EC2Response, "enable_allowed_images_settings", _enable_allowed_images_settings)
    override(EC2Response, "disable_allowed_images_settings", _disable_allowed_images_settings)
    override(EC2Response, "replace_image_criteria_in_allowed_images_settings", _replace_image_criteria)
