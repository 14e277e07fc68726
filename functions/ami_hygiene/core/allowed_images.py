"""The account's Allowed AMIs setting, and what it means for the jobs' reads.

With Allowed AMIs "enabled", DescribeImages returns only images that meet the
criteria; in "audit-mode" it returns every image and marks each ImageAllowed true
or false (EC2 API reference, DescribeImages and GetAllowedImagesSettings). The
reference also says: "The Allowed AMIs feature does not restrict the AMIs owned by
your account ... always discoverable and usable" - so the jobs' own images are
never hidden. What can be hidden are images of other owners, e.g. the base image a
family is rebuilt from when it comes from another account and falls outside the
criteria: rebuild then cannot resolve it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.errors import describe_error, error_code

# Every sweep reads the Allowed AMIs setting once per region, to warn when it hides images (coverage.py).
READS = ("ec2:GetAllowedImagesSettings",)

if TYPE_CHECKING:
    from types_boto3_ec2 import EC2Client

DISABLED, AUDIT_MODE, ENABLED = "disabled", "audit-mode", "enabled"

# Where an EC2 endpoint lacks the operation (a partition or region without the
# feature) it answers one of these common client errors ("Error codes for the
# Amazon EC2 API"): there is then no setting that could hide anything.
ABSENT_API_CODES = ("InvalidAction", "UnsupportedOperation", "NotImplemented")


@dataclass(frozen=True)
class AllowedImages:
    """What GetAllowedImagesSettings answered in a region, or why it could not be read."""

    region: str
    state: str | None = None  # None: not read (see error) or no such API (absent)
    criteria: int = 0
    managed_by: str | None = None
    error: str | None = None
    absent: bool = False

    @property
    def restricts(self) -> bool:
        return self.state in (ENABLED, AUDIT_MODE)


def read_allowed_images(ec2: EC2Client, region: str) -> AllowedImages:
    """One GetAllowedImagesSettings call."""
    try:
        answer = ec2.get_allowed_images_settings()
    except ClientError as err:
        if error_code(err) in ABSENT_API_CODES:
            return AllowedImages(region, absent=True)
        return AllowedImages(region, error=describe_error(err))
    except BotoCoreError as err:
        return AllowedImages(region, error=describe_error(err))
    return AllowedImages(
        region,
        state=str(answer.get("State") or DISABLED),
        criteria=len(answer.get("ImageCriteria") or []),
        managed_by=answer.get("ManagedBy"),
    )


def describe_setting(setting: AllowedImages) -> str | None:
    """The sentence for a setting that matters (enabled, audit-mode, unreadable); None otherwise."""
    where = setting.region
    if setting.error is not None:
        return f"could not read the Allowed AMIs setting in {where}: {setting.error}"
    if setting.state == ENABLED:
        managed = " (managed by a declarative policy)" if setting.managed_by == "declarative-policy" else ""
        return (
            f"Allowed AMIs is enabled in {where}{managed} with {_criteria(setting.criteria)}: DescribeImages "
            "hides images of other owners outside the criteria (e.g. a family's base image from another "
            "account, which rebuild then cannot resolve); this account's own images are never hidden "
            "(EC2 API reference)"
        )
    if setting.state == AUDIT_MODE:
        return (
            f"Allowed AMIs is in audit-mode in {where} with {_criteria(setting.criteria)}: nothing is hidden "
            "yet, but enabling it would hide images of other owners outside the criteria from DescribeImages "
            "(e.g. a family's base image from another account, which rebuild resolves); this account's own "
            "images stay visible (EC2 API reference)"
        )
    return None


def allowed_images_warning(ec2: EC2Client, region: str) -> str | None:
    """One warning sentence when Allowed AMIs is enabled or in audit-mode, or unreadable; else None."""
    return describe_setting(read_allowed_images(ec2, region))


def _criteria(count: int) -> str:
    if count == 0:
        return "no criteria"
    return f"{count} {'criterion' if count == 1 else 'criteria'}"
