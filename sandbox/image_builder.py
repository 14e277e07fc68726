"""EC2 Image Builder, which moto lacks: the pipeline operations a patch-rebuild job calls.

Served like any moto service, in-process (`moto.mock_aws`) and by the loopback
server: `install()` registers a backend named "imagebuilder" with moto (a
`moto.imagebuilder` module entry whose `imagebuilder_backends` moto's
`get_backend` imports, and the service's URL pattern in moto's backend index,
which both the botocore stubber and the server's host dispatcher read).

Operations follow the Image Builder API reference (REST-JSON):
CreateImagePipeline, GetImagePipeline, ListImagePipelines, DeleteImagePipeline,
StartImagePipelineExecution, ListImagePipelineImages and GetImage. What the
sandbox does not model: recipes, infrastructure and distribution
configurations are not resources here, so their ARNs are checked against the
documented patterns only, never looked up; builds never progress by
themselves: `complete_build` ends one, as the service would after its
build, test and distribution phases.

Assumptions, where the reference is silent:
- starting a DISABLED pipeline answers InvalidRequestException;
- a pipeline, or an image, that does not exist answers ResourceNotFoundException (404);
- the AMI a build distributes carries the tags Image Builder itself puts on AMIs
  (`CreatedBy`, `Ec2ImageBuilderArn`) plus the pipeline's `ami-hygiene:*` tags, standing
  in for the distribution configuration's `amiTags`.

The event `complete_build` returns is the "EC2 Image Builder Image State Change"
event as the Image Builder user guide ("Event messages that Image Builder sends")
shows it: `resources` holds the image build version ARN and `detail` holds only
`previous-state` and `state` (with `reason` when the build failed, as the event's
schema in the CDK event bindings lists). The event carries no AMI id: consumers
call GetImage, whose `outputResources.amis` lists it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import types
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.base_backend import AccountSpecificBackend, BackendDict, BaseBackend
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse

from . import DEFAULT_ACCOUNT_ID
from .clock import iso_seconds, now

SERVICE = "imagebuilder"

# Valid values of ImageState.status in the API reference.
IMAGE_STATUSES = (
    "PENDING",
    "CREATING",
    "BUILDING",
    "TESTING",
    "DISTRIBUTING",
    "INTEGRATING",
    "AVAILABLE",
    "CANCELLED",
    "FAILED",
    "DEPRECATED",
    "DELETED",
    "DISABLED",
)
BUILD_FINISHED = ("AVAILABLE", "CANCELLED", "FAILED", "DEPRECATED", "DELETED", "DISABLED")
PIPELINE_STATUSES = ("ENABLED", "DISABLED")
MAX_RESULTS = 25  # maxResults: 1..25 for both list operations

_ARN_PREFIX = r"^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws):"
_RECIPE_ARN = re.compile(_ARN_PREFIX + r"image-recipe/([a-z0-9-_]+)/([0-9]+\.[0-9]+\.[0-9]+)$")
_INFRASTRUCTURE_ARN = re.compile(_ARN_PREFIX + r"infrastructure-configuration/[a-z0-9-_]+$")
_DISTRIBUTION_ARN = re.compile(_ARN_PREFIX + r"distribution-configuration/[a-z0-9-_]+$")
_PIPELINE_ARN = re.compile(_ARN_PREFIX + r"image-pipeline/[a-z0-9-_]+$")
_NAME = re.compile(r"^[-_A-Za-z-0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z-0-9]$")

EVENT_SOURCE = "aws.imagebuilder"
EVENT_DETAIL_TYPE = "EC2 Image Builder Image State Change"


# -- errors (shapes of the Image Builder API reference; moto adds their HTTP status) ---------


class ImageBuilderError(ServiceException):
    pass


class InvalidRequestException(ImageBuilderError):
    code = "InvalidRequestException"


class ResourceNotFoundException(ImageBuilderError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(ImageBuilderError):
    code = "ResourceAlreadyExistsException"


class IdempotentParameterMismatchException(ImageBuilderError):
    code = "IdempotentParameterMismatchException"


class InvalidPaginationTokenException(ImageBuilderError):
    code = "InvalidPaginationTokenException"


# -- model --------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Pipeline:
    arn: str
    name: str
    description: str | None
    image_recipe_arn: str
    infrastructure_configuration_arn: str
    distribution_configuration_arn: str | None
    status: str
    tags: dict[str, str]
    created: datetime
    extra: dict[str, Any] = field(default_factory=dict)  # echoed fields the sandbox does not act on
    last_run: datetime | None = None
    last_run_status: str | None = None

    def describe(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "arn": self.arn,
            "name": self.name,
            "platform": "Linux",
            "enhancedImageMetadataEnabled": True,
            "imageRecipeArn": self.image_recipe_arn,
            "infrastructureConfigurationArn": self.infrastructure_configuration_arn,
            "status": self.status,
            "dateCreated": _stamp(self.created),
            "dateUpdated": _stamp(self.created),
            "tags": dict(self.tags),
            **self.extra,
        }
        if self.description is not None:
            found["description"] = self.description
        if self.distribution_configuration_arn:
            found["distributionConfigurationArn"] = self.distribution_configuration_arn
        if self.last_run is not None:
            found["dateLastRun"] = _stamp(self.last_run)
        if self.last_run_status is not None:
            found["lastRunStatus"] = self.last_run_status
        return found


@dataclass
class Build:
    arn: str
    name: str
    version: str
    pipeline_arn: str
    pipeline_name: str
    image_recipe_arn: str
    tags: dict[str, str]
    created: datetime
    status: str = "PENDING"
    reason: str | None = None
    amis: list[dict[str, Any]] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"status": self.status}
        if self.reason:
            state["reason"] = self.reason
        return state

    def summary(self, owner: str) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "name": self.name,
            "type": "AMI",
            "version": self.version,
            "platform": "Linux",
            "state": self.state(),
            "owner": owner,
            "dateCreated": _stamp(self.created),
            "outputResources": {"amis": [dict(ami) for ami in self.amis]},
            "tags": dict(self.tags),
            "buildType": "USER_INITIATED",
            "imageSource": "CUSTOM",
        }

    def describe(self, owner: str, pipeline: Pipeline | None) -> dict[str, Any]:
        found = self.summary(owner)
        found.pop("owner")
        found.update(
            {
                "enhancedImageMetadataEnabled": True,
                "sourcePipelineName": self.pipeline_name,
                "sourcePipelineArn": self.pipeline_arn,
                "imageRecipe": {"arn": self.image_recipe_arn},
            }
        )
        if pipeline is not None:
            found["infrastructureConfiguration"] = {"arn": pipeline.infrastructure_configuration_arn}
            if pipeline.distribution_configuration_arn:
                found["distributionConfiguration"] = {"arn": pipeline.distribution_configuration_arn}
        return found


class ImageBuilderBackend(BaseBackend):
    """Pipelines and their builds, per account and region, as moto keeps every service."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.pipelines: dict[str, Pipeline] = {}
        self.builds: dict[str, Build] = {}
        # (operation, clientToken) -> (what the request asked, the ARN it answered)
        self.tokens: dict[tuple[str, str], tuple[Any, str]] = {}
        self.build_numbers: dict[str, int] = {}  # recipe name/version -> last build number

    @property
    def _url_module(self) -> Any:  # moto reads url_bases/url_paths from here
        return sys.modules[__name__]

    def _arn(self, resource: str) -> str:
        return f"arn:{self.partition}:imagebuilder:{self.region_name}:{self.account_id}:{resource}"

    def _remembered(self, operation: str, token: str, request: Any) -> str | None:
        seen = self.tokens.get((operation, token))
        if seen is None:
            return None
        if seen[0] != request:
            raise IdempotentParameterMismatchException(
                f"The client token {token} was already used with different parameters."
            )
        return seen[1]

    def create_image_pipeline(self, params: dict[str, Any]) -> str:
        token = params.get("clientToken") or ""
        if not token:
            raise InvalidRequestException("clientToken is required.")
        request = json.dumps(params, sort_keys=True, default=str)
        remembered = self._remembered("CreateImagePipeline", token, request)
        if remembered:
            return remembered
        name = params.get("name") or ""
        if not _NAME.match(name):
            raise InvalidRequestException(f"The value supplied for parameter 'name' is not valid: {name}")
        recipe = params.get("imageRecipeArn")
        if params.get("containerRecipeArn") or not recipe:
            raise InvalidRequestException("The sandbox builds AMIs only: imageRecipeArn is required.")
        if not _RECIPE_ARN.match(recipe):
            raise InvalidRequestException(
                f"The value supplied for parameter 'imageRecipeArn' is not valid: {recipe}"
            )
        infrastructure = params.get("infrastructureConfigurationArn") or ""
        if not _INFRASTRUCTURE_ARN.match(infrastructure):
            raise InvalidRequestException(
                f"The value supplied for parameter 'infrastructureConfigurationArn' is not valid: "
                f"{infrastructure}"
            )
        distribution = params.get("distributionConfigurationArn")
        if distribution and not _DISTRIBUTION_ARN.match(distribution):
            raise InvalidRequestException(
                f"The value supplied for parameter 'distributionConfigurationArn' is not valid: "
                f"{distribution}"
            )
        status = params.get("status") or "ENABLED"
        if status not in PIPELINE_STATUSES:
            raise InvalidRequestException(f"The value supplied for parameter 'status' is not valid: {status}")
        arn = self._arn(f"image-pipeline/{name.lower().replace(' ', '-')}")
        if arn in self.pipelines:
            raise ResourceAlreadyExistsException(f"The resource ARN '{arn}' already exists.")
        echoed = (
            "schedule",
            "imageTestsConfiguration",
            "imageScanningConfiguration",
            "imageTags",
            "executionRole",
        )
        self.pipelines[arn] = Pipeline(
            arn=arn,
            name=name,
            description=params.get("description"),
            image_recipe_arn=recipe,
            infrastructure_configuration_arn=infrastructure,
            distribution_configuration_arn=distribution,
            status=status,
            tags=dict(params.get("tags") or {}),
            created=now(),
            extra={key: params[key] for key in echoed if params.get(key) is not None},
        )
        self.tokens[("CreateImagePipeline", token)] = (request, arn)
        return arn

    def get_image_pipeline(self, arn: str) -> Pipeline:
        if not _PIPELINE_ARN.match(arn or ""):
            raise InvalidRequestException(
                f"The value supplied for parameter 'imagePipelineArn' is not valid: {arn}"
            )
        pipeline = self.pipelines.get(arn)
        if pipeline is None:
            raise ResourceNotFoundException(f"The resource ARN '{arn}' does not exist.")
        return pipeline

    def delete_image_pipeline(self, arn: str) -> str:
        self.get_image_pipeline(arn)
        del self.pipelines[arn]
        return arn

    def start_image_pipeline_execution(self, arn: str, token: str, tags: dict[str, str] | None) -> str:
        """StartImagePipelineExecution: one build per client token, as the reference's idempotency says."""
        if not token:
            raise InvalidRequestException("clientToken is required.")
        if len(token) > 36:
            raise InvalidRequestException("clientToken must be at most 36 characters long.")
        request = json.dumps({"arn": arn, "tags": tags or {}}, sort_keys=True)
        remembered = self._remembered("StartImagePipelineExecution", token, request)
        if remembered:
            return remembered
        pipeline = self.get_image_pipeline(arn)
        if pipeline.status == "DISABLED":
            raise InvalidRequestException(f"Image pipeline '{arn}' is DISABLED and cannot be started.")
        matched = _RECIPE_ARN.match(pipeline.image_recipe_arn)
        assert matched is not None  # checked when the pipeline was created
        recipe, version = matched.group(1), matched.group(2)
        number = self.build_numbers.get(f"{recipe}/{version}", 0) + 1
        self.build_numbers[f"{recipe}/{version}"] = number
        build_arn = self._arn(f"image/{recipe}/{version}/{number}")
        started = now()
        self.builds[build_arn] = Build(
            arn=build_arn,
            name=recipe,
            version=f"{version}/{number}",
            pipeline_arn=pipeline.arn,
            pipeline_name=pipeline.name,
            image_recipe_arn=pipeline.image_recipe_arn,
            tags=dict(tags or {}),
            created=started,
        )
        pipeline.last_run, pipeline.last_run_status = started, "PENDING"
        self.tokens[("StartImagePipelineExecution", token)] = (request, build_arn)
        return build_arn

    def get_image(self, arn: str) -> Build:
        build = self.builds.get(arn or "")
        if build is None:
            raise ResourceNotFoundException(f"The resource ARN '{arn}' does not exist.")
        return build


def _regions() -> list[str]:
    """botocore's endpoint list does not name imagebuilder: serve every region EC2 has."""
    session = AccountSpecificBackend.get_session()
    return [
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    ]


imagebuilder_backends = BackendDict(
    ImageBuilderBackend, SERVICE, use_boto3_regions=False, additional_regions=_regions()
)


# -- paging -------------------------------------------------------------------------------


def _page(items: list[Any], max_results: Any, token: str | None, scope: str) -> tuple[list[Any], str | None]:
    """Up to maxResults items after the position `token` names; the token is tied to `scope`."""
    limit = MAX_RESULTS if max_results is None else int(max_results)
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidRequestException(f"maxResults must be between 1 and {MAX_RESULTS}.")
    start = 0
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
            start = int(decoded["start"]) if decoded["scope"] == scope else -1
        except (ValueError, KeyError, TypeError, binascii.Error):
            start = -1
        if start < 0:
            raise InvalidPaginationTokenException(f"Invalid pagination token: {token}")
    chunk = items[start : start + limit]
    if start + limit >= len(items):
        return chunk, None
    following = {"scope": scope, "start": start + limit}
    return chunk, base64.urlsafe_b64encode(json.dumps(following).encode()).decode()


def _filtered(items: list[Any], filters: list[dict[str, Any]] | None, fields: dict[str, Any]) -> list[Any]:
    for found in filters or []:
        name, values = found.get("name"), found.get("values") or []
        if name not in fields:
            raise InvalidRequestException(f"The filter name '{name}' is not valid.")
        items = [item for item in items if str(fields[name](item)) in values]
    return items


# -- responses ----------------------------------------------------------------------------


class ImageBuilderResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name=SERVICE)
        self.automated_parameter_parsing = True

    @property
    def backend(self) -> ImageBuilderBackend:
        return imagebuilder_backends[self.current_account][self.region]

    def _request_id(self) -> str:
        return str(uuid.uuid4())

    def create_image_pipeline(self) -> ActionResult:
        params = {name: self._get_param(name) for name in _CREATE_FIELDS}
        arn = self.backend.create_image_pipeline({k: v for k, v in params.items() if v is not None})
        return ActionResult(
            {"requestId": self._request_id(), "clientToken": params["clientToken"], "imagePipelineArn": arn}
        )

    def get_image_pipeline(self) -> ActionResult:
        pipeline = self.backend.get_image_pipeline(self._get_param("imagePipelineArn"))
        return ActionResult({"requestId": self._request_id(), "imagePipeline": pipeline.describe()})

    def list_image_pipelines(self) -> ActionResult:
        fields = {
            "name": lambda p: p.name,
            "status": lambda p: p.status,
            "arn": lambda p: p.arn,
            "description": lambda p: p.description,
        }
        pipelines = _filtered(list(self.backend.pipelines.values()), self._get_param("filters"), fields)
        chunk, token = _page(
            pipelines, self._get_param("maxResults"), self._get_param("nextToken"), "ListImagePipelines"
        )
        result: dict[str, Any] = {
            "requestId": self._request_id(),
            "imagePipelineList": [p.describe() for p in chunk],
        }
        if token:
            result["nextToken"] = token
        return ActionResult(result)

    def delete_image_pipeline(self) -> ActionResult:
        arn = self.backend.delete_image_pipeline(self._get_param("imagePipelineArn"))
        return ActionResult({"requestId": self._request_id(), "imagePipelineArn": arn})

    def start_image_pipeline_execution(self) -> ActionResult:
        token = self._get_param("clientToken")
        arn = self.backend.start_image_pipeline_execution(
            self._get_param("imagePipelineArn"), token, self._get_param("tags")
        )
        return ActionResult(
            {"requestId": self._request_id(), "clientToken": token, "imageBuildVersionArn": arn}
        )

    def list_image_pipeline_images(self) -> ActionResult:
        pipeline = self.backend.get_image_pipeline(self._get_param("imagePipelineArn"))
        builds = [b for b in self.backend.builds.values() if b.pipeline_arn == pipeline.arn]
        fields = {"name": lambda b: b.name, "version": lambda b: b.version.split("/")[0]}
        builds = _filtered(builds, self._get_param("filters"), fields)
        chunk, token = _page(
            builds,
            self._get_param("maxResults"),
            self._get_param("nextToken"),
            f"ListImagePipelineImages:{pipeline.arn}",
        )
        result: dict[str, Any] = {
            "requestId": self._request_id(),
            "imageSummaryList": [b.summary(self.current_account) for b in chunk],
        }
        if token:
            result["nextToken"] = token
        return ActionResult(result)

    def get_image(self) -> ActionResult:
        build = self.backend.get_image(self._get_param("imageBuildVersionArn"))
        pipeline = self.backend.pipelines.get(build.pipeline_arn)
        return ActionResult(
            {"requestId": self._request_id(), "image": build.describe(self.current_account, pipeline)}
        )


_CREATE_FIELDS = (
    "name",
    "description",
    "imageRecipeArn",
    "containerRecipeArn",
    "infrastructureConfigurationArn",
    "distributionConfigurationArn",
    "imageTestsConfiguration",
    "enhancedImageMetadataEnabled",
    "schedule",
    "status",
    "tags",
    "imageTags",
    "clientToken",
    "imageScanningConfiguration",
    "executionRole",
)

# Read by moto through ImageBuilderBackend._url_module, like a service's urls.py.
url_bases = [r"https?://imagebuilder\.(.+)\.amazonaws\.com"]
url_paths = {
    "{0}/" + operation + "$": ImageBuilderResponse.dispatch
    for operation in (
        "CreateImagePipeline",
        "GetImagePipeline",
        "ListImagePipelines",
        "DeleteImagePipeline",
        "StartImagePipelineExecution",
        "ListImagePipelineImages",
        "GetImage",
    )
}


# -- plain-Python helpers (not API operations) --------------------------------------------


def _backend(region: str, account_id: str) -> ImageBuilderBackend:
    return imagebuilder_backends[account_id][region]


def complete_build(
    image_build_version_arn: str,
    *,
    succeed: bool = True,
    reason: str = "",
    region: str | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Ends a build AVAILABLE (distributing a real AMI to EC2) or FAILED; returns its state-change event.

    The region defaults to the one in the ARN. Raises ValueError for a build that already ended.
    """
    region = region or image_build_version_arn.split(":")[3]
    backend = _backend(region, account_id)
    build = backend.get_image(image_build_version_arn)
    if build.status in BUILD_FINISHED:
        raise ValueError(f"build {image_build_version_arn} already ended {build.status}")
    previous = build.state()
    pipeline = backend.pipelines.get(build.pipeline_arn)
    if succeed:
        build.amis = [_distribute(build, pipeline, region, account_id)]
        build.status, build.reason = "AVAILABLE", None
    else:
        build.status, build.reason = "FAILED", reason or "Image build failed."
    if pipeline is not None:
        pipeline.last_run_status = build.status
    return image_state_change_event(build, previous, region, account_id)


def _distribute(build: Build, pipeline: Pipeline | None, region: str, account_id: str) -> dict[str, Any]:
    """Registers the build's AMI in moto's EC2, tagged as Image Builder's distribution tags it."""
    import sandbox

    ec2 = sandbox.backend("ec2", region, account_id)
    pipeline_name = pipeline.name if pipeline else build.pipeline_name
    name = f"{pipeline_name} {build.created.strftime('%Y-%m-%dT%H-%M-%SZ')}"
    if any(image.name == name for image in ec2.amis.values()):
        name = f"{name} {build.version.replace('/', '-')}"
    tags = {"CreatedBy": "EC2 Image Builder", "Ec2ImageBuilderArn": build.arn}
    if pipeline is not None:
        tags.update({k: v for k, v in pipeline.tags.items() if k.startswith("ami-hygiene:")})
    description = f"Created by EC2 Image Builder pipeline {build.pipeline_arn}"
    image = ec2.register_image(
        name,
        description,
        architecture="x86_64",
        virtualization_type="hvm",
        root_device_name="/dev/xvda",
        tags=tags,
    )
    return {
        "region": region,
        "image": image.id,
        "name": name,
        "description": description,
        "state": {"status": "AVAILABLE"},
        "accountId": account_id,
    }


def image_state_change_event(
    build: Build, previous: dict[str, Any], region: str, account_id: str
) -> dict[str, Any]:
    """The "EC2 Image Builder Image State Change" event, shaped as the Image Builder user guide shows."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EVENT_DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": account_id,
        "time": iso_seconds(now()),
        "region": region,
        "resources": [build.arn],
        "detail": {"previous-state": previous, "state": build.state()},
    }


def install() -> None:
    """Makes moto serve "imagebuilder": in-process through its stubber, and in its server."""
    import moto.backend_index as backend_index

    shim = sys.modules.get("moto.imagebuilder")
    if shim is None:
        shim = types.ModuleType("moto.imagebuilder", "EC2 Image Builder, from sandbox.image_builder")
        shim.imagebuilder_backends = imagebuilder_backends  # type: ignore[attr-defined]
        sys.modules["moto.imagebuilder"] = shim
    if not any(service == SERVICE for service, _ in backend_index.backend_url_patterns):
        backend_index.backend_url_patterns.append((SERVICE, re.compile(url_bases[0])))
