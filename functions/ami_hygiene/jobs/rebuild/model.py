"""The rebuild job's data: its settings, its decisions and results, and the names it shares.

What the job's modules hand each other lives here, so each imports the model and
none imports another for a type: the policy plans ``RebuildDecision``s from
``RebuildSettings``, ``BaseResolution``s and ``RunningBuild``s; the inventory
reads those and a finished build's ``FoundBuild``; the actions start a
``RebuildDecision``'s build and put a ``TagNewImage``'s tags on; completion
reports a ``BuildResult``; the view counts them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ami_hygiene.core.estate import ARCHITECTURES, EMPTY_TAGS, TAG_PREFIX, Image
from ami_hygiene.core.plan import Decision
from ami_hygiene.jobs.rebuild.settings import DEFAULT_INSTANCE_TYPES, INSTANCE_TYPE

JOB = "rebuild"

# Control tags this job reads. Defined here until estate.py carries them.
TAG_BASE_IMAGE = f"{TAG_PREFIX}base-image"
TAG_BASE_PARAMETER = f"{TAG_PREFIX}base-parameter"
TAG_BASE_OWNER = f"{TAG_PREFIX}base-owner"
TAG_BASE_NAME = f"{TAG_PREFIX}base-name"
TAG_SOURCE_IMAGE = f"{TAG_PREFIX}source-image"  # written by the tag job for copies

RUNBOOK_LINUX = "AWS-UpdateLinuxAmi"
RUNBOOK_WINDOWS = "AWS-UpdateWindowsAmi"
PIPELINE_ENABLED = "ENABLED"
SSM_TARGET = "ssm-automation"  # key of `RunningBuilds.blocked` for the SSM runbooks

# StartImagePipelineExecution: imagePipelineArn pattern from the Image Builder API reference.
PIPELINE_ARN = re.compile(r"^arn:aws[^:]*:imagebuilder:[^:]+:(?:[0-9]{12}|aws):image-pipeline/[a-z0-9-_]+$")

# Build statuses, as the services spell them. Image Builder image states (GetImage,
# ListImagePipelineImages, the state-change event): under way, and finished.
IMAGE_BUILDER_RUNNING = frozenset(
    {"PENDING", "CREATING", "BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING"}
)
IMAGE_BUILDER_DONE = frozenset({"AVAILABLE", "CANCELLED", "FAILED"})
# AutomationExecutionStatus (SSM API reference): finished, with success or not.
AUTOMATION_SUCCEEDED = frozenset({"Success", "CompletedWithSuccess"})
AUTOMATION_FAILED = frozenset(
    {"Failed", "TimedOut", "Cancelled", "CompletedWithFailure", "Rejected", "Exited"}
)


class BuildKind(StrEnum):
    IMAGE_BUILDER = "image-builder"
    SSM_AUTOMATION = "ssm-automation"


class StaleKind(StrEnum):
    AGE = "age"
    BASE_MOVED = "base-moved"


@dataclass(frozen=True)
class RebuildSettings:
    max_image_age_days: int = 30
    # family -> Image Builder pipeline ARN, for families whose images carry no pipeline tag.
    pipelines: Mapping[str, str] = field(default_factory=lambda: EMPTY_TAGS)
    # Keys copied from the newest image to the rebuilt one (normally the RequiredTags keys).
    required_tags: tuple[str, ...] = ()
    # Image architecture -> InstanceType of the runbook's build instance (AUTOMATION_INSTANCE_TYPES).
    instance_types: Mapping[str, str] = field(default_factory=lambda: DEFAULT_INSTANCE_TYPES)

    def __post_init__(self) -> None:
        if not 1 <= self.max_image_age_days <= 3650:
            raise ValueError(f"max_image_age_days must be 1 to 3650, not {self.max_image_age_days}")
        for family, arn in self.pipelines.items():
            if not PIPELINE_ARN.match(arn):
                raise ValueError(f"pipeline for family {family} is {arn!r}, not an image pipeline ARN")
        for architecture, instance_type in self.instance_types.items():
            if architecture not in ARCHITECTURES:
                raise ValueError(f"instance type for {architecture!r}, which is no image architecture")
            if not INSTANCE_TYPE.match(instance_type):
                raise ValueError(
                    f"instance type for {architecture} is {instance_type!r}, not an instance type"
                )

    @property
    def max_image_age(self) -> timedelta:
        return timedelta(days=self.max_image_age_days)


@dataclass(frozen=True)
class BaseReference:
    """What a family's base is named by; ``key`` is what the job resolves for ``bases``."""

    parameter: str | None = None
    owner: str | None = None
    name: str | None = None

    @property
    def key(self) -> str:
        """The parameter name (starts with "/"), or ``OWNER:NAME-PATTERN``."""
        return self.parameter if self.parameter else f"{self.owner}:{self.name}"

    def describe(self) -> str:
        if self.parameter:
            return f"SSM parameter {self.parameter}"
        return f"newest image of owner {self.owner} named {self.name}"


def base_reference(image: Image) -> BaseReference | None:
    """The base reference named by the image's tags; ValueError when the tags are half there."""
    parameter = image.tags.get(TAG_BASE_PARAMETER, "").strip()
    if parameter:
        if not parameter.startswith("/"):
            raise ValueError(
                f"tag {TAG_BASE_PARAMETER}={parameter!r} is not a parameter name (starts with /)"
            )
        return BaseReference(parameter=parameter)
    owner = image.tags.get(TAG_BASE_OWNER, "").strip()
    name = image.tags.get(TAG_BASE_NAME, "").strip()
    if owner and name:
        return BaseReference(owner=owner, name=name)
    if owner or name:
        have, lack = (TAG_BASE_OWNER, TAG_BASE_NAME) if owner else (TAG_BASE_NAME, TAG_BASE_OWNER)
        raise ValueError(f"tag {have} is set but {lack} is not; both name the base")
    return None


@dataclass(frozen=True)
class BaseResolution:
    """What a base reference resolves to today: an image id, or why it could not be resolved."""

    image_id: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if (self.image_id is None) == (self.error is None):
            raise ValueError("BaseResolution needs exactly one of image_id and error")


@dataclass(frozen=True)
class RunningBuild:
    """A build of a family that has not finished (Image Builder image or SSM Automation execution)."""

    kind: BuildKind
    id: str  # image build version ARN, or automation execution id
    started: datetime | None
    status: str


@dataclass(frozen=True)
class RunningBuilds:
    """Builds under way by family; `blocked` maps targets (pipeline ARN or SSM_TARGET) to why unknown."""

    builds: Mapping[str, RunningBuild] = field(default_factory=dict)
    blocked: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class RebuildDecision(Decision):
    """A REBUILD: how to start the family's build, and what its new image gets.

    ``method`` is image-builder (``pipeline_arn``) or ssm-automation (``runbook``
    on ``source_image_id``, the family's newest image, with a build instance of
    ``instance_type``, which matches that image's architecture). ``client_token`` is the
    idempotency token for StartImagePipelineExecution / StartAutomationExecution
    (see ``policy.client_token``). ``family_tags`` go on the new image so rotation puts
    it in the same family and the next run can check it again.
    """

    method: BuildKind = BuildKind.IMAGE_BUILDER
    pipeline_arn: str | None = None
    runbook: str | None = None
    instance_type: str | None = None  # the runbook's InstanceType, matching the image's architecture
    source_image_id: str = ""
    client_token: str = ""
    family_tags: Mapping[str, str] = field(default_factory=lambda: EMPTY_TAGS)
    stale: tuple[StaleKind, ...] = ()
    base_image_id: str | None = None  # what the base resolves to today, when known
    # Set by the executor once started: image build version ARN, or automation execution id.
    build_id: str | None = None

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method.value,
            "source_image_id": self.source_image_id,
            "client_token": self.client_token,
            "stale": [str(k) for k in self.stale],
            "family_tags": dict(self.family_tags),
        }
        if self.pipeline_arn:
            out["pipeline_arn"] = self.pipeline_arn
        if self.runbook:
            out["runbook"] = self.runbook
        if self.instance_type:
            out["instance_type"] = self.instance_type
        if self.base_image_id:
            out["base_image_id"] = self.base_image_id
        if self.build_id:
            out["build_id"] = self.build_id
        return out


@dataclass(frozen=True)
class FoundBuild:
    """What the lookup of an ended build found (GetImage / GetAutomationExecution), or the event alone."""

    status: str
    failure: str | None = None
    new_image_id: str | None = None
    source_image_id: str | None = None
    duration: timedelta | None = None
    name: str = ""
    pipeline_arn: str | None = None  # Image Builder: the pipeline that ran the build


@dataclass(frozen=True)
class TagNewImage(Decision):
    """Action.TAG of a finished build's new image: the family tags it lacks (``tags``, sorted by key).

    Completion decides it and the executor applies it; its outcome goes back into
    the build's ``BuildResult``, which is what the report shows.
    """

    tags: Mapping[str, str] = field(default_factory=lambda: EMPTY_TAGS)


@dataclass(frozen=True)
class BuildResult(Decision):
    """How one build ended (or where it is), read when its completion event arrived.

    ``image_id`` is the new image when the build made one, else the image it
    rebuilt (SSM) or the build itself (Image Builder). The action is REBUILD:
    DONE when the build succeeded, FAILED when it did not (``error`` says why),
    PLANNED while it is still running.
    """

    kind: BuildKind = BuildKind.IMAGE_BUILDER
    build_id: str = ""
    status: str = ""
    finished: bool = False
    succeeded: bool = False
    new_image_id: str | None = None
    source_image_id: str | None = None
    duration: timedelta | None = None
    failure_reason: str | None = None
    console_url: str = ""
    logs_hint: str = ""
    tags_added: Mapping[str, str] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "build": {
                "kind": self.kind.value,
                "id": self.build_id,
                "status": self.status,
                "finished": self.finished,
                "succeeded": self.succeeded,
                "console_url": self.console_url,
            }
        }
        if self.new_image_id:
            out["build"]["new_image_id"] = self.new_image_id
        if self.source_image_id:
            out["build"]["source_image_id"] = self.source_image_id
        if self.duration is not None:
            out["build"]["duration_seconds"] = int(self.duration.total_seconds())
        if self.failure_reason:
            out["build"]["failure_reason"] = self.failure_reason
        if self.tags_added:
            out["build"]["tags_added"] = dict(self.tags_added)
        return out
