"""The patch-rebuild job: a sweep starts builds for stale families; an event reports how one ended.

Sweep, per region: read the owned images, resolve the bases their families'
newest images name, list the pipelines (only when some family names one), plan
once without running builds to find the stale families, read the builds under
way for just those, plan again with them, keep the families whose builds could
not be read, hold the rest to MaxActionsPerRun, and start what is left
(enforce mode). Every decision of a stale family carries the finding
"stale: ...", so the report counts stale families even when their build is
already running.

Completion event (``event``): look the build up (Image Builder GetImage, SSM
GetAutomationExecution), read its new image and the image it rebuilt (one
DescribeImages), and for a finished SSM build tag the new image with its family
tags (enforce mode; Image Builder's distribution tags its AMIs itself). The
report holds one ``BuildResult``: REBUILD DONE with the new image, REBUILD
FAILED with the reason, or KEEP while the build is still running.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ami_hygiene.core.errors import describe_error
from ami_hygiene.core.estate import ARCHITECTURES, TAG_FAMILY, TAG_PIPELINE, Image, RegionEstate
from ami_hygiene.core.executor import Executor, RunContext, never_stop
from ami_hygiene.core.families import FamilyTagError, family_of
from ami_hygiene.core.paging import find_images, image_from, parse_time
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.regions import report_of, run_regions, within_budget
from ami_hygiene.core.report import Report
from ami_hygiene.core.settings import Mode, Settings
from ami_hygiene.jobs.rebuild.actions import WRITERS, BuildResult
from ami_hygiene.jobs.rebuild.events import (
    AUTOMATION_FAILED,
    AUTOMATION_SUCCEEDED,
    IMAGE_BUILDER_DONE,
    BuildEvent,
)
from ami_hygiene.jobs.rebuild.inventory import (
    SSM_TARGET,
    RunningBuilds,
    named_pipelines,
    newest_by_family,
    read_images,
    read_pipelines,
    read_running_builds,
    resolve_bases,
)
from ami_hygiene.jobs.rebuild.policy import (
    JOB,
    PIPELINE_ENABLED,
    BuildKind,
    RebuildDecision,
    RebuildSettings,
    StaleKind,
    base_reference,
    new_image_tags,
    plan_rebuild,
)
from ami_hygiene.jobs.rebuild.view import VIEW

AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")


def run_rebuild(
    settings: Settings,
    clients: Any,
    now: datetime | None = None,
    should_stop: Callable[[], bool] = never_stop,
    event: BuildEvent | None = None,
) -> Report:
    now = now or datetime.now(UTC)
    started = datetime.now(UTC)
    plans: tuple[Plan, ...]
    errors: tuple[str, ...] = ()
    if event is not None:
        regions: tuple[str, ...] = (event.region,)
        account = event.account
        plans = (_completion(settings, clients, event),)
    else:
        regions = settings.regions
        account = clients.account_id(regions[0])
        plans, errors = _sweep(settings, clients, now, should_stop, account)
    return report_of(
        VIEW, settings, clients, account=account, regions=regions, plans=plans, started=started, errors=errors
    )


def rebuild_settings(settings: Settings) -> RebuildSettings:
    return RebuildSettings(
        max_image_age_days=settings.max_image_age_days,
        pipelines=settings.family_pipelines,
        required_tags=tuple(rule.key for rule in settings.required_tags),
        instance_types=settings.automation_instance_types,
    )


# -- sweep -----------------------------------------------------------------------------------


def _sweep(
    settings: Settings, clients: Any, now: datetime, should_stop: Callable[[], bool], account: str
) -> tuple[tuple[Plan, ...], tuple[str, ...]]:
    policy = rebuild_settings(settings)
    executor = Executor(RunContext(clients, JOB, now, settings=settings), settings.mode, WRITERS, should_stop)

    def plan(region: str, budget: int) -> Plan:
        estate = read_images(clients, region, account)
        planned = plan_region(clients, region, estate, policy, now, settings.base_parameter_paths)
        return within_budget(planned, budget)

    return run_regions(settings.regions, settings.max_actions, plan, executor)


def plan_region(
    clients: Any,
    region: str,
    estate: RegionEstate,
    policy: RebuildSettings,
    now: datetime,
    readable_paths: tuple[str, ...] = (),
) -> Plan:
    """The region's rebuild plan, with every read it needs (see the module docstring)."""
    bases, problems = resolve_bases(clients, region, newest_by_family(estate).values(), readable_paths)
    named = named_pipelines(estate, policy)
    pipelines: dict[str, str] = {}
    if named:
        pipelines, problem = read_pipelines(clients, region)
        problems += [problem] if problem else []
    # Which families are stale, whatever their pipeline's state, their running builds, or
    # whether their image's architecture has a build instance type (a stand-in type here).
    any_type = replace(
        policy, instance_types={**dict.fromkeys(ARCHITECTURES, "any.type"), **policy.instance_types}
    )
    probe = plan_rebuild(estate, any_type, now, bases, {}, dict.fromkeys(named, PIPELINE_ENABLED))
    stale = {d.family: d for d in probe.decisions if isinstance(d, RebuildDecision)}
    candidates = [
        d
        for d in stale.values()
        if d.method is BuildKind.SSM_AUTOMATION
        or pipelines.get(d.pipeline_arn or "", "").upper() == PIPELINE_ENABLED
    ]
    running = read_running_builds(clients, region, estate, candidates) if candidates else RunningBuilds()
    plan = plan_rebuild(estate, policy, now, bases, running.builds, pipelines)
    decisions = tuple(_marked(d, stale, running.blocked) for d in plan.decisions)
    return replace(plan, decisions=decisions, errors=plan.errors + tuple(problems) + running.problems)


def _marked(d: Decision, stale: Mapping[str, RebuildDecision], blocked: Mapping[str, str]) -> Decision:
    probe = stale.get(d.family)
    if probe is not None:
        d = replace(d, findings=(*d.findings, _stale_sentence(probe)))
    if isinstance(d, RebuildDecision):
        target = d.pipeline_arn if d.method is BuildKind.IMAGE_BUILDER else SSM_TARGET
        why = blocked.get(target or "")
        if why:
            how = ("starts Image Builder pipeline", "runs ")
            return Decision(
                image_id=d.image_id,
                region=d.region,
                family=d.family,
                name=d.name,
                action=Action.KEEP,
                reasons=(
                    f"kept: {why}, so a build may already be running; the next run tries again",
                    *(r for r in d.reasons if not r.startswith(how)),
                ),
                created=d.created,
                findings=d.findings,
            )
    return d


def _stale_sentence(d: RebuildDecision) -> str:
    parts = []
    for kind in d.stale:
        if kind is StaleKind.AGE:
            parts.append("its newest image is older than the age limit")
        elif kind is StaleKind.BASE_MOVED:
            parts.append(f"its base moved on to {d.base_image_id}")
    return "stale: " + " and ".join(parts)


# -- completion ------------------------------------------------------------------------------


def _completion(settings: Settings, clients: Any, event: BuildEvent) -> Plan:
    errors: list[str] = []
    try:
        found = (
            _image_builder_build(clients, event)
            if event.kind is BuildKind.IMAGE_BUILDER
            else _automation_build(clients, event)
        )
    except (ClientError, BotoCoreError) as err:
        errors.append(
            f"{event.region}: cannot read build {event.build_id}: {describe_error(err)}; "
            "this report is from the event alone"
        )
        found = _Found(status=event.status, failure=event.failure_reason, duration=event.duration)
    images, problem = _images(
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
        source, problem = _previous_of_pipeline(clients, event, settings, found.pipeline_arn, new)
        errors += [problem] if problem else []
        if source is not None:
            family = _family(event, None, source)
            result, tag_errors = _tag_new_image(settings, clients, event, result, new, source, family)
            errors += tag_errors
    if result.succeeded and event.kind is BuildKind.SSM_AUTOMATION:
        result, tag_errors = _tag_new_image(settings, clients, event, result, new, source, family)
        errors += tag_errors
    return Plan(job=JOB, region=event.region, decisions=(result,), errors=tuple(errors))


@dataclass(frozen=True)
class _Found:
    """What the build lookup found (GetImage / GetAutomationExecution)."""

    status: str
    failure: str | None = None
    new_image_id: str | None = None
    source_image_id: str | None = None
    duration: timedelta | None = None
    name: str = ""
    pipeline_arn: str | None = None  # Image Builder: the pipeline that ran the build


def _image_builder_build(clients: Any, event: BuildEvent) -> _Found:
    image = clients.imagebuilder(event.region).get_image(imageBuildVersionArn=event.build_id)["image"]
    state = image.get("state") or {}
    status = str(state.get("status") or event.status).upper()
    amis = [a for a in (image.get("outputResources") or {}).get("amis", []) if a.get("image")]
    here = [a for a in amis if a.get("region") == event.region] or amis
    created = parse_time(image.get("dateCreated"))
    ended = event.ended or event.time
    return _Found(
        status=status,
        failure=state.get("reason") or event.failure_reason,
        new_image_id=str(here[0]["image"]) if here else None,
        duration=ended - created if created and ended >= created else None,
        name=str(image.get("name") or event.name),
        pipeline_arn=image.get("sourcePipelineArn"),
    )


def _previous_of_pipeline(
    clients: Any, event: BuildEvent, settings: Settings, pipeline_arn: str | None, new: Image
) -> tuple[Image | None, str]:
    """The family's newest earlier image, to copy the family's tags from.

    The family FamilyPipelines maps to this pipeline, else the images tagged
    with it. One DescribeImages (a tag filter); None when there is none.
    """
    if not pipeline_arn:
        return None, ""
    families = [f for f, arn in settings.family_pipelines.items() if arn == pipeline_arn]
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


def _automation_build(clients: Any, event: BuildEvent) -> _Found:
    execution = clients.ssm(event.region).get_automation_execution(AutomationExecutionId=event.build_id)[
        "AutomationExecution"
    ]
    outputs: Mapping[str, Any] = execution.get("Outputs") or {}
    new_ids = [
        str(v) for key in sorted(outputs, key=lambda k: not k.endswith(".ImageId")) for v in outputs[key]
    ]
    new_id = next((v for v in new_ids if AMI_ID.match(v)), None)
    source = ((execution.get("Parameters") or {}).get("SourceAmiId") or [None])[0]
    began, ended = (
        parse_time(execution.get("ExecutionStartTime")),
        parse_time(execution.get("ExecutionEndTime")),
    )
    duration = event.duration
    if duration is None and began and ended and ended >= began:
        duration = ended - began
    return _Found(
        status=str(execution.get("AutomationExecutionStatus") or event.status),
        failure=execution.get("FailureMessage") or event.failure_reason,
        new_image_id=new_id,
        source_image_id=str(source) if source else None,
        duration=duration,
        name=str(((execution.get("Parameters") or {}).get("TargetAmiName") or [""])[0]),
    )


def _images(clients: Any, region: str, account: str, ids: list[str | None]) -> tuple[dict[str, Image], str]:
    wanted = [i for i in dict.fromkeys(ids) if i]
    if not wanted:
        return {}, ""
    try:
        raw = find_images(clients.ec2(region), owners=(), filters=[{"Name": "image-id", "Values": wanted}])
    except (ClientError, BotoCoreError) as err:
        return {}, f"{region}: cannot read images {', '.join(wanted)}: {describe_error(err)}"
    return {r["ImageId"]: image_from(r, region, account, {}) for r in raw}, ""


def _family(event: BuildEvent, new: Image | None, source: Image | None) -> str:
    for image in (new, source) if event.kind is BuildKind.IMAGE_BUILDER else (source, new):
        if image is not None:
            try:
                return family_of(image)
            except FamilyTagError:
                continue
    return event.family or "?"


def _result(
    event: BuildEvent, found: _Found, family: str, new: Image | None, source: Image | None
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
    settings: Settings,
    clients: Any,
    event: BuildEvent,
    result: BuildResult,
    new: Image | None,
    source: Image | None,
    family: str,
) -> tuple[BuildResult, list[str]]:
    """Tags the SSM build's new image with its family tags (enforce mode); says what it did."""
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
    wanted = new_image_tags(source, family, rebuild_settings(settings), base_id)
    missing_tags = {k: v for k, v in sorted(wanted.items()) if new.tags.get(k) != v}
    if not missing_tags:
        return replace(result, reasons=(*result.reasons, "its family tags are already in place")), errors
    listed = ", ".join(f"{k}={v}" for k, v in missing_tags.items())
    if settings.mode is Mode.REPORT:
        return replace(result, reasons=(*result.reasons, f"would tag {new.image_id}: {listed}")), errors
    try:
        clients.ec2(event.region).create_tags(
            Resources=[new.image_id], Tags=[{"Key": k, "Value": v} for k, v in missing_tags.items()]
        )
    except (ClientError, BotoCoreError) as err:
        failed = replace(
            result,
            outcome=Outcome.FAILED,
            error=f"build succeeded but tagging {new.image_id} failed: {describe_error(err)}",
            reasons=(*result.reasons, f"not tagged: {listed}"),
        )
        return failed, errors
    tagged = replace(
        result, reasons=(*result.reasons, f"tagged {new.image_id}: {listed}"), tags_added=missing_tags
    )
    return tagged, errors


_TAG_HINT = "ami-hygiene:family"


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
