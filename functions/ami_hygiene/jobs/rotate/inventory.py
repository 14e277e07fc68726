"""Reads an account's images and everything that uses them, in whole pages.

Cost grows with pages, not with images: every list is read with the largest
page the API allows. Per-image reads (launch permissions) and the 10-image
batches of DescribeImageReferences are made only for the images a policy is
about to act on (`read_checks`).

A usage source that cannot be read is recorded in `unread_sources`, never
skipped silently: a policy retires nothing in a region whose usage is unknown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.concurrency import both, parallel_map, side_by_side
from ami_hygiene.core.errors import describe_error, error_code
from ami_hygiene.core.estate import (
    RegionEstate,
    Usage,
    UsageKind,
)
from ami_hygiene.core.paging import (
    UNSUPPORTED_CODES,
    owned_images,
    pages,
    read_launch_permissions,
    snapshot_sizes,
    with_sizes,
)

# The IAM actions these reads call (the stack grants them: infra/permissions.py).
READS = (
    # inventory: whole pages of everything that can use an image
    "ec2:DescribeImages",
    "ec2:DescribeSnapshots",
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribeLaunchTemplateVersions",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeLaunchConfigurations",
    "ssm:DescribeParameters",
    # per-candidate check; with IncludeAllResourceTypes EC2 also asks Image Builder for recipes
    "ec2:DescribeImageReferences",
    "imagebuilder:ListImageRecipes",
    "imagebuilder:ListContainerRecipes",
)


if TYPE_CHECKING:
    from types_boto3_autoscaling import AutoScalingClient
    from types_boto3_ec2 import EC2Client
    from types_boto3_ssm import SSMClient

AMI_ID = re.compile(r"\bami-[0-9a-f]{8,17}\b")
LIVE_INSTANCE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]
INSTANCE_REFERENCES = {
    "ResourceType": "ec2:Instance",
    "ResourceTypeOptions": [{"OptionName": "state-name", "OptionValues": LIVE_INSTANCE_STATES}],
}
# DescribeImageReferences takes at most 10 image ids per request.
REFERENCE_BATCH = 10
SSM_GET_BATCH = 10

UsageMap = dict[str, list[Usage]]


def read_region(clients: Clients, region: str, account_id: str) -> RegionEstate:
    """Everything the cheap checks need: images, snapshot sizes, usage; every listing side by side."""
    ec2 = clients.ec2(region)

    def sizes() -> tuple[dict[str, int], str]:
        try:
            return snapshot_sizes(ec2), ""
        except (ClientError, BotoCoreError) as err:
            # Sizes come from block device mappings then; only the estimate suffers.
            return {}, describe_error(err)

    (listed, (found_sizes, unread_sizes)), found = both(
        lambda: both(lambda: owned_images(ec2, region, account_id, {}), sizes),
        lambda: side_by_side(_usage_readers(clients, region)),
    )
    # Each page becomes Images as it arrives (core/paging.py); sizes come from their own listing.
    images = with_sizes(listed, found_sizes)
    usages, unread = _gathered(found)
    estate = RegionEstate(
        region=region,
        account_id=account_id,
        images=images,
        usages={k: tuple(v) for k, v in usages.items()},
        unread_sources=unread,
    )
    if unread_sizes:
        # Not a usage source: recorded for the report without blocking retirement.
        return replace(estate, unread_sources={**unread, "snapshot-sizes (estimate only)": unread_sizes})
    return estate


def read_usage(clients: Clients, region: str) -> tuple[UsageMap, dict[str, str]]:
    """What uses images in one account and region, by image id, read in whole pages.

    Instances in any state but terminated, launch templates ($Default, $Latest and
    the versions Auto Scaling groups pin), launch configurations, SSM parameters.
    The same reads serve the account that owns the images and each account they
    are shared with (`consumers`), each with its own `clients`. Also returns the
    sources that could not be read, with why: usage there is unknown. The sources
    are read side by side.
    """
    return _gathered(side_by_side(_usage_readers(clients, region)))


def _usage_readers(clients: Clients, region: str) -> dict[str, Callable[[], UsageMap | str]]:
    """Each usage source's reader: its usages, or why it could not be read (a str)."""
    ec2 = clients.ec2(region)
    readers: dict[str, Callable[[], UsageMap]] = {
        "instances": lambda: _instance_usages(ec2),
        "launch-templates": lambda: _launch_template_usages(ec2, clients.autoscaling(region)),
        "launch-configurations": lambda: _launch_configuration_usages(clients.autoscaling(region)),
        "ssm-parameters": lambda: _ssm_parameter_usages(clients.ssm(region)),
    }
    return {source: partial(_reported, read) for source, read in readers.items()}


def _reported(read: Callable[[], UsageMap]) -> UsageMap | str:
    try:
        return read()
    except (ClientError, BotoCoreError) as err:
        return describe_error(err)


def _gathered(found: Mapping[str, Any]) -> tuple[UsageMap, dict[str, str]]:
    """The sources' usages merged by image id (in the sources' order), and the unread ones with why."""
    usages: UsageMap = defaultdict(list)
    unread: dict[str, str] = {}
    for source, result in found.items():
        if isinstance(result, str):
            unread[source] = result
            continue
        for image_id, items in result.items():
            usages[image_id].extend(items)
    return usages, unread


def read_checks(clients: Clients, estate: RegionEstate, image_ids: Iterable[str]) -> RegionEstate:
    """Per-image checks for the images a policy wants to act on.

    Launch permissions (one DescribeImageAttribute each) and resource
    references (DescribeImageReferences, 10 images a request).
    """
    ids = [i for i in dict.fromkeys(image_ids) if i not in estate.sharing]
    if not ids:
        return estate
    ec2 = clients.ec2(estate.region)
    # Launch permissions one image a request, references ten: both in bounded pools, side by side.
    (references, checked, problem), permissions = both(
        lambda: read_references(ec2, ids), lambda: parallel_map(partial(read_launch_permissions, ec2), ids)
    )
    sharing = dict(zip(ids, permissions, strict=True))
    usages = merge_references(estate.usages, references)
    unread = dict(estate.unread_sources)
    if problem:
        unread["image-references"] = problem
    return replace(
        estate,
        sharing={**estate.sharing, **sharing},
        usages={k: tuple(v) for k, v in usages.items()},
        # Unsupported API: other sources still apply, and the report says so.
        references_checked=checked if not estate.sharing else estate.references_checked and checked,
        unread_sources=unread,
    )


# -- images -------------------------------------------------------------------------------


# -- usage --------------------------------------------------------------------------------


def _instance_usages(ec2: EC2Client) -> UsageMap:
    found: UsageMap = defaultdict(list)
    filters = [{"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}]
    for reservation in pages(ec2, "describe_instances", "Reservations", 1000, Filters=filters):
        for inst in reservation.get("Instances", []):
            state = inst.get("State", {}).get("Name", "unknown")
            if state == "terminated" or not inst.get("ImageId"):
                continue
            found[inst["ImageId"]].append(
                Usage(inst["ImageId"], UsageKind.INSTANCE, inst["InstanceId"], state)
            )
    return found


def _launch_template_usages(ec2: EC2Client, autoscaling: AutoScalingClient) -> UsageMap:
    """$Default and $Latest of every template, plus versions Auto Scaling groups pin."""
    found: UsageMap = defaultdict(list)
    # One account-wide listing covers $Default and $Latest of every template;
    # what it returns also answers pins of those same versions without a call.
    # The groups' pins are listed at the same time.
    latest_and_default, pinned = both(
        lambda: list(
            pages(
                ec2,
                "describe_launch_template_versions",
                "LaunchTemplateVersions",
                200,
                Versions=["$Latest", "$Default"],
            )
        ),
        lambda: _pinned_versions(autoscaling),
    )
    known: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for version in latest_and_default:
        label = "$Default" if version.get("DefaultVersion") else "$Latest"
        _add_template_usage(found, version, f"version {version.get('VersionNumber')}, {label}")
        number = str(version.get("VersionNumber"))
        known[("LaunchTemplateId", version.get("LaunchTemplateId", ""), number)] = version
        known[("LaunchTemplateName", version.get("LaunchTemplateName", ""), number)] = version
    missing: dict[tuple[str, str], list[str]] = {}
    for (field, template), versions in sorted(pinned.items()):
        unknown = sorted(v for v in versions if (field, template, v) not in known)
        if unknown:
            missing[(field, template)] = unknown
    # Versions the listing did not return: one read per template, side by side.
    fetched = dict(
        zip(
            missing,
            parallel_map(lambda key: _template_versions(ec2, key[0], key[1], missing[key]), missing),
            strict=True,
        )
    )
    for (field, template), versions in sorted(pinned.items()):
        listed = [known[(field, template, v)] for v in versions if (field, template, v) in known]
        listed += fetched.get((field, template), [])
        for version in listed:
            groups = ", ".join(sorted(versions.get(str(version.get("VersionNumber")), ())))
            detail = f"version {version.get('VersionNumber')}, pinned by Auto Scaling group {groups}"
            _add_template_usage(found, version, detail)
    return found


def _template_versions(
    ec2: EC2Client, field: str, template: str, versions: list[str]
) -> list[Mapping[str, Any]]:
    try:
        return list(
            pages(
                ec2,
                "describe_launch_template_versions",
                "LaunchTemplateVersions",
                200,
                Versions=versions,
                **{field: template},
            )
        )
    except ClientError as err:
        # A group naming a deleted template or version protects no image.
        if error_code(err).startswith(("InvalidLaunchTemplateId", "InvalidLaunchTemplateName")):
            return []
        raise


def _add_template_usage(found: UsageMap, version: Mapping[str, Any], detail: str) -> None:
    image_id = (version.get("LaunchTemplateData") or {}).get("ImageId") or ""
    # "resolve:ssm:..." names a parameter, which the SSM reader covers.
    if AMI_ID.fullmatch(image_id):
        found[image_id].append(
            Usage(image_id, UsageKind.LAUNCH_TEMPLATE, version.get("LaunchTemplateId", "?"), detail)
        )


def _pinned_versions(autoscaling: AutoScalingClient) -> dict[tuple[str, str], dict[str, set[str]]]:
    """(LaunchTemplateId|LaunchTemplateName, value) -> numeric version -> group names."""
    pins: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for group in pages(autoscaling, "describe_auto_scaling_groups", "AutoScalingGroups", 100):
        for spec in _template_specs(group):
            version = str(spec.get("Version") or "$Default")
            if not version.isdigit():
                continue  # $Default / $Latest are covered by the account-wide listing
            if spec.get("LaunchTemplateId"):
                key = ("LaunchTemplateId", spec["LaunchTemplateId"])
            elif spec.get("LaunchTemplateName"):
                key = ("LaunchTemplateName", spec["LaunchTemplateName"])
            else:
                continue
            pins[key][version].add(group["AutoScalingGroupName"])
    return pins


def _template_specs(group: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every launch template a group names: its own, its mixed policy's, the overrides'."""
    if group.get("LaunchTemplate"):
        yield group["LaunchTemplate"]
    mixed = (group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    if mixed.get("LaunchTemplateSpecification"):
        yield mixed["LaunchTemplateSpecification"]
    for override in mixed.get("Overrides") or []:
        if override.get("LaunchTemplateSpecification"):
            yield override["LaunchTemplateSpecification"]


def _launch_configuration_usages(autoscaling: AutoScalingClient) -> UsageMap:
    found: UsageMap = defaultdict(list)
    for config in pages(autoscaling, "describe_launch_configurations", "LaunchConfigurations", 100):
        image_id = config.get("ImageId")
        if image_id:
            found[image_id].append(
                Usage(image_id, UsageKind.LAUNCH_CONFIGURATION, config["LaunchConfigurationName"])
            )
    return found


def _ssm_parameter_usages(ssm: SSMClient) -> UsageMap:
    """Parameters of data type aws:ec2:image, or whose text value holds an AMI id."""
    names = [
        p["Name"]
        for p in pages(ssm, "describe_parameters", "Parameters", 50)
        if p.get("Type") in ("String", "StringList")
    ]
    found: UsageMap = defaultdict(list)
    for start in range(0, len(names), SSM_GET_BATCH):
        batch = names[start : start + SSM_GET_BATCH]
        for param in ssm.get_parameters(Names=batch).get("Parameters", []):
            for image_id in AMI_ID.findall(str(param.get("Value", ""))):
                found[image_id].append(Usage(image_id, UsageKind.SSM_PARAMETER, param["Name"]))
    return found


# -- per-image checks ---------------------------------------------------------------------


def merge_references(
    usages: Mapping[str, Iterable[Usage]], references: Mapping[str, Iterable[Usage]]
) -> dict[str, list[Usage]]:
    """`usages` plus the references that name something the page reads did not find already."""
    merged = {k: list(v) for k, v in usages.items()}
    for image_id, refs in references.items():
        known = {_arn_resource_of(u) for u in merged.get(image_id, [])}
        merged.setdefault(image_id, []).extend(r for r in refs if _arn_resource(r.resource) not in known)
    return merged


def read_references(ec2: EC2Client, image_ids: list[str]) -> tuple[UsageMap, bool, str]:
    """(usages, whether the API answered, problem) from DescribeImageReferences, 10 images a request.

    "Describes your Amazon Web Services resources that are referencing the specified
    images" (EC2 API reference): the caller's own resources, so the same call made
    with a consumer account's credentials names that account's resources. The
    batches are read side by side.
    """
    found: UsageMap = defaultdict(list)
    batches = [
        image_ids[start : start + REFERENCE_BATCH] for start in range(0, len(image_ids), REFERENCE_BATCH)
    ]
    answered, problem = True, ""
    for refs, batch_problem in parallel_map(partial(_reference_batch, ec2), batches):
        for usage in refs:
            found[usage.image_id].append(usage)
        if batch_problem is not None:
            # Unsupported (""): other sources still apply; any other problem is reported.
            answered, problem = False, problem or batch_problem
    return found, answered, problem


def _reference_batch(ec2: EC2Client, batch: list[str]) -> tuple[list[Usage], str | None]:
    """One batch's references, and None, or "" (the API is not available here) or the problem."""
    found: list[Usage] = []
    try:
        refs = pages(
            ec2,
            "describe_image_references",
            "ImageReferences",
            1000,
            ImageIds=batch,
            IncludeAllResourceTypes=True,
            # EC2's default counts terminated instances too; the safety rule does not.
            ResourceTypes=[INSTANCE_REFERENCES],
        )
        # Keyed by the whole ARN: its last segment is no name for a parameter
        # (arn:...:parameter/golden/base) or a recipe (.../image-recipe/web/1.0.2).
        found.extend(
            Usage(r["ImageId"], UsageKind.IMAGE_REFERENCE, r.get("Arn", ""), r.get("ResourceType", ""))
            for r in refs
        )
    except ClientError as err:
        return found, "" if error_code(err) in UNSUPPORTED_CODES else describe_error(err)
    except BotoCoreError as err:
        return found, describe_error(err)
    return found, None


def _arn_resource(arn: str) -> str:
    """The resource part of an ARN (after arn:partition:service:region:account:)."""
    parts = arn.split(":", 5)
    return parts[5] if len(parts) == 6 else arn


def _arn_resource_of(usage: Usage) -> str:
    """How DescribeImageReferences would name a usage the page reads found, to list it once."""
    if usage.kind is UsageKind.INSTANCE:
        return f"instance/{usage.resource}"
    if usage.kind is UsageKind.LAUNCH_TEMPLATE:
        return f"launch-template/{usage.resource}"
    if usage.kind is UsageKind.SSM_PARAMETER:
        # A parameter's ARN drops the leading "/" of a hierarchical name.
        return f"parameter/{usage.resource.lstrip('/')}"
    return _arn_resource(usage.resource)


# -- helpers ------------------------------------------------------------------------------
