"""What the rebuild job reads: images, their bases, the pipelines, and the builds under way.

Every read is in whole pages, and grows with pages, not with images:

* owned images: DescribeImages (Owners=self), pages of 1000 (``read_images``);
* base references the families' newest images name (``resolve_bases``): SSM
  GetParameters, 10 names a call, and one DescribeImages (Owners=[owner],
  Filters name=pattern) per distinct owner + name pattern. GetParameters is
  authorized against each name it asks for, and one name the role may not read
  denies the whole call; then each name of that call is read alone
  (GetParameter), so a denied name costs only its own family a checked base;
* Image Builder pipelines (``read_pipelines``): ListImagePipelines pages of 25,
  made only when some family names a pipeline;
* builds under way (``read_running_builds``), only for the families a plan is
  about to rebuild: ListImagePipelineImages (pages of 25) per pipeline they use,
  and one DescribeAutomationExecutions (the two runbooks, Pending / InProgress /
  Waiting) when one of them uses SSM, then GetAutomationExecution per running
  execution of those runbooks (its SourceAmiId names the family);
* an ended build, when its event arrives (``read_image_builder_build`` /
  ``read_automation_build``): Image Builder GetImage or SSM GetAutomationExecution;
  then one DescribeImages of its new image and the image it rebuilt
  (``read_images_by_id``), and, for an Image Builder build, one DescribeImages of
  the family's earlier images by tag (``read_previous_of_pipeline``).

A read that fails is recorded (``problems``), never hidden, and means "no
rebuild" for what it concerns: an unresolved base is "base not checked"; an
unread pipeline list leaves those families without a pipeline; builds that
could not be read put the families they concern in ``blocked``, which the job
keeps rather than risk a second build next to a running one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error, error_code
from ami_hygiene.core.estate import TAG_FAMILY, TAG_PIPELINE, Image, RegionEstate
from ami_hygiene.core.families import FamilyTagError, family_of
from ami_hygiene.core.paging import find_images, image_from, owned_images, pages, parse_time
from ami_hygiene.jobs.rebuild.events import BuildEvent
from ami_hygiene.jobs.rebuild.model import (
    IMAGE_BUILDER_RUNNING,
    RUNBOOK_LINUX,
    RUNBOOK_WINDOWS,
    SSM_TARGET,
    BaseReference,
    BaseResolution,
    BuildKind,
    FoundBuild,
    RebuildDecision,
    RebuildSettings,
    RunningBuild,
    RunningBuilds,
    base_reference,
)

# The IAM actions its page reads call (the stack grants them: infra/permissions_rebuild.py).
READS = (
    "ec2:DescribeImages",
    "imagebuilder:ListImagePipelines",
    "ssm:DescribeAutomationExecutions",
)


if TYPE_CHECKING:
    from types_boto3_ec2 import EC2Client
    from types_boto3_imagebuilder import ImagebuilderClient
    from types_boto3_ssm import SSMClient

IMAGE_PAGE = 1000
PARAMETER_BATCH = 10  # GetParameters takes at most 10 names
IMAGE_BUILDER_PAGE = 25  # maxResults of ListImagePipelines / ListImagePipelineImages
AUTOMATION_PAGE = 50  # MaxResults of DescribeAutomationExecutions
RUNBOOKS = (RUNBOOK_LINUX, RUNBOOK_WINDOWS)
AUTOMATION_RUNNING = ("Pending", "InProgress", "Waiting")
AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
# How SSM answers a call the caller's policies do not allow (AccessDeniedException,
# HTTP 400, naming the first parameter it may not read); the others are other services' spelling.
DENIED = ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation")


def read_images(clients: Clients, region: str, account_id: str) -> RegionEstate:
    """Every owned image of the region (any state), or InventoryError."""
    images = owned_images(clients.ec2(region), region, account_id, {})
    return RegionEstate(region=region, account_id=account_id, images=images)


def newest_by_family(estate: RegionEstate) -> dict[str, Image]:
    """The newest available owned image of each family (images with a bad family tag left out)."""
    newest: dict[str, Image] = {}
    for image in estate.images:
        if image.owner_id != estate.account_id or not image.is_available:
            continue
        try:
            family = family_of(image)
        except FamilyTagError:
            continue
        seen = newest.get(family)
        if seen is None or (image.creation_date, image.image_id) > (seen.creation_date, seen.image_id):
            newest[family] = image
    return newest


def named_pipelines(estate: RegionEstate, settings: RebuildSettings) -> set[str]:
    """Pipeline ARNs the families' newest images or the settings name."""
    named = set(settings.pipelines.values())
    for image in newest_by_family(estate).values():
        tagged = image.tags.get(TAG_PIPELINE, "").strip()
        if tagged:
            named.add(tagged)
    return named


# -- bases ------------------------------------------------------------------------------------


def resolve_bases(
    clients: Clients, region: str, images: Iterable[Image], readable_paths: Iterable[str] = ()
) -> tuple[dict[str, BaseResolution], list[str]]:
    """What the base references of `images` resolve to today, keyed by ``BaseReference.key``.

    A reference that cannot be resolved gets a BaseResolution with its error
    (the policy then says "base not checked"); a call that fails is also a problem.
    `readable_paths` (BaseParameterPaths) are the private parameter paths the
    role was granted; a denied name says whether to add its path there.
    """
    references: dict[str, BaseReference] = {}
    for image in images:
        try:
            reference = base_reference(image)
        except ValueError:
            continue  # the policy reports the half-tagged reference itself
        if reference is not None:
            references[reference.key] = reference
    bases: dict[str, BaseResolution] = {}
    problems: list[str] = []
    parameters = sorted(r.parameter for r in references.values() if r.parameter)
    if parameters:
        ssm = clients.ssm(region)
        for start in range(0, len(parameters), PARAMETER_BATCH):
            batch = parameters[start : start + PARAMETER_BATCH]
            found, batch_problems = _parameters(ssm, batch, tuple(readable_paths))
            bases.update(found)
            problems.extend(f"{region}: {problem}" for problem in batch_problems)
    for key, reference in sorted(references.items()):
        if reference.parameter or reference.owner is None or reference.name is None:
            continue
        resolution, problem = _newest_named(clients.ec2(region), reference.owner, reference.name)
        bases[key] = resolution
        if problem:
            problems.append(f"{region}: base {reference.describe()}: {problem}")
    return bases, problems


def _parameters(
    ssm: SSMClient, names: list[str], readable_paths: tuple[str, ...]
) -> tuple[dict[str, BaseResolution], list[str]]:
    try:
        response = ssm.get_parameters(Names=names)
    except ClientError as err:
        if error_code(err) not in DENIED:
            why = f"cannot read SSM parameters: {describe_error(err)}"
            return {name: BaseResolution(error=why) for name in names}, [f"{why} ({', '.join(names)})"]
        # GetParameters is authorized against each name it asks for (Systems Manager user guide,
        # "How Parameter Store authorizes parameter retrieval"), and one name the role may not
        # read fails the whole call with AccessDeniedException naming that parameter (as reported
        # in e.g. github.com/hackoregon/civic-devops/issues/241). Read them one by one instead.
        return _parameters_one_by_one(ssm, names, readable_paths)
    except BotoCoreError as err:
        why = f"cannot read SSM parameters: {describe_error(err)}"
        return {name: BaseResolution(error=why) for name in names}, [f"{why} ({', '.join(names)})"]
    found: dict[str, BaseResolution] = {}
    for parameter in response.get("Parameters", []):
        value = str(parameter.get("Value", "")).strip()
        if AMI_ID.match(value):
            found[parameter["Name"]] = BaseResolution(image_id=value)
        else:
            found[parameter["Name"]] = BaseResolution(error=f"its value {value[:40]!r} is not an image id")
    for name in response.get("InvalidParameters", []):
        found[name] = BaseResolution(error="the parameter does not exist (or is not readable)")
    for name in names:
        found.setdefault(name, BaseResolution(error="GetParameters returned nothing for it"))
    return found, []


def _parameters_one_by_one(
    ssm: SSMClient, names: list[str], readable_paths: tuple[str, ...]
) -> tuple[dict[str, BaseResolution], list[str]]:
    """GetParameter per name, after GetParameters of them all was denied."""
    found: dict[str, BaseResolution] = {}
    problems: list[str] = []
    for name in names:
        try:
            value = str(ssm.get_parameter(Name=name)["Parameter"].get("Value", "")).strip()
        except ClientError as err:
            code = error_code(err)
            if code == "ParameterNotFound":
                found[name] = BaseResolution(error="the parameter does not exist")
                continue
            why = f"cannot read parameter {name} ({describe_error(err)})"
            if code in DENIED:
                why += "; " + _how_to_allow(name, readable_paths)
            found[name] = BaseResolution(error=why)
            problems.append(why)
            continue
        except BotoCoreError as err:
            why = f"cannot read parameter {name} ({describe_error(err)})"
            found[name] = BaseResolution(error=why)
            problems.append(why)
            continue
        found[name] = (
            BaseResolution(image_id=value)
            if AMI_ID.match(value)
            else BaseResolution(error=f"its value {value[:40]!r} is not an image id")
        )
    return found, problems


def _how_to_allow(name: str, readable_paths: tuple[str, ...]) -> str:
    """What to do about a denied parameter (the stack grants each path and everything under it)."""
    granted = [path for path in readable_paths if name == path or name.startswith(f"{path}/")]
    if granted:
        return (
            f"BaseParameterPaths already has {granted[0]}, so something else denies it (a permissions "
            "boundary, a service control policy, or a stack update not deployed yet)"
        )
    return f"allow it with BaseParameterPaths (e.g. {name.rsplit('/', 1)[0] or name})"


def _newest_named(ec2: EC2Client, owner: str, pattern: str) -> tuple[BaseResolution, str]:
    try:
        raw = list(
            pages(
                ec2,
                "describe_images",
                "Images",
                IMAGE_PAGE,
                Owners=[owner],
                Filters=[{"Name": "name", "Values": [pattern]}, {"Name": "state", "Values": ["available"]}],
            )
        )
    except (ClientError, BotoCoreError) as err:
        why = f"cannot list the images: {describe_error(err)}"
        return BaseResolution(error=why), why
    if not raw:
        return BaseResolution(error="no available image matches"), ""
    newest = max(raw, key=lambda r: (str(r.get("CreationDate") or ""), str(r["ImageId"])))
    return BaseResolution(image_id=str(newest["ImageId"])), ""


# -- pipelines -------------------------------------------------------------------------------


def read_pipelines(clients: Clients, region: str) -> tuple[dict[str, str], str]:
    """Pipeline ARN -> status (ENABLED / DISABLED), and a problem when they could not be listed."""
    try:
        return {
            str(p["arn"]): str(p.get("status", ""))
            for p in pages(
                clients.imagebuilder(region),
                "list_image_pipelines",
                "imagePipelineList",
                IMAGE_BUILDER_PAGE,
            )
        }, ""
    except (ClientError, BotoCoreError) as err:
        return {}, (
            f"{region}: cannot list Image Builder pipelines, so no family is rebuilt by one: "
            f"{describe_error(err)}"
        )


# -- running builds --------------------------------------------------------------------------


def read_running_builds(
    clients: Clients, region: str, estate: RegionEstate, candidates: Iterable[RebuildDecision]
) -> RunningBuilds:
    """Builds under way for the families of `candidates` (the rebuilds a plan is about to start)."""
    by_pipeline: dict[str, list[str]] = {}
    ssm_families: list[str] = []
    for decision in candidates:
        if decision.method is BuildKind.IMAGE_BUILDER and decision.pipeline_arn:
            by_pipeline.setdefault(decision.pipeline_arn, []).append(decision.family)
        else:
            ssm_families.append(decision.family)
    builds: dict[str, RunningBuild] = {}
    blocked: dict[str, str] = {}
    problems: list[str] = []
    for arn, families in sorted(by_pipeline.items()):
        try:
            running = _pipeline_builds(clients.imagebuilder(region), arn)
        except (ClientError, BotoCoreError) as err:
            why = f"cannot list the builds of pipeline {arn}: {describe_error(err)}"
            blocked[arn] = why
            problems.append(f"{region}: {why}; {', '.join(sorted(families))} not rebuilt this run")
            continue
        if running:
            build = max(running, key=_newest_first)
            builds.update(dict.fromkeys(families, build))
    if ssm_families:
        try:
            running_ssm = _automation_builds(clients.ssm(region), estate)
        except (ClientError, BotoCoreError) as err:
            why = f"cannot list running Automation executions: {describe_error(err)}"
            blocked[SSM_TARGET] = why
            problems.append(f"{region}: {why}; {', '.join(sorted(ssm_families))} not rebuilt this run")
        else:
            builds.update({f: b for f, b in running_ssm.items() if f in ssm_families})
    return RunningBuilds(builds=builds, blocked=blocked, problems=tuple(problems))


def _pipeline_builds(imagebuilder: ImagebuilderClient, arn: str) -> list[RunningBuild]:
    return [
        RunningBuild(
            kind=BuildKind.IMAGE_BUILDER,
            id=str(summary["arn"]),
            started=parse_time(summary.get("dateCreated")),
            status=str((summary.get("state") or {}).get("status", "")),
        )
        for summary in pages(
            imagebuilder,
            "list_image_pipeline_images",
            "imageSummaryList",
            IMAGE_BUILDER_PAGE,
            imagePipelineArn=arn,
        )
        if str((summary.get("state") or {}).get("status", "")).upper() in IMAGE_BUILDER_RUNNING
    ]


def _automation_builds(ssm: SSMClient, estate: RegionEstate) -> dict[str, RunningBuild]:
    """Family -> newest running execution of the runbooks, by its SourceAmiId's family."""
    families = _family_of_ids(estate)
    found: dict[str, RunningBuild] = {}
    for metadata in pages(
        ssm,
        "describe_automation_executions",
        "AutomationExecutionMetadataList",
        AUTOMATION_PAGE,
        Filters=[
            {"Key": "DocumentNamePrefix", "Values": list(RUNBOOKS)},
            {"Key": "ExecutionStatus", "Values": list(AUTOMATION_RUNNING)},
        ],
    ):
        if metadata.get("DocumentName") not in RUNBOOKS:
            continue  # a prefix match of another document
        execution_id = str(metadata["AutomationExecutionId"])
        execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        source = (execution.get("Parameters") or {}).get("SourceAmiId") or [""]
        family = families.get(str(source[0]))
        if family is None:
            continue  # not an image of this estate: not one of its families' builds
        build = RunningBuild(
            kind=BuildKind.SSM_AUTOMATION,
            id=execution_id,
            started=parse_time(execution.get("ExecutionStartTime")),
            status=str(execution.get("AutomationExecutionStatus", "")),
        )
        seen = found.get(family)
        if seen is None or _newest_first(build) > _newest_first(seen):
            found[family] = build
    return found


def _family_of_ids(estate: RegionEstate) -> dict[str, str]:
    out: dict[str, str] = {}
    for image in estate.images:
        try:
            out[image.image_id] = family_of(image)
        except FamilyTagError:
            continue
    return out


def _newest_first(build: RunningBuild) -> tuple[float, str]:
    return (build.started.timestamp() if build.started else 0.0, build.id)


# -- an ended build --------------------------------------------------------------------------


def read_image_builder_build(clients: Clients, event: BuildEvent) -> FoundBuild:
    """The Image Builder build of `event` (GetImage): its status, new AMI here, duration, pipeline."""
    image = clients.imagebuilder(event.region).get_image(imageBuildVersionArn=event.build_id)["image"]
    state = image.get("state") or {}
    status = str(state.get("status") or event.status).upper()
    amis = [a for a in (image.get("outputResources") or {}).get("amis", []) if a.get("image")]
    here = [a for a in amis if a.get("region") == event.region] or amis
    created = parse_time(image.get("dateCreated"))
    ended = event.ended or event.time
    return FoundBuild(
        status=status,
        failure=state.get("reason") or event.failure_reason,
        new_image_id=str(here[0]["image"]) if here else None,
        duration=ended - created if created and ended >= created else None,
        name=str(image.get("name") or event.name),
        pipeline_arn=image.get("sourcePipelineArn"),
    )


def read_automation_build(clients: Clients, event: BuildEvent) -> FoundBuild:
    """The Automation execution of `event` (GetAutomationExecution): status, new AMI, source AMI."""
    execution = clients.ssm(event.region).get_automation_execution(AutomationExecutionId=event.build_id)[
        "AutomationExecution"
    ]
    outputs: Mapping[str, Any] = execution.get("Outputs") or {}
    new_ids = [
        str(v) for key in sorted(outputs, key=lambda k: not k.endswith(".ImageId")) for v in outputs[key]
    ]
    new_id = next((v for v in new_ids if AMI_ID.match(v)), None)
    source = ((execution.get("Parameters") or {}).get("SourceAmiId") or [""])[0]
    began, ended = (
        parse_time(execution.get("ExecutionStartTime")),
        parse_time(execution.get("ExecutionEndTime")),
    )
    duration = event.duration
    if duration is None and began and ended and ended >= began:
        duration = ended - began
    return FoundBuild(
        status=str(execution.get("AutomationExecutionStatus") or event.status),
        failure=execution.get("FailureMessage") or event.failure_reason,
        new_image_id=new_id,
        source_image_id=str(source) if source else None,
        duration=duration,
        name=str(((execution.get("Parameters") or {}).get("TargetAmiName") or [""])[0]),
    )


def read_images_by_id(
    clients: Clients, region: str, account: str, ids: list[str | None]
) -> tuple[dict[str, Image], str]:
    """The images of `ids` in the region (one DescribeImages), and a problem when they could not be read."""
    wanted = [i for i in dict.fromkeys(ids) if i]
    if not wanted:
        return {}, ""
    try:
        raw = find_images(clients.ec2(region), owners=(), filters=[{"Name": "image-id", "Values": wanted}])
    except (ClientError, BotoCoreError) as err:
        return {}, f"{region}: cannot read images {', '.join(wanted)}: {describe_error(err)}"
    return {r["ImageId"]: image_from(r, region, account, {}) for r in raw}, ""


def read_previous_of_pipeline(
    clients: Clients, event: BuildEvent, pipelines: Mapping[str, str], pipeline_arn: str | None, new: Image
) -> tuple[Image | None, str]:
    """The family's newest earlier image, to copy the family's tags from.

    The family `pipelines` (FamilyPipelines) maps to this pipeline, else the
    images tagged with it. One DescribeImages (a tag filter); None when there is none.
    """
    if not pipeline_arn:
        return None, ""
    families = [f for f, arn in pipelines.items() if arn == pipeline_arn]
    tag_filter = (
        {"Name": f"tag:{TAG_FAMILY}", "Values": families}
        if families
        else {"Name": f"tag:{TAG_PIPELINE}", "Values": [pipeline_arn]}
    )
    try:
        raw = find_images(clients.ec2(event.region), filters=[tag_filter])
    except (ClientError, BotoCoreError) as err:
        return (
            None,
            f"{event.region}: cannot read the earlier images of {pipeline_arn}: {describe_error(err)}",
        )
    earlier = [
        image_from(r, event.region, event.account, {})
        for r in raw
        if r["ImageId"] != new.image_id and r.get("State") == "available"
    ]
    return (max(earlier, key=lambda i: (i.creation_date, i.image_id)) if earlier else None), ""
