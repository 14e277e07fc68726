"""Settings of a run, from the environment and overridden by CLI flags.

Each setting has one environment variable name; the CLI flag of the same name
(RETENTION_DAYS <-> --retention-days) overrides it. Values are validated here,
once, and a bad one raises SettingsError with a one-line reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ami_hygiene.core.errors import SettingsError
from ami_hygiene.core.estate import (
    ARCHITECTURES,
)
from ami_hygiene.core.events import REGION_NAME
from ami_hygiene.core.tag_rules import TagRule, parse_required_tags

__all__ = ["ConsumerUsageUnknown", "Mode", "Settings", "SettingsError"]


class Mode(StrEnum):
    REPORT = "report"
    ENFORCE = "enforce"


class ConsumerUsageUnknown(StrEnum):
    """What rotation does with an image shared with allow-listed accounts when no
    ConsumerRoleName lets it look at their usage: keep it, or retire it anyway."""

    KEEP = "keep"
    RETIRE = "retire"


# One region-name rule for settings, flags and events (event_fields: botocore's partitions' patterns).
REGION_PATTERN = re.compile(rf"^{REGION_NAME.pattern}\Z", re.ASCII)
ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
ORG_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:organizations::\d{12}:(organization|ou)/o-[a-z0-9]+(/ou-[a-z0-9-]+)?$"
)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int


# name -> (env var, default, allowed range)
_INT_SETTINGS: dict[str, tuple[str, int, IntRange]] = {
    "retention_days": ("RETENTION_DAYS", 90, IntRange(1, 3650)),
    "keep_latest": ("KEEP_LATEST", 3, IntRange(1, 100)),
    "disable_grace_days": ("DISABLE_GRACE_DAYS", 14, IntRange(0, 365)),
    "max_actions": ("MAX_ACTIONS", 100, IntRange(1, 10000)),
    # tags job
    "tag_grace_hours": ("TAG_GRACE_HOURS", 24, IntRange(0, 8760)),
    "tag_escalation_days": ("TAG_ESCALATION_DAYS", 0, IntRange(0, 3650)),
    # public job: images whose permissions a sweep reads one by one
    "sharing_checks_per_run": ("SHARING_CHECKS_PER_RUN", 1000, IntRange(1, 100000)),
    # rebuild job
    "max_image_age_days": ("MAX_IMAGE_AGE_DAYS", 30, IntRange(1, 3650)),
}
PIPELINE_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]+:\d{12}:image-pipeline/[a-z0-9_-]+$"
)
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
SECURITY_GROUP_PATTERN = re.compile(r"^sg-[0-9a-f]{8,17}$")
SUBNET_PATTERN = re.compile(r"^subnet-[0-9a-f]{8,17}$")
PROFILE_PATTERN = re.compile(r"^[\w+=,.@-]{1,128}$")
TAG_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:/+\-@ ]{1,128}$")
# An IAM role name (letters, digits and +=,.@_-, at most 64), after an optional path
# ("team/images/"; each segment the same characters): IAM's RoleName and Path rules,
# kept to the characters role names allow. A leading "/" is accepted and dropped.
ROLE_NAME_PATTERN = re.compile(r"^([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
ROLE_PATH_LIMIT = 512
# An SSM parameter path: "/" then names of a-zA-Z0-9_.- separated by "/" (the PutParameter
# naming constraints); a hierarchy is at most 15 levels, so a path above a name at most 14.
PARAMETER_PATH_PATTERN = re.compile(r"^(/[A-Za-z0-9_.-]+){1,14}$")


@dataclass(frozen=True)
class Settings:
    mode: Mode = Mode.REPORT
    regions: tuple[str, ...] = ()
    retention_days: int = 90
    keep_latest: int = 3
    disable_grace_days: int = 14
    max_actions: int = 100
    # Snapshot storage price used for the saving estimate (USD per GiB-month).
    price_per_gib_month: float = 0.05
    # Accounts, organization and OU ARNs an image may be shared with.
    allowed_share_accounts: frozenset[str] = field(default_factory=frozenset)
    # tags job: the rules, the hours before a sweep reports a non-compliant
    # image, the days before it is escalated (0: never), and the keys copied to
    # snapshots (None: the required keys).
    required_tags: tuple[TagRule, ...] = ()
    tag_grace_hours: int = 24
    tag_escalation_days: int = 0
    propagate_tags: tuple[str, ...] | None = None
    sharing_checks_per_run: int = 1000
    # rebuild job: the age limit, family -> Image Builder pipeline ARN, and what
    # the SSM runbooks need for families without a pipeline.
    max_image_age_days: int = 30
    family_pipelines: Mapping[str, str] = field(default_factory=dict)
    automation_role_arn: str = ""
    automation_instance_profile: str = ""
    automation_security_group_ids: tuple[str, ...] = ()
    automation_subnet_id: str = ""
    # Image architecture -> InstanceType of the runbooks' build instance.
    automation_instance_types: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_INSTANCE_TYPES))
    # Paths (/golden) of private base-image parameters the rebuild role is allowed to read.
    base_parameter_paths: tuple[str, ...] = ()
    # rotate job: the role (name, with its path if any) rotation assumes in each account an
    # image is shared with, to read that account's usage of it; empty: it cannot look.
    consumer_role_name: str = ""
    # Without a consumer role: keep an image shared with allow-listed accounts, or retire it.
    consumer_usage_unknown: ConsumerUsageUnknown = ConsumerUsageUnknown.KEEP

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    @property
    def disable_grace(self) -> timedelta:
        return timedelta(days=self.disable_grace_days)

    @classmethod
    def load(cls, env: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> Settings:
        """Build from environment variables, then apply non-None overrides."""
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        raw: dict[str, Any] = {}
        for name, (var, default, _) in _INT_SETTINGS.items():
            raw[name] = overrides.get(name, env.get(var, default))
        raw["mode"] = overrides.get("mode", env.get("MODE", Mode.REPORT.value))
        raw["regions"] = overrides.get("regions", env.get("REGIONS", ""))
        raw["price_per_gib_month"] = overrides.get(
            "price_per_gib_month", env.get("PRICE_PER_GIB_MONTH", 0.05)
        )
        raw["allowed_share_accounts"] = overrides.get(
            "allowed_share_accounts", env.get("ALLOWED_SHARE_ACCOUNTS", "")
        )
        raw["required_tags"] = overrides.get("required_tags", env.get("REQUIRED_TAGS", ""))
        raw["propagate_tags"] = overrides.get("propagate_tags", env.get("PROPAGATE_TAGS", ""))
        for name in _TEXT_SETTINGS:
            raw[name] = overrides.get(name, env.get(name.upper(), ""))
        default_region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
        return cls.parse(raw, default_region=default_region)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], default_region: str = "") -> Settings:
        values: dict[str, Any] = {}
        for name, (var, _, bounds) in _INT_SETTINGS.items():
            values[name] = _int_in_range(var, raw[name], bounds)
        mode = str(raw["mode"]).strip().lower()
        if mode not in {m.value for m in Mode}:
            raise SettingsError(f"MODE must be report or enforce, not {raw['mode']!r}")
        values["mode"] = Mode(mode)
        regions = _split(raw["regions"]) or ((default_region,) if default_region else ())
        if not regions:
            raise SettingsError("REGIONS is empty and no AWS_REGION is set: name at least one region")
        for region in regions:
            if not REGION_PATTERN.match(region):
                raise SettingsError(f"REGIONS has {region!r}, which is not a region name like eu-west-1")
        values["regions"] = tuple(dict.fromkeys(regions))
        try:
            price = float(raw["price_per_gib_month"])
        except (TypeError, ValueError):
            raise SettingsError(
                f"PRICE_PER_GIB_MONTH must be a number, not {raw['price_per_gib_month']!r}"
            ) from None
        if not 0 <= price <= 10:
            raise SettingsError(f"PRICE_PER_GIB_MONTH must be between 0 and 10, not {price}")
        values["price_per_gib_month"] = price
        allowed = _split(raw["allowed_share_accounts"])
        for principal in allowed:
            if not (ACCOUNT_PATTERN.match(principal) or ORG_ARN_PATTERN.match(principal)):
                raise SettingsError(
                    f"ALLOWED_SHARE_ACCOUNTS has {principal!r}: use 12-digit account ids "
                    "or organization / OU ARNs"
                )
        values["allowed_share_accounts"] = frozenset(allowed)
        values["required_tags"] = parse_required_tags(str(raw.get("required_tags", "")))
        values["propagate_tags"] = _propagate_keys(raw.get("propagate_tags", ""))
        values.update(_rebuild_values(raw))
        values.update(_consumer_values(raw))
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, StrEnum):
                value = value.value
            if isinstance(value, Mapping):
                value = dict(value)
            if f.name == "required_tags":
                value = [rule.spec for rule in self.required_tags]
            out[f.name] = value
        return out


def _split(value: Any) -> tuple[str, ...]:
    items = value.replace(" ", ",").split(",") if isinstance(value, str) else [str(v) for v in value]
    return tuple(i.strip() for i in items if i.strip())


# Text settings whose env var is the upper-cased name.
_TEXT_SETTINGS = (
    "family_pipelines",
    "automation_role_arn",
    "automation_instance_profile",
    "automation_security_group_ids",
    "automation_subnet_id",
    "automation_instance_types",
    "base_parameter_paths",
    "consumer_role_name",
    "consumer_usage_unknown",
)


def _consumer_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    role = str(raw.get("consumer_role_name") or "").strip().lstrip("/")
    if role and (len(role) > ROLE_PATH_LIMIT + 64 or not ROLE_NAME_PATTERN.match(role)):
        raise SettingsError(
            f"CONSUMER_ROLE_NAME must be an IAM role name, optionally after its path "
            f"(e.g. ami-hygiene-consumer or team/ami-hygiene-consumer), not {role!r}"
        )
    unknown = str(raw.get("consumer_usage_unknown") or ConsumerUsageUnknown.KEEP.value).strip().lower()
    if unknown not in {u.value for u in ConsumerUsageUnknown}:
        raise SettingsError(
            f"CONSUMER_USAGE_UNKNOWN must be keep or retire, not {raw.get('consumer_usage_unknown')!r}"
        )
    return {"consumer_role_name": role, "consumer_usage_unknown": ConsumerUsageUnknown(unknown)}


def _rebuild_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    pipelines: dict[str, str] = {}
    for item in _split(raw.get("family_pipelines", "")):
        family, sep, arn = item.partition("=")
        if not sep or not family.strip() or not PIPELINE_ARN_PATTERN.match(arn.strip()):
            raise SettingsError(
                f"FAMILY_PIPELINES has {item!r}: write family=arn:aws:imagebuilder:REGION:ACCOUNT:"
                "image-pipeline/NAME, comma-separated"
            )
        pipelines[family.strip()] = arn.strip()
    role = str(raw.get("automation_role_arn") or "").strip()
    if role and not ROLE_ARN_PATTERN.match(role):
        raise SettingsError(f"AUTOMATION_ROLE_ARN must be an IAM role ARN, not {role!r}")
    profile = str(raw.get("automation_instance_profile") or "").strip()
    if profile and not PROFILE_PATTERN.match(profile):
        raise SettingsError(f"AUTOMATION_INSTANCE_PROFILE must be an instance profile name, not {profile!r}")
    groups = _split(raw.get("automation_security_group_ids", ""))
    for group in groups:
        if not SECURITY_GROUP_PATTERN.match(group):
            raise SettingsError(
                f"AUTOMATION_SECURITY_GROUP_IDS has {group!r}, which is not a security group id"
            )
    subnet = str(raw.get("automation_subnet_id") or "").strip()
    if subnet and not SUBNET_PATTERN.match(subnet):
        raise SettingsError(f"AUTOMATION_SUBNET_ID must be a subnet id, not {subnet!r}")
    return {
        "family_pipelines": pipelines,
        "automation_role_arn": role,
        "automation_instance_profile": profile,
        "automation_security_group_ids": groups,
        "automation_subnet_id": subnet,
        "automation_instance_types": _instance_types(raw.get("automation_instance_types", "")),
        "base_parameter_paths": _parameter_paths(raw.get("base_parameter_paths", "")),
    }


def _instance_types(value: Any) -> dict[str, str]:
    """AUTOMATION_INSTANCE_TYPES: architecture=instance-type, comma-separated; empty: the default."""
    found: dict[str, str] = {}
    for item in _split(value or ""):
        architecture, sep, instance_type = (part.strip() for part in item.partition("="))
        if not sep or not instance_type:
            raise SettingsError(
                f"AUTOMATION_INSTANCE_TYPES has {item!r}: write architecture=instance-type, comma-separated, "
                "e.g. arm64=t4g.medium,x86_64=t3.medium"
            )
        if architecture not in ARCHITECTURES:
            raise SettingsError(
                f"AUTOMATION_INSTANCE_TYPES has architecture {architecture!r}: use one of "
                f"{', '.join(ARCHITECTURES)} (EC2's image architectures)"
            )
        if not INSTANCE_TYPE.match(instance_type):
            raise SettingsError(
                f"AUTOMATION_INSTANCE_TYPES has {instance_type!r} for {architecture}, which is not an "
                "instance type like t4g.medium"
            )
        if architecture in found:
            raise SettingsError(f"AUTOMATION_INSTANCE_TYPES names {architecture} twice")
        found[architecture] = instance_type
    return found or dict(DEFAULT_INSTANCE_TYPES)


def _parameter_paths(value: Any) -> tuple[str, ...]:
    """BASE_PARAMETER_PATHS: SSM parameter paths such as /golden, comma-separated."""
    paths = _split(value or "")
    for path in paths:
        if not PARAMETER_PATH_PATTERN.match(path):
            raise SettingsError(
                f"BASE_PARAMETER_PATHS has {path!r}: write parameter paths like /golden or /team/images "
                "(a leading /, names of letters, digits and _ . -, no trailing /, at most 14 levels), "
                "comma-separated"
            )
    return tuple(dict.fromkeys(paths))


def _propagate_keys(value: Any) -> tuple[str, ...] | None:
    """PROPAGATE_TAGS: comma-separated keys; empty means "the required keys"."""
    keys = tuple(k.strip() for k in str(value or "").split(",") if k.strip())
    for key in keys:
        if not TAG_KEY_PATTERN.match(key) or key.lower().startswith("aws:"):
            raise SettingsError(
                f"PROPAGATE_TAGS has {key!r}, which is not a tag key (letters, digits, spaces, "
                "_ . : / + - @; at most 128; not aws:)"
            )
    return tuple(dict.fromkeys(keys)) or None


def _int_in_range(var: str, value: Any, bounds: IntRange) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SettingsError(f"{var} must be a whole number, not {value!r}") from None
    if not bounds.low <= number <= bounds.high:
        raise SettingsError(f"{var} must be between {bounds.low} and {bounds.high}, not {number}")
    return number


# The client token is a UUID: SSM StartAutomationExecution requires exactly that
# (botocore model: length 36, hex 8-4-4-4-12), and it also fits Image Builder's
# clientToken (length 1..36 in the API reference, 1..64 in current botocore).
# EC2 instance type names (t4g.medium, c7i.metal-24xl, u7i-12tb.224xlarge): every value of
# botocore's EC2 model enum InstanceType has this shape.
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")


# The runbooks' own default InstanceType is x86 (AWS-UpdateLinuxAmi t2.micro,
# AWS-UpdateWindowsAmi t2.medium, per the Automation runbook reference), so an
# arm64 image's build instance would not launch: each image architecture gets its own.
DEFAULT_INSTANCE_TYPES: Mapping[str, str] = MappingProxyType({"arm64": "t4g.medium", "x86_64": "t3.medium"})
