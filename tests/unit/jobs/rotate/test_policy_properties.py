"""Rotation, by property: every "never" of the safety rules, over random estates.

Each property checks one rule against its own reading of the estate, so a
policy that broke the rule (or dropped the check) fails it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ami_hygiene.core.estate import TAG_DISABLED_AT, TAG_ESCALATED_AT, TAG_RETAIN, Image, RegionEstate
from ami_hygiene.core.families import FamilyTagError, family_of
from ami_hygiene.core.plan import Action, Decision, Outcome, Plan
from ami_hygiene.core.tag_rules import problems
from ami_hygiene.jobs.rotate.policy import ACTION_PRIORITY, plan_rotation
from ami_hygiene.jobs.settings import ConsumerUsageUnknown, Settings
from tests.helpers.constants import ALLOWED
from tests.helpers.reasons import Reason, has_reason
from tests.helpers.strategies import (
    EDGE_KINDS,
    ORG_ARN,
    budgets,
    critical_moments,
    estates,
    nows_for,
    rotation_settings,
)

RETIRING = (Action.DISABLE, Action.DEREGISTER)
PROPERTY = hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Case:
    estate: RegionEstate
    settings: Settings
    now: datetime
    budget: int

    def plan(self) -> Plan:
        return plan_rotation(self.estate, self.settings, self.now, self.budget)

    def image(self, decision: Decision) -> Image:
        (found,) = [i for i in self.estate.images if i.image_id == decision.image_id]
        return found

    def pairs(self) -> list[tuple[Decision, Image]]:
        return [(d, self.image(d)) for d in self.plan().decisions]

    def on_edges(self, *kinds: str) -> list[Case]:
        """This case, and the same at every moment a rule of `kinds` flips, and a second either side.

        Planning is cheap next to drawing an estate, so one estate checks many clocks.
        """
        moments = critical_moments(self.estate, self.settings, kinds)
        return [self] + [replace(self, now=m + timedelta(seconds=s)) for m in moments for s in (-1, 0, 1)]


@st.composite
def cases(draw: st.DrawFn, edges: tuple[str, ...] = EDGE_KINDS) -> Case:
    """An estate, settings, a budget, and a clock often right on one of the `edges` of a rule."""
    estate = draw(estates())
    settings = draw(rotation_settings())
    return Case(estate, settings, draw(nows_for(estate, settings, edges)), draw(budgets()))


def _family(image: Image) -> str | None:
    try:
        return family_of(image)
    except FamilyTagError:
        return None


def _tag_time(image: Image) -> datetime | None:
    try:
        moment = datetime.fromisoformat(image.tags.get(TAG_DISABLED_AT, ""))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- safety rule 1 ------------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_never_acts_on_an_image_of_another_account(case: Case) -> None:
    for d, image in case.pairs():
        if image.owner_id != case.estate.account_id:
            assert d.action is Action.KEEP, d


# -- safety rule 2 ------------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_never_retires_an_image_in_use(case: Case) -> None:
    for d in case.plan().decisions:
        if case.estate.usages_of(d.image_id):
            assert d.action not in RETIRING, d


@PROPERTY
@given(cases(edges=("launch",)))
def test_never_retires_an_image_launched_within_the_retention_window(case: Case) -> None:
    for at in case.on_edges("launch"):
        for d, image in at.pairs():
            if image.last_launched is not None and at.now - image.last_launched < at.settings.retention:
                assert d.action not in RETIRING, (at.now, d)


@PROPERTY
@given(cases())
def test_never_acts_on_the_newest_available_images_of_a_family(case: Case) -> None:
    families: dict[str, list[Image]] = {}
    for image in case.estate.images:
        family = _family(image)
        if image.owner_id == case.estate.account_id and image.is_available and family is not None:
            families.setdefault(family, []).append(image)
    decisions = {d.image_id: d for d in case.plan().decisions}
    for members in families.values():
        newest = sorted(members, key=lambda i: (i.creation_date, i.image_id), reverse=True)
        for image in newest[: case.settings.keep_latest]:
            assert decisions[image.image_id].action is Action.KEEP, decisions[image.image_id]


@PROPERTY
@given(cases())
def test_exactly_keep_latest_images_of_each_family_are_kept_as_the_newest(case: Case) -> None:
    """The converse of the rule above: ties are broken, so no family keeps more than it should."""
    families: Counter[str] = Counter()
    for image in case.estate.images:
        family = _family(image)
        if image.owner_id == case.estate.account_id and image.is_available and family is not None:
            families[family] += 1
    newest = Counter(d.family for d in case.plan().decisions if has_reason(d, "newest available image"))
    assert newest == Counter({f: min(n, case.settings.keep_latest) for f, n in families.items()})


@PROPERTY
@given(cases())
def test_never_acts_on_a_retained_image(case: Case) -> None:
    for d, image in case.pairs():
        retain = image.tags.get(TAG_RETAIN)
        if retain is not None and retain.lower() != "false":
            assert d.action is Action.KEEP, d


@PROPERTY
@given(cases())
def test_never_acts_on_a_deregistration_protected_image(case: Case) -> None:
    for d, image in case.pairs():
        if image.deregistration_protected:
            assert d.action is Action.KEEP, d


@PROPERTY
@given(cases())
def test_never_retires_a_public_image(case: Case) -> None:
    for d, image in case.pairs():
        sharing = case.estate.sharing.get(image.image_id)
        if image.public or (sharing is not None and sharing.public):
            assert d.action not in RETIRING, d


@PROPERTY
@given(cases())
def test_never_retires_an_image_shared_outside_the_allow_list(case: Case) -> None:
    for d in case.plan().decisions:
        sharing = case.estate.sharing.get(d.image_id)
        if sharing is not None and sharing.foreign(case.settings.allowed_share_accounts):
            assert d.action not in RETIRING, d


@PROPERTY
@given(cases())
def test_never_retires_an_image_whose_launch_permissions_could_not_be_read(case: Case) -> None:
    for d in case.plan().decisions:
        sharing = case.estate.sharing.get(d.image_id)
        if sharing is not None and sharing.error:
            assert d.action not in RETIRING, d


@PROPERTY
@given(cases())
def test_never_retires_anything_while_a_usage_source_is_unread(case: Case) -> None:
    unread = {**case.estate.unread_sources, "launch-configuration": "AccessDenied"}
    for c in (case, replace(case, estate=replace(case.estate, unread_sources=unread))):
        if c.estate.unread_sources:
            assert not [d for d in c.plan().decisions if d.action in RETIRING]


@PROPERTY
@given(cases())
def test_a_retirement_before_launch_permissions_or_consumers_are_read_is_always_pending(case: Case) -> None:
    for d in case.plan().decisions:
        if d.action in RETIRING and d.image_id not in case.estate.sharing:
            assert d.pending_checks == ("launch permissions",), d
        elif (
            d.action in RETIRING
            and _consumers_to_read(case, d.image_id)
            and d.image_id not in case.estate.consumers
        ):
            assert d.pending_checks == ("consumer usage",), d
        else:
            assert d.pending_checks == (), d


def _allowed_shares(case: Case, image_id: str) -> frozenset[str]:
    sharing = case.estate.sharing.get(image_id)
    if sharing is None:
        return frozenset()
    principals = sharing.accounts | sharing.organizations | sharing.organizational_units
    return principals & case.settings.allowed_share_accounts


def _consumers_to_read(case: Case, image_id: str) -> bool:
    return bool(case.settings.consumer_role_name and _allowed_shares(case, image_id))


# -- consumers: the accounts an image is shared with ---------------------------------------------


@PROPERTY
@given(cases())
def test_never_retires_an_image_a_consumer_uses(case: Case) -> None:
    allow_all = case.settings.allowed_share_accounts | {ALLOWED, ORG_ARN}
    for c in (case, replace(case, settings=replace(case.settings, allowed_share_accounts=allow_all))):
        for d in c.plan().decisions:
            if any(u.account for u in c.estate.usages_of(d.image_id)):
                assert d.action not in RETIRING, d


@PROPERTY
@given(cases())
def test_never_retires_a_shared_image_while_a_consumer_s_use_is_unknown(case: Case) -> None:
    """Shared with the allow-list: retired only once every consumer was read (or the setting says retire)."""
    allow_all = case.settings.allowed_share_accounts | {ALLOWED, ORG_ARN}
    variants = (
        case,
        replace(case, settings=replace(case.settings, consumer_role_name="")),
        # Every consumer trouble drawn counts: a role to read them, every share allow-listed.
        replace(
            case, settings=replace(case.settings, consumer_role_name="r", allowed_share_accounts=allow_all)
        ),
    )
    for c in variants:
        for d in c.plan().decisions:
            if d.action not in RETIRING or not _allowed_shares(c, d.image_id):
                continue
            if not c.settings.consumer_role_name:
                assert c.settings.consumer_usage_unknown is ConsumerUsageUnknown.RETIRE, d
                continue
            check = c.estate.consumers.get(d.image_id)
            if check is None:
                assert d.pending_checks == ("consumer usage",), d  # the executor never applies it
            else:
                assert not check.unknown, d


@PROPERTY
@given(cases())
def test_every_unknown_consumer_is_an_error(case: Case) -> None:
    plan = case.plan()
    for check in case.estate.consumers.values():
        for who, why in check.unknown.items():
            assert any(who in e and why in e for e in plan.errors), (who, plan.errors)


@PROPERTY
@given(cases(edges=("retention",)))
def test_never_disables_an_image_younger_than_the_retention(case: Case) -> None:
    for at in case.on_edges("retention"):
        for d, image in at.pairs():
            if d.action is Action.DISABLE or (d.action is Action.DEREGISTER and image.is_available):
                if TAG_ESCALATED_AT in image.tags and problems(at.settings.required_tags, image.tags):
                    # The tag job's escalation: retired early, every other rule still applies.
                    assert has_reason(d, "escalated by the tag job"), d
                    continue
                assert at.now - image.creation_date >= at.settings.retention, (at.now, d)


@PROPERTY
@given(cases(edges=("grace",)))
def test_a_disabled_image_is_deregistered_only_after_the_grace(case: Case) -> None:
    shortest = replace(case, settings=replace(case.settings, disable_grace_days=1))  # the smallest real grace
    for at in case.on_edges("grace") + shortest.on_edges("grace"):
        for d, image in at.pairs():
            if d.action is not Action.DEREGISTER:
                continue
            if image.is_available:
                assert at.settings.disable_grace_days == 0, d  # no disabled stage only with no grace
                continue
            assert image.is_disabled, d
            disabled_at = _tag_time(image)
            assert disabled_at is not None and at.now >= disabled_at + at.settings.disable_grace, (at.now, d)


@PROPERTY
@given(cases())
def test_only_available_or_disabled_images_are_acted_on_and_each_stage_follows_the_last(case: Case) -> None:
    for d, image in case.pairs():
        if d.action in (Action.DEPRECATE, Action.DISABLE):
            assert image.is_available, d
        if d.action is Action.DEREGISTER:
            assert image.is_available or image.is_disabled, d


@PROPERTY
@given(cases(edges=("retention",)))
def test_deprecation_is_set_for_creation_plus_retention_and_only_ever_brought_forward(case: Case) -> None:
    for at in case.on_edges("retention"):
        for d, image in at.pairs():
            if d.action is Action.DEPRECATE:
                assert d.deprecate_at == image.creation_date + at.settings.retention, d
                assert d.deprecate_at > at.now, (at.now, d)
                assert image.deprecation_time is None or image.deprecation_time > d.deprecate_at, d
            else:
                assert d.deprecate_at is None, d


# -- safety rule 3 ------------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_never_deletes_a_snapshot_another_image_uses(case: Case) -> None:
    for d, image in case.pairs():
        own = {s.snapshot_id for s in image.snapshots}
        for snap in d.snapshots:
            assert snap.snapshot_id in own, d
            others = [
                other.image_id
                for other in case.estate.images
                if other.image_id != image.image_id
                and snap.snapshot_id in {s.snapshot_id for s in other.snapshots}
            ]
            assert others == [], (d, others)


@PROPERTY
@given(cases())
def test_snapshots_go_only_with_a_deregistration_and_then_all_that_only_it_uses(case: Case) -> None:
    used_by = Counter(s for i in case.estate.images for s in {s.snapshot_id for s in i.snapshots})
    for d, image in case.pairs():
        listed = [s.snapshot_id for s in d.snapshots]
        assert len(listed) == len(set(listed)), d
        if d.action is Action.DEREGISTER:
            assert set(listed) == {s.snapshot_id for s in image.snapshots if used_by[s.snapshot_id] == 1}, d
        else:
            assert listed == [], d


# -- safety rule 4: the budget ------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_never_more_actions_than_the_budget_and_the_most_useful_first(case: Case) -> None:
    """Checked at the drawn budget and at every budget from 0 to one more than the actions."""
    wanted = len(replace(case, budget=10**6).plan().actions)
    for budget in sorted({case.budget, *range(wanted + 2)}):
        _check_budget(replace(case, budget=budget).plan(), budget)


def _check_budget(plan: Plan, budget: int) -> None:
    actions = plan.actions
    planned = [d for d in actions if d.outcome is Outcome.PLANNED]
    deferred = [d for d in actions if d.outcome is Outcome.DEFERRED]
    assert len(planned) == min(budget, len(actions))
    assert len(planned) + len(deferred) == len(actions)
    assert all(d.outcome is Outcome.PLANNED for d in plan.decisions if not d.is_action)

    def key(d: Decision) -> tuple[int, datetime, str]:
        assert d.created is not None
        return (ACTION_PRIORITY[d.action], d.created, d.image_id)

    if planned and deferred:
        assert max(map(key, planned)) < min(map(key, deferred)), (budget, planned, deferred)
    assert all(d.reasons[-1] == Reason("MaxActionsPerRun") for d in deferred)


# -- safety rule 5: bad input changes nothing ---------------------------------------------------


@PROPERTY
@given(cases())
def test_a_bad_control_tag_keeps_the_image_and_is_reported(case: Case) -> None:
    plan = case.plan()
    for d, image in case.pairs():
        if image.owner_id != case.estate.account_id:
            continue
        retain = image.tags.get(TAG_RETAIN)
        bad_retain = retain is not None and retain.lower() not in ("true", "false")
        if bad_retain or _family(image) is None:
            assert d.action is Action.KEEP, d
            assert any(image.image_id in error for error in plan.errors), (d, plan.errors)


# -- the plan as a whole ------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_every_image_gets_exactly_one_decision_with_reasons(case: Case) -> None:
    plan = case.plan()
    assert Counter(d.image_id for d in plan.decisions) == Counter(i.image_id for i in case.estate.images)
    for d, image in case.pairs():
        assert d.reasons and all(isinstance(r, str) and r.strip() for r in d.reasons), d
        assert (d.region, d.name, d.created) == (image.region, image.name, image.creation_date)
    assert plan.job == "rotate" and plan.region == case.estate.region


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_the_plan_depends_on_the_estate_not_on_the_order_it_was_read_in(case: Case, rnd: object) -> None:
    first = case.plan()
    assert case.plan() == first
    shuffled = list(case.estate.images)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert replace(case, estate=replace(case.estate, images=tuple(shuffled))).plan() == first
