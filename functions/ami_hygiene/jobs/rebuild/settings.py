"""The rebuild job's settings, each declared once (core/settings.py says how a declaration is read)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from ami_hygiene.core.estate import ARCHITECTURES
from ami_hygiene.core.settings import (
    NOT_OFFERED,
    Parameter,
    RequiredTagsSettings,
    Setting,
    Variant,
    cfn_list,
    mode_variant,
    settings_model,
    split,
    stripped,
    text_or_empty,
    unique,
    whole_number,
)

PIPELINE_ARN_PATTERN = re.compile(
    r"^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]+:\d{12}:image-pipeline/[a-z0-9_-]+$"
)
# The account may be "{account}" (ACCOUNT_PLACEHOLDER): the organization hub's value, the same role name in
# every member account, filled in with the account the run acts in (actions.automation_parameters).
ACCOUNT_PLACEHOLDER = "{account}"
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|\{account\}):role/[\w+=,.@/-]+$")
SECURITY_GROUP_PATTERN = re.compile(r"^sg-[0-9a-f]{8,17}$")
SUBNET_PATTERN = re.compile(r"^subnet-[0-9a-f]{8,17}$")
PROFILE_PATTERN = re.compile(r"^[\w+=,.@-]{1,128}$")
# An SSM parameter path: "/" then names of a-zA-Z0-9_.- separated by "/" (the PutParameter
# naming constraints); a hierarchy is at most 15 levels, so a path above a name at most 14.
PARAMETER_PATH_PATTERN = re.compile(r"^(/[A-Za-z0-9_.-]+){1,14}$")
# EC2 instance type names (t4g.medium, c7i.metal-24xl, u7i-12tb.224xlarge): every value of
# botocore's EC2 model enum InstanceType has this shape.
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
# The runbooks' own default InstanceType is x86 (AWS-UpdateLinuxAmi t2.micro,
# AWS-UpdateWindowsAmi t2.medium, per the Automation runbook reference), so an
# arm64 image's build instance would not launch: each image architecture gets its own.
DEFAULT_INSTANCE_TYPES: Mapping[str, str] = MappingProxyType({"arm64": "t4g.medium", "x86_64": "t3.medium"})
# IAM resources come from the BaseParameterPaths list one by one (Fn::Select), each behind
# its own condition, so the list has a fixed most.
MAX_BASE_PARAMETER_PATHS = 5


def _body(pattern: re.Pattern[str]) -> str:
    """A pattern without its anchors, to build CloudFormation's pattern of a list of them."""
    return pattern.pattern.removeprefix("^").removesuffix("$")


CFN_FAMILY_PIPELINE = rf"[^,=\s]+={_body(PIPELINE_ARN_PATTERN)}"
CFN_ARCHITECTURE_INSTANCE_TYPE = rf"({'|'.join(ARCHITECTURES)})={_body(INSTANCE_TYPE)}"


# The two maps keep a hand parser: "key=value" items whose key and value follow different rules.
def _family_pipelines(value: Any) -> Any:
    """FAMILY_PIPELINES: family=pipeline ARN, comma-separated."""
    if not isinstance(value, str):
        return value
    pipelines: dict[str, str] = {}
    for item in split(value):
        family, sep, arn = item.partition("=")
        if not sep or not family.strip() or not PIPELINE_ARN_PATTERN.match(arn.strip()):
            raise ValueError(
                f"has {item!r}: write family=arn:aws:imagebuilder:REGION:ACCOUNT:image-pipeline/NAME, "
                "comma-separated"
            )
        pipelines[family.strip()] = arn.strip()
    return pipelines


def _instance_types(value: Any) -> Any:
    """AUTOMATION_INSTANCE_TYPES: architecture=instance-type, comma-separated; empty: the default."""
    if not isinstance(value, str):
        return value
    found: dict[str, str] = {}
    for item in split(value):
        architecture, sep, instance_type = (part.strip() for part in item.partition("="))
        if not sep or not instance_type:
            raise ValueError(
                f"has {item!r}: write architecture=instance-type, comma-separated, "
                "e.g. arm64=t4g.medium,x86_64=t3.medium"
            )
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"has architecture {architecture!r}: use one of {', '.join(ARCHITECTURES)} "
                "(EC2's image architectures)"
            )
        if not INSTANCE_TYPE.match(instance_type):
            raise ValueError(
                f"has {instance_type!r} for {architecture}, which is not an instance type like t4g.medium"
            )
        if architecture in found:
            raise ValueError(f"names {architecture} twice")
        found[architecture] = instance_type
    return found or dict(DEFAULT_INSTANCE_TYPES)


@settings_model
class RebuildJobSettings(RequiredTagsSettings):
    variants = {
        "mode": mode_variant(
            "RebuildMode",
            "Rebuild mode",
            report="report the image families due for a rebuild.",
            enforce="also start their Image Builder pipeline or SSM runbook (AWS-UpdateLinuxAmi / "
            "AWS-UpdateWindowsAmi).",
        ),
        "max_actions": Variant(help="most builds started in one run"),
        "required_tags": NOT_OFFERED,  # the tag job's: their keys are copied to the new image
    }

    # The age limit.
    max_image_age_days: Annotated[
        int,
        whole_number(1, 3650),
        Setting(
            "MAX_IMAGE_AGE_DAYS",
            "a family whose newest image is older is rebuilt",
            parameter=Parameter(
                "MaxImageAgeDays",
                "Rebuild when older than (days)",
                "A family whose newest image is older than this many days (or whose base image moved on) is "
                "rebuilt.",
            ),
        ),
    ] = 30
    # family -> Image Builder pipeline ARN.
    family_pipelines: Annotated[
        Mapping[str, str],
        BeforeValidator(_family_pipelines),
        Setting(
            "FAMILY_PIPELINES",
            "family=image-pipeline-arn, comma-separated",
            parameter=Parameter(
                "FamilyPipelines",
                "Family pipelines",
                "Comma-separated family=Image Builder pipeline ARN pairs; a family without one "
                "is rebuilt from "
                "its pipeline tag or, failing that, with the SSM runbook. Empty: none.",
                "FamilyPipelines must be empty or family=arn:aws:imagebuilder:REGION:ACCOUNT:image-pipeline/"
                "NAME items separated by commas, without spaces.",
                pattern=cfn_list(CFN_FAMILY_PIPELINE),
                max_length=2048,
            ),
        ),
    ] = Field(default_factory=dict)
    # What the SSM runbooks need for families without a pipeline. The role is the stack's own
    # (it sets AUTOMATION_ROLE_ARN): no parameter.
    automation_role_arn: Annotated[
        str,
        BeforeValidator(stripped),
        text_or_empty(ROLE_ARN_PATTERN),
        Setting("AUTOMATION_ROLE_ARN", "role SSM Automation assumes", what="an IAM role ARN"),
    ] = ""
    automation_instance_profile: Annotated[
        str,
        BeforeValidator(stripped),
        text_or_empty(PROFILE_PATTERN),
        Setting(
            "AUTOMATION_INSTANCE_PROFILE",
            "instance profile of the build",
            what="an instance profile name",
            parameter=Parameter(
                "AutomationInstanceProfile",
                "Runbook instance profile",
                "Instance profile name the SSM runbooks give the build instance (it needs "
                "AmazonSSMManagedInstanceCore). Empty: the runbook's default (ManagedInstanceProfile).",
                "AutomationInstanceProfile must be empty or an instance profile name (letters, digits and "
                "+ = , . @ _ -, at most 128).",
                pattern=f"^$|{PROFILE_PATTERN.pattern}",
            ),
        ),
    ] = ""
    automation_security_group_ids: Annotated[
        tuple[Annotated[str, StringConstraints(pattern=SECURITY_GROUP_PATTERN)], ...],
        BeforeValidator(split),
        Setting(
            "AUTOMATION_SECURITY_GROUP_IDS",
            "build instance groups",
            what="a security group id",
            parameter=Parameter(
                "AutomationSecurityGroupIds",
                "Runbook security groups",
                "Comma-separated security group ids for the runbooks' build instance. Empty: the runbook's "
                "default.",
                "AutomationSecurityGroupIds must be empty or security group ids (sg-...) "
                "separated by commas, "
                "without spaces.",
                pattern=cfn_list(_body(SECURITY_GROUP_PATTERN)),
            ),
        ),
    ] = ()
    automation_subnet_id: Annotated[
        str,
        BeforeValidator(stripped),
        text_or_empty(SUBNET_PATTERN),
        Setting(
            "AUTOMATION_SUBNET_ID",
            "build instance subnet",
            what="a subnet id",
            parameter=Parameter(
                "AutomationSubnetId",
                "Runbook subnet",
                "Subnet id for the runbooks' build instance (it needs a route to SSM and the package "
                "repositories). Empty: the default VPC.",
                "AutomationSubnetId must be empty or one subnet id (subnet-...).",
                pattern=f"^$|{SUBNET_PATTERN.pattern}",
            ),
        ),
    ] = ""
    # Image architecture -> InstanceType of the runbooks' build instance.
    automation_instance_types: Annotated[
        Mapping[str, str],
        BeforeValidator(_instance_types),
        Setting(
            "AUTOMATION_INSTANCE_TYPES",
            "build instance type per image architecture, architecture=type, comma-separated",
            parameter=Parameter(
                "AutomationInstanceTypes",
                "Runbook build instance types",
                "Comma-separated architecture=instance type pairs: the runbooks' build instance for an image "
                "of that architecture (it boots the image, so the type must support the image's "
                "architecture; the runbooks' own default, t2.micro, is x86 only). A family whose image has "
                "an architecture not listed is not rebuilt by a runbook.",
                "AutomationInstanceTypes must be architecture=instance-type items (architectures "
                f"{', '.join(ARCHITECTURES)}; types like t4g.medium) separated by commas, without spaces.",
                pattern=rf"^{CFN_ARCHITECTURE_INSTANCE_TYPE}(,{CFN_ARCHITECTURE_INSTANCE_TYPE})*$",
                max_length=1024,
            ),
        ),
    ] = Field(default_factory=lambda: dict(DEFAULT_INSTANCE_TYPES))
    # Paths (/golden) of private base-image parameters the rebuild role is allowed to read.
    base_parameter_paths: Annotated[
        tuple[Annotated[str, StringConstraints(pattern=PARAMETER_PATH_PATTERN)], ...],
        BeforeValidator(split),
        AfterValidator(unique),
        Setting(
            "BASE_PARAMETER_PATHS",
            "private SSM parameter paths of base images the role may read, e.g. /golden",
            what="a parameter path like /golden or /team/images (a leading /, names of letters, digits "
            "and _ . -, no trailing /, at most 14 levels)",
            parameter=Parameter(
                "BaseParameterPaths",
                "Private base image parameter paths",
                f"Comma-separated SSM parameter paths (at most {MAX_BASE_PARAMETER_PATHS}), e.g. "
                f"/golden: the "
                "rebuild job may read the parameters named so or under them (ssm:GetParameter, "
                "GetParameters) to check a family's base image (tag ami-hygiene:base-parameter). The public "
                "/aws/service/* parameters are always readable. Empty: none.",
                f"BaseParameterPaths must be empty or at most {MAX_BASE_PARAMETER_PATHS} "
                f"parameter paths like "
                "/golden (a leading /, names of letters, digits and _ . - separated by /, no trailing /) "
                "separated by commas, without spaces.",
                pattern=cfn_list(_body(PARAMETER_PATH_PATTERN), most=MAX_BASE_PARAMETER_PATHS),
                max_length=1024,
            ),
        ),
    ] = ()
