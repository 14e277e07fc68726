"""DescribeImageReferences, which moto lacks: what in the account references an image.

Checks the resource types moto can hold: instances (any state but terminated),
launch templates ($Default and $Latest versions, the documented default
depth) and SSM parameters whose value is the image id.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import MissingParameterError

from .images import InvalidParameterValue
from .paging import page

MAX_IMAGE_IDS = 10
RESOURCE_TYPES = (
    "ec2:Instance",
    "ec2:LaunchTemplate",
    "ssm:Parameter",
    "imagebuilder:ImageRecipe",
    "imagebuilder:ContainerRecipe",
)


def describe_image_references(self: Any) -> ActionResult:
    self.error_on_dryrun()
    image_ids = self._get_param("ImageIds", [])
    if not image_ids:
        raise MissingParameterError("ImageId")
    if len(image_ids) > MAX_IMAGE_IDS:
        raise InvalidParameterValue(f"ImageId accepts at most {MAX_IMAGE_IDS} image ids")
    include_all = self._get_bool_param("IncludeAllResourceTypes", False)
    requested = [t.get("ResourceType") for t in self._get_param("ResourceTypes", [])]
    if not include_all and not requested:
        raise MissingParameterError("IncludeAllResourceTypes or ResourceType")
    for kind in requested:
        if kind not in RESOURCE_TYPES:
            raise InvalidParameterValue(f"Unsupported resource type: {kind}")
    kinds = set(RESOURCE_TYPES) if include_all else set(requested)
    wanted = set(image_ids)
    refs = _references(self.ec2_backend, self.current_account, self.region, wanted, kinds)
    items, token = page(refs, self._get_int_param("MaxResults"), self._get_param("NextToken"))
    result: dict[str, Any] = {"ImageReferences": items}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def _references(
    backend: Any, account: str, region: str, wanted: set[str], kinds: set[str]
) -> list[dict[str, str]]:
    refs: list[dict[str, str]] = []
    if "ec2:Instance" in kinds:
        for instance in backend.all_instances():
            if instance.image_id in wanted and instance.state != "terminated":
                arn = f"arn:aws:ec2:{region}:{account}:instance/{instance.id}"
                refs.append({"ImageId": instance.image_id, "ResourceType": "ec2:Instance", "Arn": arn})
    if "ec2:LaunchTemplate" in kinds:
        for template in backend.launch_templates.values():
            seen: set[str] = set()
            for version in ("$Default", "$Latest"):
                image_id = template.get_version(version).image_id
                if image_id in wanted and image_id not in seen:
                    seen.add(image_id)
                    arn = f"arn:aws:ec2:{region}:{account}:launch-template/{template.id}"
                    refs.append({"ImageId": image_id, "ResourceType": "ec2:LaunchTemplate", "Arn": arn})
    if "ssm:Parameter" in kinds:
        refs.extend(_parameter_references(account, region, wanted))
    return refs


def _parameter_references(account: str, region: str, wanted: set[str]) -> list[dict[str, str]]:
    from moto.ssm.models import ssm_backends

    refs = []
    # dict.values: iterating moto's ParameterDict itself would load AWS's public parameters.
    for versions in dict.values(ssm_backends[account][region]._parameters):
        if not versions:
            continue
        latest = versions[-1]
        if latest.parameter_type != "SecureString" and latest.value in wanted:
            name = latest.name.lstrip("/")
            arn = f"arn:aws:ssm:{region}:{account}:parameter/{name}"
            refs.append({"ImageId": latest.value, "ResourceType": "ssm:Parameter", "Arn": arn})
    return refs
