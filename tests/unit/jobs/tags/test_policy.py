"""The tag policy: examples, then properties over any tag set and any rule set.

Reasons are matched on the facts they name (tests/helpers/reasons.py), not on their wording.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ami_hygiene.core.estate import TAG_ESCALATED_AT, Image, ImageState, RegionEstate
from ami_hygiene.core.plan import Action, Decision, Plan
from ami_hygiene.core.tag_rules import TagRule, parse_required_tags
from ami_hygiene.jobs.tags.policy import (
    TAG_CREATED_AT,
    TAG_CREATED_BY,
    TAG_SOURCE_IMAGE,
    CreatorInfo,
    TagDecision,
    TagSettings,
    plan_tagging,
)
from tests.helpers import builders
from tests.helpers.constants import ACCOUNT, FOREIGN
from tests.helpers.reasons import Reason, has_reason

TAGS_NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)  # this module's clock: its tags spell out dates
ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/alice"
RULES = parse_required_tags(r"Owner,Environment=^(prod|staging|dev)$")
GOOD = {"Owner": "alice", "Environment": "prod"}


def image(
    image_id: str = "ami-0000000000000001",
    *,
    age: timedelta = timedelta(days=3),
    snapshots: tuple[str, ...] = ("snap-1",),
    **kw: Any,
) -> Image:
    """An image of this module's examples: three days old at TAGS_NOW, with one snapshot."""
    return builders.image(image_id, age, f"web-{image_id}", now=TAGS_NOW, snapshots=snapshots, **kw)


def plan(
    *images: Image,
    rules: tuple[TagRule, ...] = RULES,
    grace: int = 24,
    creators: Mapping[str, CreatorInfo] | None = None,
    snapshot_tags: Mapping[str, Mapping[str, str]] | None = None,
    propagate: tuple[str, ...] | None = None,
    escalation_days: int = 0,
) -> Plan:
    estate = builders.estate(*images)
    return plan_tagging(
        estate,
        rules,
        TagSettings(grace_hours=grace, propagate_tags=propagate, escalation_days=escalation_days),
        TAGS_NOW,
        creators or {},
        snapshot_tags,
    )


def by_action(result: Plan) -> dict[Action, TagDecision]:
    out: dict[Action, TagDecision] = {}
    for d in result.decisions:
        assert isinstance(d, TagDecision)
        out[d.action] = d
    return out


FULL = {**GOOD, TAG_CREATED_AT: "2024-06-07T12:00:00Z"}


# -- examples ----------------------------------------------------------------------------------


def test_compliant_image_with_everything_is_kept() -> None:
    result = plan(image(tags=FULL), snapshot_tags={"snap-1": GOOD})
    (keep,) = result.decisions
    assert keep.action is Action.KEEP
    assert keep.reasons == (Reason("compliant", "Owner, Environment"),)
    assert result.job == "tags"


def test_missing_and_invalid_reasons_and_notify_after_grace() -> None:
    tags = {"Environment": "production", TAG_CREATED_AT: "x", TAG_CREATED_BY: ARN}
    got = by_action(plan(image(tags=tags), snapshot_tags={"snap-1": {}}))
    assert set(got) == {Action.PROPAGATE, Action.NOTIFY}
    notify = got[Action.NOTIFY]
    assert notify.reasons[:2] == (
        Reason("missing", "Owner"),
        Reason("Environment='production'", "^(prod|staging|dev)$"),
    )
    assert notify.reasons[2] == Reason("non-compliant", "72 hours after creation", "grace 24 hours", ARN)
    # Only the image's tags that are listed get propagated: Environment, not Owner (absent).
    assert got[Action.PROPAGATE].snapshot_tags == {"snap-1": {"Environment": "production"}}


def test_within_grace_is_not_notified() -> None:
    tags = {TAG_CREATED_AT: "x"}
    (keep,) = plan(
        image(tags=tags, age=timedelta(hours=23, minutes=59)), snapshot_tags={"snap-1": {}}
    ).decisions
    assert keep.action is Action.KEEP
    assert keep.reasons == (
        Reason("missing", "Owner"),
        Reason("missing", "Environment"),
        Reason("24-hour grace"),
    )
    (notify,) = plan(image(tags=tags, age=timedelta(hours=24)), snapshot_tags={"snap-1": {}}).decisions
    assert notify.action is Action.NOTIFY


def test_auto_tags_from_the_creating_event() -> None:
    creator = CreatorInfo(ARN, "CopyImage", source_image="ami-0fedcba9876543210", source_region="us-east-1")
    img = image(tags=GOOD, age=timedelta(hours=1))
    got = by_action(plan(img, creators={img.image_id: creator}, snapshot_tags={"snap-1": GOOD}))
    assert set(got) == {Action.TAG}
    assert got[Action.TAG].tags == {
        TAG_CREATED_BY: ARN,
        TAG_CREATED_AT: (TAGS_NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        TAG_SOURCE_IMAGE: "ami-0fedcba9876543210",
    }
    assert got[Action.TAG].reasons[0] == Reason("compliant", "Owner, Environment")


def test_existing_auto_tags_are_never_overwritten() -> None:
    tags = {**GOOD, TAG_CREATED_BY: "someone-else", TAG_CREATED_AT: "earlier"}
    img = image(tags=tags)
    got = by_action(plan(img, creators={img.image_id: CreatorInfo(ARN)}, snapshot_tags={"snap-1": GOOD}))
    assert got == {Action.KEEP: got[Action.KEEP]}


def test_propagation_never_overwrites_and_skips_shared_or_unread_snapshots() -> None:
    a = image("ami-a", tags=FULL, snapshots=("snap-own", "snap-other-value", "snap-shared", "snap-unread"))
    b = image("ami-b", tags=FULL, snapshots=("snap-shared",))
    snaps = {"snap-own": {}, "snap-other-value": {"Owner": "bob"}, "snap-shared": {}}
    got = by_action(plan(a, b, snapshot_tags=snaps))
    propagate = got[Action.PROPAGATE]
    assert propagate.image_id == "ami-a"
    assert propagate.snapshot_tags == {"snap-own": GOOD, "snap-other-value": {"Environment": "prod"}}
    assert Reason("snap-shared", "used by 2 images", "not tagged") in propagate.reasons
    assert Reason("snap-unread", "tags not read", "not tagged") in propagate.reasons


def test_propagate_tags_setting_overrides_required_keys() -> None:
    img = image(tags={**FULL, "CostCenter": "1234"})
    got = by_action(plan(img, snapshot_tags={"snap-1": {}}, propagate=("CostCenter",)))
    assert got[Action.PROPAGATE].snapshot_tags == {"snap-1": {"CostCenter": "1234"}}


def test_snapshot_tags_not_read_propagates_nothing_and_says_so() -> None:
    (keep,) = plan(image(tags=FULL)).decisions
    assert keep.action is Action.KEEP
    assert Reason("snapshot tags not read", "nothing propagated") in keep.reasons


def test_foreign_and_untaggable_images_are_kept() -> None:
    foreign = image("ami-f", owner=FOREIGN)
    gone = image("ami-g", state=ImageState.DEREGISTERED)
    got = plan(foreign, gone, creators={"ami-f": CreatorInfo(ARN)}).decisions
    assert [(d.image_id, d.action, d.reasons) for d in got] == [
        ("ami-f", Action.KEEP, (Reason("kept", "owned by account", FOREIGN),)),
        ("ami-g", Action.KEEP, (Reason("kept", "deregistered", "tags are not checked"),)),
    ]


def test_no_rules_means_compliant() -> None:
    (keep,) = plan(image(tags={TAG_CREATED_AT: "x"}), rules=(), snapshot_tags={"snap-1": {}}).decisions
    assert keep.reasons == (Reason("compliant", "no tags required"),)


def test_an_event_notifies_at_first_sight_naming_the_creator() -> None:
    img = image(tags={"Environment": "prod"}, age=timedelta(minutes=1))
    got = by_action(plan(img, creators={img.image_id: CreatorInfo(ARN)}, snapshot_tags={"snap-1": {}}))
    assert set(got) == {Action.TAG, Action.PROPAGATE, Action.NOTIFY}
    assert got[Action.NOTIFY].reasons == (
        Reason("missing", "Owner"),
        Reason("non-compliant", ARN, "CreateImage"),
    )
    assert got[Action.TAG].tags[TAG_CREATED_BY] == ARN


def test_a_tag_event_names_who_changed_tags_but_never_makes_them_the_creator() -> None:
    img = image(tags={"Environment": "prod", TAG_CREATED_AT: "x", TAG_CREATED_BY: "arn:creator"})
    bob = "arn:aws:iam::123456789012:user/bob"
    snaps = {"snap-1": {"Environment": "prod"}}
    got = by_action(plan(img, creators={img.image_id: CreatorInfo(bob, "DeleteTags")}, snapshot_tags=snaps))
    assert set(got) == {Action.NOTIFY}
    assert got[Action.NOTIFY].reasons == (
        Reason("missing", "Owner"),
        Reason("non-compliant", f"after DeleteTags by {bob}", "created by arn:creator"),
    )
    fresh = image("ami-new", tags=GOOD)
    tagged = by_action(plan(fresh, creators={"ami-new": CreatorInfo(bob, "CreateTags")}, snapshot_tags={}))
    assert TAG_CREATED_BY not in tagged[Action.TAG].tags


def test_escalation_deprecates_after_the_set_days_and_marks_the_image() -> None:
    young = image("ami-young", tags={TAG_CREATED_AT: "x"}, age=timedelta(days=6, hours=23))
    old = image("ami-old", tags={TAG_CREATED_AT: "x"}, age=timedelta(days=7))
    done = image(
        "ami-done",
        tags={TAG_CREATED_AT: "x", TAG_ESCALATED_AT: "2024-06-01T00:00:00Z"},
        age=timedelta(days=9),
    )
    disabled = image("ami-dis", tags={TAG_CREATED_AT: "x"}, age=timedelta(days=9), state=ImageState.DISABLED)
    got = plan(young, old, done, disabled, snapshot_tags={"snap-1": {}}, escalation_days=7).decisions
    deprecations = [d for d in got if d.action is Action.DEPRECATE]
    assert [d.image_id for d in deprecations] == ["ami-old"]
    (dep,) = deprecations
    assert isinstance(dep, TagDecision)
    assert dep.tags == {TAG_ESCALATED_AT: "2024-06-10T12:00:00Z"}
    assert dep.deprecate_at is not None and dep.deprecate_at > TAGS_NOW
    assert Reason("non-compliant 7 days after creation", "escalation after 7 days") in dep.reasons
    notify_done = next(d for d in got if d.image_id == "ami-done" and d.action is Action.NOTIFY)
    assert has_reason(notify_done, "escalated on 2024-06-01T00:00:00Z")
    # Off by default.
    assert not [d for d in plan(old, snapshot_tags={}).decisions if d.action is Action.DEPRECATE]


def test_the_available_event_after_create_image_sends_no_second_notice() -> None:
    seen = image(tags={TAG_CREATED_AT: "2024-06-10T11:59:00Z"}, age=timedelta(minutes=5))
    fresh = image("ami-0000000000000002", age=timedelta(minutes=5))
    available = CreatorInfo("", "StateChange:available")
    got = plan(seen, fresh, creators={seen.image_id: available, fresh.image_id: available}, snapshot_tags={})
    notified = [d.image_id for d in got.decisions if d.action is Action.NOTIFY]
    assert notified == [fresh.image_id]  # CloudTrail's CreateImage never came for this one


def test_a_compliant_image_loses_the_escalation_marker() -> None:
    img = image(tags={**FULL, TAG_ESCALATED_AT: "2024-06-01T00:00:00Z"})
    got = by_action(plan(img, snapshot_tags={"snap-1": GOOD}, escalation_days=7))
    assert set(got) == {Action.TAG}
    assert got[Action.TAG].remove_tags == (TAG_ESCALATED_AT,)
    assert got[Action.TAG].tags == {}


# -- properties --------------------------------------------------------------------------------

KEYS = [
    "Owner",
    "Environment",
    "CostCenter",
    TAG_CREATED_BY,
    TAG_CREATED_AT,
    TAG_SOURCE_IMAGE,
    TAG_ESCALATED_AT,
]
VALUES = st.sampled_from(["", "alice", "prod", "production", "1234", "12345", "x,y"])
PATTERNS = [None, r"^(prod|staging|dev)$", r"^\d{4}$", r"\d{4}", r"[a-z]+", ".*", r"x\,y"]
tag_sets = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=len(KEYS))
rule_sets = st.lists(
    st.tuples(st.sampled_from(KEYS[:3]), st.sampled_from(PATTERNS)), max_size=3, unique_by=lambda t: t[0]
).map(lambda items: tuple(TagRule(k, None if p is None else re.compile(p)) for k, p in items))


@st.composite
def estates(draw: st.DrawFn) -> tuple[RegionEstate, dict[str, CreatorInfo], dict[str, dict[str, str]]]:
    n = draw(st.integers(1, 5))
    snap_pool = [f"snap-{i}" for i in range(4)]
    images = tuple(
        builders.image(
            i,
            name=f"img-{i}",
            created=TAGS_NOW - timedelta(hours=draw(st.integers(0, 100))),
            owner=draw(st.sampled_from([ACCOUNT, ACCOUNT, FOREIGN])),
            state=draw(st.sampled_from(list(ImageState))),
            tags=draw(tag_sets),
            snapshots=draw(st.lists(st.sampled_from(snap_pool), max_size=2, unique=True)),
        )
        for i in range(n)
    )
    creators = {
        img.image_id: CreatorInfo(
            ARN,
            draw(
                st.sampled_from(
                    ["CreateImage", "CopyImage", "CreateTags", "DeleteTags", "StateChange:available"]
                )
            ),
            source_image=draw(st.none() | st.just("ami-0fedcba9876543210")),
        )
        for img in images
        if draw(st.booleans())
    }
    snapshot_tags = {s: draw(tag_sets) for s in snap_pool if draw(st.booleans())}
    return builders.estate(*images), creators, snapshot_tags


@settings(max_examples=300)
@given(estates(), rule_sets, st.integers(0, 72), st.sampled_from([0, 0, 1, 3]))
def test_properties(
    drawn: tuple[RegionEstate, dict[str, CreatorInfo], dict[str, dict[str, str]]],
    rules: tuple[TagRule, ...],
    grace: int,
    escalation_days: int,
) -> None:
    estate, creators, snapshot_tags = drawn
    tag_settings = TagSettings(grace_hours=grace, escalation_days=escalation_days)
    result = plan_tagging(estate, rules, tag_settings, TAGS_NOW, creators, snapshot_tags)
    images = {i.image_id: i for i in estate.images}
    decided: dict[str, list[Decision]] = {}
    for d in result.decisions:
        decided.setdefault(d.image_id, []).append(d)
        assert isinstance(d, TagDecision)
        img = images[d.image_id]
        # Every decision has reasons.
        assert d.reasons and all(r.strip() for r in d.reasons)
        # Never acts on a foreign image.
        if img.owner_id != ACCOUNT:
            assert d.action is Action.KEEP
        # Never overwrites an existing tag, on the image or on a snapshot.
        assert not set(d.tags) & set(img.tags)
        for sid, added in d.snapshot_tags.items():
            assert sid in {s.snapshot_id for s in img.snapshots}
            assert sid in snapshot_tags
            assert added and not set(added) & set(snapshot_tags[sid])
            assert all(img.tags[k] == v for k, v in added.items())
        if d.action is Action.DEPRECATE:
            assert d.tags == {TAG_ESCALATED_AT: "2024-06-10T12:00:00Z"}
        else:
            assert bool(d.tags) <= (d.action is Action.TAG)
        assert not d.tags or d.action in (Action.TAG, Action.DEPRECATE)
        # Only the escalation marker is ever removed, and only from a compliant image.
        assert d.remove_tags in ((), (TAG_ESCALATED_AT,))
        if d.remove_tags:
            assert TAG_ESCALATED_AT in img.tags and not d.reasons[0].startswith("missing")
        # created-by only ever comes from a creating call.
        if TAG_CREATED_BY in d.tags:
            assert creators[d.image_id].event_name in ("CreateImage", "CopyImage")
        assert bool(d.snapshot_tags) == (d.action is Action.PROPAGATE)
    # Every image decided, each action at most once; KEEP only alone.
    assert set(decided) == set(images)
    for image_id, ds in decided.items():
        actions = [d.action for d in ds]
        assert len(actions) == len(set(actions))
        assert actions == [Action.KEEP] or Action.KEEP not in actions
        img = images[image_id]
        if img.owner_id != ACCOUNT or img.state not in {"pending", "available", "disabled"}:
            continue
        # Compliant iff every key present and every value (wholly) matches.
        compliant = all(
            r.key in img.tags and (r.pattern is None or r.pattern.fullmatch(img.tags[r.key])) for r in rules
        )
        assert ds[0].reasons[0].startswith("compliant") == compliant
        old_enough = TAGS_NOW - img.creation_date >= timedelta(hours=grace)
        # An event's image is told at first sight; a sweep waits for the grace.
        first_sight = image_id in creators and not (
            creators[image_id].event_name.startswith("StateChange") and TAG_CREATED_AT in img.tags
        )
        assert (Action.NOTIFY in actions) == (not compliant and (old_enough or first_sight))
        # Escalation: only when on, for an available non-compliant image old enough, once.
        due = (
            escalation_days > 0
            and not compliant
            and img.state == "available"
            and TAG_ESCALATED_AT not in img.tags
            and TAGS_NOW - img.creation_date >= timedelta(days=escalation_days)
        )
        assert (Action.DEPRECATE in actions) == due
