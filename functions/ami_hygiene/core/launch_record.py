"""The launch permissions an image had, kept in its own tags so `restore` can give them back.

EC2's DisableImage removes every launch permission of an image, and EnableImage
does not bring them back (botocore ec2 service-2.json, DisableImage: "the AMI's
launch permissions are removed"; EnableImage: "[it] does not restore the launch
permissions"). So before rotation disables or deregisters an image shared with
allow-listed principals, it writes them here. (The Recycle Bin guide says a
restored AMI keeps the sharing it had when deleted; rotation deregisters images
DisableImage already made private, except with DisableGraceDays=0, so the
record is what `restore` relies on either way, and re-adding a permission
that came back is harmless.)

Why tags and not the report bucket: the record travels with the image (into the
Recycle Bin and back), needs no stack (the CLI has no bucket) and is readable
with the same DescribeImages call restore makes anyway.

Format: principals (12-digit account ids, organization and OU ARNs) separated by
single spaces, in tags `ami-hygiene:launch-permissions`, `...-2`, `...-3`, ...
An EC2 tag value holds at most 256 characters (EC2 User Guide, "Tag
restrictions"); space, ':' and '/' are allowed characters in every service. A
record that needs more than MAX_TAGS tags does not fit, and rotation keeps
such an image rather than lose who it was shared with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ami_hygiene.core.estate import TAG_PREFIX

if TYPE_CHECKING:
    from types_boto3_ec2.type_defs import LaunchPermissionTypeDef

TAG_LAUNCH_PERMISSIONS = f"{TAG_PREFIX}launch-permissions"
VALUE_LIMIT = 256
MAX_TAGS = 8

ACCOUNT = re.compile(r"^\d{12}$")
# As loose as ALLOWED_SHARE_ACCOUNTS accepts them (settings.ORG_ARN_PATTERN).
ORGANIZATION = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]+$")
UNIT = re.compile(r"^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]+/ou-[a-z0-9-]+$")


class RecordError(ValueError):
    """A recorded principal is not an account id, organization or OU ARN."""


@dataclass(frozen=True)
class LaunchRecord:
    """Who an image was shared with before ami-hygiene disabled or deregistered it."""

    principals: tuple[str, ...]

    def tags(self) -> dict[str, str] | None:
        """The tags that hold this record, or None when it needs more than MAX_TAGS tags."""
        values: list[str] = []
        for principal in self.principals:
            if values and len(values[-1]) + 1 + len(principal) <= VALUE_LIMIT:
                values[-1] += " " + principal
            else:
                values.append(principal)
        if len(values) > MAX_TAGS:
            return None
        return {tag_key(i): value for i, value in enumerate(values)}

    @property
    def fits(self) -> bool:
        return self.tags() is not None

    def launch_permissions(self) -> list[LaunchPermissionTypeDef]:
        """As ModifyImageAttribute's LaunchPermission.Add takes them."""
        out: list[LaunchPermissionTypeDef] = []
        for principal in self.principals:
            if ACCOUNT.match(principal):
                out.append({"UserId": principal})
            elif ":ou/" in principal:
                out.append({"OrganizationalUnitArn": principal})
            else:
                out.append({"OrganizationArn": principal})
        return out


def record_of(principals: Iterable[str]) -> LaunchRecord:
    return LaunchRecord(tuple(sorted(set(principals))))


def tag_key(index: int) -> str:
    """The first tag has no number; the second is `...-2`."""
    return TAG_LAUNCH_PERMISSIONS if index == 0 else f"{TAG_LAUNCH_PERMISSIONS}-{index + 1}"


def record_keys(tags: Mapping[str, str]) -> tuple[str, ...]:
    """The record's tags present on an image (to remove once restored)."""
    return tuple(tag_key(i) for i in range(MAX_TAGS) if tag_key(i) in tags)


def recorded(tags: Mapping[str, str]) -> LaunchRecord:
    """The record in an image's tags (empty when none); RecordError on a value that is not one."""
    principals: list[str] = []
    for key in record_keys(tags):
        for principal in tags[key].split():
            if not (ACCOUNT.match(principal) or ORGANIZATION.match(principal) or UNIT.match(principal)):
                raise RecordError(
                    f"tag {key} holds {principal[:80]!r}, which is not an account id, organization or OU ARN"
                )
            principals.append(principal)
    return record_of(principals)
