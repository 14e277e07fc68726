"""Rotation, by example: one test per rule, and each reason it gives.

Reasons are matched on their key parts (tests/helpers/reasons.py): the rule that applied and the
facts it names (ids, dates, counts, settings). Whole sentences are compared only where the wording
is the point: a count in the singular, a usage described on its own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
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
from ami_hygiene.core.tag_rules import parse_required_tags
from ami_hygiene.jobs.rotate.policy import PENDING_CONSUMERS, PENDING_SHARING, plan_rotation
from ami_hygiene.jobs.settings import ConsumerUsageUnknown, Settings
from tests.helpers.builders import estate, image
from tests.helpers.constants import ALLOWED, FOREIGN, POLICY_NOW, REGION
from tests.helpers.reasons import Reason

SETTINGS = Settings(
    regions=(REGION,),
    retention_days=90,
    keep_latest=3,
    disable_grace_days=14,
    max_actions=100,
    allowed_share_accounts=frozenset({ALLOWED}),
)


# Rotation's examples read everything unless a test says otherwise: every image's launch
# permissions (shared with no one) and the image references.
_estate = partial(estate, sharing_read=True, references_checked=True)


def _newest(family: str = "web") -> list[Image]:
    """Three young images that take the keep_latest places of a family."""
    return [image(f"ami-{family}-new{n}", n + 1, f"{family}-v9{n}") for n in range(3)]


def _plan(
    estate: RegionEstate, settings: Settings = SETTINGS, now: datetime = POLICY_NOW, budget: int = 100
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
    d = _decide(image("ami-old", 400, owner=FOREIGN))
    assert d.action is Action.KEEP
    assert d.reasons == (Reason("kept", "owned by account", FOREIGN),)


def test_foreign_images_take_no_place_among_the_newest() -> None:
    foreign = [image(f"ami-f{n}", n, f"web-v{n}", owner=FOREIGN) for n in range(3)]
    plan = _plan(_estate(*foreign, image("ami-mine", 10, "web-v1")))
    reasons = _decision(plan, "ami-mine").reasons
    assert reasons == (Reason("kept", "3 newest available images", "family web"),)


# -- rule 2: the newest of each family --------------------------------------------------------


def test_the_newest_keep_latest_available_images_of_each_family_are_kept() -> None:
    plan = _plan(_estate(*_newest("web"), *_newest("app"), image("ami-old", 400, "web-v1")))
    for newest in _newest("web") + _newest("app"):
        d = _decision(plan, newest.image_id)
        family = newest.name.split("-")[0]
        assert d.action is Action.KEEP
        assert d.reasons == (Reason("kept", "3 newest available images", f"family {family}"),)
    assert _decision(plan, "ami-old").action is Action.DISABLE


def test_with_keep_latest_one_the_newest_is_kept_alone() -> None:
    plan = _plan(_estate(*_newest()), _settings(keep_latest=1))
    assert _decision(plan, "ami-web-new0").reasons == (
        Reason("kept", "the newest available image", "family web"),
    )
    assert _decision(plan, "ami-web-new1").action is Action.DEPRECATE


def test_only_available_images_count_among_the_newest() -> None:
    newer = [
        image("ami-pending", 0, "web-v99", state="pending"),
        image("ami-disabled", 0, "web-v98", state="disabled"),
    ]
    plan = _plan(_estate(*newer, *_newest()))
    assert all(_decision(plan, i.image_id).action is Action.KEEP for i in _newest())


def test_equal_creation_dates_are_ordered_by_image_id() -> None:
    same = [image(f"ami-{c}", 1) for c in "abcd"]
    plan = _plan(_estate(*same))
    assert [d.image_id for d in plan.decisions] == ["ami-d", "ami-c", "ami-b", "ami-a"]
    assert [d.action for d in plan.decisions] == [Action.KEEP] * 3 + [Action.DEPRECATE]
    assert _decision(plan, "ami-a").action is Action.DEPRECATE


# -- rule 3: protected ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_retain_true_keeps_the_image(value: str) -> None:
    plan = _plan(_estate(*_newest(), image("ami-old", 400, tags={TAG_RETAIN: value})))
    d = _decision(plan, "ami-old")
    assert d.action is Action.KEEP and d.reasons == (Reason("kept", "ami-hygiene:retain=true"),)
    assert plan.errors == ()


@pytest.mark.parametrize("value", ["false", "False"])
def test_retain_false_protects_nothing(value: str) -> None:
    plan = _plan(_estate(*_newest(), image("ami-old", 400, tags={TAG_RETAIN: value})))
    assert _decision(plan, "ami-old").action is Action.DISABLE and plan.errors == ()


@pytest.mark.parametrize("value", ["yes please", "", "1", " true"])
def test_a_bad_retain_value_keeps_the_image_and_is_an_error(value: str) -> None:
    plan = _plan(_estate(*_newest(), image("ami-old", 400, "web-v1", tags={TAG_RETAIN: value})))
    d = _decision(plan, "ami-old")
    assert d.action is Action.KEEP
    assert d.reasons == (Reason("kept", "ami-hygiene:retain", repr(value), "neither true nor false"),)
    assert plan.errors == (
        f"ami-old (web-v1): tag ami-hygiene:retain={value!r} is neither true nor false; "
        "the image is kept until the tag is fixed",
    )


def test_deregistration_protection_keeps_the_image() -> None:
    d = _decide(image("ami-old", 400, deregistration_protected=True))
    assert d.action is Action.KEEP and d.reasons == (Reason("kept", "deregistration protection"),)


def test_protection_also_stops_deprecation() -> None:
    d = _decide(image("ami-old", 10, tags={TAG_RETAIN: "true"}))
    assert d.action is Action.KEEP and d.deprecate_at is None


def test_every_protection_is_named() -> None:
    d = _decide(image("ami-old", 400, tags={TAG_RETAIN: "true"}, deregistration_protected=True))
    assert d.reasons == (
        Reason("kept", "ami-hygiene:retain=true"),
        Reason("kept", "deregistration protection"),
    )


def test_a_bad_family_tag_keeps_the_image_and_is_an_error() -> None:
    plan = _plan(_estate(*_newest(), image("ami-old", 400, "web-v1", tags={TAG_FAMILY: "bad family"})))
    d = _decision(plan, "ami-old")
    assert d.action is Action.KEEP and d.family == "web"
    assert d.reasons == (Reason("kept", "family tag", "'bad family'", "not a valid family name"),)
    (error,) = plan.errors
    assert "ami-old" in error and "ami-hygiene:family='bad family'" in error
    assert "kept until the tag is fixed" in error


def test_an_image_with_a_bad_family_tag_takes_no_place_among_the_newest() -> None:
    bad = image("ami-bad", 0, "web-v99", tags={TAG_FAMILY: "bad family"})
    plan = _plan(_estate(bad, *_newest()))
    assert all(_decision(plan, i.image_id).action is Action.KEEP for i in _newest())


def test_the_family_tag_groups_images_with_different_names() -> None:
    tagged = [image(f"ami-t{n}", n + 1, f"name{n}-v1", tags={TAG_FAMILY: "frontend"}) for n in range(4)]
    plan = _plan(_estate(*tagged))
    assert [d.action for d in plan.decisions] == [Action.KEEP] * 3 + [Action.DEPRECATE]
    assert {d.family for d in plan.decisions} == {"frontend"}


# -- rule 4: states ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["pending", "failed", "invalid", "error", "transient", "deregistered"])
def test_only_available_or_disabled_images_are_rotated(state: str) -> None:
    d = _decide(image("ami-old", 400, state=state, tags={TAG_DISABLED_AT: "2020-01-01T00:00:00Z"}))
    assert d.action is Action.KEEP
    assert d.reasons == (Reason("kept", f"state is {state}", "only available or disabled"),)


# -- rule 5: disabled images ------------------------------------------------------------------


def _disabled(disabled_at: str | None, days_old: float = 400, **kw: Any) -> Image:
    tags = {} if disabled_at is None else {TAG_DISABLED_AT: disabled_at}
    return image("ami-old", days_old, "web-v1", state="disabled", tags=tags, **kw)


def test_an_image_disabled_by_someone_else_is_left_alone() -> None:
    d = _decide(_disabled(None))
    assert d.action is Action.KEEP
    assert d.reasons == (Reason("kept", "disabled by someone else", "no ami-hygiene:disabled-at tag"),)


@pytest.mark.parametrize("value", ["last tuesday", "2024-13-01", ""])
def test_an_unreadable_disabled_at_keeps_the_image_and_is_an_error(value: str) -> None:
    plan = _plan(_estate(*_newest(), _disabled(value)))
    d = _decision(plan, "ami-old")
    assert d.action is Action.KEEP
    assert d.reasons == (Reason("kept", "ami-hygiene:disabled-at", repr(value), "not an ISO 8601 time"),)
    assert plan.errors == (
        f"ami-old (web-v1): tag ami-hygiene:disabled-at={value!r} is not an ISO 8601 time; "
        "the image is kept until the tag is fixed",
    )


def test_a_disabled_image_is_kept_during_the_grace_period() -> None:
    d = _decide(_disabled("2024-05-20T06:00:00Z"))
    assert d.action is Action.KEEP
    assert d.reasons == (Reason("kept", "disabled on 2024-05-20", "due 2024-06-03", "14-day grace"),)


def test_a_disabled_image_is_deregistered_when_the_grace_ends() -> None:
    due = POLICY_NOW - timedelta(days=14)
    d = _decide(_disabled(due.isoformat(), snapshots=[SnapshotRef("snap-1", "/dev/xvda", 8)]))
    assert d.action is Action.DEREGISTER and d.pending_checks == ()
    assert d.reasons[0] == Reason("disabled by ami-hygiene on 2024-05-18", "14-day grace ended 2024-06-01")
    assert Reason("superseded", "3 newer available images", "family web") in d.reasons
    assert Reason("deregisters it now") in d.reasons and Reason("deletes", "snap-1", "8 GiB") in d.reasons
    assert d.snapshots == (SnapshotRef("snap-1", "/dev/xvda", 8),)


def test_one_second_before_the_grace_ends_the_image_stays() -> None:
    due = POLICY_NOW - timedelta(days=14) + timedelta(seconds=1)
    assert _decide(_disabled(due.isoformat())).action is Action.KEEP


@pytest.mark.parametrize(
    "value", ["2024-05-01", "2024-05-01T00:00:00", "20240501T000000Z", "2024-05-01T02:00:00+02:00"]
)
def test_disabled_at_takes_any_iso_8601_form_and_defaults_to_utc(value: str) -> None:
    d = _decide(_disabled(value), image_id="ami-old")
    assert d.action is Action.DEREGISTER
    assert d.reasons[0] == Reason("disabled by ami-hygiene on 2024-05-01", "14-day grace ended 2024-05-15")


def test_a_disabled_at_at_the_end_of_time_never_comes_due() -> None:
    d = _decide(_disabled("9999-12-31T00:00:00Z"))
    assert d.action is Action.KEEP
    assert d.reasons == (Reason("kept", "disabled on 9999-12-31", "due never", "14-day grace"),)


def test_a_disabled_image_is_deregistered_only_if_safe() -> None:
    used = {"ami-old": [Usage("ami-old", UsageKind.INSTANCE, "i-1", "stopped")]}
    d = _decide(_disabled("2024-01-01"), usages=used)
    assert d.action is Action.KEEP and d.reasons[0] == Reason("kept", "instance i-1", "stopped")


# -- rule 6: superseded available images ------------------------------------------------------


def test_a_young_superseded_image_gets_a_deprecation_date() -> None:
    d = _decide(image("ami-old", 10))
    assert d.action is Action.DEPRECATE
    assert d.deprecate_at == POLICY_NOW - timedelta(days=10) + timedelta(days=90)
    assert d.reasons == (
        Reason(
            "superseded by 3 newer images",
            "family web",
            "deprecation set for 2024-08-20",
            "created + 90 days",
        ),
        Reason("never launched"),
    )


def test_deprecation_ignores_usage_but_says_so() -> None:
    used = [Usage("ami-old", UsageKind.LAUNCH_TEMPLATE, f"lt-{n}", "$Default") for n in range(5)]
    d = _decide(
        image("ami-old", 10, last_launched=POLICY_NOW - timedelta(days=1)),
        usages={"ami-old": used},
        unread={"ssm-parameter": "AccessDenied"},
        sharing_read=False,
    )
    assert d.action is Action.DEPRECATE and d.pending_checks == ()
    assert Reason("last launched 2024-05-31") in d.reasons
    # The usage it ignores is named, the first three of five and how many more.
    assert Reason("deprecation", "usage does not stop it", "lt-0", "lt-1", "lt-2", "and 2 more") in d.reasons
    assert not any("lt-3" in r for r in d.reasons)


def test_a_public_image_is_never_deprecated_past_two_years_after_creation() -> None:
    # EnableImageDeprecation: at most 2 years after creation for a public AMI.
    settings = _settings(retention_days=1000)
    d = _decision(_plan(_estate(*_newest(), image("ami-old", 600, public=True)), settings), "ami-old")
    assert d.action is Action.DEPRECATE
    assert d.deprecate_at == POLICY_NOW - timedelta(days=600) + timedelta(days=730)
    assert d.reasons[0] == Reason("capped at 2 years after creation")


def test_a_public_image_past_its_two_years_gets_no_deprecation() -> None:
    settings = _settings(retention_days=1000)
    d = _decision(_plan(_estate(*_newest(), image("ami-old", 800, public=True)), settings), "ami-old")
    assert d.action is Action.KEEP and d.deprecate_at is None
    assert d.reasons[0] == Reason("2 years after its creation", "past")


def test_a_private_image_is_never_deprecated_past_ten_years_from_now() -> None:
    # An image stamped in the future (a skewed clock) would ask for more than EC2's 10 years.
    settings = _settings(retention_days=3650)
    newer = [image(f"ami-web-new{n}", -6 - n, f"web-v9{n}") for n in range(3)]
    d = _decision(_plan(_estate(*newer, image("ami-old", -5)), settings), "ami-old")
    assert d.action is Action.DEPRECATE and d.deprecate_at == POLICY_NOW + timedelta(days=3650)


def test_a_later_deprecation_is_brought_forward() -> None:
    d = _decide(image("ami-old", 10, deprecation_time=POLICY_NOW + timedelta(days=365)))
    assert d.action is Action.DEPRECATE and d.deprecate_at == POLICY_NOW + timedelta(days=80)
    assert Reason("brings the deprecation forward", "2025-06-01") in d.reasons


def test_an_earlier_deprecation_is_left_as_it_is() -> None:
    d = _decide(image("ami-old", 10, deprecation_time=POLICY_NOW - timedelta(days=5)))
    assert d.action is Action.KEEP
    assert d.reasons == (Reason("kept", "already deprecated from 2024-05-27", "90 days (2024-08-20)"),)


def test_a_deprecation_already_set_for_the_retirement_is_left_as_it_is() -> None:
    d = _decide(image("ami-old", 10, deprecation_time=POLICY_NOW + timedelta(days=80)))
    assert d.action is Action.KEEP
    assert d.reasons == (Reason("kept", "deprecation already set for 2024-08-20", "90 days (2024-08-20)"),)


def test_an_image_exactly_retention_days_old_is_disabled() -> None:
    assert _decide(image("ami-old", 90)).action is Action.DISABLE
    assert _decide(image("ami-old", 90 - 1 / 86400)).action is Action.DEPRECATE


def test_an_old_superseded_unused_image_is_disabled_with_every_reason() -> None:
    d = _decide(
        image(
            "ami-old",
            152,
            snapshots=[SnapshotRef("snap-1", "/dev/xvda", 8)],
            last_launched=datetime(2024, 1, 5, tzinfo=UTC),
        )
    )
    assert d.action is Action.DISABLE and d.outcome is Outcome.PLANNED and d.pending_checks == ()
    assert d.snapshots == ()  # snapshots go only with deregistration
    assert d.reasons == (
        Reason("superseded", "3 newer available images", "family web"),
        Reason("created 2024-01-01", "90-day retention"),
        Reason(
            "not used by any",
            "instance",
            "launch template",
            "launch configuration",
            "SSM parameter",
            "reference",
        ),
        Reason("last launched 2024-01-05"),
        Reason("not shared"),
        Reason("disables it now", "deregistration follows 14 days later"),
    )


def test_with_no_grace_an_old_image_is_deregistered_at_once() -> None:
    old = image("ami-old", 400, snapshots=[SnapshotRef("snap-1", "/dev/xvda", 8)])
    plan = _plan(_estate(*_newest(), old), _settings(disable_grace_days=0))
    d = _decision(plan, "ami-old")
    assert d.action is Action.DEREGISTER
    assert Reason("deregisters it at once", "DisableGraceDays is 0") in d.reasons
    assert d.snapshots == (SnapshotRef("snap-1", "/dev/xvda", 8),)
    plan = _plan(_estate(*_newest(), old), _settings(disable_grace_days=1))
    assert _decision(plan, "ami-old").action is Action.DISABLE


def test_without_image_references_the_reason_says_what_was_not_checked() -> None:
    d = _decide(image("ami-old", 400), references_checked=False)
    assert d.action is Action.DISABLE
    assert (
        Reason("not used by", "SSM parameter", "references", "unknown", "DescribeImageReferences")
        in d.reasons
    )


# -- rule 7: safety checks before disabling or deregistering ----------------------------------


@pytest.mark.parametrize(
    ("usage", "reason"),
    [
        (
            Usage("ami-old", UsageKind.INSTANCE, "i-0abc", "running"),
            Reason("kept", "instance i-0abc", "running"),
        ),
        (
            Usage("ami-old", UsageKind.LAUNCH_TEMPLATE, "lt-0abc", "$Default"),
            Reason("kept", "launch template lt-0abc", "$Default"),
        ),
        (
            Usage(
                "ami-old", UsageKind.LAUNCH_TEMPLATE, "lt-0abc", "version 2, pinned by Auto Scaling group web"
            ),
            Reason("kept", "launch template lt-0abc", "version 2", "Auto Scaling group web"),
        ),
        (
            Usage("ami-old", UsageKind.LAUNCH_CONFIGURATION, "app-legacy"),
            Reason("kept", "launch configuration app-legacy"),
        ),
        (
            Usage("ami-old", UsageKind.SSM_PARAMETER, "/golden/web"),
            Reason("kept", "SSM parameter /golden/web"),
        ),
        (
            Usage("ami-old", UsageKind.IMAGE_REFERENCE, "lt-9", "ec2:LaunchTemplate"),
            Reason("kept", "lt-9", "ec2:LaunchTemplate"),
        ),
    ],
    ids=[
        "instance",
        "launch-template",
        "pinned-launch-template",
        "launch-configuration",
        "ssm-parameter",
        "reference",
    ],
)
def test_an_image_in_use_is_kept(usage: Usage, reason: Reason) -> None:
    d = _decide(image("ami-old", 400), usages={"ami-old": [usage]})
    assert d.action is Action.KEEP and d.reasons[0] == reason


def test_an_image_launched_within_the_retention_window_is_kept() -> None:
    d = _decide(image("ami-old", 400, last_launched=datetime(2024, 5, 1, tzinfo=UTC)))
    assert d.action is Action.KEEP
    assert d.reasons[0] == Reason("kept", "launched 2024-05-01", "90-day retention window")


def test_a_launch_exactly_retention_days_ago_no_longer_protects() -> None:
    assert (
        _decide(image("ami-old", 400, last_launched=POLICY_NOW - timedelta(days=90))).action is Action.DISABLE
    )
    launched = POLICY_NOW - timedelta(days=90) + timedelta(seconds=1)
    assert _decide(image("ami-old", 400, last_launched=launched)).action is Action.KEEP


def test_an_unread_usage_source_stops_every_retirement() -> None:
    unread = {"ssm-parameter": "AccessDenied", "auto-scaling": "Throttling"}
    d = _decide(image("ami-old", 400), unread=unread)
    assert d.action is Action.KEEP
    assert d.reasons[:2] == (
        Reason("kept", "could not read auto-scaling", "Throttling", "usage is unknown"),
        Reason("kept", "could not read ssm-parameter", "AccessDenied", "usage is unknown"),
    )


@pytest.mark.parametrize(
    ("sharing", "reason"),
    [
        (Sharing(public=True), Reason("kept", "public")),
        (
            Sharing(accounts=frozenset({FOREIGN})),
            Reason("kept", f"shared with {FOREIGN}", "not on the allow-list"),
        ),
        (
            Sharing(accounts=frozenset({FOREIGN, ALLOWED, "444455556666"})),
            Reason("kept", f"shared with 444455556666, {FOREIGN}", "not on the allow-list"),
        ),
        (
            Sharing(organizations=frozenset({"arn:aws:organizations::123456789012:organization/o-x"})),
            Reason("kept", "arn:aws:organizations::123456789012:organization/o-x", "not on the allow-list"),
        ),
        (
            Sharing(error="UnauthorizedOperation: no"),
            Reason("kept", "launch permissions could not be read", "UnauthorizedOperation: no"),
        ),
    ],
    ids=["public", "foreign-account", "foreign-accounts", "foreign-organization", "unreadable"],
)
def test_an_image_shared_outside_the_allow_list_or_unreadable_is_kept(
    sharing: Sharing, reason: Reason
) -> None:
    d = _decide(image("ami-old", 400), sharing={"ami-old": sharing})
    assert d.action is Action.KEEP and d.reasons[0] == reason


def test_an_image_known_public_from_describe_images_is_kept_before_sharing_is_read() -> None:
    d = _decide(image("ami-old", 400, public=True), sharing_read=False)
    assert d.action is Action.KEEP and d.reasons[0] == Reason("kept", "public") and d.pending_checks == ()


def test_an_image_shared_only_with_the_allow_list_is_retired_when_unknown_use_may_retire() -> None:
    estate = _estate(
        *_newest(), image("ami-old", 400), sharing={"ami-old": Sharing(accounts=frozenset({ALLOWED}))}
    )
    d = _decision(_plan(estate, _settings(consumer_usage_unknown=ConsumerUsageUnknown.RETIRE)), "ami-old")
    assert d.action is Action.DISABLE and d.shared_with == (ALLOWED,) and d.pending_checks == ()
    assert Reason(f"shared only with allow-listed {ALLOWED}", "lose access") in d.reasons
    assert (
        Reason(f"use by {ALLOWED} not checked", "no ConsumerRoleName", "ConsumerUsageUnknown=retire")
        in d.reasons
    )


def test_an_image_shared_with_more_principals_than_the_record_holds_is_kept() -> None:
    # DisableImage drops launch permissions for good; restore needs the record (8 tags of 256 chars).
    many = frozenset(f"{n:012d}" for n in range(200))
    estate = _estate(*_newest(), image("ami-old", 400), sharing={"ami-old": Sharing(accounts=many)})
    d = _decision(_plan(estate, _settings(allowed_share_accounts=many)), "ami-old")
    assert d.action is Action.KEEP
    assert d.reasons[0] == Reason("kept", "200 allow-listed principals", "more than 8 tags can record")


def test_an_image_not_shared_carries_no_record() -> None:
    d = _decide(image("ami-old", 400), sharing={"ami-old": Sharing()})
    assert d.action is Action.DISABLE and d.shared_with == ()


def test_unread_launch_permissions_leave_the_action_pending() -> None:
    d = _decide(image("ami-old", 400), sharing_read=False)
    assert d.action is Action.DISABLE and d.pending_checks == (PENDING_SHARING,) == ("launch permissions",)
    assert Reason("launch permissions not read yet", "checked before anything changes") in d.reasons


def test_a_disabled_image_due_for_deregistration_also_waits_for_launch_permissions() -> None:
    d = _decide(_disabled("2024-01-01"), sharing_read=False)
    assert d.action is Action.DEREGISTER and d.pending_checks == ("launch permissions",)


def test_a_kept_image_has_no_pending_checks_even_when_sharing_is_unread() -> None:
    d = _decide(image("ami-old", 400, last_launched=POLICY_NOW), sharing_read=False)
    assert d.action is Action.KEEP and d.pending_checks == ()


def test_every_obstacle_is_reported_together_with_the_facts() -> None:
    d = _decide(
        image("ami-old", 400, public=True, last_launched=datetime(2024, 5, 1, tzinfo=UTC)),
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
        Reason("kept", "instance i-1", "stopped"),
        Reason("kept", "SSM parameter /golden/web"),
        Reason("kept", "launched 2024-05-01", "90-day retention window"),
        Reason("kept", "could not read launch-configuration", "AccessDenied"),
        Reason("kept", "public"),
        Reason("kept", "launch permissions could not be read", "Throttling"),
        Reason("kept", f"shared with {FOREIGN}", "not on the allow-list"),
        Reason("superseded", "3 newer available images", "family web"),
        Reason("created 2023-04-28", "90-day retention"),
    )


# -- consumers: the accounts an image is shared with -------------------------------------------

CONSUMER = "444455556666"
ORG = "arn:aws:organizations::123456789012:organization/o-abc123"
WITH_ROLE = _settings(consumer_role_name="ami-hygiene-consumer")
SHARED = {"ami-old": Sharing(accounts=frozenset({ALLOWED}))}


def _consumer_decision(settings: Settings = WITH_ROLE, **kw: Any) -> Decision:
    estate = _estate(*_newest(), image("ami-old", 400), **{"sharing": SHARED, **kw})
    return _decision(_plan(estate, settings), "ami-old")


def test_without_a_consumer_role_an_allow_listed_share_is_kept_by_default() -> None:
    d = _consumer_decision(SETTINGS)
    assert d.action is Action.KEEP and d.pending_checks == ()
    assert d.reasons[0] == Reason(
        "kept",
        f"shared with {ALLOWED}",
        "use of it is unknown",
        "no ConsumerRoleName",
        "ConsumerUsageUnknown=retire",
    )
    assert (
        _plan(_estate(*_newest(), image("ami-old", 400), sharing=SHARED)).errors == ()
    )  # a setting, not an error


def test_an_organization_share_without_a_consumer_role_is_kept_by_default() -> None:
    d = _consumer_decision(
        _settings(allowed_share_accounts=frozenset({ORG})),
        sharing={"ami-old": Sharing(organizations=frozenset({ORG}))},
    )
    assert d.action is Action.KEEP and d.reasons[0] == Reason(
        "kept", f"shared with {ORG}", "use of it is unknown"
    )


def test_with_a_consumer_role_an_allow_listed_share_waits_for_its_consumers() -> None:
    d = _consumer_decision()
    assert d.action is Action.DISABLE and d.pending_checks == (PENDING_CONSUMERS,) == ("consumer usage",)
    assert Reason(f"use by {ALLOWED} not read yet", "checked before anything changes") in d.reasons


def test_an_unshared_image_needs_no_consumer_check() -> None:
    d = _consumer_decision(sharing={"ami-old": Sharing()})
    assert d.action is Action.DISABLE and d.pending_checks == ()
    assert not any("consumer" in r for r in d.reasons)


def test_an_image_no_consumer_uses_is_retired_and_says_who_was_checked() -> None:
    d = _consumer_decision(consumers={"ami-old": ConsumerCheck(checked=(ALLOWED,))})
    assert d.action is Action.DISABLE and d.pending_checks == ()
    assert Reason("consumers checked", ALLOWED, "none uses it") in d.reasons
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
    assert d.reasons[0] == Reason(
        "kept", "launch template lt-0abc", "version 3, $Default", f"account {ALLOWED}"
    )
    assert Reason("consumers checked", f"{ALLOWED} (uses it)", f"no use found in {CONSUMER}") in d.reasons
    assert d.details()["consumers"]["using"] == [ALLOWED]


def test_an_unknown_consumer_keeps_the_image_and_is_an_error() -> None:
    why = f"could not assume arn:aws:iam::{ALLOWED}:role/ami-hygiene-consumer (AccessDenied: no)"
    estate = _estate(
        *_newest(),
        image("ami-old", 400),
        sharing=SHARED,
        consumers={"ami-old": ConsumerCheck(unknown={ALLOWED: why})},
    )
    plan = _plan(estate, WITH_ROLE)
    d = _decision(plan, "ami-old")
    assert d.action is Action.KEEP and d.reasons[0] == Reason("kept", f"account {ALLOWED}", "unknown", why)
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
    assert d.action is Action.KEEP and d.reasons[0] == Reason(
        "kept", f"the accounts of {ORG}", "unknown", why
    )


def test_one_unknown_consumer_is_one_error_however_many_images_share_it() -> None:
    images = [image(f"ami-old{n}", 400 + n) for n in range(3)]
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
            image("ami-old", 400, snapshots=[own, shared, foreign_shared]),
            image("ami-copy", 1, "copy-v1", state="pending", snapshots=[shared]),
            image("ami-other", 1, "copy-v2", snapshots=[shared]),
            image("ami-theirs", 1, "theirs-v1", owner=FOREIGN, snapshots=[foreign_shared]),
        ),
        _settings(disable_grace_days=0),
    )
    d = _decision(plan, "ami-old")
    assert d.action is Action.DEREGISTER and d.snapshots == (own,)
    assert d.reasons[-3:] == (
        Reason("deletes snap-own", "8 GiB"),
        Reason("keeps snap-shared", "also used by ami-copy, ami-other"),
        Reason("keeps snap-foreign", "also used by ami-theirs"),
    )


def test_a_snapshot_two_old_images_share_stays_even_when_both_go() -> None:
    shared = SnapshotRef("snap-shared", "/dev/xvda", 16)
    plan = _plan(
        _estate(
            *_newest(),
            image("ami-old", 400, snapshots=[shared]),
            image("ami-older", 500, snapshots=[shared]),
        ),
        _settings(disable_grace_days=0),
    )
    assert [_decision(plan, i).snapshots for i in ("ami-old", "ami-older")] == [(), ()]


def test_an_image_without_snapshots_says_so() -> None:
    d = _decide(_disabled("2024-01-01"))
    assert d.snapshots == () and d.reasons[-1] == Reason("no EBS snapshots")


def test_a_snapshot_listed_twice_is_deleted_once() -> None:
    snap = SnapshotRef("snap-1", "/dev/xvda", 8)
    d = _decide(_disabled("2024-01-01", snapshots=[snap, SnapshotRef("snap-1", "/dev/xvdb", 8)]))
    assert d.snapshots == (snap,)


# -- rule 9: the action budget and the order of decisions -------------------------------------


def _backlog() -> RegionEstate:
    return _estate(
        *_newest(),
        image("ami-young2", 20),
        image("ami-young1", 30),  # deprecate
        image("ami-old2", 200),
        image("ami-old1", 300),  # disable
        image("ami-dis2", 400, state="disabled", tags={TAG_DISABLED_AT: "2024-01-01"}),  # deregister
        image("ami-dis1", 500, state="disabled", tags={TAG_DISABLED_AT: "2024-01-01"}),
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
    assert d.reasons[-1] == Reason("deferred", "MaxActionsPerRun (5)", "next run")


def test_a_budget_left_over_from_earlier_regions_is_named() -> None:
    plan = _plan(_backlog(), budget=2)
    deferred = [d for d in plan.decisions if d.outcome is Outcome.DEFERRED]
    assert deferred[0].reasons[-1] == Reason(
        "deferred", "MaxActionsPerRun (100)", "2 left for eu-west-1 after earlier regions", "next run"
    )


def test_a_deferred_action_keeps_its_pending_checks() -> None:
    plan = _plan(_estate(*_newest(), image("ami-old", 400), sharing_read=False), budget=0)
    d = _decision(plan, "ami-old")
    assert d.outcome is Outcome.DEFERRED and d.pending_checks == ("launch permissions",)


def test_decisions_are_ordered_by_family_then_newest_first() -> None:
    plan = _plan(
        _estate(
            image("ami-w1", 5, "web-v1"),
            image("ami-a1", 50, "app-v1"),
            image("ami-w2", 1, "web-v2"),
            image("ami-a2", 3, "app-v2"),
            image("ami-x", 9, "web-v9", owner=FOREIGN),
        )
    )
    assert [d.image_id for d in plan.decisions] == ["ami-a2", "ami-a1", "ami-w2", "ami-w1", "ami-x"]
    assert plan.job == "rotate" and plan.region == REGION


def test_every_decision_carries_the_image_facts() -> None:
    old = image("ami-old", 400, "web-v1")
    d = _decide(old)
    assert (d.image_id, d.region, d.family, d.name, d.created) == (
        "ami-old",
        REGION,
        "web",
        "web-v1",
        old.creation_date,
    )


def test_an_empty_estate_gives_an_empty_plan() -> None:
    assert _plan(_estate()) == Plan(job="rotate", region=REGION, decisions=())


def test_one_newer_image_is_counted_in_the_singular() -> None:
    plan = _plan(
        _estate(image("ami-new", 1), image("ami-young", 10), image("ami-old", 400)),
        _settings(keep_latest=1),
    )
    assert _decision(plan, "ami-young").reasons[0].startswith("superseded by 1 newer image of family web;")
    assert "superseded: 2 newer available images in family web" in _decision(plan, "ami-old").reasons
    plan = _plan(_estate(image("ami-new", 1), image("ami-old", 400)), _settings(keep_latest=1))
    assert _decision(plan, "ami-old").reasons[0] == "superseded: 1 newer available image in family web"


# -- escalation from the tag job -------------------------------------------------------------


def test_an_escalated_non_compliant_image_is_retired_early_with_every_safety_check() -> None:
    rules = parse_required_tags("Owner")
    settings = replace(SETTINGS, required_tags=rules)
    marker = {TAG_ESCALATED_AT: "2024-05-25T00:00:00Z"}
    young = image("ami-esc", 10, tags=marker)
    fixed = image("ami-fixed", 10, tags={**marker, "Owner": "alice"})
    used = image("ami-used", 10, tags=marker)
    usage = Usage("ami-used", UsageKind.INSTANCE, "i-0abc", "running")
    plan = plan_rotation(
        _estate(young, fixed, used, *_newest(), usages={"ami-used": [usage]}), settings, POLICY_NOW, 100
    )
    got = {d.image_id: d for d in plan.decisions}
    assert got["ami-esc"].action is Action.DISABLE
    assert (
        Reason("escalated by the tag job", "2024-05-25T00:00:00Z", "missing Owner") in got["ami-esc"].reasons
    )
    # Compliant again: the marker is ignored and the usual young-image deprecation applies.
    assert got["ami-fixed"].action is Action.DEPRECATE
    # A safety rule still keeps it.
    assert got["ami-used"].action is Action.KEEP
    assert Reason("kept", "instance i-0abc", "running") in got["ami-used"].reasons


def test_an_escalated_image_among_the_newest_is_kept() -> None:
    settings = replace(SETTINGS, required_tags=parse_required_tags("Owner"))
    newest = image("ami-only", 400, tags={TAG_ESCALATED_AT: "2024-05-25T00:00:00Z"})
    (decision,) = plan_rotation(_estate(newest), settings, POLICY_NOW, 100).decisions
    assert decision.action is Action.KEEP
