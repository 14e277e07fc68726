"""The forecast, by example: the rotate policy run forward over a daily schedule, no AWS.

Every example runs the pure policy (`plan_rotation`) on an estate whose launch
permissions were all read, so nothing waits for a check. Run 0 is the forecast's
start (now); the later runs are the default schedule's, 06:00 UTC every day. Expected
dates are worked out from the rules (creation + retention, disable + grace) and the
run times given, never read back from the forecast's events.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise

import pytest

from ami_hygiene.core.estate import (
    TAG_DISABLED_AT,
    TAG_RETAIN,
    ConsumerCheck,
    Image,
    ImageState,
    RegionEstate,
    Sharing,
    SnapshotRef,
    Usage,
    UsageKind,
)
from ami_hygiene.core.launch_record import TAG_LAUNCH_PERMISSIONS
from ami_hygiene.core.plan import Action, Outcome, Plan
from ami_hygiene.jobs.rotate.forecast import (
    JOB,
    Event,
    Forecast,
    NewImages,
    applied,
    scheduled_runs,
    simulate,
)
from ami_hygiene.jobs.rotate.policy import plan_rotation
from ami_hygiene.jobs.rotate.schedule import DEFAULT_SCHEDULE, parse_schedule
from ami_hygiene.jobs.rotate.settings import RotateJobSettings
from tests.helpers import builders
from tests.helpers.builders import decision
from tests.helpers.constants import ALLOWED, OTHER_REGION, REGION

# A Wednesday, mid-morning: run 0 is now, run 1 tomorrow 06:00, so "the first run at or
# after" a moment is rarely the moment itself, and the first week starts two days earlier.
NOW = datetime(2024, 6, 5, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)

SETTINGS = RotateJobSettings(
    regions=(REGION,),
    retention_days=30,
    keep_latest=2,
    disable_grace_days=7,
    max_actions=100,
    allowed_share_accounts=frozenset({ALLOWED}),
    price_per_gib_month=0.05,
)

image = partial(builders.image, now=NOW)
# Every image's launch permissions read (shared with no one), references read: nothing pending.
estate = partial(builders.estate, sharing_read=True, references_checked=True)


def runs_for(days: int, start: datetime = NOW, schedule: str = DEFAULT_SCHEDULE) -> list[datetime]:
    """As the CLI runs it: one run now, then every scheduled run before the horizon's end."""
    later = parse_schedule(schedule).runs(start, start + timedelta(days=days))
    return [start, *(t for t in later if t > start)]


def forecast(
    *estates: RegionEstate,
    settings: RotateJobSettings = SETTINGS,
    days: int = 60,
    new_images: NewImages = NewImages.NONE,
) -> Forecast:
    def planner(e: RegionEstate, at: datetime, budget: int) -> tuple[Plan, RegionEstate]:
        return plan_rotation(e, settings, at, budget), e

    return simulate(
        estates,
        settings,
        runs_for(days),
        planner,
        days=days,
        schedule=DEFAULT_SCHEDULE,
        new_images=new_images,
    )


def first_run_at_or_after(f: Forecast, moment: datetime) -> datetime:
    return next(run for run in f.runs if run >= moment)


def run(k: int) -> datetime:
    """The k-th run of a forecast starting at NOW: 0 is NOW, then 06:00 each following day."""
    return NOW if k == 0 else (NOW + k * DAY).replace(hour=6, minute=0)


def events_of(f: Forecast, image_id: str) -> list[tuple[Action, datetime]]:
    return [(e.action, e.at) for e in f.events if e.image_id == image_id]


def snap(n: int, gib: int) -> SnapshotRef:
    return SnapshotRef(f"snap-{n:017x}", "/dev/xvda", gib)


# -- superseded images, run by run -----------------------------------------------------------


def _family_web() -> RegionEstate:
    return estate(
        image("ami-newest", 2, "web-v9", snapshots=[snap(1, 8)]),
        image("ami-second", 10, "web-v8", snapshots=[snap(2, 8)]),
        image("ami-old100", 100, "web-v1", snapshots=[snap(3, 10)]),
        image("ami-old60", 60, "web-v2", snapshots=[snap(4, 20)]),
        image("ami-old35", 35, "web-v3", snapshots=[snap(5, 30)]),
        image("ami-young20", 20, "web-v4", snapshots=[snap(6, 40)]),
        image("ami-young29", timedelta(days=29, hours=12), "web-v5", snapshots=[snap(7, 50)]),
        image("ami-used", 80, "web-v0", snapshots=[snap(8, 60)]),
        image("ami-retained", 90, "web-v0", tags={TAG_RETAIN: "true"}),
        image("ami-protected", 90, "web-v0", deregistration_protected=True),
        usages={"ami-used": [Usage("ami-used", UsageKind.INSTANCE, "i-0abc", "running")]},
    )


def test_each_superseded_image_is_disabled_at_retention_and_deregistered_after_the_grace() -> None:
    f = forecast(_family_web())
    retention, grace = SETTINGS.retention, SETTINGS.disable_grace

    def expected(age: timedelta) -> list[tuple[Action, datetime]]:
        created = NOW - age
        disable = first_run_at_or_after(f, created + retention)
        deprecate = [] if created + retention <= NOW else [(Action.DEPRECATE, NOW)]
        return [
            *deprecate,
            (Action.DISABLE, disable),
            (Action.DEREGISTER, first_run_at_or_after(f, disable + grace)),
        ]

    # Already past the retention: disabled today (run 0), deregistered on the first run 7 days on.
    for image_id, age in (("ami-old100", 100), ("ami-old60", 60), ("ami-old35", 35)):
        assert events_of(f, image_id) == expected(age * DAY), image_id
        assert events_of(f, image_id) == [(Action.DISABLE, run(0)), (Action.DEREGISTER, run(8))]
    # Younger: deprecated today, disabled on the first run after created + 30 days.
    assert events_of(f, "ami-young20") == expected(20 * DAY)
    assert events_of(f, "ami-young20") == [
        (Action.DEPRECATE, run(0)),
        (Action.DISABLE, run(11)),  # due NOW + 10 days at 09:30: the next 06:00 run
        (Action.DEREGISTER, run(18)),  # disabled at 06:00, due 7 days later at 06:00: that very run
    ]
    # 29.5 days old: due tonight at 21:30, so disabled on tomorrow's run.
    assert events_of(f, "ami-young29") == [
        (Action.DEPRECATE, run(0)),
        (Action.DISABLE, run(1)),
        (Action.DEREGISTER, run(8)),
    ]
    # The newest KeepLatest, the used, the retained and the protected never appear.
    never = {"ami-newest", "ami-second", "ami-used", "ami-retained", "ami-protected"}
    assert never.isdisjoint(e.image_id for e in f.events)
    assert f.deferred_at_end == 0
    assert f.errors == ()


def test_the_first_run_is_today_s_report_mode_plan() -> None:
    region = _family_web()
    f = forecast(region)
    today = plan_rotation(region, SETTINGS, NOW, SETTINGS.max_actions)
    assert f.first_plans == (today,)
    assert {(e.image_id, e.action) for e in f.events if e.at == NOW} == {
        (d.image_id, d.action) for d in today.actions
    }


def test_a_young_superseded_image_is_deprecated_once_and_not_again() -> None:
    f = forecast(
        estate(
            image("ami-newest", 1, "web-v9"),
            image("ami-young", 10, "web-v1"),
            # Already deprecated for created + 30 days: nothing to do.
            image("ami-set", 10, "web-v2", deprecation_time=NOW + 20 * DAY),
            # Deprecated later than created + 30 days: brought forward, once.
            image("ami-late", 10, "web-v3", deprecation_time=NOW + 200 * DAY),
        ),
        settings=replace(SETTINGS, keep_latest=1),
        days=15,  # before any of them reaches the retention
    )
    assert events_of(f, "ami-young") == [(Action.DEPRECATE, NOW)]
    assert events_of(f, "ami-late") == [(Action.DEPRECATE, NOW)]
    assert events_of(f, "ami-set") == []
    assert len(f.runs) == 16  # and 15 later runs did not deprecate them again
    young, late = (e for e in f.events if e.image_id in ("ami-young", "ami-late"))
    assert f"deprecation set for {NOW + 20 * DAY:%Y-%m-%d}" in young.reason  # created + 30 days
    assert "brings the deprecation forward" in late.reason


# -- the action budget -----------------------------------------------------------------------


def _budget_estate() -> RegionEstate:
    disabled = {TAG_DISABLED_AT: f"{NOW - 20 * DAY:%Y-%m-%dT%H:%M:%SZ}"}
    return estate(
        image("ami-newest", 1, "web-v9"),
        image("ami-dis1", 200, "web-v1", state=ImageState.DISABLED, tags=disabled),
        image("ami-dis2", 190, "web-v2", state=ImageState.DISABLED, tags=disabled),
        image("ami-av1", 100, "web-v3"),
        image("ami-av2", 90, "web-v4"),
        image("ami-av3", 80, "web-v5"),
    )


def test_max_actions_per_run_defers_the_rest_to_later_runs_deregistrations_first() -> None:
    settings = replace(SETTINGS, keep_latest=1, max_actions=2)
    f = forecast(_budget_estate(), settings=settings, days=30)
    # Within a run, events come in the plan's order (newest first): compare run by run.
    assert sorted((e.at, e.image_id, e.action) for e in f.events) == sorted(
        (at, image_id, action)
        for image_id, action, at in [
            # Run 0: the two deregistrations due reclaim space, so they go first.
            ("ami-dis1", Action.DEREGISTER, run(0)),
            ("ami-dis2", Action.DEREGISTER, run(0)),
            # The three disables spread over the next two runs, oldest first.
            ("ami-av1", Action.DISABLE, run(1)),
            ("ami-av2", Action.DISABLE, run(1)),
            ("ami-av3", Action.DISABLE, run(2)),
            # Each deregistered 7 days after its own (pushed back) disable.
            ("ami-av1", Action.DEREGISTER, run(8)),
            ("ami-av2", Action.DEREGISTER, run(8)),
            ("ami-av3", Action.DEREGISTER, run(9)),
        ]
    )
    assert max(Counter(e.at for e in f.events).values()) == 2
    assert f.deferred_at_end == 0


def test_what_the_last_run_deferred_is_counted() -> None:
    settings = replace(SETTINGS, keep_latest=1, max_actions=2)
    f = forecast(_budget_estate(), settings=settings, days=1)
    assert f.runs == (run(0), run(1))
    assert f.deferred_at_end == 1  # run 1 disabled two of the three


def test_the_budget_is_shared_by_the_regions_in_order_within_a_run() -> None:
    def region(name: str) -> RegionEstate:
        return estate(
            image("ami-newest", 1, "web-v9", region=name),
            image("ami-a", 100, "web-v1", region=name),
            image("ami-b", 90, "web-v2", region=name),
            region=name,
        )

    settings = replace(SETTINGS, keep_latest=1, max_actions=3, disable_grace_days=0)
    f = forecast(region(REGION), region(OTHER_REGION), settings=settings, days=5)
    assert [(e.region, e.image_id, e.at) for e in f.events] == [
        (REGION, "ami-b", run(0)),
        (REGION, "ami-a", run(0)),
        (OTHER_REGION, "ami-a", run(0)),  # what the first region left: the oldest goes first
        (OTHER_REGION, "ami-b", run(1)),
    ]
    assert f.regions == (REGION, OTHER_REGION)
    first, second = f.first_plans
    assert [d.outcome for d in second.actions] == [Outcome.DEFERRED, Outcome.PLANNED]  # newest first
    assert {d.image_id for d in second.actions if d.outcome is Outcome.DEFERRED} == {"ami-b"}
    assert first.budget_used() == 2


def test_with_no_grace_an_available_image_is_deregistered_directly() -> None:
    f = forecast(
        estate(
            image("ami-newest", 1, "web-v9"), image("ami-old", 40, "web-v1"), image("ami-young", 25, "web-v2")
        ),
        settings=replace(SETTINGS, keep_latest=1, disable_grace_days=0),
        days=10,
    )
    assert events_of(f, "ami-old") == [(Action.DEREGISTER, run(0))]
    assert events_of(f, "ami-young") == [(Action.DEPRECATE, run(0)), (Action.DEREGISTER, run(6))]


# -- new images at each family's pace -----------------------------------------------------------


def _paced(family: str, *ages: float, gib: int = 8) -> list[Image]:
    return [
        image(
            f"ami-{family}-{age:g}",
            age,
            f"{family}-v{n}",
            snapshots=[SnapshotRef(f"snap-{family}-{n}", "/dev/xvda", gib)],
        )
        for n, age in enumerate(ages)
    ]


def test_cadence_builds_each_family_at_its_pace_and_the_new_images_supersede_the_old() -> None:
    region = estate(
        # Every 10 days, the last 1 day ago; every 50 days before that, outside the sample.
        *_paced("web", 291, 241, 191, 141, 91, 41, 31, 21, 11, 1, gib=12),
        *_paced("solo", 50),  # one image: no pace
        *_paced("stalled", 100, 90, 80),  # every 10 days, but none for 80 days: stopped
        *_paced("slow", 70, 46, 22),  # every 24 days, the last 22 days ago: still going
    )
    f = forecast(region, days=60, new_images=NewImages.CADENCE)
    web = [b.at for b in f.builds if b.family == "web"]
    assert web == [NOW + n * DAY for n in (9, 19, 29, 39, 49, 59)]
    assert [b.at for b in f.builds if b.family == "slow"] == [NOW + 2 * DAY, NOW + 26 * DAY, NOW + 50 * DAY]
    assert {b.family for b in f.builds} == {"web", "slow"}
    assert all(b.region == REGION for b in f.builds)
    assert len({b.image_id for b in f.builds}) == len(f.builds)
    assert f.builds == tuple(sorted(f.builds, key=lambda b: b.at))

    # With two builds past it (NOW + 9 and + 19 days, in the model from the next 06:00 run),
    # today's newest is superseded: deprecated that run, disabled 30 days after its creation.
    assert events_of(f, "ami-web-1") == [
        (Action.DEPRECATE, run(20)),
        (Action.DISABLE, run(30)),  # created NOW - 1 day: due NOW + 29 days at 09:30
        (Action.DEREGISTER, run(37)),
    ]
    # The first assumed image acts too, and says it is assumed.
    first = f.builds[[b.family for b in f.builds].index("web")]
    assumed = [e for e in f.events if e.image_id == first.image_id]
    assert [(e.action, e.at) for e in assumed] == [
        (Action.DEPRECATE, run(30)),  # the third build (NOW + 29 days) supersedes it
        (Action.DISABLE, run(40)),  # built NOW + 9 days 09:30; 30 days later
        (Action.DEREGISTER, run(47)),
    ]
    assert all(e.assumed for e in assumed)
    assert assumed[-1].gib == 12  # as large as the family's newest
    built = {b.image_id for b in f.builds}
    assert all(e.assumed == (e.image_id in built) for e in f.events)
    assert any("each family keeps building at its pace" in line for line in f.assumptions())


def test_assumed_images_take_the_newest_s_family_and_size_but_not_its_control_tags() -> None:
    newest = image("ami-web-1", 1, "web-v3", tags={TAG_RETAIN: "true", "Team": "web"}, snapshots=[snap(1, 9)])
    f = forecast(
        estate(image("ami-web-21", 21, "web-v1"), image("ami-web-11", 11, "web-v2"), newest),
        settings=replace(SETTINGS, keep_latest=1, retention_days=5),
        days=40,
        new_images=NewImages.CADENCE,
    )
    first = f.builds[0]
    assert first.at == NOW + 9 * DAY
    # Not retained like the image it copies: once the next build (NOW + 19 days) supersedes it,
    # it is past the 5-day retention and goes.
    assert [(e.action, e.at, e.family, e.name, e.gib) for e in f.events if e.image_id == first.image_id] == [
        (Action.DISABLE, run(20), "web", "web-v3", 0),
        (Action.DEREGISTER, run(27), "web", "web-v3", 9),
    ]
    assert events_of(f, "ami-web-1") == []  # the retained original stays


def test_an_image_whose_launch_permissions_are_unread_waits_and_never_acts() -> None:
    unread = builders.estate(image("ami-newest", 1, "web-v2"), image("ami-old", 100, "web-v1"))
    f = forecast(unread, settings=replace(SETTINGS, keep_latest=1), days=10)
    (plan,) = f.first_plans
    (waiting,) = plan.actions
    assert waiting.pending_checks == ("launch permissions",)
    assert f.events == ()


def test_without_new_images_the_newest_stay_the_newest() -> None:
    f = forecast(estate(*_paced("web", 41, 31, 21, 11, 1)), days=90, new_images=NewImages.NONE)
    assert f.builds == ()
    assert {e.image_id for e in f.events} == {"ami-web-41", "ami-web-31", "ami-web-21"}
    assert "no new images are built" in f.assumptions()
    # The family's line: every old image gone by the last one's deregistration (21 days old:
    # disabled on the run after NOW + 9 days, deregistered 7 days later).
    (line,) = f.families
    assert (line.region, line.family, line.old_left) == (REGION, "web", 0)
    assert line.cleared_on == run(17).date()
    assert line.events == f.events


def test_a_family_whose_images_came_at_once_has_no_pace() -> None:
    same = [image(f"ami-{n}", 5, f"web-v{n}") for n in range(3)]
    assert forecast(estate(*same), new_images=NewImages.CADENCE).builds == ()


# -- weeks, totals and the JSON ----------------------------------------------------------------


def test_weeks_cover_the_horizon_from_mondays_with_counts_and_gib() -> None:
    f = forecast(_family_web(), days=60)
    weeks = f.weeks()
    assert weeks[0].start == datetime(2024, 6, 3).date()  # the Monday of Wednesday NOW
    assert all(w.start.weekday() == 0 for w in weeks)
    assert all(b.start - a.start == 7 * DAY for a, b in pairwise(weeks))
    assert weeks[-1].start <= (NOW + 60 * DAY).date() < weeks[-1].start + 7 * DAY  # ends 2024-08-04
    assert len(weeks) == 9
    for week in weeks:
        inside = [e for e in f.events if week.start <= e.day < week.start + 7 * DAY]
        assert week.counts == Counter(e.action for e in inside)
        assert week.gib == sum(e.gib for e in inside if e.action is Action.DEREGISTER)
    # Week 1 (from 2024-06-10): the first three deregistered, and the 29.5-day-old (disabled run 1).
    assert weeks[1].counts[Action.DEREGISTER] == 4
    assert weeks[1].gib == 10 + 20 + 30 + 50


def test_deregistrations_carry_the_gib_of_the_snapshots_that_go_and_the_saving() -> None:
    f = forecast(_family_web(), settings=replace(SETTINGS, price_per_gib_month=0.05))
    gib = {e.image_id: e.gib for e in f.events if e.action is Action.DEREGISTER}
    assert gib == {"ami-old100": 10, "ami-old60": 20, "ami-old35": 30, "ami-young20": 40, "ami-young29": 50}
    assert all(e.gib == 0 for e in f.events if e.action is not Action.DEREGISTER)
    assert f.gib_reclaimed == 150
    assert f.monthly_saving_usd == 7.5


def test_a_snapshot_two_images_share_goes_with_the_last_of_them() -> None:
    shared = SnapshotRef("snap-shared", "/dev/xvdb", 100)
    f = forecast(
        estate(
            image("ami-newest", 1, "web-v9"),
            image("ami-first", 100, "web-v1", snapshots=[snap(1, 5), shared]),
            image("ami-later", 28, "web-v2", snapshots=[snap(2, 7), shared]),
        ),
        settings=replace(SETTINGS, keep_latest=1),
        days=20,
    )
    assert [(e.image_id, e.at, e.gib) for e in f.events if e.action is Action.DEREGISTER] == [
        ("ami-first", run(8), 5),  # the other image still uses the shared snapshot
        ("ami-later", run(10), 7 + 100),  # now it is the only one
    ]


def test_to_dict_has_the_job_the_horizon_the_assumptions_the_events_and_the_totals() -> None:
    f = forecast(_family_web(), days=60)
    out = json.loads(json.dumps(f.to_dict()))
    assert out["job"] == JOB == "forecast"
    assert out["horizon_days"] == 60
    assert out["assumptions"] == f.assumptions()
    assert all(isinstance(line, str) for line in out["assumptions"])
    assert out["runs"] == len(f.runs) == 61
    assert len(out["events"]) == len(f.events)
    first = out["events"][0]
    assert {"date", "image_id", "name", "family", "region", "action", "reason"} <= set(first)
    assert first["date"] == "2024-06-05"
    assert first["region"] == REGION
    assert first["family"] == "web"
    deregister = next(
        e for e in out["events"] if e["image_id"] == "ami-old100" and e["action"] == "deregister"
    )
    assert deregister == {
        "date": "2024-06-13",
        "image_id": "ami-old100",
        "name": "web-v1",
        "family": "web",
        "region": REGION,
        "action": "deregister",
        "reason": deregister["reason"],
        "gib": 10,
    }
    assert "snap-" in deregister["reason"]
    assert [w["week_start"] for w in out["by_week"]] == [w.start.isoformat() for w in f.weeks()]
    assert sum(w["deregister"] for w in out["by_week"]) == out["totals"]["deregister"] == 5
    assert sum(w["disable"] for w in out["by_week"]) == out["totals"]["disable"] == 5
    assert sum(w["deprecate"] for w in out["by_week"]) == out["totals"]["deprecate"] == 2
    assert sum(w["gib_reclaimed"] for w in out["by_week"]) == out["gib_reclaimed"] == 150
    assert out["monthly_saving_usd"] == 7.5


def test_a_forecast_needs_a_run() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        simulate(
            [estate()],
            SETTINGS,
            [],
            lambda e, t, b: (plan_rotation(e, SETTINGS, t, b), e),
            days=1,
            schedule="",
        )


def test_scheduled_runs_are_now_then_the_schedule_s() -> None:
    assert scheduled_runs(DEFAULT_SCHEDULE, NOW, 60) == runs_for(60)
    on_time = NOW.replace(hour=6, minute=0)
    assert scheduled_runs(DEFAULT_SCHEDULE, on_time, 2) == [on_time, on_time + DAY]  # now is not run twice


# -- the model: what each action does -------------------------------------------------------------


def test_applied_disable_drops_sharing_and_tags_the_run_time_with_the_launch_record() -> None:
    shared = Sharing(accounts=frozenset({ALLOWED}))
    before = estate(
        image("ami-a", 100, "web-v1", tags={"Team": "web"}),
        image("ami-b", 1, "web-v2"),
        sharing={"ami-a": shared},
        consumers={"ami-a": ConsumerCheck(checked=(ALLOWED,))},
    )
    after = applied(before, [decision("ami-a", Action.DISABLE, shared_with=(ALLOWED,))], NOW)
    a, b = after.images
    assert a.state == ImageState.DISABLED
    assert a.tags[TAG_DISABLED_AT] == "2024-06-05T09:30:00Z"
    assert a.tags["Team"] == "web"
    assert ALLOWED in a.tags[TAG_LAUNCH_PERMISSIONS]  # what `ami-hygiene restore` shares again
    assert after.sharing["ami-a"] == Sharing()
    assert "ami-a" not in after.consumers
    assert b == before.images[1]
    assert before.images[0].state == ImageState.AVAILABLE  # the estate given is left as it was


def test_applied_deregister_removes_the_image_and_its_snapshots() -> None:
    before = estate(image("ami-a", 100, "web-v1", snapshots=["snap-a"]), image("ami-b", 1, "web-v2"))
    after = applied(before, [decision("ami-a", Action.DEREGISTER)], NOW)
    assert [i.image_id for i in after.images] == ["ami-b"]
    assert "snap-a" not in after.snapshot_users()


def test_applied_deprecate_sets_the_deprecation_time() -> None:
    before = estate(image("ami-a", 10, "web-v1"))
    after = applied(before, [decision("ami-a", Action.DEPRECATE, deprecate_at=NOW + 20 * DAY)], NOW)
    assert after.images == (replace(before.images[0], deprecation_time=NOW + 20 * DAY),)


def test_applied_leaves_everything_else_as_it_was() -> None:
    before = estate(image("ami-a", 10, "web-v1"), image("ami-b", 100, "web-v2"))
    assert applied(before, [], NOW) == before
    # A decision that changes nothing (kept) leaves its image where it is.
    assert applied(before, [decision("ami-a", Action.KEEP)], NOW) == before


def test_events_say_when_which_image_and_why() -> None:
    f = forecast(_family_web(), days=5)
    (e,) = [e for e in f.events if e.image_id == "ami-old100"]
    assert e == Event(
        at=NOW,
        region=REGION,
        image_id="ami-old100",
        name="web-v1",
        family="web",
        action=Action.DISABLE,
        reason=e.reason,
        gib=0,
        assumed=False,
    )
    assert "older than the 30-day retention" in e.reason
    assert e.day == NOW.date()
