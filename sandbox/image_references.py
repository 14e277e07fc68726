"""DescribeImageReferences: which of the account's resources name the given images.

Follows "Identify your resources referencing specified AMIs" (EC2 User Guide):
- ec2:Instance: instances in the states asked for by the `state-name` option,
  all six states by default. EC2 drops a terminated instance about an hour after
  termination, so a terminated instance is reported only within that hour.
- ec2:LaunchTemplate: a template is reported once when any of its most recent
  `version-depth` versions (default 10) names the image.
- ssm:Parameter: String parameters of data type aws:ec2:image whose value is
  the image id.
- Image Builder recipes: moto has no Image Builder, so none are ever reported.
With IncludeAllResourceTypes every type is checked with the default options;
options given in ResourceTypes take precedence for their type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import MalformedAMIIdError
from moto.ec2.responses import EC2Response
from moto.utilities.utils import get_partition

from ._patching import override
from .clock import now
from .errors import check_range, invalid_parameter_value, missing_parameter
from .paging import page

INSTANCE = "ec2:Instance"
LAUNCH_TEMPLATE = "ec2:LaunchTemplate"
SSM_PARAMETER = "ssm:Parameter"
IMAGE_RECIPE = "imagebuilder:ImageRecipe"
CONTAINER_RECIPE = "imagebuilder:ContainerRecipe"
RESOURCE_TYPES = (INSTANCE, LAUNCH_TEMPLATE, SSM_PARAMETER, IMAGE_RECIPE, CONTAINER_RECIPE)
INSTANCE_STATES = frozenset({"pending", "running", "shutting-down", "terminated", "stopping", "stopped"})
OPTION_FOR = {INSTANCE: "state-name", LAUNCH_TEMPLATE: "version-depth"}
DEFAULT_VERSION_DEPTH = 10
MAX_VERSION_DEPTH = 10000
MAX_IMAGE_IDS = 10
TERMINATED_VISIBLE_FOR = timedelta(hours=1)
PAGE_SCOPE = "DescribeImageReferences"


@dataclass(frozen=True)
class ReferenceScope:
    """What to look at; None or False: that resource type is not checked."""

    instance_states: frozenset[str] | None = None
    version_depth: int | None = None
    parameters: bool = False


def reference_scope(include_all: bool, resource_types: list[dict[str, Any]]) -> ReferenceScope:
    if not include_all and not resource_types:
        raise missing_parameter(
            "The request must contain the parameter IncludeAllResourceTypes or ResourceTypes"
        )
    states = INSTANCE_STATES if include_all else None
    depth = DEFAULT_VERSION_DEPTH if include_all else None
    parameters = include_all
    for request in resource_types:
        kind = request.get("ResourceType")
        if kind not in RESOURCE_TYPES:
            raise invalid_parameter_value(f"The resource type '{kind}' is not supported.")
        values = _option_values(kind, request.get("ResourceTypeOptions") or [])
        if kind == INSTANCE:
            unknown = set(values) - INSTANCE_STATES
            if unknown:
                raise invalid_parameter_value(f"Invalid state-name value(s): {', '.join(sorted(unknown))}")
            states = frozenset(values) or INSTANCE_STATES
        elif kind == LAUNCH_TEMPLATE:
            depth = _version_depth(values)
        elif kind == SSM_PARAMETER:
            parameters = True
    return ReferenceScope(states, depth, parameters)


def _option_values(kind: str, options: list[dict[str, Any]]) -> list[str]:
    values: list[str] = []
    for option in options:
        if option.get("OptionName") != OPTION_FOR.get(kind):
            raise invalid_parameter_value(
                f"The option '{option.get('OptionName')}' is not valid for resource type {kind}."
            )
        values.extend(str(v) for v in option.get("OptionValues") or [])
    return values


def _version_depth(values: list[str]) -> int:
    if not values:
        return DEFAULT_VERSION_DEPTH
    if len(values) > 1 or not values[0].isdigit() or not 1 <= int(values[0]) <= MAX_VERSION_DEPTH:
        raise invalid_parameter_value(f"version-depth must be one integer from 1 to {MAX_VERSION_DEPTH}.")
    return int(values[0])


def image_references(backend: Any, image_ids: list[str], scope: ReferenceScope) -> list[dict[str, str]]:
    """References to `image_ids`, grouped by image in the order asked, then by resource type."""
    found: dict[str, list[dict[str, str]]] = {image_id: [] for image_id in image_ids}
    region, account = backend.region_name, backend.account_id
    arn = f"arn:{get_partition(region)}:{{service}}:{region}:{account}:{{resource}}"

    def add(image_id: str, kind: str, service: str, resource: str) -> None:
        found[image_id].append(
            {"ImageId": image_id, "ResourceType": kind, "Arn": arn.format(service=service, resource=resource)}
        )

    if scope.instance_states is not None:
        for reservation in backend.reservations.values():
            for instance in reservation.instances:
                if instance.image_id in found and _listed(instance, scope.instance_states):
                    add(instance.image_id, INSTANCE, "ec2", f"instance/{instance.id}")
    if scope.version_depth is not None:
        for template in backend.launch_templates.values():
            recent = template.versions[-scope.version_depth :]
            for image_id in dict.fromkeys(version.image_id for version in recent):
                if image_id in found:
                    add(image_id, LAUNCH_TEMPLATE, "ec2", f"launch-template/{template.id}")
    if scope.parameters:
        for name, value in _image_parameters(backend):
            if value in found:
                add(value, SSM_PARAMETER, "ssm", f"parameter/{name.lstrip('/')}")
    return [reference for image_id in found for reference in found[image_id]]


def _listed(instance: Any, states: frozenset[str]) -> bool:
    state = instance.state
    if state not in states:
        return False
    terminated_at = instance.__dict__.get("sandbox_terminated_at")
    return state != "terminated" or terminated_at is None or now() - terminated_at < TERMINATED_VISIBLE_FOR


def _image_parameters(backend: Any) -> list[tuple[str, str]]:
    """(name, value) of the String parameters of data type aws:ec2:image, current versions."""
    from moto.ssm.models import ssm_backends

    parameters = ssm_backends[backend.account_id][backend.region_name]._parameters
    return [
        (name, versions[-1].value)
        for name, versions in list(parameters.items())
        if versions and versions[-1].parameter_type == "String" and versions[-1].data_type == "aws:ec2:image"
    ]


def _describe_image_references(self: Any) -> ActionResult:
    image_ids = list(dict.fromkeys(self._get_param("ImageIds", [])))
    if len(image_ids) > MAX_IMAGE_IDS:
        raise invalid_parameter_value(f"At most {MAX_IMAGE_IDS} image IDs can be checked in one request.")
    malformed = [i for i in image_ids if not str(i).startswith("ami-")]
    if malformed:
        raise MalformedAMIIdError(malformed)
    scope = reference_scope(
        bool(self._get_param("IncludeAllResourceTypes", False)), self._get_param("ResourceTypes", [])
    )
    limit = check_range("MaxResults", self._get_param("MaxResults"), 5, 1000)
    self.error_on_dryrun()
    references = image_references(self.ec2_backend, image_ids, scope)
    # The list is rebuilt on each call in a fixed order, so a position is a stable key.
    result = page(
        list(enumerate(references)),
        key=lambda pair: (pair[0],),
        limit=limit,
        token=self._get_param("NextToken"),
        scope=PAGE_SCOPE,
    )
    return ActionResult({"ImageReferences": [ref for _, ref in result.items], "NextToken": result.next_token})


def install() -> None:
    override(EC2Response, "describe_image_references", _describe_image_references)
