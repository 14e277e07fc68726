"""Rotation, by example: one test per rule and per reason sentence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ami_hygiene.core.estate import (
    TAG_DISABLED_AT,
    TAG_ESCALATED_AT,
    TAG_FAMILY,
    TAG_RETAIN,
    ConsumerCheck,
    Image,
    RegionEstate,
    Sharing,
    SnapshotRef,
    Usage,
    UsageKind,
)
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.settings import ConsumerUsageUnknown, Settings
from ami_hygiene.core.tag_rules import parse_required_tags
from ami_hygiene.jobs.rotate.policy import PENDING_CONSUMERS, PENDING_SHARING, plan_rotation

ACCOUNT = "123456789012"
FOREIGN = "999988887777"
ALLOWED = "111122223333"
REGION = "eu-west-1"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings(
    regions=(REGION,),
    retention_days=90,
    keep_latest=3,
    disable_grace_days=14,
    max_actions=100,
    allowed_share_accounts=frozenset({ALLOWED}),
)


def _image(
    image_id: str,
    days_old: float,
    name: str | None = None,
    *,
    state: str = "available",
    owner: str = ACCOUNT,
    tags: Mapping[str, str] | None = None,
    snapshots: Sequence[SnapshotRef] = (),
    **kw: Any,
) -> Image:
    return Image(
        image_id=image_id,
        region=REGION,
        owner_id=owner,
        name=name or "web-v1",
        creation_date=NOW - timedelta(days=days_old),
        state=state,
        tags=dict(tags or {}),
        snapshots=tuple(snapshots),
        **kw,
    )


def _newest(family: str = "web") -> list[Image]:
    """Three young images that take the keep_latest places of a family."""
    return [_image(f"ami-{family}-new{n}", n + 1, f"{family}-v9{n}") for n in range(3)]


def _estate(
    *images: Image,
    usages: Mapping[str, Sequence[Usage]] | None = None,
    sharing: Mapping[str, Sharing] | None = None,
    checked: bool = True,
    references_checked: bool = True,
    unread: Mapping[str, str] | None = None,
    consumers: Mapping[str, ConsumerCheck] | None = None,
) -> RegionEstate:
    """By default every image's launch permissions were read and it is shared with no one."""
    read = {i.image_id: Sharing() for i in images} if checked else {}
    read.update(sharing or {})
    return RegionEstate(
        region=REGION,
        account_id=ACCOUNT,
        images=images,
        usages={k: tuple(v) for k, v in (usages or {}).items()},
        sharing=read,
        references_checked=references_checked,
        unread_sources=dict(unread or {}),
        consumers=dict(consumers or {}),
    )


def _plan(
    estate: RegionEstate, settings: Settings = SETTINGS, now: datetime = NOW, budget: int = 100
) -> Plan:
    return plan_rotation(estate, settings, now, budget)


def _decision(plan: Plan, image_id: str) -> Decision:
    (found,) = [d for d in plan.decisions if d.image_id == image_id]
    return found


def _decide(*images: Image, image_id: str = "ami-old", **kw: Any) -> Decision:
    return _decision(_plan(_estate(*_newest(), *images, **kw)), image_id)


def _settings(**kw: Any) -> Settings:
    return Settings(**{**SETTINGS.__dict__, **kw})


# -- rule 1: other accounts' images -----------------------------------------------------------


def test_an_image_of_another_account_is_kept() -> None:
    d = _decide(_image("ami-old", 400, owner=FOREIGN))
    assert d.action is Action.KEEP
    assert d.reasons == (f"kept: owned by account {FOREIGN}, not by this account",)


def test_foreign_images_take_no_place_among_the_newest() -> None:
    foreign = [_image(f"ami-f{n}", n, f"web-v{n}", owner=FOREIGN) for n in range(3)]
    plan = _plan(_estate(*foreign, _image("ami-mine", 10, "web-v1")))
    reasons = _decision(plan, "ami-mine").reasons
    assert reasons == ("kept: one of the 3 newest available images of family web",)


# -- rule 2: the newest of each family --------------------------------------------------------


def test_the_newest_keep_latest_available_images_of_each_family_are_kept() -> None:
    plan = _plan(_estate(*_newest("web"), *_newest("app"), _image("ami-old", 400, "web-v1")))
    for image in _newest("web") + _newest("app"):
        d = _decision(plan, image.image_id)
        family = image.name.split("-")[0]
        assert d.action is Action.KEEP
        assert d.reasons == (f"kept: one of the 3 newest available images of family {family}",)
    assert _decision(plan, "ami-old").action is Action.DISABLE


def test_with_keep_latest_one_the_newest_is_kept_alone() -> None:
    plan = _plan(_estate(*_newest()), _settings(keep_latest=1))
    assert _decision(plan, "ami-web-new0").reasons == ("kept: the newest available image of family web",)
    assert _decision(plan, "ami-web-new1").action is Action.DEPRECATE


def test_only_available_images_count_among_the_newest() -> None:
    newer = [
        _image("ami-pending", 0, "web-v99", state="pending"),
        _image("ami-disabled", 0, "web-v98", state="disabled"),
    ]
    plan = _plan(_estate(*newer, *_newest()))
    assert all(_decision(plan, i.image_id).action is Action.KEEP for i in _newest())


def test_equal_creation_dates_are_ordered_by_image_id() -> None:
    same = [_image(f"ami-{c}", 1) for c in "abcd"]
    plan = _plan(_estate(*same))
    assert [d.image_id for d in plan.decisions] == ["ami-d", "ami-c", "ami-b", "ami-a"]
    assert [d.action for d in plan.decisions] == [Action.KEEP] * 3 + [Action.DEPRECATE]
    assert _decision(plan, "ami-a").action is Action.DEPRECATE


# -- rule 3: protected ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_retain_true_keeps_the_image(value: str) -> None:
    plan = _plan(_estate(*_newest(), _image("ami-old", 400, tags={TAG_RETAIN: value})))
    d = _decision(plan, "ami-old")
    assert d.action is Action.KEEP and d.reasons == ("kept: tagged ami-hygiene:retain=true",)
    assert plan.errors == ()


@pytest.mark.parametrize("value", ["false", "False"])
def test_retain_false_protects_nothing(value: str) -> None:
    plan = _plan(_estate(*_newest(), _image("ami-old", 400, tags={TAG_RETAIN: value})))
    assert _decision(plan, "ami-old").action is Action.DISABLE and plan.errors == ()


@pytest.mark.parametrize("value", ["yes please", "", "1", " true"])
def test_a_bad_retain_value_keeps_the_image_and_is_an_error(value: str) -> None:
    plan = _plan(_estate(*_newest(), _image("ami-old", 400, "web-v1", tags={TAG_RETAIN: value})))
    d = _decision(plan, "ami-old")
    assert d.action is Action.KEEP
    assert d.reasons == (
        f"kept: tag ami-hygiene:retain has the value {value!r}, which is neither true nor false",
    )
    assert plan.errors == (
        f"ami-old (web-v1): tag ami-hygiene:retain={value!r} is neither true nor false; "
        "the image is kept until the tag is fixed",
    )


def test_deregistration_protection_keeps_the_image() -> None:
    d = _decide(_image("ami-old", 400, deregistration_protected=True))
    assert d.action is Action.KEEP and d.reasons == ("kept: deregistration protection is on",)


def test_protection_also_stops_deprecation() -> None:
    d = _decide(_image("ami-old", 10, tags={TAG_RETAIN: "true"}))
    assert d.action is Action.KEEP and d.deprecate_at is None


def test_every_protection_is_named() -> None:
    d = _decide(_image("ami-old", 400, tags={TAG_RETAIN: "true"}, deregistration_protected=True))
    assert d.reasons == ("kept: tagged ami-hygiene:retain=true", "kept: deregistration protection is on")


def test_a_bad_family_tag_keeps_the_image_and_is_an_error() -> None:
    plan = _plan(_estate(*_newest(), _image("ami-old", 400, "web-v1", tags={TAG_FAMILY: "bad family"})))
    d = _decision(plan, "ami-old")
    assert d.action is Action.KEEP and d.family == "web"
    assert d.reasons == ("kept: its family tag 'bad family' is not a valid family name",)
    (error,) = plan.errors
    assert "ami-old" in error and "ami-hygiene:family='bad family'" in error
    assert "kept until the tag is fixed" in error


def test_an_image_with_a_bad_family_tag_takes_no_place_among_the_newest() -> None:
    bad = _image("ami-bad", 0, "web-v99", tags={TAG_FAMILY: "bad family"})
    plan = _plan(_estate(bad, *_newest()))
    assert all(_decision(plan, i.image_id).action is Action.KEEP for i in _newest())


def test_the_family_tag_groups_images_with_different_names() -> None:
    tagged = [_image(f"ami-t{n}", n + 1, f"name{n}-v1", tags={TAG_FAMILY: "frontend"}) for n in range(4)]
    plan = _plan(_estate(*tagged))
    assert [d.action for d in plan.decisions] == [Action.KEEP] * 3 + [Action.DEPRECATE]
    assert {d.family for d in plan.decisions} == {"frontend"}


# -- rule 4: states ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["pending", "failed", "invalid", "error", "transient", "deregistered"])
def test_only_available_or_disabled_images_are_rotated(state: str) -> None:
    d = _decide(_image("ami-old", 400, state=state, tags={TAG_DISABLED_AT: "2020-01-01T00:00:00Z"}))
    assert d.action is Action.KEEP
    assert d.reasons == (f"kept: state is {state}; only available or disabled images are rotated",)


# -- rule 5: disabled images ------------------------------------------------------------------


def _disabled(disabled_at: str | None, days_old: float = 400, **kw: Any) -> Image:
    tags = {} if disabled_at is None else {TAG_DISABLED_AT: disabled_at}
    return _image("ami-old", days_old, "web-v1", state="disabled", tags=tags, **kw)


def test_an_image_disabled_by_someone_else_is_left_alone() -> None:
    d = _decide(_disabled(None))
    assert d.action is Action.KEEP
    assert d.reasons == (
        "kept: disabled by someone else, not by ami-hygiene (no ami-hygiene:disabled-at tag); left alone",
    )


@pytest.mark.parametrize("value", ["last tuesday", "2024-13-01", ""])
def test_an_unreadable_disabled_at_keeps_the_image_and_is_an_error(value: str) -> None:
    plan = _plan(_estate(*_newest(), _disabled(value)))
    d = _decision(plan, "ami-old")
    assert d.action is Action.KEEP
    assert d.reasons == (
        f"kept: tag ami-hygiene:disabled-at has the value {value!r}, which is not an ISO 8601 time",
    )
    assert plan.errors == (
        f"ami-old (web-v1): tag ami-hygiene:disabled-at={value!r} is not an ISO 8601 time; "
        "the image is kept until the tag is fixed",
    )


def test_a_disabled_image_is_kept_during_the_grace_period() -> None:
    d = _decide(_disabled("2024-05-20T06:00:00Z"))
    assert d.action is Action.KEEP
    assert d.reasons == ("kept: disabled on 2024-05-20; deregistration due 2024-06-03 (14-day grace)",)


def test_a_disabled_image_is_deregistered_when_the_grace_ends() -> None:
    due = NOW - timedelta(days=14)
    d = _decide(_disabled(due.isoformat(), snapshots=[SnapshotRef("snap-1", "/dev/xvda", 8)]))
    assert d.action is Action.DEREGISTER and d.pending_checks == ()
    assert d.reasons[0] == "disabled by ami-hygiene on 2024-05-18; the 14-day grace ended 2024-06-01"
    assert "superseded: 3 newer available images in family web" in d.reasons
    assert "deregisters it now" in d.reasons and "deletes snap-1 (8 GiB)" in d.reasons
    assert d.snapshots == (SnapshotRef("snap-1", "/dev/xvda", 8),)


def test_one_second_before_the_grace_ends_the_image_stays() -> None:
    due = NOW - timedelta(days=14) + timedelta(seconds=1)
    assert _decide(_disabled(due.isoformat())).action is Action.KEEP


@pytest.mark.parametrize(
    "value", ["2024-05-01", "2024-05-01T00:00:00", "20240501T000000Z", "2024-05-01T02:00:00+02:00"]
)
def test_disabled_at_takes_any_iso_8601_form_and_defaults_to_utc(value: str) -> None:
    d = _decide(_disabled(value), image_id="ami-old")
    assert d.action is Action.DEREGISTER
    assert d.reasons[0] == "disabled by ami-hygiene on 2024-05-01; the 14-day grace ended 2024-05-15"


def test_a_disabled_at_at_the_end_of_time_never_comes_due() -> None:
    d = _decide(_disabled("9999-12-31T00:00:00Z"))
    assert d.action is Action.KEEP
    assert d.reasons == ("kept: disabled on 9999-12-31; deregistration due never (14-day grace)",)


def test_a_disabled_image_is_deregistered_only_if_safe() -> None:
    used = {"ami-old": [Usage("ami-old", UsageKind.INSTANCE, "i-1", "stopped")]}
    d = _decide(_disabled("2024-01-01"), usages=used)
    assert d.action is Action.KEEP and d.reasons[0] == "kept: used by instance i-1 (stopped)"


# -- rule 6: superseded available images ------------------------------------------------------


def test_a_young_superseded_image_gets_a_deprecation_date() -> None:
    d = _decide(_image("ami-old", 10))
    assert d.action is Action.DEPRECATE
    assert d.deprecate_at == NOW - timedelta(days=10) + timedelta(days=90)
    assert d.reasons == (
        "superseded by 3 newer images of family web; deprecation set for 2024-08-20 (created + 90 days) "
        "so users see it coming",
        "never launched",
    )


def test_deprecation_ignores_usage_but_says_so() -> None:
    used = [Usage("ami-old", UsageKind.LAUNCH_TEMPLATE, f"lt-{n}", "$Default") for n in range(5)]
    d = _decide(
        _image("ami-old", 10, last_launched=NOW - timedelta(days=1)),
        usages={"ami-old": used},
        unread={"ssm-parameter": "AccessDenied"},
        checked=False,
    )
    assert d.action is Action.DEPRECATE and d.pending_checks == ()
    assert "last launched 2024-05-31" in d.reasons
    assert (
        "deprecation is only a notice, so usage does not stop it: used by launch template lt-0 ($Default); "
        "used by launch template lt-1 ($Default); used by launch template lt-2 ($Default) and 2 more"
    ) in d.reasons


def test_a_public_image_is_never_deprecated_past_two_years_after_creation() -> None:
    # EnableImageDeprecation: at most 2 years after creation for a public AMI.
    settings = _settings(retention_days=1000)
    d = _decision(_plan(_estate(*_newest(), _image("ami-old", 600, public=True)), settings), "ami-old")
    assert d.action is Action.DEPRECATE
    assert d.deprecate_at == NOW - timedelta(days=600) + timedelta(days=730)
    assert "capped at 2 years after creation" in d.reasons[0]


def test_a_public_image_past_its_two_years_gets_no_deprecation() -> None:
    settings = _settings(retention_days=1000)
    d = _decision(_plan(_estate(*_newest(), _image("ami-old", 800, public=True)), settings), "ami-old")
    assert d.action is Action.KEEP and d.deprecate_at is None
    assert "2 years after its creation, which is past" in d.reasons[0]


def test_a_private_image_is_never_deprecated_past_ten_years_from_now() -> None:
    # An image stamped in the future (a skewed clock) would ask for more than EC2's 10 years.
    settings = _settings(retention_days=3650)
    newer = [_image(f"ami-web-new{n}", -6 - n, f"web-v9{n}") for n in range(3)]
    d = _decision(_plan(_estate(*newer, _image("ami-old", -5)), settings), "ami-old")
    assert d.action is Action.DEPRECATE and d.deprecate_at == NOW + timedelta(days=3650)


def test_a_later_deprecation_is_brought_forward() -> None:
    d = _decide(_image("ami-old", 10, deprecation_time=NOW + timedelta(days=365)))
    assert d.action is Action.DEPRECATE and d.deprecate_at == NOW + timedelta(days=80)
    assert "brings the deprecation forward from 2025-06-01" in d.reasons


def test_an_earlier_deprecation_is_left_as_it_is() -> None:
    d = _decide(_image("ami-old", 10, deprecation_time=NOW - timedelta(days=5)))
    assert d.action is Action.KEEP
    assert d.reasons == (
        "kept: superseded; already deprecated from 2024-05-27; retires after 90 days (2024-08-20)",
    )


def test_a_deprecation_already_set_for_the_retirement_is_left_as_it_is() -> None:
    d = _decide(_image("ami-old", 10, deprecation_time=NOW + timedelta(days=80)))
    assert d.action is Action.KEEP
    assert d.reasons == (
        "kept: superseded; deprecation already set for 2024-08-20; retires after 90 days (2024-08-20)",
    )


def test_an_image_exactly_retention_days_old_is_disabled() -> None:
    assert _decide(_image("ami-old", 90)).action is Action.DISABLE
    assert _decide(_image("ami-old", 90 - 1 / 86400)).action is Action.DEPRECATE


def test_an_old_superseded_unused_image_is_disabled_with_every_reason() -> None:
    d = _decide(
        _image(
            "ami-old",
            152,
            snapshots=[SnapshotRef("snap-1", "/dev/xvda", 8)],
            last_launched=datetime(2024, 1, 5, tzinfo=UTC),
        )
    )
    assert d.action is Action.DISABLE and d.outcome is Outcome.PLANNED and d.pending_checks == ()
    assert d.snapshots == ()  # snapshots go only with deregistration
    assert d.reasons == (
        "superseded: 3 newer available images in family web",
        "created 2024-01-01, older than the 90-day retention",
        "not used by any instance, launch template, launch configuration, SSM parameter or reference",
        "last launched 2024-01-05",
        "not shared with any other account",
        "disables it now; deregistration follows 14 days later if it is still unused",
    )


def test_with_no_grace_an_old_image_is_deregistered_at_once() -> None:
    old = _image("ami-old", 400, snapshots=[SnapshotRef("snap-1", "/dev/xvda", 8)])
    plan = _plan(_estate(*_newest(), old), _settings(disable_grace_days=0))
    d = _decision(plan, "ami-old")
    assert d.action is Action.DEREGISTER
    assert "deregisters it at once: DisableGraceDays is 0, so there is no disabled stage" in d.reasons
    assert d.snapshots == (SnapshotRef("snap-1", "/dev/xvda", 8),)
    plan = _plan(_estate(*_newest(), old), _settings(disable_grace_days=1))
    assert _decision(plan, "ami-old").action is Action.DISABLE


def test_without_image_references_the_reason_says_what_was_not_checked() -> None:
    d = _decide(_image("ami-old", 400), references_checked=False)
    assert d.action is Action.DISABLE
    assert (
        "not used by any instance, launch template, launch configuration or SSM parameter; "
        "references by other resources are unknown (DescribeImageReferences was not available)"
    ) in d.reasons


# -- rule 7: safety checks before disabling or deregistering ----------------------------------


@pytest.mark.parametrize(
    ("usage", "reason"),
    [
        (
            Usage("ami-old", UsageKind.INSTANCE, "i-0abc", "running"),
            "kept: used by instance i-0abc (running)",
        ),
        (
            Usage("ami-old", UsageKind.LAUNCH_TEMPLATE, "lt-0abc", "$Default"),
            "kept: used by launch template lt-0abc ($Default)",
        ),
        (
            Usage(
                "ami-old", UsageKind.LAUNCH_TEMPLATE, "lt-0abc", "version 2, pinned by Auto Scaling group web"
            ),
            "kept: used by launch template lt-0abc (version 2, pinned by Auto Scaling group web)",
        ),
        (
            Usage("ami-old", UsageKind.LAUNCH_CONFIGURATION, "app-legacy"),
            "kept: used by launch configuration app-legacy",
        ),
        (Usage("ami-old", UsageKind.SSM_PARAMETER, "/golden/web"), "kept: used by SSM parameter /golden/web"),
        (
            Usage("ami-old", UsageKind.IMAGE_REFERENCE, "lt-9", "ec2:LaunchTemplate"),
            "kept: used by resource lt-9 (ec2:LaunchTemplate)",
        ),
    ],
)
def test_an_image_in_use_is_kept(usage: Usage, reason: str) -> None:
    d = _decide(_image("ami-old", 400), usages={"ami-old": [usage]})
    assert d.action is Action.KEEP and d.reasons[0] == reason


def test_an_image_launched_within_the_retention_window_is_kept() -> None:
    d = _decide(_image("ami-old", 400, last_launched=datetime(2024, 5, 1, tzinfo=UTC)))
    assert d.action is Action.KEEP
    assert d.reasons[0] == "kept: launched 2024-05-01, within the 90-day retention window"


def test_a_launch_exactly_retention_days_ago_no_longer_protects() -> None:
    assert _decide(_image("ami-old", 400, last_launched=NOW - timedelta(days=90))).action is Action.DISABLE
    launched = NOW - timedelta(days=90) + timedelta(seconds=1)
    assert _decide(_image("ami-old", 400, last_launched=launched)).action is Action.KEEP


def test_an_unread_usage_source_stops_every_retirement() -> None:
    unread = {"ssm-parameter": "AccessDenied", "auto-scaling": "Throttling"}
    d = _decide(_image("ami-old", 400), unread=unread)
    assert d.action is Action.KEEP
    assert d.reasons[:2] == (
        "kept: could not read auto-scaling (Throttling), so usage is unknown",
        "kept: could not read ssm-parameter (AccessDenied), so usage is unknown",
    )


@pytest.mark.parametrize(
    ("sharing", "reason"),
    [
        (Sharing(public=True), "kept: public"),
        (Sharing(accounts=frozenset({FOREIGN})), f"kept: shared with {FOREIGN}, not on the allow-list"),
        (
            Sharing(accounts=frozenset({FOREIGN, ALLOWED, "444455556666"})),
            f"kept: shared with 444455556666, {FOREIGN}, not on the allow-list",
        ),
        (
            Sharing(organizations=frozenset({"arn:aws:organizations::123456789012:organization/o-x"})),
            "kept: shared with arn:aws:organizations::123456789012:organization/o-x, not on the allow-list",
        ),
        (
            Sharing(error="UnauthorizedOperation: no"),
            "kept: launch permissions could not be read: UnauthorizedOperation: no",
        ),
    ],
)
def test_an_image_shared_outside_the_allow_list_or_unreadable_is_kept(sharing: Sharing, reason: str) -> None:
    d = _decide(_image("ami-old", 400), sharing={"ami-old": sharing})
    assert d.action is Action.KEEP and d.reasons[0] == reason


def test_an_image_known_public_from_describe_images_is_kept_before_sharing_is_read() -> None:
    d = _decide(_image("ami-old", 400, public=True), checked=False)
    assert d.action is Action.KEEP and d.reasons[0] == "kept: public" and d.pending_checks == ()


def test_an_image_shared_only_with_the_allow_list_is_retired_when_unknown_use_may_retire() -> None:
    estate = _estate(
        *_newest(), _image("ami-old", 400), sharing={"ami-old": Sharing(accounts=frozenset({ALLOWED}))}
    )
    d = _decision(_plan(estate, _settings(consumer_usage_unknown=ConsumerUsageUnknown.RETIRE)), "ami-old")
    assert d.action is Action.DISABLE and d.shared_with == (ALLOWED,) and d.pending_checks == ()
    assert any(r.startswith(f"shared only with allow-listed {ALLOWED}: they lose access") for r in d.reasons)
    assert (
        f"use by {ALLOWED} not checked (no ConsumerRoleName); ConsumerUsageUnknown=retire retires it anyway"
        in (d.reasons)
    )


def test_an_image_shared_with_more_principals_than_the_record_holds_is_kept() -> None:
    # DisableImage drops launch permissions for good; restore needs the record (8 tags of 256 chars).
    many = frozenset(f"{n:012d}" for n in range(200))
    estate = _estate(*_newest(), _image("ami-old", 400), sharing={"ami-old": Sharing(accounts=many)})
    d = _decision(_plan(estate, _settings(allowed_share_accounts=many)), "ami-old")
    assert d.action is Action.KEEP
    assert "kept: shared with 200 allow-listed principals, more than 8 tags can record" in d.reasons[0]


def test_an_image_not_shared_carries_no_record() -> None:
    d = _decide(_image("ami-old", 400), sharing={"ami-old": Sharing()})
    assert d.action is Action.DISABLE and d.shared_with == ()


def test_unread_launch_permissions_leave_the_action_pending() -> None:
    d = _decide(_image("ami-old", 400), checked=False)
    assert d.action is Action.DISABLE and d.pending_checks == (PENDING_SHARING,) == ("launch permissions",)
    assert "launch permissions not read yet: they are checked before anything changes" in d.reasons


def test_a_disabled_image_due_for_deregistration_also_waits_for_launch_permissions() -> None:
    d = _decide(_disabled("2024-01-01"), checked=False)
    assert d.action is Action.DEREGISTER and d.pending_checks == ("launch permissions",)


def test_a_kept_image_has_no_pending_checks_even_when_sharing_is_unread() -> None:
    d = _decide(_image("ami-old", 400, last_launched=NOW), checked=False)
    assert d.action is Action.KEEP and d.pending_checks == ()


def test_every_obstacle_is_reported_together_with_the_facts() -> None:
    d = _decide(
        _image("ami-old", 400, public=True, last_launched=datetime(2024, 5, 1, tzinfo=UTC)),
        usages={
            "ami-old": [
                Usage("ami-old", UsageKind.INSTANCE, "i-1", "stopped"),
                Usage("ami-old", UsageKind.SSM_PARAMETER, "/golden/web"),
            ]
        },
        sharing={"ami-old": Sharing(accounts=frozenset({FOREIGN}), error="Throttling")},
        unread={"launch-configuration": "AccessDenied"},
    )
    assert d.action is Action.KEEP
    assert d.reasons == (
        "kept: used by instance i-1 (stopped)",
        "kept: used by SSM parameter /golden/web",
        "kept: launched 2024-05-01, within the 90-day retention window",
        "kept: could not read launch-configuration (AccessDenied), so usage is unknown",
        "kept: public",
        "kept: launch permissions could not be read: Throttling",
        f"kept: shared with {FOREIGN}, not on the allow-list",
        "superseded: 3 newer available images in family web",
        "created 2023-04-28, older than the 90-day retention",
    )


# -- consumers: the accounts an image is shared with -------------------------------------------

CONSUMER = "444455556666"
ORG = "arn:aws:organizations::123456789012:organization/o-abc123"
WITH_ROLE = _settings(consumer_role_name="ami-hygiene-consumer")
SHARED = {"ami-old": Sharing(accounts=frozenset({ALLOWED}))}


def _consumer_decision(settings: Settings = WITH_ROLE, **kw: Any) -> Decision:
    estate = _estate(*_newest(), _image("ami-old", 400), **{"sharing": SHARED, **kw})
    return _decision(_plan(estate, settings), "ami-old")


def test_without_a_consumer_role_an_allow_listed_share_is_kept_by_default() -> None:
    d = _consumer_decision(SETTINGS)
    assert d.action is Action.KEEP and d.pending_checks == ()
    assert d.reasons[0] == (
        f"kept: shared with {ALLOWED}, whose use of it is unknown (no ConsumerRoleName to look; "
        "set ConsumerUsageUnknown=retire to retire anyway)"
    )
    assert (
        _plan(_estate(*_newest(), _image("ami-old", 400), sharing=SHARED)).errors == ()
    )  # a setting, not an error


def test_an_organization_share_without_a_consumer_role_is_kept_by_default() -> None:
    d = _consumer_decision(
        _settings(allowed_share_accounts=frozenset({ORG})),
        sharing={"ami-old": Sharing(organizations=frozenset({ORG}))},
    )
    assert d.action is Action.KEEP and d.reasons[0].startswith(
        f"kept: shared with {ORG}, whose use of it is unknown"
    )


def test_with_a_consumer_role_an_allow_listed_share_waits_for_its_consumers() -> None:
    d = _consumer_decision()
    assert d.action is Action.DISABLE and d.pending_checks == (PENDING_CONSUMERS,) == ("consumer usage",)
    assert (
        f"use by {ALLOWED} not read yet: each account it is shared with is checked before anything changes"
        in d.reasons
    )


def test_an_unshared_image_needs_no_consumer_check() -> None:
    d = _consumer_decision(sharing={"ami-old": Sharing()})
    assert d.action is Action.DISABLE and d.pending_checks == ()
    assert not any("consumer" in r for r in d.reasons)


def test_an_image_no_consumer_uses_is_retired_and_says_who_was_checked() -> None:
    d = _consumer_decision(consumers={"ami-old": ConsumerCheck(checked=(ALLOWED,))})
    assert d.action is Action.DISABLE and d.pending_checks == ()
    assert f"consumers checked: {ALLOWED} (none uses it)" in d.reasons
    assert d.details() == {"consumers": {"checked": [ALLOWED], "using": [], "unknown": {}}}


def test_an_image_a_consumer_uses_is_kept_naming_the_account_and_the_resource() -> None:
    used = Usage("ami-old", UsageKind.LAUNCH_TEMPLATE, "lt-0abc", "version 3, $Default", account=ALLOWED)
    d = _consumer_decision(
        _settings(
            consumer_role_name="ami-hygiene-consumer", allowed_share_accounts=frozenset({ALLOWED, CONSUMER})
        ),
        sharing={"ami-old": Sharing(accounts=frozenset({ALLOWED, CONSUMER}))},
        usages={"ami-old": [used]},
        consumers={"ami-old": ConsumerCheck(checked=(ALLOWED, CONSUMER))},
    )
    assert d.action is Action.KEEP
    assert d.reasons[0] == f"kept: used by launch template lt-0abc (version 3, $Default) in account {ALLOWED}"
    assert f"consumers checked: {ALLOWED} (uses it); no use found in {CONSUMER}" in d.reasons
    assert d.details()["consumers"]["using"] == [ALLOWED]


def test_an_unknown_consumer_keeps_the_image_and_is_an_error() -> None:
    why = f"could not assume arn:aws:iam::{ALLOWED}:role/ami-hygiene-consumer (AccessDenied: no)"
    estate = _estate(
        *_newest(),
        _image("ami-old", 400),
        sharing=SHARED,
        consumers={"ami-old": ConsumerCheck(unknown={ALLOWED: why})},
    )
    plan = _plan(estate, WITH_ROLE)
    d = _decision(plan, "ami-old")
    assert (
        d.action is Action.KEEP and d.reasons[0] == f"kept: use of it by account {ALLOWED} is unknown: {why}"
    )
    assert plan.errors == (
        f"could not read the use of images by account {ALLOWED} in {REGION} ({why}); "
        "nothing shared with it is retired until it can be",
    )


def test_an_organization_that_cannot_be_listed_keeps_the_image() -> None:
    why = "could not list its accounts (AccessDeniedException: not the management account)"
    d = _consumer_decision(
        _settings(consumer_role_name="r", allowed_share_accounts=frozenset({ORG})),
        sharing={"ami-old": Sharing(organizations=frozenset({ORG}))},
        consumers={"ami-old": ConsumerCheck(checked=(CONSUMER,), unknown={ORG: why})},
    )
    assert (
        d.action is Action.KEEP
        and d.reasons[0] == f"kept: use of it by the accounts of {ORG} is unknown: {why}"
    )


def test_one_unknown_consumer_is_one_error_however_many_images_share_it() -> None:
    images = [_image(f"ami-old{n}", 400 + n) for n in range(3)]
    check = ConsumerCheck(unknown={ALLOWED: "could not assume it (AccessDenied)"})
    estate = _estate(
        *_newest(),
        *images,
        sharing={i.image_id: Sharing(accounts=frozenset({ALLOWED})) for i in images},
        consumers={i.image_id: check for i in images},
    )
    plan = _plan(estate, WITH_ROLE)
    assert len(plan.errors) == 1 and ALLOWED in plan.errors[0]
    assert all(_decision(plan, i.image_id).action is Action.KEEP for i in images)


def test_a_consumer_usage_is_described_with_its_account() -> None:
    usage = Usage("ami-1", UsageKind.INSTANCE, "i-1", "stopped", account=CONSUMER)
    assert usage.describe() == f"used by instance i-1 (stopped) in account {CONSUMER}"
    assert Usage("ami-1", UsageKind.INSTANCE, "i-1", "stopped").describe() == "used by instance i-1 (stopped)"


# -- rule 8: snapshots go with their image, unless another image uses them ------------------


def test_deregistration_deletes_only_snapshots_no_other_image_uses() -> None:
    own = SnapshotRef("snap-own", "/dev/xvda", 8)
    shared = SnapshotRef("snap-shared", "/dev/xvdb", 100)
    foreign_shared = SnapshotRef("snap-foreign", "/dev/xvdc", 5)
    plan = _plan(
        _estate(
            *_newest(),
            _image("ami-old", 400, snapshots=[own, shared, foreign_shared]),
            _image("ami-copy", 1, "copy-v1", state="pending", snapshots=[shared]),
            _image("ami-other", 1, "copy-v2", snapshots=[shared]),
            _image("ami-theirs", 1, "theirs-v1", owner=FOREIGN, snapshots=[foreign_shared]),
        ),
        _settings(disable_grace_days=0),
    )
    d = _decision(plan, "ami-old")
    assert d.action is Action.DEREGISTER and d.snapshots == (own,)
    assert d.reasons[-3:] == (
        "deletes snap-own (8 GiB)",
        "keeps snap-shared: also used by ami-copy, ami-other",
        "keeps snap-foreign: also used by ami-theirs",
    )


def test_a_snapshot_two_old_images_share_stays_even_when_both_go() -> None:
    shared = SnapshotRef("snap-shared", "/dev/xvda", 16)
    plan = _plan(
        _estate(
            *_newest(),
            _image("ami-old", 400, snapshots=[shared]),
            _image("ami-older", 500, snapshots=[shared]),
        ),
        _settings(disable_grace_days=0),
    )
    assert [_decision(plan, i).snapshots for i in ("ami-old", "ami-older")] == [(), ()]


def test_an_image_without_snapshots_says_so() -> None:
    d = _decide(_disabled("2024-01-01"))
    assert d.snapshots == () and d.reasons[-1] == "has no EBS snapshots to delete"


def test_a_snapshot_listed_twice_is_deleted_once() -> None:
    snap = SnapshotRef("snap-1", "/dev/xvda", 8)
    d = _decide(_disabled("2024-01-01", snapshots=[snap, SnapshotRef("snap-1", "/dev/xvdb", 8)]))
    assert d.snapshots == (snap,)


# -- rule 9: the action budget and the order of decisions -------------------------------------


def _backlog() -> RegionEstate:
    return _estate(
        *_newest(),
        _image("ami-young2", 20),
        _image("ami-young1", 30),  # deprecate
        _image("ami-old2", 200),
        _image("ami-old1", 300),  # disable
        _image("ami-dis2", 400, state="disabled", tags={TAG_DISABLED_AT: "2024-01-01"}),  # deregister
        _image("ami-dis1", 500, state="disabled", tags={TAG_DISABLED_AT: "2024-01-01"}),
    )


def test_the_budget_goes_to_deregistrations_then_disables_then_deprecations_oldest_first() -> None:
    for budget, planned in [
        (0, []),
        (1, ["ami-dis1"]),
        (3, ["ami-dis1", "ami-dis2", "ami-old1"]),
        (5, ["ami-dis1", "ami-dis2", "ami-old1", "ami-old2", "ami-young1"]),
        (6, ["ami-dis1", "ami-dis2", "ami-old1", "ami-old2", "ami-young1", "ami-young2"]),
    ]:
        plan = _plan(_backlog(), budget=budget)
        assert sorted(d.image_id for d in plan.actions if d.outcome is Outcome.PLANNED) == sorted(planned)
        assert plan.budget_used() == len(planned)
        assert len([d for d in plan.actions if d.outcome is Outcome.DEFERRED]) == 6 - len(planned)


def test_a_deferred_action_says_why() -> None:
    plan = _plan(_backlog(), _settings(max_actions=5), budget=5)
    (d,) = [d for d in plan.decisions if d.outcome is Outcome.DEFERRED]
    assert d.image_id == "ami-young2" and d.action is Action.DEPRECATE
    assert d.reasons[-1] == "deferred: MaxActionsPerRun (5) reached; the next run continues"


def test_a_budget_left_over_from_earlier_regions_is_named() -> None:
    plan = _plan(_backlog(), budget=2)
    deferred = [d for d in plan.decisions if d.outcome is Outcome.DEFERRED]
    assert deferred[0].reasons[-1] == (
        "deferred: MaxActionsPerRun (100) reached (2 left for eu-west-1 after earlier regions); "
        "the next run continues"
    )


def test_a_deferred_action_keeps_its_pending_checks() -> None:
    plan = _plan(_estate(*_newest(), _image("ami-old", 400), checked=False), budget=0)
    d = _decision(plan, "ami-old")
    assert d.outcome is Outcome.DEFERRED and d.pending_checks == ("launch permissions",)


def test_decisions_are_ordered_by_family_then_newest_first() -> None:
    plan = _plan(
        _estate(
            _image("ami-w1", 5, "web-v1"),
            _image("ami-a1", 50, "app-v1"),
            _image("ami-w2", 1, "web-v2"),
            _image("ami-a2", 3, "app-v2"),
            _image("ami-x", 9, "web-v9", owner=FOREIGN),
        )
    )
    assert [d.image_id for d in plan.decisions] == ["ami-a2", "ami-a1", "ami-w2", "ami-w1", "ami-x"]
    assert plan.job == "rotate" and plan.region == REGION


def test_every_decision_carries_the_image_facts() -> None:
    image = _image("ami-old", 400, "web-v1")
    d = _decide(image)
    assert (d.image_id, d.region, d.family, d.name, d.created) == (
        "ami-old",
        REGION,
        "web",
        "web-v1",
        image.creation_date,
    )


def test_an_empty_estate_gives_an_empty_plan() -> None:
    assert _plan(_estate()) == Plan(job="rotate", region=REGION, decisions=())


def test_one_newer_image_is_counted_in_the_singular() -> None:
    plan = _plan(
        _estate(_image("ami-new", 1), _image("ami-young", 10), _image("ami-old", 400)),
        _settings(keep_latest=1),
    )
    assert _decision(plan, "ami-young").reasons[0].startswith("superseded by 1 newer image of family web;")
    assert "superseded: 2 newer available images in family web" in _decision(plan, "ami-old").reasons
    plan = _plan(_estate(_image("ami-new", 1), _image("ami-old", 400)), _settings(keep_latest=1))
    assert _decision(plan, "ami-old").reasons[0] == "superseded: 1 newer available image in family web"


# -- escalation from the tag job -------------------------------------------------------------


def test_an_escalated_non_compliant_image_is_retired_early_with_every_safety_check() -> None:
    rules = parse_required_tags("Owner")
    settings = replace(SETTINGS, required_tags=rules)
    marker = {TAG_ESCALATED_AT: "2024-05-25T00:00:00Z"}
    young = _image("ami-esc", 10, tags=marker)
    fixed = _image("ami-fixed", 10, tags={**marker, "Owner": "alice"})
    used = _image("ami-used", 10, tags=marker)
    usage = Usage("ami-used", UsageKind.INSTANCE, "i-0abc", "running")
    plan = plan_rotation(
        _estate(young, fixed, used, *_newest(), usages={"ami-used": [usage]}), settings, NOW, 100
    )
    got = {d.image_id: d for d in plan.decisions}
    assert got["ami-esc"].action is Action.DISABLE
    assert "escalated by the tag job on 2024-05-25T00:00:00Z: still missing Owner" in got["ami-esc"].reasons
    # Compliant again: the marker is ignored and the usual young-image deprecation applies.
    assert got["ami-fixed"].action is Action.DEPRECATE
    # A safety rule still keeps it.
    assert got["ami-used"].action is Action.KEEP
    assert "kept: used by instance i-0abc (running)" in got["ami-used"].reasons


def test_an_escalated_image_among_the_newest_is_kept() -> None:
    settings = replace(SETTINGS, required_tags=parse_required_tags("Owner"))
    newest = _image("ami-only", 400, tags={TAG_ESCALATED_AT: "2024-05-25T00:00:00Z"})
    (decision,) = plan_rotation(_estate(newest), settings, NOW, 100).decisions
    assert decision.action is Action.KEEP
