"""Staleness policy: which families get a patch rebuild, with examples and properties.

Reasons are matched on the facts they name (tests/helpers/reasons.py), not on their wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ami_hygiene.core.estate import (
    ARCHITECTURES,
    TAG_FAMILY,
    TAG_PIPELINE,
    TAG_RETAIN,
    Image,
    ImageState,
    RegionEstate,
)
from ami_hygiene.core.plan import Action, Decision, Plan
from ami_hygiene.jobs.rebuild.model import (
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
from ami_hygiene.jobs.rebuild.policy import CLIENT_TOKEN, client_token, plan_rebuild
from tests.helpers import builders
from tests.helpers.constants import ACCOUNT, FOREIGN, POLICY_NOW, REGION
from tests.helpers.reasons import Reason, has_reason

PARAM = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
BASE_OLD = "ami-0a000000000000001"
BASE_NEW = "ami-0b000000000000002"
PIPE = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-pipeline/web"
PIPE_OTHER = f"arn:aws:imagebuilder:{REGION}:{ACCOUNT}:image-pipeline/other"
SETTINGS = RebuildSettings(max_image_age_days=30, required_tags=("Owner", "Environment"))
ENABLED = {PIPE: "ENABLED", PIPE_OTHER: "ENABLED"}


def image(n: int, days_old: float, *, name: str = "web", **kw: Any) -> Image:
    """Image n of family `name`: named "<name>-<n>", `days_old` days old."""
    return builders.image(n, days_old, f"{name}-{n}", **kw)


def plan(
    *images: Image,
    bases: Mapping[str, BaseResolution] | None = None,
    builds: Mapping[str, RunningBuild] | None = None,
    pipelines: Mapping[str, str] | None = None,
    rebuild_settings: RebuildSettings = SETTINGS,
    now: datetime = POLICY_NOW,
) -> Plan:
    return plan_rebuild(
        builders.estate(*images),
        rebuild_settings,
        now,
        bases or {},
        builds or {},
        ENABLED if pipelines is None else pipelines,
    )


def only(p: Plan) -> Decision:
    assert len(p.decisions) == 1
    return p.decisions[0]


def rebuild(p: Plan) -> RebuildDecision:
    decision = only(p)
    assert isinstance(decision, RebuildDecision), decision.reasons
    return decision


BASED = {TAG_BASE_PARAMETER: PARAM, TAG_BASE_IMAGE: BASE_OLD}


# -- age ---------------------------------------------------------------------------------------


def test_fresh_family_is_kept() -> None:
    decision = only(plan(image(1, 10), image(2, 5)))
    assert decision.action is Action.KEEP
    assert decision.image_id == "ami-00000000000000002"
    assert decision.reasons[0] == Reason("kept", "fresh")
    assert Reason("ami-00000000000000002", "5 days old", "limit 30") in decision.reasons


def test_old_newest_image_is_rebuilt_with_ssm_when_no_pipeline() -> None:
    decision = rebuild(plan(image(1, 60), image(2, 47, tags={"Owner": "team-a"})))
    assert decision.action is Action.REBUILD
    assert decision.image_id == decision.source_image_id == "ami-00000000000000002"
    assert decision.stale == (StaleKind.AGE,)
    assert decision.reasons[0] == Reason("ami-00000000000000002", "47 days old", "limit 30")
    assert decision.method is BuildKind.SSM_AUTOMATION
    assert (decision.runbook, decision.pipeline_arn) == ("AWS-UpdateLinuxAmi", None)
    assert CLIENT_TOKEN.match(decision.client_token)


def test_windows_uses_the_windows_runbook() -> None:
    assert rebuild(plan(image(1, 47, platform="windows"))).runbook == "AWS-UpdateWindowsAmi"


# -- the runbooks' build instance matches the image's architecture ----------------------------


def test_an_arm64_family_without_a_pipeline_builds_on_an_arm64_instance_type() -> None:
    decision = rebuild(plan(image(1, 47, architecture="arm64")))
    assert (decision.runbook, decision.instance_type) == ("AWS-UpdateLinuxAmi", "t4g.medium")
    assert decision.details()["instance_type"] == "t4g.medium"
    assert decision.reasons[-1] == Reason(
        "runs AWS-UpdateLinuxAmi", "ami-00000000000000001", "t4g.medium", "arm64", "no Image Builder pipeline"
    )


def test_an_x86_family_builds_on_an_x86_instance_type() -> None:
    assert rebuild(plan(image(1, 47))).instance_type == "t3.medium"
    assert rebuild(plan(image(1, 47, platform="windows"))).instance_type == "t3.medium"
    custom = RebuildSettings(instance_types={"x86_64": "m7i.large", "arm64": "m7g.large"})
    assert rebuild(plan(image(1, 47), rebuild_settings=custom)).instance_type == "m7i.large"
    assert (
        rebuild(plan(image(1, 47, architecture="arm64"), rebuild_settings=custom)).instance_type
        == "m7g.large"
    )


def test_an_architecture_without_an_instance_type_starts_no_build_and_says_what_to_set() -> None:
    only_x86 = RebuildSettings(instance_types={"x86_64": "t3.medium"})
    p = plan(image(1, 47, architecture="arm64"), rebuild_settings=only_x86)
    decision = only(p)
    assert decision.action is Action.KEEP and not isinstance(decision, RebuildDecision)
    assert decision.reasons[0] == Reason(
        "kept",
        "AWS-UpdateLinuxAmi",
        "ami-00000000000000001",
        "arm64",
        "add arm64=t4g.medium to AUTOMATION_INSTANCE_TYPES",
        "AutomationInstanceTypes",
        "Image Builder pipeline",
    )
    assert Reason("ami-00000000000000001", "47 days old", "limit 30") in decision.reasons
    assert p.errors == (f"family web: {decision.reasons[0].removeprefix('kept: ')}; nothing started",)
    # i386 is no default: an old 32-bit image is not launched on an instance type that cannot run it.
    legacy = only(plan(image(2, 47, name="legacy", architecture="i386")))
    assert legacy.action is Action.KEEP and legacy.reasons[0] == Reason(
        "add i386=t2.medium to AUTOMATION_INSTANCE_TYPES"
    )
    # A fresh family needs no build, so no instance type either.
    assert only(plan(image(3, 1, architecture="arm64"), rebuild_settings=only_x86)).reasons[0] == Reason(
        "kept", "fresh"
    )


@settings(max_examples=100, deadline=None)
@given(
    architecture=st.sampled_from(ARCHITECTURES),
    configured=st.dictionaries(st.sampled_from(ARCHITECTURES), st.sampled_from(["t3.medium", "t4g.medium"])),
    windows=st.booleans(),
)
def test_a_runbook_build_only_ever_uses_the_type_configured_for_its_architecture(
    architecture: str, configured: dict[str, str], windows: bool
) -> None:
    s = RebuildSettings(instance_types=configured)
    newest = image(1, 47, architecture=architecture, platform="windows" if windows else "linux")
    decision = only(plan(newest, rebuild_settings=s))
    if architecture in configured:
        assert isinstance(decision, RebuildDecision)
        assert decision.instance_type == configured[architecture]
    else:
        assert decision.action is Action.KEEP and architecture in decision.reasons[0]


def test_a_pipeline_family_needs_no_instance_type() -> None:
    only_x86 = RebuildSettings(instance_types={"x86_64": "t3.medium"})
    decision = rebuild(
        plan(image(1, 47, architecture="arm64", tags={TAG_PIPELINE: PIPE}), rebuild_settings=only_x86)
    )
    assert (decision.pipeline_arn, decision.instance_type) == (PIPE, None)


def test_another_instance_type_is_another_build_request() -> None:
    # SSM refuses a reused client token with other parameters (IdempotentParameterMismatch).
    first = rebuild(plan(image(1, 47))).client_token
    other = RebuildSettings(instance_types={"x86_64": "m7i.large"})
    assert rebuild(plan(image(1, 47), rebuild_settings=other)).client_token != first


def test_exactly_the_limit_is_fresh_and_a_second_more_is_stale() -> None:
    at_limit = image(1, 30)
    assert only(plan(at_limit)).action is Action.KEEP
    assert only(plan(at_limit, now=POLICY_NOW + timedelta(seconds=1))).action is Action.REBUILD


def test_only_available_images_count_as_newest() -> None:
    # A newer failed or disabled image does not make the family fresh.
    decision = rebuild(
        plan(image(1, 40), image(2, 1, state=ImageState.FAILED), image(3, 2, state="disabled"))
    )
    assert decision.image_id == "ami-00000000000000001"


# -- base --------------------------------------------------------------------------------------


def test_base_moved_rebuilds_a_young_image() -> None:
    decision = rebuild(plan(image(1, 3, tags=BASED), bases={PARAM: BaseResolution(image_id=BASE_NEW)}))
    assert decision.stale == (StaleKind.BASE_MOVED,)
    assert decision.base_image_id == BASE_NEW
    assert Reason("base moved", f"from {BASE_OLD} to {BASE_NEW}") in decision.reasons


def test_base_unchanged_is_fresh() -> None:
    decision = only(plan(image(1, 3, tags=BASED), bases={PARAM: BaseResolution(image_id=BASE_OLD)}))
    assert decision.action is Action.KEEP
    assert Reason("base unchanged", BASE_OLD, f"SSM parameter {PARAM}") in decision.reasons


def test_both_conditions_are_reported() -> None:
    decision = rebuild(plan(image(1, 47, tags=BASED), bases={PARAM: BaseResolution(image_id=BASE_NEW)}))
    assert decision.stale == (StaleKind.AGE, StaleKind.BASE_MOVED)


def test_owner_and_name_reference() -> None:
    tags = {TAG_BASE_OWNER: "amazon", TAG_BASE_NAME: "al2023-ami-2023.*-x86_64", TAG_BASE_IMAGE: BASE_OLD}
    ref = base_reference(image(1, 3, tags=tags))
    assert ref is not None and ref.key == "amazon:al2023-ami-2023.*-x86_64"
    decision = rebuild(plan(image(1, 3, tags=tags), bases={ref.key: BaseResolution(image_id=BASE_NEW)}))
    assert decision.stale == (StaleKind.BASE_MOVED,)


def test_source_image_tag_is_the_parent_without_base_image() -> None:
    tags = {TAG_BASE_PARAMETER: PARAM, TAG_SOURCE_IMAGE: BASE_OLD}
    decision = rebuild(plan(image(1, 3, tags=tags), bases={PARAM: BaseResolution(image_id=BASE_NEW)}))
    assert has_reason(decision, f"was tag {TAG_SOURCE_IMAGE}")


def test_unresolved_base_never_rebuilds_alone() -> None:
    decision = only(plan(image(1, 3, tags=BASED), bases={PARAM: BaseResolution(error="ParameterNotFound")}))
    assert decision.action is Action.KEEP
    assert Reason("base not checked", f"SSM parameter {PARAM}", "ParameterNotFound") in decision.reasons
    missing = only(plan(image(1, 3, tags=BASED)))
    assert missing.action is Action.KEEP
    assert Reason("base not checked", f"SSM parameter {PARAM}", "not resolved") in missing.reasons


def test_unrecorded_parent_is_not_checked() -> None:
    tags = {TAG_BASE_PARAMETER: PARAM}
    decision = only(plan(image(1, 3, tags=tags), bases={PARAM: BaseResolution(image_id=BASE_NEW)}))
    assert decision.action is Action.KEEP
    assert has_reason(decision, "base not checked", "ami-00000000000000001 does not record")


def test_no_reference_is_not_checked() -> None:
    decision = only(plan(image(1, 3)))
    assert has_reason(decision, "base not checked", f"no {TAG_BASE_PARAMETER}")


def test_half_a_reference_is_an_error() -> None:
    p = plan(image(1, 3, tags={TAG_BASE_OWNER: "amazon", TAG_BASE_IMAGE: BASE_OLD}))
    assert only(p).action is Action.KEEP
    assert p.errors and TAG_BASE_NAME in p.errors[0]


def test_bad_parameter_tag_is_an_error() -> None:
    p = plan(image(1, 3, tags={TAG_BASE_PARAMETER: "al2023"}))
    assert p.errors and "not a parameter name" in p.errors[0]


def test_base_resolution_needs_one_answer() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        BaseResolution()
    with pytest.raises(ValueError, match="exactly one"):
        BaseResolution(image_id=BASE_NEW, error="x")


# -- builds in progress ------------------------------------------------------------------------


def test_running_build_keeps_a_stale_family() -> None:
    build = RunningBuild(
        BuildKind.IMAGE_BUILDER, f"{PIPE}/1.0.0/3", POLICY_NOW - timedelta(hours=1), "BUILDING"
    )
    decision = only(plan(image(1, 47), builds={"web": build}))
    assert decision.action is Action.KEEP
    assert decision.reasons[0] == Reason(
        "kept", f"build {PIPE}/1.0.0/3", "running since 2024-06-01T11:00:00Z", "image-builder", "BUILDING"
    )
    assert Reason("ami-00000000000000001", "47 days old", "limit 30") in decision.reasons


def test_newer_pending_image_keeps_the_family() -> None:
    decision = only(plan(image(1, 47), image(2, 0, state=ImageState.PENDING)))
    assert decision.action is Action.KEEP
    assert decision.reasons[0] == Reason("kept", "newer image ami-00000000000000002", "still pending")


# -- pipelines ---------------------------------------------------------------------------------


def test_pipeline_tag_wins_over_settings() -> None:
    s = RebuildSettings(max_image_age_days=30, pipelines={"web": PIPE_OTHER})
    decision = rebuild(plan(image(1, 47, tags={TAG_PIPELINE: PIPE}), rebuild_settings=s))
    assert (decision.method, decision.pipeline_arn, decision.runbook) == (BuildKind.IMAGE_BUILDER, PIPE, None)
    assert decision.reasons[-1] == Reason("starts Image Builder pipeline", PIPE)


def test_settings_pipeline_when_untagged() -> None:
    s = RebuildSettings(max_image_age_days=30, pipelines={"web": PIPE_OTHER})
    assert rebuild(plan(image(1, 47), rebuild_settings=s)).pipeline_arn == PIPE_OTHER


def test_missing_or_disabled_pipeline_keeps() -> None:
    tagged = image(1, 47, tags={TAG_PIPELINE: PIPE})
    missing = plan(tagged, pipelines={})
    assert only(missing).action is Action.KEEP
    assert only(missing).reasons[0] == Reason("kept", f"pipeline {PIPE}", TAG_PIPELINE, "not found")
    assert missing.errors
    disabled = only(plan(tagged, pipelines={PIPE: "DISABLED"}))
    assert disabled.action is Action.KEEP
    assert disabled.reasons[0] == Reason("kept", f"pipeline {PIPE}", TAG_PIPELINE, "DISABLED")


def test_bad_pipeline_tag_is_an_error() -> None:
    p = plan(image(1, 47, tags={TAG_PIPELINE: "web-pipeline"}))
    assert only(p).action is Action.KEEP
    assert p.errors and "not an image pipeline ARN" in p.errors[0]


def test_settings_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="max_image_age_days"):
        RebuildSettings(max_image_age_days=0)
    with pytest.raises(ValueError, match="not an image pipeline ARN"):
        RebuildSettings(pipelines={"web": "nope"})
    with pytest.raises(ValueError, match="no image architecture"):
        RebuildSettings(instance_types={"aarch64": "t4g.medium"})
    with pytest.raises(ValueError, match="not an instance type"):
        RebuildSettings(instance_types={"arm64": "t4g"})


# -- tags on the new image ---------------------------------------------------------------------


def test_family_tags() -> None:
    tags = {
        **BASED,
        TAG_PIPELINE: PIPE,
        TAG_RETAIN: "true",
        "ami-hygiene:created-by": "arn:aws:iam::123456789012:user/alice",
        "Owner": "team-a",
        "Environment": "prod",
        "Version": "1.4.2",
    }
    decision = rebuild(plan(image(1, 47, tags=tags), bases={PARAM: BaseResolution(image_id=BASE_NEW)}))
    assert dict(decision.family_tags) == {
        TAG_FAMILY: "web",
        TAG_PIPELINE: PIPE,
        TAG_BASE_PARAMETER: PARAM,
        TAG_BASE_IMAGE: BASE_NEW,
        "Owner": "team-a",
        "Environment": "prod",
    }
    assert has_reason(decision, TAG_RETAIN, "leaves this one as it is")


def test_family_tag_is_set_even_when_the_family_is_derived() -> None:
    decision = rebuild(plan(image(1, 47, name="base-al2023")))
    assert decision.family == "base-al2023"
    assert decision.family_tags == {TAG_FAMILY: "base-al2023"}


# -- families, owners ------------------------------------------------------------------------


def test_one_decision_per_family_in_order() -> None:
    p = plan(
        image(1, 47, name="web"), image(2, 3, name="web"), image(3, 60, name="api"), image(4, 1, name="db")
    )
    assert [(d.family, d.action) for d in p.decisions] == [
        ("api", Action.REBUILD),
        ("db", Action.KEEP),
        ("web", Action.KEEP),
    ]


def test_foreign_family_is_kept_and_foreign_images_are_ignored() -> None:
    p = plan(image(1, 90, name="vendor", owner=FOREIGN), image(2, 3), image(3, 1, owner=FOREIGN))
    vendor, web = p.decisions
    assert (vendor.family, vendor.action) == ("vendor", Action.KEEP)
    assert vendor.reasons == (Reason("kept", "owned by account", FOREIGN),)
    assert (web.action, web.image_id) == (Action.KEEP, "ami-00000000000000002")


def test_family_without_available_image() -> None:
    decision = only(plan(image(1, 47, state=ImageState.DISABLED), image(2, 1, state=ImageState.FAILED)))
    assert decision.action is Action.KEEP
    assert decision.reasons == (Reason("kept", "no available image", "disabled, failed"),)


def test_bad_family_tag_is_reported_and_left_out() -> None:
    p = plan(image(1, 47, tags={TAG_FAMILY: "bad family"}))
    assert only(p).action is Action.KEEP
    assert p.errors and "is not a family name" in p.errors[0]


# -- client token ------------------------------------------------------------------------------


def test_client_token_is_stable_within_a_day_and_changes_with_inputs() -> None:
    base = client_token("web", "ami-1", ("age",), PIPE, POLICY_NOW)
    assert base == client_token("web", "ami-1", ("age",), PIPE, POLICY_NOW + timedelta(hours=11))
    others = {
        client_token("web", "ami-1", ("age",), PIPE, POLICY_NOW + timedelta(days=1)),
        client_token("api", "ami-1", ("age",), PIPE, POLICY_NOW),
        client_token("web", "ami-2", ("age",), PIPE, POLICY_NOW),
        client_token("web", "ami-1", ("age", f"base-moved:{BASE_NEW}"), PIPE, POLICY_NOW),
        client_token("web", "ami-1", ("age",), PIPE_OTHER, POLICY_NOW),
    }
    assert base not in others and len(others) == 5
    assert len(base) == 36 and CLIENT_TOKEN.match(base)


# -- properties --------------------------------------------------------------------------------

FAMILIES = ("web", "api", "base-al2023")
STATES = (ImageState.AVAILABLE,) * 4 + (ImageState.PENDING, ImageState.FAILED, ImageState.DISABLED)
REFERENCES: tuple[dict[str, str], ...] = (
    {},
    {TAG_BASE_PARAMETER: PARAM},
    {TAG_BASE_OWNER: "amazon", TAG_BASE_NAME: "al2023-*"},
)
PARENTS: tuple[dict[str, str], ...] = (
    {},
    {TAG_BASE_IMAGE: BASE_OLD},
    {TAG_BASE_IMAGE: BASE_NEW},
    {TAG_SOURCE_IMAGE: BASE_OLD},
)


@st.composite
def images(draw: st.DrawFn, n: int) -> Image:
    tags: dict[str, str] = {}
    tags.update(draw(st.sampled_from(REFERENCES)))
    tags.update(draw(st.sampled_from(PARENTS)))
    if draw(st.booleans()):
        tags[TAG_PIPELINE] = draw(st.sampled_from((PIPE, PIPE_OTHER, "junk")))
    if draw(st.integers(0, 5)) == 0:
        tags[TAG_RETAIN] = "true"
    return image(
        n,
        draw(st.integers(0, 90)) + draw(st.sampled_from((0, 0, 0.5))),
        name=draw(st.sampled_from(FAMILIES)),
        owner=draw(st.sampled_from((ACCOUNT, ACCOUNT, ACCOUNT, FOREIGN))),
        state=draw(st.sampled_from(STATES)),
        tags=tags,
        platform=draw(st.sampled_from(("linux", "windows"))),
    )


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[RegionEstate, RebuildSettings, dict[str, BaseResolution], dict[str, RunningBuild], dict[str, str]]:
    count = draw(st.integers(0, 10))
    imgs = tuple(draw(images(n)) for n in range(1, count + 1))
    s = RebuildSettings(
        max_image_age_days=draw(st.integers(1, 60)),
        pipelines=draw(st.sampled_from(({}, {"web": PIPE}, {"api": PIPE_OTHER}))),
        required_tags=("Owner",),
    )
    resolution = st.sampled_from(
        (BaseResolution(image_id=BASE_OLD), BaseResolution(image_id=BASE_NEW), BaseResolution(error="denied"))
    )
    bases = draw(st.dictionaries(st.sampled_from((PARAM, "amazon:al2023-*")), resolution))
    builds = {
        f: RunningBuild(BuildKind.IMAGE_BUILDER, f"build-{f}", POLICY_NOW - timedelta(hours=2), "BUILDING")
        for f in draw(st.sets(st.sampled_from(FAMILIES)))
    }
    pipes = draw(st.sampled_from((ENABLED, {}, {PIPE: "DISABLED", PIPE_OTHER: "ENABLED"})))
    return builders.estate(*imgs), s, bases, builds, pipes


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.integers(0, 3 * 24 * 3600))
def test_properties(
    scenario: tuple[
        RegionEstate, RebuildSettings, dict[str, BaseResolution], dict[str, RunningBuild], dict[str, str]
    ],
    later: int,
) -> None:
    est, s, bases, builds, pipes = scenario
    now = POLICY_NOW + timedelta(seconds=later)
    p = plan_rebuild(est, s, now, bases, builds, pipes)
    by_id = {i.image_id: i for i in est.images}
    families = [d.family for d in p.decisions]
    # One decision per family, so at most one rebuild per family.
    assert len(families) == len(set(families))
    for d in p.actions:
        assert isinstance(d, RebuildDecision) and d.action is Action.REBUILD
        newest = by_id[d.image_id]
        # Never a rebuild while one runs.
        assert d.family not in builds
        # Foreign images never drive a rebuild.
        assert newest.owner_id == ACCOUNT and newest.is_available
        assert d.source_image_id == newest.image_id
        # The token is valid for both services and stable for the same inputs.
        assert CLIENT_TOKEN.match(d.client_token)
        again = plan_rebuild(est, s, now, bases, builds, pipes)
        assert d.client_token in {a.client_token for a in again.actions if isinstance(a, RebuildDecision)}
        # A fresh family with an unmoved base is never rebuilt.
        fresh = now - newest.creation_date <= s.max_image_age
        moved = StaleKind.BASE_MOVED in d.stale
        assert not fresh or moved
        if moved:
            ref = base_reference(newest)
            assert ref is not None
            resolved = bases[ref.key].image_id
            assert resolved is not None and resolved == d.base_image_id
        assert d.family_tags[TAG_FAMILY] == d.family
        assert (d.pipeline_arn is None) == (d.method is BuildKind.SSM_AUTOMATION) == (d.runbook is not None)
        if d.pipeline_arn is not None:
            assert pipes.get(d.pipeline_arn) == "ENABLED"


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_foreign_images_change_nothing(
    scenario: tuple[
        RegionEstate, RebuildSettings, dict[str, BaseResolution], dict[str, RunningBuild], dict[str, str]
    ],
) -> None:
    est, s, bases, builds, pipes = scenario
    owned = builders.estate(*(i for i in est.images if i.owner_id == ACCOUNT))
    actions = plan_rebuild(est, s, POLICY_NOW, bases, builds, pipes).actions
    assert actions == plan_rebuild(owned, s, POLICY_NOW, bases, builds, pipes).actions
