"""Staleness: which image families need a patch rebuild, decided purely.

Images are grouped by family (``families.family_of``). Only images owned by
this account count, and only *available* ones can be a family's newest. A
family is **stale** when its newest available image

* is older than ``max_image_age_days`` (strictly: exactly the limit is fresh), or
* was built on a base image that its base reference no longer resolves to
  ("the base moved on").

The *base reference* is named on the newest image by the tag
``ami-hygiene:base-parameter`` (an SSM parameter such as
``/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64``), or
by ``ami-hygiene:base-owner`` + ``ami-hygiene:base-name`` (the newest image of
that owner whose name matches the pattern). ``base_reference`` gives the key the
job resolves and passes in ``bases``. The image's *parent* is the tag
``ami-hygiene:base-image``, else ``Image.source_image_id`` (DescribeImages
``SourceImageId``), else the tag
``ami-hygiene:source-image``. A reference that could not be resolved, or a
newest image that records no parent, gives "base not checked: ..." and never
causes a rebuild by itself.

A stale family gets one **rebuild** decision (a ``RebuildDecision`` on its
newest image) unless a build for it is already under way: a running build in
``builds``, or an image of the family that is still pending and newer than the
newest available one. Then it is **kept**, so two builds never overlap. Every
other family gets one **keep** saying why (fresh and base unchanged, no
available image, owned by another account, pipeline missing or disabled, or
no build instance type configured for the image's architecture: the runbooks
launch their build instance from the image, so it must be of that architecture).

``ami-hygiene:retain=true`` does not stop a rebuild: retain means "never change
this image", and a rebuild never changes it; it makes a new image next to it,
which rotation then treats like any other newer image (the retained one stays).

The policy is pure: no AWS, no clock, no environment. The types it plans with and
the names it shares with the other modules are in model.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from ami_hygiene.core.estate import (
    TAG_FAMILY,
    TAG_PIPELINE,
    TAG_PREFIX,
    TAG_RETAIN,
    Image,
    ImageState,
    RegionEstate,
)
from ami_hygiene.core.families import FamilyTagError, derived_family, family_of
from ami_hygiene.core.plan import Action, Decision, Plan, image_decision
from ami_hygiene.jobs.rebuild.model import (
    JOB,
    PIPELINE_ARN,
    PIPELINE_ENABLED,
    RUNBOOK_LINUX,
    RUNBOOK_WINDOWS,
    TAG_BASE_IMAGE,
    TAG_BASE_NAME,
    TAG_BASE_OWNER,
    TAG_BASE_PARAMETER,
    TAG_SOURCE_IMAGE,
    BaseResolution,
    BuildKind,
    RebuildDecision,
    RebuildSettings,
    RunningBuild,
    StaleKind,
    base_reference,
)
from ami_hygiene.jobs.rebuild.settings import DEFAULT_INSTANCE_TYPES

# Control tags that describe the family rather than one image: the rebuilt image
# inherits them, or the next run could no longer find its pipeline or check its base.
INHERITED_CONTROL_TAGS = (TAG_FAMILY, TAG_PIPELINE, TAG_BASE_PARAMETER, TAG_BASE_OWNER, TAG_BASE_NAME)
# What a reason suggests for an architecture without an instance type (i386 runs on t2 and
# other older families; Mac images need Mac instances on a dedicated host).
EXAMPLE_INSTANCE_TYPES = {
    **DEFAULT_INSTANCE_TYPES,
    "i386": "t2.medium",
    "x86_64_mac": "mac1.metal",
    "arm64_mac": "mac2.metal",
}
CLIENT_TOKEN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TOKEN_NAMESPACE = uuid.UUID("6f0e1a52-3c1d-5b8e-9a47-2d6b1c0e7f31")


# -- public helpers ----------------------------------------------------------------------


def parent_image(image: Image) -> tuple[str, str] | None:
    """(parent image id, where it was read) of the image, or None when nothing records it."""
    tagged = image.tags.get(TAG_BASE_IMAGE, "").strip()
    if tagged:
        return tagged, f"tag {TAG_BASE_IMAGE}"
    source = image.source_image_id  # DescribeImages SourceImageId
    if source:
        return source, "SourceImageId"
    copied = image.tags.get(TAG_SOURCE_IMAGE, "").strip()
    if copied:
        return copied, f"tag {TAG_SOURCE_IMAGE}"
    return None


def client_token(
    family: str, newest_image_id: str, stale: tuple[str, ...], target: str, now: datetime
) -> str:
    """A deterministic idempotency token for one rebuild of one family on one day.

    It hashes the family, its newest image, the stale conditions (with the base
    it moves to), the build target (pipeline ARN or runbook) and the UTC day.
    A retry of the same run, or a second run on the same day that sees the same
    estate, sends the same token, so Image Builder and SSM return the build
    they already started instead of starting another. A new day gives a new
    token, so a build that failed is tried again the next day (a build still
    running is caught first, by ``builds``). Including the target means a
    changed pipeline never reuses a token with other parameters, which the
    services refuse as an idempotency mismatch.

    The token is a UUID (version 5): SSM requires UUID-shaped client tokens,
    and it fits Image Builder's clientToken too (36 characters, [0-9a-f-]).
    """
    day = (now.astimezone(UTC) if now.tzinfo else now).date().isoformat()
    material = "\n".join([family, newest_image_id, ",".join(sorted(stale)), target, day])
    return str(uuid.uuid5(_TOKEN_NAMESPACE, material))


def new_image_tags(
    newest: Image, family: str, settings: RebuildSettings, base_id: str | None
) -> dict[str, str]:
    """The tags a rebuild of `newest` puts on its new image (``RebuildDecision.family_tags``).

    For a build whose decision is no longer at hand (the SSM completion event).
    """
    return _family_tags(newest, family, settings, base_id)


# -- the policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Family:
    name: str
    images: tuple[Image, ...]  # all images of the family, any owner or state
    owned: tuple[Image, ...]
    bad_tags: tuple[FamilyTagError, ...]

    @property
    def newest_available(self) -> Image | None:
        ok = [i for i in self.owned if i.is_available and not _bad_family_tag(i)]
        return max(ok, key=_age_key) if ok else None


def plan_rebuild(
    estate: RegionEstate,
    settings: RebuildSettings,
    now: datetime,
    bases: Mapping[str, BaseResolution],
    builds: Mapping[str, RunningBuild],
    pipelines: Mapping[str, str],
) -> Plan:
    """One decision per family of `estate`, in family order.

    `bases` maps base reference keys (``BaseReference.key``) to what they
    resolve to today; a key missing from it counts as not resolved. `builds`
    maps families to their running build. `pipelines` maps the Image Builder
    pipeline ARNs the job could read to their status (ENABLED / DISABLED); a
    rebuild is only planned on a pipeline found there and enabled.
    """
    decisions: list[Decision] = []
    errors: list[str] = []
    for family in _families(estate):
        decision, problems = _decide(family, estate, settings, now, bases, builds, pipelines)
        decisions.append(decision)
        errors.extend(problems)
        errors.extend(f"{err}; the image is left out of the rebuild check" for err in family.bad_tags)
    return Plan(job=JOB, region=estate.region, decisions=tuple(decisions), errors=tuple(errors))


def _families(estate: RegionEstate) -> list[_Family]:
    grouped: dict[str, list[Image]] = {}
    bad: dict[str, list[FamilyTagError]] = {}
    for image in estate.images:
        try:
            name = family_of(image)
        except FamilyTagError as err:
            name = derived_family(image)
            if image.owner_id == estate.account_id:
                bad.setdefault(name, []).append(err)
        grouped.setdefault(name, []).append(image)
    return [
        _Family(
            name=name,
            images=tuple(images),
            owned=tuple(i for i in images if i.owner_id == estate.account_id),
            bad_tags=tuple(bad.get(name, ())),
        )
        for name, images in sorted(grouped.items())
    ]


def _decide(
    family: _Family,
    estate: RegionEstate,
    settings: RebuildSettings,
    now: datetime,
    bases: Mapping[str, BaseResolution],
    builds: Mapping[str, RunningBuild],
    pipelines: Mapping[str, str],
) -> tuple[Decision, list[str]]:
    if not family.owned:
        owners = ", ".join(sorted({i.owner_id for i in family.images}))
        shown = max(family.images, key=_age_key)
        return _keep(shown, family.name, [f"kept: owned by account {owners}, not by this account"]), []
    newest = family.newest_available
    if newest is None:
        shown = max(family.owned, key=_age_key)
        if any(i.is_available for i in family.owned):
            why = "kept: its available images have an invalid family tag, so none is its newest"
        else:
            states = ", ".join(sorted({str(i.state) for i in family.owned}))
            why = f"kept: no available image of this account (states: {states})"
        return _keep(shown, family.name, [why]), []

    facts, stale, base_id, errors = _staleness(newest, settings, now, bases)
    running = _running_reasons(family, newest, builds.get(family.name))
    if running:
        return _keep(newest, family.name, running + facts), errors
    if not stale:
        return _keep(newest, family.name, ["kept: fresh", *facts]), errors

    target, target_errors = _target(newest, family.name, settings, pipelines)
    if isinstance(target, str):
        return _keep(newest, family.name, [f"kept: {target}", *facts]), errors + target_errors
    method, pipeline_arn, runbook, instance_type = target
    how = (
        f"starts Image Builder pipeline {pipeline_arn}"
        if method is BuildKind.IMAGE_BUILDER
        else f"runs {runbook} on {newest.image_id} with a {instance_type} build instance "
        f"({newest.architecture}; no Image Builder pipeline for this family)"
    )
    reasons = [*facts, how]
    if newest.tags.get(TAG_RETAIN, "").lower() == "true":
        reasons.append(
            f"tagged {TAG_RETAIN}=true: the rebuild makes a new image and leaves this one as it is"
        )
    token_stale = tuple(f"{k}:{base_id}" if k is StaleKind.BASE_MOVED else str(k) for k in stale)
    decision = RebuildDecision(
        **image_decision(newest, family.name, Action.REBUILD, reasons),
        method=method,
        pipeline_arn=pipeline_arn,
        runbook=runbook,
        instance_type=instance_type,
        source_image_id=newest.image_id,
        client_token=client_token(
            family.name, newest.image_id, token_stale, pipeline_arn or f"{runbook}:{instance_type}", now
        ),
        family_tags=MappingProxyType(_family_tags(newest, family.name, settings, base_id)),
        stale=stale,
        base_image_id=base_id,
    )
    return decision, errors


def _staleness(
    newest: Image, settings: RebuildSettings, now: datetime, bases: Mapping[str, BaseResolution]
) -> tuple[list[str], tuple[StaleKind, ...], str | None, list[str]]:
    """(fact sentences, stale conditions, today's base image id, errors)."""
    facts: list[str] = []
    stale: list[StaleKind] = []
    errors: list[str] = []
    age = now - newest.creation_date
    limit = settings.max_image_age_days
    if age > settings.max_image_age:
        stale.append(StaleKind.AGE)
        facts.append(f"newest image {newest.image_id} is {age.days} days old (limit {limit})")
    else:
        facts.append(f"newest image {newest.image_id} is {max(age.days, 0)} days old (limit {limit})")

    try:
        reference = base_reference(newest)
    except ValueError as err:
        facts.append(f"base not checked: {err}")
        errors.append(f"{newest.image_id}: {err}; its base is not checked until the tags are fixed")
        return facts, tuple(stale), None, errors
    if reference is None:
        facts.append(
            f"base not checked: no {TAG_BASE_PARAMETER} or {TAG_BASE_OWNER} + {TAG_BASE_NAME} tag "
            f"on {newest.image_id}"
        )
        return facts, tuple(stale), None, errors
    resolution = bases.get(reference.key)
    if resolution is None or resolution.image_id is None:
        why = resolution.error if resolution is not None else "not resolved"
        facts.append(f"base not checked: {reference.describe()}: {why}")
        return facts, tuple(stale), None, errors
    today = resolution.image_id
    parent = parent_image(newest)
    if parent is None:
        facts.append(
            f"base not checked: {newest.image_id} does not record the image it was built from "
            f"(no {TAG_BASE_IMAGE} tag); {reference.describe()} is {today} today"
        )
    elif parent[0] != today:
        stale.append(StaleKind.BASE_MOVED)
        facts.append(f"base moved from {parent[0]} to {today} ({reference.describe()}; was {parent[1]})")
    else:
        facts.append(f"base unchanged: {today} ({reference.describe()})")
    return facts, tuple(stale), today, errors


def _running_reasons(family: _Family, newest: Image, build: RunningBuild | None) -> list[str]:
    reasons: list[str] = []
    if build is not None:
        since = f" since {_iso(build.started)}" if build.started else ""
        reasons.append(f"kept: build {build.id} running{since} ({build.kind}, {build.status})")
    pending = [i for i in family.owned if i.state == ImageState.PENDING and _age_key(i) > _age_key(newest)]
    reasons.extend(
        f"kept: newer image {i.image_id} is still pending; a build is finishing"
        for i in sorted(pending, key=_age_key)
    )
    return reasons


def _target(
    newest: Image, family: str, settings: RebuildSettings, pipelines: Mapping[str, str]
) -> tuple[tuple[BuildKind, str | None, str | None, str | None] | str, list[str]]:
    """(method, pipeline ARN, runbook, instance type), or why no build can start (and errors)."""
    tagged = newest.tags.get(TAG_PIPELINE, "").strip()
    arn, source = (tagged, f"tag {TAG_PIPELINE}") if tagged else (settings.pipelines.get(family), "settings")
    if arn is None:
        runbook = RUNBOOK_WINDOWS if newest.platform.lower() == "windows" else RUNBOOK_LINUX
        # The build instance runs the image itself: RunInstances refuses an instance type of
        # another architecture (InvalidParameterValue), so such a build could only fail.
        instance_type = settings.instance_types.get(newest.architecture)
        if instance_type is None:
            example = EXAMPLE_INSTANCE_TYPES.get(newest.architecture, "TYPE")
            why = (
                f"{runbook} needs a build instance for {newest.image_id}'s architecture "
                f"{newest.architecture}, and none is configured; add {newest.architecture}={example} "
                "to AUTOMATION_INSTANCE_TYPES (stack parameter AutomationInstanceTypes) or give the "
                "family an Image Builder pipeline"
            )
            return why, [f"family {family}: {why}; nothing started"]
        return (BuildKind.SSM_AUTOMATION, None, runbook, instance_type), []
    if not PIPELINE_ARN.match(arn):
        why = f"{source} names pipeline {arn!r}, which is not an image pipeline ARN"
        return why, [f"{newest.image_id}: {why}; family {family} is not rebuilt until it is fixed"]
    status = pipelines.get(arn)
    if status is None:
        why = f"pipeline {arn} ({source}) was not found"
        return why, [f"family {family}: {why}; nothing started"]
    if status.upper() != PIPELINE_ENABLED:
        return f"pipeline {arn} ({source}) is {status}", []
    return (BuildKind.IMAGE_BUILDER, arn, None, None), []


def _family_tags(
    newest: Image, family: str, settings: RebuildSettings, base_id: str | None
) -> dict[str, str]:
    """Tags for the new image: its family, the family's control tags, the required tags.

    Control tags about one image (retain, disabled-at, created-*, source-image,
    base-image) are not copied: they would be false of the new image. The base
    it was rebuilt to catch up with is recorded as its base-image instead.
    """
    tags = {k: newest.tags[k] for k in INHERITED_CONTROL_TAGS if k in newest.tags}
    tags[TAG_FAMILY] = family
    for key in settings.required_tags:
        if key in newest.tags and not key.startswith(TAG_PREFIX) and not key.lower().startswith("aws:"):
            tags[key] = newest.tags[key]
    if base_id:
        tags[TAG_BASE_IMAGE] = base_id
    return tags


def _bad_family_tag(image: Image) -> bool:
    try:
        family_of(image)
    except FamilyTagError:
        return True
    return False


def _keep(image: Image, family: str, reasons: list[str]) -> Decision:
    return Decision(**image_decision(image, family, Action.KEEP, reasons))


def _age_key(image: Image) -> tuple[datetime, str]:
    return (image.creation_date, image.image_id)


def _iso(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
