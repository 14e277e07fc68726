"""The forecast, by property: over random estates and schedules, the future keeps the safety rules.

Each forecast runs the pure policy (`plan_rotation`) on an estate whose launch permissions
were all read (the drawn ones, else shared with no one), so every action a run plans is
taken unless the budget defers it or a consumer check is still pending. Each property
replays the forecast's events on its own reading of the estate, so a simulation that
applied an action wrongly (or not at all) shows up as a rule broken on a later run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from itertools import groupby

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ami_hygiene.core.estate import Image, RegionEstate, Sharing, SnapshotRef
from ami_hygiene.core.families import FamilyTagError, family_of
from ami_hygiene.core.plan import Action, Outcome, Plan
from ami_hygiene.jobs.rotate.forecast import Event, Forecast, NewImages, simulate
from ami_hygiene.jobs.rotate.policy import plan_rotation
from ami_hygiene.jobs.rotate.schedule import DEFAULT_SCHEDULE, parse_schedule
from ami_hygiene.jobs.settings import Settings
from tests.helpers import builders
from tests.helpers.strategies import estates, nows_for, rotation_settings

PROPERTY = hypothesis_settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RETIRING = (Action.DEPRECATE, Action.DISABLE, Action.DEREGISTER)
REMOVING = (Action.DISABLE, Action.DEREGISTER)  # what takes an image out of its family's available ones
# Daily (the stack's default), twice a day, weekly, and a rate that drifts against the days.
SCHEDULES = (DEFAULT_SCHEDULE, "rate(12 hours)", "cron(0 6 ? * MON *)", "rate(3 days)")


@dataclass(frozen=True)
class Case:
    estate: RegionEstate
    settings: Settings
    now: datetime
    days: int
    schedule: str
    new_images: NewImages

    @cached_property
    def runs(self) -> list[datetime]:
        """As the CLI runs it: now, then every scheduled run before the horizon's end."""
        later = parse_schedule(self.schedule).runs(self.now, self.now + timedelta(days=self.days))
        return [self.now, *(t for t in later if t > self.now)]

    @cached_property
    def forecast(self) -> Forecast:
        def planner(estate: RegionEstate, at: datetime, budget: int) -> tuple[Plan, RegionEstate]:
            return plan_rotation(estate, self.settings, at, budget), estate

        return simulate(
            [self.estate],
            self.settings,
            self.runs,
            planner,
            days=self.days,
            schedule=self.schedule,
            new_images=self.new_images,
        )

    def owned(self) -> dict[str, Image]:
        return {i.image_id: i for i in self.estate.images if i.owner_id == self.estate.account_id}


_PACED = st.tuples(st.integers(0, 6), st.integers(1, 20), st.integers(0, 20))


@st.composite
def cases(
    draw: st.DrawFn,
    new_images: tuple[NewImages, ...] = tuple(NewImages),
    all_read: tuple[bool, ...] = (True,),
) -> Case:
    """An estate (every image's launch permissions read, unless `all_read` may draw False), settings,
    a clock, a horizon and a schedule."""
    estate = draw(estates())
    settings = draw(rotation_settings())
    now = draw(nows_for(estate, settings))
    # The drawn families' images come at random times, so their pace is often none or stalled:
    # add one that builds regularly, so assumed images come, supersede and retire.
    count, every, since = draw(_PACED)
    paced = [
        builders.image(
            f"ami-paced-{n}",
            since % every + n * every,
            f"paced-v{count - n}",
            now=now,
            snapshots=[SnapshotRef(f"snap-paced-{n}", "/dev/xvda", 5)],
        )
        for n in range(count)
    ]
    # Launch permissions read for every image, so no decision waits for them; or as drawn
    # (some not read yet), so some wait and are never taken.
    images = (*estate.images, *paced)
    sharing = {i.image_id: estate.sharing.get(i.image_id, Sharing()) for i in images}
    if not draw(st.sampled_from(all_read)):
        sharing = dict(estate.sharing)
    return Case(
        replace(estate, images=images, sharing=sharing),
        settings,
        now,
        draw(st.integers(1, 100)),
        draw(st.sampled_from(SCHEDULES)),
        draw(st.sampled_from(new_images)),
    )


def _family(image: Image) -> str | None:
    """The family the policy ranks an image in; None: a bad family tag, never among the newest."""
    try:
        return family_of(image)
    except FamilyTagError:
        return None


@dataclass
class _Member:
    image_id: str
    created: datetime


def by_run(case: Case) -> Iterator[tuple[datetime, list[Event]]]:
    """Every run of the forecast with its events (none for a run that did nothing)."""
    groups = [(at, list(found)) for at, found in groupby(case.forecast.events, key=lambda e: e.at)]
    assert [at for at, _ in groups] == sorted({at for at, _ in groups})  # in run order, each run's together
    grouped = dict(groups)
    for run in case.runs:
        yield run, grouped.get(run, [])


def available_by_run(case: Case) -> Iterator[tuple[datetime, list[Event], dict[str, list[_Member]]]]:
    """Each run, its events, and the available images of each family as the run found them.

    Today's owned available images with a good family, less those the forecast disabled or
    deregistered on earlier runs, plus the assumed builds made by the run's time.
    """
    families: dict[str, list[_Member]] = defaultdict(list)
    for image in case.owned().values():
        family = _family(image)
        if image.is_available and family is not None:
            families[family].append(_Member(image.image_id, image.creation_date))
    builds = list(case.forecast.builds)
    for run, events in by_run(case):
        while builds and builds[0].at <= run:
            build = builds.pop(0)
            families[build.family].append(_Member(build.image_id, build.at))
        yield run, events, families
        gone = {e.image_id for e in events if e.action in REMOVING}
        for family, members in families.items():
            families[family] = [m for m in members if m.image_id not in gone]


def newest(members: list[_Member], keep: int) -> set[str]:
    ranked = sorted(members, key=lambda m: (m.created, m.image_id), reverse=True)
    return {m.image_id for m in ranked[:keep]}


# -- 1. day 0 is today's report -------------------------------------------------------------------


@PROPERTY
@given(cases(all_read=(True, False)))
def test_the_first_run_is_today_s_report_mode_plan(case: Case) -> None:
    f = case.forecast
    today = plan_rotation(case.estate, case.settings, case.now, case.settings.max_actions)
    assert f.first_plans == (today,)
    taken = Counter(
        (d.image_id, d.action)
        for d in today.decisions
        if d.action in RETIRING and d.outcome is Outcome.PLANNED and not d.pending_checks
    )
    assert Counter((e.image_id, e.action) for e in f.events if e.at == case.now) == taken
    assert f.runs[0] == f.start == case.now
    assert all(e.at in set(f.runs) for e in f.events)


# -- 2. never an image a safety rule keeps --------------------------------------------------------


@PROPERTY
@given(cases())
def test_never_disables_or_deregisters_an_image_a_safety_rule_keeps(case: Case) -> None:
    s, estate = case.settings, case.estate
    owned = case.owned()
    assumed = {b.image_id: b.family for b in case.forecast.builds}
    for run, events, families in available_by_run(case):
        for e in events:
            assert e.image_id in owned or e.image_id in assumed, e  # never another account's
            assert e.assumed == (e.image_id in assumed), e
            if e.action not in REMOVING:
                continue
            assert not estate.unread_sources, e
            family = _family(owned[e.image_id]) if e.image_id in owned else assumed[e.image_id]
            assert family is not None, e  # a bad family tag keeps an image
            assert e.image_id not in newest(families[family], s.keep_latest), (run, e)
            if e.image_id in assumed:
                continue  # unused, unshared, untagged: only the newest rule protects it
            image = owned[e.image_id]
            assert not estate.usages_of(e.image_id), e
            retain = image.tags.get("ami-hygiene:retain")
            assert retain is None or retain.lower() == "false", e
            assert not image.deregistration_protected, e
            sharing = estate.sharing[e.image_id]
            assert not (image.public or sharing.public or sharing.error), e
            assert not sharing.foreign(s.allowed_share_accounts), e
            assert image.last_launched is None or run - image.last_launched >= s.retention, e


# -- 3. the grace between disable and deregister ----------------------------------------------------


@PROPERTY
@given(cases())
def test_a_deregistration_comes_at_least_the_grace_after_the_disable(case: Case) -> None:
    grace = case.settings.disable_grace
    seen: dict[str, dict[Action, datetime]] = defaultdict(dict)
    for e in case.forecast.events:
        stages = seen[e.image_id]
        assert e.action not in stages, e  # each stage once
        assert Action.DEREGISTER not in stages, e  # nothing after the image is gone
        if e.action is Action.DISABLE:
            assert grace > timedelta(0), e  # no grace: no disabled stage
            assert Action.DEPRECATE not in stages or stages[Action.DEPRECATE] < e.at, e
        if e.action is Action.DEPRECATE:
            assert not stages, e  # only ever the first stage
        if e.action is Action.DEREGISTER and Action.DISABLE in stages:
            assert e.at - stages[Action.DISABLE] >= grace, (e, stages)
        elif e.action is Action.DEREGISTER:
            # Deregistered with no disable first: disabled before the forecast, or no grace.
            image = case.owned().get(e.image_id)
            assert grace == timedelta(0) or (image is not None and image.is_disabled), e
        stages[e.action] = e.at


# -- 4. a family never drops below KeepLatest ---------------------------------------------------------


@PROPERTY
@given(cases(new_images=(NewImages.NONE,)))
def test_without_new_images_a_family_never_drops_below_keep_latest(case: Case) -> None:
    assert case.forecast.builds == ()
    keep = case.settings.keep_latest
    before: dict[str, int] | None = None
    for _run, events, families in available_by_run(case):
        counts = {family: len(members) for family, members in families.items()}
        if before is None:
            before = counts
        for family, n in before.items():
            assert counts[family] >= min(keep, n), (family, counts, before)
        for e in events:
            assert e.action in RETIRING
    assert before is not None


# -- the totals add up -----------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_the_weeks_cover_the_horizon_and_add_up_to_the_events(case: Case) -> None:
    f = case.forecast
    weeks = f.weeks()
    assert weeks[0].start <= f.start.date() < weeks[0].start + timedelta(days=7)
    assert weeks[-1].start <= (f.end - timedelta(seconds=1)).date() < weeks[-1].start + timedelta(days=7)
    assert all(w.start.weekday() == 0 for w in weeks)
    assert [w.start for w in weeks] == [weeks[0].start + timedelta(days=7 * n) for n in range(len(weeks))]
    assert sum((w.counts for w in weeks), Counter()) == Counter(e.action for e in f.events)
    assert sum(w.gib for w in weeks) == f.gib_reclaimed == sum(e.gib for e in f.events)
    assert all(e.gib == 0 for e in f.events if e.action is not Action.DEREGISTER)
    assert f.monthly_saving_usd == round(f.gib_reclaimed * case.settings.price_per_gib_month, 2)


# -- the budget ------------------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_the_regions_share_one_budget_per_run_in_order(case: Case) -> None:
    """The same estate in two regions: each run takes at most MaxActionsPerRun in all, the first
    region first (its day-0 plan has the whole budget, the second what the first left)."""
    other = "us-east-1"
    second = replace(
        case.estate, region=other, images=tuple(replace(i, region=other) for i in case.estate.images)
    )
    f = simulate(
        [case.estate, second],
        case.settings,
        case.runs,
        lambda estate, at, budget: (plan_rotation(estate, case.settings, at, budget), estate),
        days=case.days,
        schedule=case.schedule,
        new_images=case.new_images,
    )
    assert all(n <= case.settings.max_actions for n in Counter(e.at for e in f.events).values())
    budget = case.settings.max_actions
    first = plan_rotation(case.estate, case.settings, case.now, budget)
    left = max(0, budget - first.budget_used())
    assert f.first_plans == (first, plan_rotation(second, case.settings, case.now, left))
