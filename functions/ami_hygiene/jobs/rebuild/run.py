"""The patch-rebuild job: a sweep starts builds for stale families; an event reports how one ended.

Sweep, per region: read the owned images, resolve the bases their families'
newest images name, list the pipelines (only when some family names one), plan
once without running builds to find the stale families, read the builds under
way for just those, plan again with them, keep the families whose builds could
not be read, hold the rest to MaxActionsPerRun, and start what is left
(enforce mode). Every decision of a stale family carries the finding
"stale: ...", so the report counts stale families even when their build is
already running.

Completion event (``event``): completion.py looks the build up and reports how
it ended (one ``BuildResult``); the tags its new image lacks go on through the
same executor, with the same writers, as the sweep's builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.estate import ARCHITECTURES, RegionEstate
from ami_hygiene.core.executor import never_stop
from ami_hygiene.core.plan import Action, Decision, Plan
from ami_hygiene.core.regions import Frame, JobRun, Results, StopCheck
from ami_hygiene.jobs.rebuild.actions import WRITERS
from ami_hygiene.jobs.rebuild.completion import complete
from ami_hygiene.jobs.rebuild.events import BuildEvent
from ami_hygiene.jobs.rebuild.inventory import (
    named_pipelines,
    newest_by_family,
    read_images,
    read_pipelines,
    read_running_builds,
    resolve_bases,
)
from ami_hygiene.jobs.rebuild.model import (
    JOB,
    PIPELINE_ENABLED,
    SSM_TARGET,
    BuildKind,
    RebuildDecision,
    RebuildSettings,
    RunningBuilds,
    StaleKind,
)
from ami_hygiene.jobs.rebuild.policy import plan_rebuild
from ami_hygiene.jobs.rebuild.settings import RebuildJobSettings
from ami_hygiene.jobs.rebuild.view import VIEW


class RebuildRun(JobRun[RebuildJobSettings, BuildEvent]):
    job, view, writers, settings_model = JOB, VIEW, WRITERS, RebuildJobSettings

    def run(
        self, frame: Frame[RebuildJobSettings, BuildEvent], regions: tuple[str, ...], should_stop: StopCheck
    ) -> Results:
        if frame.event is None:
            return super().run(frame, regions, should_stop)
        # One event, one chance: its tag write is never deferred, as nothing would retry it.
        executor = self.executor(frame, never_stop)
        settings = frame.settings
        return (complete(settings, rebuild_settings(settings), frame.clients, executor, frame.event),), ()

    def plan(self, frame: Frame[RebuildJobSettings, BuildEvent], region: str) -> Plan:
        estate = read_images(frame.clients, region, frame.account)
        policy = rebuild_settings(frame.settings)
        return plan_region(
            frame.clients, region, estate, policy, frame.now, frame.settings.base_parameter_paths
        )


run_rebuild = RebuildRun()


def rebuild_settings(settings: RebuildJobSettings) -> RebuildSettings:
    return RebuildSettings(
        max_image_age_days=settings.max_image_age_days,
        pipelines=settings.family_pipelines,
        required_tags=tuple(rule.key for rule in settings.required_tags),
        instance_types=settings.automation_instance_types,
    )


def plan_region(
    clients: Clients,
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
