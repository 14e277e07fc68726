"""How a build ended: the report of one build-ended (or build-advanced) event.

Look the build up (Image Builder GetImage, SSM GetAutomationExecution), read its
new image and the image it rebuilt (one DescribeImages), and give the new image
its family tags: an SSM build's always (the runbooks do not tag the AMI they
make); an Image Builder build's when its pipeline's distribution did not, copied
from the family's previous image. The tags the new image lacks are a
``TagNewImage`` decision, applied by the run's executor like every other write
(report mode: "would tag"; enforce mode: one CreateTags). The reads are in
inventory.py, the tags a rebuilt image gets in policy.py.

The plan holds one ``BuildResult``: REBUILD DONE with the new image, REBUILD
FAILED with the reason (a tag that could not be put on fails it too), or KEEP
while the build is still running.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import Image
from ami_hygiene.core.executor import Executor
from ami_hygiene.core.families import FamilyTagError, family_of
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.jobs.rebuild.events import BuildEvent
from ami_hygiene.jobs.rebuild.inventory import (
    read_automation_build,
    read_image_builder_build,
    read_images_by_id,
    read_previous_of_pipeline,
    resolve_bases,
)
from ami_hygiene.jobs.rebuild.model import (
    AUTOMATION_FAILED,
    AUTOMATION_SUCCEEDED,
    IMAGE_BUILDER_DONE,
    JOB,
    BuildKind,
    BuildResult,
    FoundBuild,
    RebuildSettings,
    TagNewImage,
    base_reference,
)
from ami_hygiene.jobs.rebuild.policy import new_image_tags
from ami_hygiene.jobs.rebuild.settings import RebuildJobSettings

_TAG_HINT = "ami-hygiene:family"


def complete(
    settings: RebuildJobSettings,
    policy: RebuildSettings,
    clients: Clients,
    executor: Executor,
    event: BuildEvent,
) -> Plan:
    """The event's build, looked up and reported; its new image tagged through `executor`."""
    errors: list[str] = []
    try:
        found = (
            read_image_builder_build(clients, event)
            if event.kind is BuildKind.IMAGE_BUILDER
            else read_automation_build(clients, event)
        )
    except (ClientError, BotoCoreError) as err:
        errors.append(
            f"{event.region}: cannot read build {event.build_id}: {describe_error(err)}; "
            "this report is from the event alone"
        )
        found = FoundBuild(status=event.status, failure=event.failure_reason, duration=event.duration)
    images, problem = read_images_by_id(
        clients, event.region, event.account, [found.new_image_id, found.source_image_id]
    )
    if problem:
        errors.append(problem)
    new = images.get(found.new_image_id or "")
    source = images.get(found.source_image_id or "")
    family = _family(event, new, source)
    result = _result(event, found, family, new, source)
    if result.succeeded and event.kind is BuildKind.IMAGE_BUILDER and new is not None:
        # The pipeline's distribution may not tag its AMIs with the family's tags; copy
        # them from the family's previous image so rotation groups the new one with it.
        source, problem = read_previous_of_pipeline(clients, event, policy.pipelines, found.pipeline_arn, new)
        errors += [problem] if problem else []
        if source is not None:
            family = _family(event, None, source)
            result, tag_errors = _tag_new_image(
                settings, policy, clients, executor, event, result, new, source, family
            )
            errors += tag_errors
    if result.succeeded and event.kind is BuildKind.SSM_AUTOMATION:
        result, tag_errors = _tag_new_image(
            settings, policy, clients, executor, event, result, new, source, family
        )
        errors += tag_errors
    return Plan(job=JOB, region=event.region, decisions=(result,), errors=tuple(errors))


def _family(event: BuildEvent, new: Image | None, source: Image | None) -> str:
    for image in (new, source) if event.kind is BuildKind.IMAGE_BUILDER else (source, new):
        if image is not None:
            try:
                return family_of(image)
            except FamilyTagError:
                continue
    return event.family or "?"


def _result(
    event: BuildEvent, found: FoundBuild, family: str, new: Image | None, source: Image | None
) -> BuildResult:
    kind = "Image Builder build" if event.kind is BuildKind.IMAGE_BUILDER else f"Automation {event.name}"
    status = found.status
    finished = event.finished or _finished(event.kind, status)
    succeeded = finished and (status.upper() == "AVAILABLE" or status in AUTOMATION_SUCCEEDED)
    took = f" after {_duration(found.duration)}" if found.duration is not None else ""
    reasons: list[str] = []
    if not finished:
        was = f" (was {event.previous_status})" if event.previous_status else ""
        reasons.append(f"{kind} {event.build_id} is {status}{was}; the report comes when it ends")
        outcome, action = Outcome.PLANNED, Action.KEEP
    elif succeeded:
        if found.new_image_id:
            named = f" ({new.name})" if new else " (not found in EC2 yet)"
            reasons.append(f"{kind} {event.build_id} succeeded{took}: new image {found.new_image_id}{named}")
        else:
            reasons.append(f"{kind} {event.build_id} succeeded{took}, but names no new image in this region")
        outcome, action = Outcome.DONE, Action.REBUILD
    else:
        reasons.append(f"{kind} {event.build_id} ended {status}{took}: {found.failure or 'no reason given'}")
        reasons.append(f"logs: {event.logs_hint}")
        outcome, action = Outcome.FAILED, Action.REBUILD
    if found.source_image_id:
        reasons.append(f"rebuilt from {found.source_image_id}" + (f" ({source.name})" if source else ""))
    if event.console_url:
        reasons.append(f"console: {event.console_url}")
    shown = new if succeeded and new is not None else source
    image_id = (found.new_image_id if succeeded else None) or found.source_image_id or event.build_id
    return BuildResult(
        image_id=image_id,
        region=event.region,
        family=family,
        name=shown.name if shown is not None else (found.name or event.name),
        action=action,
        reasons=tuple(reasons),
        outcome=outcome,
        created=shown.creation_date if shown is not None else None,
        error=None if succeeded or not finished else (found.failure or f"build ended {status}"),
        kind=event.kind,
        build_id=event.build_id,
        status=status,
        finished=finished,
        succeeded=succeeded,
        new_image_id=found.new_image_id,
        source_image_id=found.source_image_id,
        duration=found.duration,
        failure_reason=None if succeeded else found.failure,
        console_url=event.console_url,
        logs_hint=event.logs_hint,
    )


def _tag_new_image(
    settings: RebuildJobSettings,
    policy: RebuildSettings,
    clients: Clients,
    executor: Executor,
    event: BuildEvent,
    result: BuildResult,
    new: Image | None,
    source: Image | None,
    family: str,
) -> tuple[BuildResult, list[str]]:
    """Decides the family tags the new image lacks, has the executor put them on, says what it did."""
    if new is None or source is None:
        missing = "new image" if new is None else f"rebuilt image {result.source_image_id}"
        why = f"not tagged: the {missing} could not be read; tag it {_TAG_HINT} by hand"
        return replace(result, reasons=(*result.reasons, why)), []
    if new.owner_id != event.account:
        return replace(result, reasons=(*result.reasons, "not tagged: owned by another account")), []
    errors: list[str] = []
    base_id: str | None = None
    try:
        reference = base_reference(source)
    except ValueError:
        reference = None
    if reference is not None:
        bases, problems = resolve_bases(clients, event.region, [source], settings.base_parameter_paths)
        errors += problems
        base_id = bases[reference.key].image_id if reference.key in bases else None
    wanted = new_image_tags(source, family, policy, base_id)
    missing_tags = {k: v for k, v in sorted(wanted.items()) if new.tags.get(k) != v}
    if not missing_tags:
        return replace(result, reasons=(*result.reasons, "its family tags are already in place")), errors
    tag = TagNewImage(
        image_id=new.image_id,
        region=event.region,
        family=family,
        name=new.name,
        action=Action.TAG,
        reasons=(f"the family tags of {family} it lacks",),
        created=new.creation_date,
        tags=missing_tags,
    )
    # Report mode applies nothing (PLANNED); enforce mode gives DONE, or FAILED with the error.
    (applied,) = executor.apply(Plan(job=JOB, region=event.region, decisions=(tag,))).decisions
    return _with_tagging(result, tag, applied), errors


def _with_tagging(result: BuildResult, tag: TagNewImage, applied: Decision) -> BuildResult:
    """The build's result, saying what became of the tag decision."""
    listed = ", ".join(f"{k}={v}" for k, v in tag.tags.items())
    if applied.outcome is Outcome.PLANNED:
        return replace(result, reasons=(*result.reasons, f"would tag {tag.image_id}: {listed}"))
    if applied.outcome is Outcome.DONE:
        return replace(
            result, reasons=(*result.reasons, f"tagged {tag.image_id}: {listed}"), tags_added=dict(tag.tags)
        )
    return replace(
        result,
        outcome=Outcome.FAILED,
        error=f"build succeeded but tagging {tag.image_id} failed: {applied.error or 'not applied'}",
        reasons=(*result.reasons, f"not tagged: {listed}"),
    )


def _finished(kind: BuildKind, status: str) -> bool:
    if kind is BuildKind.IMAGE_BUILDER:
        return status.upper() in IMAGE_BUILDER_DONE
    return status in AUTOMATION_SUCCEEDED | AUTOMATION_FAILED


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"
