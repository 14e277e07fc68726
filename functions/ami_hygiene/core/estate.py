"""What inventory read: plain, frozen data. No boto3 object goes past inventory.

Policies take an Estate and return a Plan; they never call AWS. Everything a
safety rule needs to decide is here, or explicitly marked as "not read" (None),
which policies treat as the unsafe case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

TAG_PREFIX = "ami-hygiene:"
TAG_RETAIN = f"{TAG_PREFIX}retain"
TAG_FAMILY = f"{TAG_PREFIX}family"
TAG_DISABLED_AT = f"{TAG_PREFIX}disabled-at"
TAG_PUBLIC_ALLOWED = f"{TAG_PREFIX}public-allowed"
TAG_PIPELINE = f"{TAG_PREFIX}pipeline"
# Put on what rotation deregisters, so a Recycle Bin rule can scope to it.
TAG_RETIRED_BY = f"{TAG_PREFIX}retired-by"  # value: the job name, exactly
TAG_RETIRED_AT = f"{TAG_PREFIX}retired-at"
# Put on each snapshot rotation deletes with an image: that image's id, so restore
# finds exactly its snapshots in the Recycle Bin (which lists no block device mappings).
TAG_RETIRED_WITH = f"{TAG_PREFIX}retired-with"
# Put by the tag job on an image it deprecates for breaking the tag policy;
# rotation retires such an image (while it still breaks it) whatever its age.
TAG_ESCALATED_AT = f"{TAG_PREFIX}escalated-at"
# Image Builder stamps its output with this tag.
TAG_IMAGE_BUILDER_ARN = "Ec2ImageBuilderArn"

EMPTY_TAGS: Mapping[str, str] = MappingProxyType({})
# DescribeImages Architecture: the enum ArchitectureValues of botocore's EC2 model
# (ec2/2016-11-15/service-2.json); instance types list theirs in
# DescribeInstanceTypes ProcessorInfo.SupportedArchitectures (ArchitectureType, same values).
ARCHITECTURES = ("i386", "x86_64", "arm64", "x86_64_mac", "arm64_mac")
DEFAULT_ARCHITECTURE = "x86_64"  # when DescribeImages leaves it out


class ImageState(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    INVALID = "invalid"
    DEREGISTERED = "deregistered"
    TRANSIENT = "transient"
    FAILED = "failed"
    ERROR = "error"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    """One EBS snapshot behind an image (from its block device mapping)."""

    snapshot_id: str
    device_name: str
    size_gib: int


@dataclass(frozen=True)
class Image:
    image_id: str
    region: str
    owner_id: str
    name: str
    creation_date: datetime
    state: str
    tags: Mapping[str, str] = field(default_factory=dict)
    snapshots: tuple[SnapshotRef, ...] = ()
    public: bool = False
    deprecation_time: datetime | None = None
    deregistration_protected: bool = False
    last_launched: datetime | None = None
    platform: str = "linux"
    description: str = ""
    # DescribeImages SourceImageId: the image a copy was made from, or the
    # image the build instance ran (CreateImage); None when EC2 does not say.
    source_image_id: str | None = None
    # DescribeImages Architecture (one of ARCHITECTURES).
    architecture: str = DEFAULT_ARCHITECTURE

    @property
    def is_available(self) -> bool:
        return self.state == ImageState.AVAILABLE

    @property
    def is_disabled(self) -> bool:
        return self.state == ImageState.DISABLED

    @property
    def size_gib(self) -> int:
        return sum(s.size_gib for s in self.snapshots)


class UsageKind(StrEnum):
    INSTANCE = "instance"
    LAUNCH_TEMPLATE = "launch-template"
    LAUNCH_CONFIGURATION = "launch-configuration"
    SSM_PARAMETER = "ssm-parameter"
    IMAGE_REFERENCE = "image-reference"


@dataclass(frozen=True)
class Usage:
    """Something that uses an image; `describe()` is the reason sentence."""

    image_id: str
    kind: UsageKind
    resource: str  # e.g. "i-0abc", "lt-0abc", "/golden/web"
    detail: str = ""  # e.g. "stopped", "$Default", "version 3, pinned by ASG web-asg"
    # The account the resource is in when it is not the image owner's: a consumer
    # the image is shared with (read with that account's credentials).
    account: str = ""

    def describe(self) -> str:
        label = {
            UsageKind.INSTANCE: "instance",
            UsageKind.LAUNCH_TEMPLATE: "launch template",
            UsageKind.LAUNCH_CONFIGURATION: "launch configuration",
            UsageKind.SSM_PARAMETER: "SSM parameter",
            UsageKind.IMAGE_REFERENCE: "resource",
        }[self.kind]
        suffix = f" ({self.detail})" if self.detail else ""
        where = f" in account {self.account}" if self.account else ""
        return f"used by {label} {self.resource}{suffix}{where}"


@dataclass(frozen=True)
class Sharing:
    """Launch permissions of one image (DescribeImageAttribute launchPermission).

    Read only for images still candidates after the cheap checks. `error` is
    set when the read failed; policies then keep the image.
    """

    public: bool = False
    accounts: frozenset[str] = frozenset()
    organizations: frozenset[str] = frozenset()
    organizational_units: frozenset[str] = frozenset()
    error: str | None = None

    def foreign(self, allowed: frozenset[str]) -> tuple[str, ...]:
        """Principals the image is shared with that are not on the allow-list."""
        principals = self.accounts | self.organizations | self.organizational_units
        return tuple(sorted(p for p in principals if p not in allowed))


@dataclass(frozen=True)
class ConsumerCheck:
    """What was read about one image's consumers: the accounts it is shared with.

    Read (in the image's region) only for an image rotation would disable or
    deregister that is shared with allow-listed accounts, organizations or OUs.
    `checked` are the accounts whose usage was read (what they use is in
    RegionEstate.usages, as Usages with their `account`); `unknown` maps an
    account, or an organization / OU ARN whose accounts could not be listed, to
    why its use of the image is unknown. A policy keeps an image while any is.
    """

    checked: tuple[str, ...] = ()
    unknown: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegionEstate:
    """One account's images in one region and everything known about them."""

    region: str
    account_id: str
    images: tuple[Image, ...]
    usages: Mapping[str, tuple[Usage, ...]] = field(default_factory=dict)
    # image_id -> Sharing; an image absent here has not been checked.
    sharing: Mapping[str, Sharing] = field(default_factory=dict)
    # False when DescribeImageReferences did not answer (unsupported, denied);
    # the other usage sources still apply.
    references_checked: bool = False
    # Sources of usage that could not be read, e.g. {"ssm-parameter": "AccessDenied"}.
    # A policy never retires anything in a region where a usage source failed.
    unread_sources: Mapping[str, str] = field(default_factory=dict)
    # image_id -> what its consumers (the accounts it is shared with) were found to
    # do with it; an image absent here has had no consumer check.
    consumers: Mapping[str, ConsumerCheck] = field(default_factory=dict)

    def usages_of(self, image_id: str) -> tuple[Usage, ...]:
        return self.usages.get(image_id, ())

    def snapshot_users(self) -> dict[str, set[str]]:
        """snapshot_id -> ids of the images in this estate that use it, for each snapshot more
        than one image uses; a snapshot not here is used by one image at most.

        Only the shared ones: a set for every snapshot would cost a 50,000-image estate some
        15 MB to say what each caller knows already (an image uses its own snapshots).
        """
        first: dict[str, str] = {}
        shared: dict[str, set[str]] = {}
        for image in self.images:
            for snap in image.snapshots:
                user = first.setdefault(snap.snapshot_id, image.image_id)
                if user != image.image_id:
                    shared.setdefault(snap.snapshot_id, {user}).add(image.image_id)
        return shared
