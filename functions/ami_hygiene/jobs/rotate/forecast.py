"""Rotation run forward: what the rotate policy will do on each scheduled run of the coming weeks.

The policy is pure, so the future is the same policy on a model of the estate
moved forward in time. Every simulated run plans with `plan_rotation` (through
the caller's planner, which for a real account is the rotate job's own
`checked_plan`: it reads launch permissions and references for the images a run
would retire, exactly when the rotate job would), under the same action budget,
shared by the regions in order. Then the run's actions are applied to the model
as the executor applies them on AWS:

* deprecate: the image's deprecation time is set;
* disable: the image is disabled and tagged ``ami-hygiene:disabled-at`` with the
  run's time and its launch record; DisableImage drops every launch permission,
  so the model's sharing becomes none;
* deregister: the image and the snapshots that went with it are gone.

Decisions deferred by the budget, or still waiting for a check, change nothing,
and come back on the next run, as they would. Assumptions, stated in every forecast:
every run is in enforce mode and every action succeeds; usage and sharing stay as
they are today; with ``cadence``, each family keeps building at its observed pace
(the median interval between its last few images), and the new images are unused,
unshared and as large as the family's newest.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any

from ami_hygiene.core.estate import (
    TAG_DISABLED_AT,
    TAG_FAMILY,
    TAG_PREFIX,
    Image,
    ImageState,
    RegionEstate,
    Sharing,
    SnapshotRef,
)
from ami_hygiene.core.families import FamilyTagError, family_of
from ami_hygiene.core.launch_record import record_of
from ami_hygiene.core.plan import Action, Decision, Plan, costs
from ami_hygiene.jobs.rotate.schedule import parse_schedule
from ami_hygiene.jobs.rotate.settings import RotateJobSettings

JOB = "forecast"
DEFAULT_DAYS = 90
MAX_DAYS = 730
# The intervals between a family's last few images give its pace.
CADENCE_SAMPLE = 5
# A family that missed this many builds at its own pace is taken as no longer building.
STALLED_AFTER = 3
RETIRING = (Action.DEPRECATE, Action.DISABLE, Action.DEREGISTER)

# (estate, run time, budget left) -> the run's plan, and the estate with what the plan read.
Planner = Callable[[RegionEstate, datetime, int], tuple[Plan, RegionEstate]]


class NewImages(StrEnum):
    """Whether the forecast assumes new images: none, or each family at its observed pace."""

    NONE = "none"
    CADENCE = "cadence"


@dataclass(frozen=True)
class Build:
    """A new image the forecast assumes: `family` builds one in `region` at `at`."""

    region: str
    family: str
    at: datetime
    image_id: str


@dataclass(frozen=True)
class Event:
    """One action the forecast expects a run to take."""

    at: datetime
    region: str
    image_id: str
    name: str
    family: str
    action: Action
    reason: str
    gib: int = 0  # deregister: the snapshots that go with it
    assumed: bool = False  # an image the forecast assumed would be built

    @property
    def day(self) -> date:
        return self.at.astimezone(UTC).date()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "date": self.day.isoformat(),
            "image_id": self.image_id,
            "name": self.name,
            "family": self.family,
            "region": self.region,
            "action": self.action.value,
            "reason": self.reason,
        }
        if self.action is Action.DEREGISTER:
            out["gib"] = self.gib
        if self.assumed:
            out["assumed_build"] = True
        return out


@dataclass(frozen=True)
class Week:
    start: date  # a Monday
    counts: Counter[Action]
    gib: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "week_start": self.start.isoformat(),
            **{action.value: self.counts.get(action, 0) for action in RETIRING},
            "gib_reclaimed": self.gib,
        }


@dataclass(frozen=True)
class FamilyLine:
    """A family's way through the horizon: its events, and when its last old image goes."""

    region: str
    family: str
    events: tuple[Event, ...]
    old_left: int  # superseded images still there at the end
    cleared_on: date | None  # the day its last old image was deregistered, if none is left


@dataclass(frozen=True)
class Forecast:
    start: datetime
    days: int
    schedule: str
    new_images: NewImages
    settings: RotateJobSettings
    runs: tuple[datetime, ...]
    events: tuple[Event, ...]
    builds: tuple[Build, ...]
    families: tuple[FamilyLine, ...]
    regions: tuple[str, ...]
    # Day 0's plans, one per region: today's report-mode plan.
    first_plans: tuple[Plan, ...] = ()
    errors: tuple[str, ...] = ()
    deferred_at_end: int = 0
    # The run the forecast stopped before, when it was told to stop (None: it reached the horizon).
    stopped_at: datetime | None = None
    # The caller's own assumptions, added to the forecast's.
    notes: tuple[str, ...] = ()

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def gib_reclaimed(self) -> int:
        return sum(e.gib for e in self.events)

    @property
    def monthly_saving_usd(self) -> float:
        return round(self.gib_reclaimed * self.settings.price_per_gib_month, 2)

    def assumptions(self) -> list[str]:
        s = self.settings
        found = [
            f"one rotation per scheduled run of {self.schedule} (UTC) from {self.start:%Y-%m-%d %H:%M} UTC "
            f"for {self.days} days: {len(self.runs)} runs, the first now",
            "every run in enforce mode and every action succeeding; deferred actions come back the next run",
            "usage (instances, launch templates, launch configurations, SSM parameters, references, "
            "consumer accounts) and sharing stay as they are today",
            f"retention {s.retention_days} days, keep newest {s.keep_latest}, "
            f"grace {s.disable_grace_days} days, at most {s.max_actions} actions per run, "
            f"{s.price_per_gib_month} USD per GiB-month",
        ]
        if self.new_images is NewImages.NONE:
            found.append("no new images are built")
        else:
            found.append(
                f"each family keeps building at its pace: the median interval between its last "
                f"{CADENCE_SAMPLE} images (a family with fewer than 2 builds none, and one that missed "
                f"{STALLED_AFTER} builds is taken as stopped); new images are unused, unshared and as large "
                f"as the family's newest ({len(self.builds)} assumed)"
            )
        return [*found, *self.notes]

    def weeks(self) -> list[Week]:
        """Every week of the horizon, from the Monday of its first day, empty weeks included."""
        first = _monday(self.start.astimezone(UTC).date())
        last = _monday((self.end - timedelta(microseconds=1)).astimezone(UTC).date())
        counts: dict[date, Counter[Action]] = defaultdict(Counter)
        gib: Counter[date] = Counter()
        for e in self.events:
            week = _monday(e.day)
            counts[week][e.action] += 1
            gib[week] += e.gib
        weeks = []
        day = first
        while day <= last:
            weeks.append(Week(day, counts.get(day, Counter()), gib.get(day, 0)))
            day += timedelta(days=7)
        return weeks

    def first_dates(self) -> dict[Action, date]:
        found: dict[Action, date] = {}
        for e in self.events:
            found.setdefault(e.action, e.day)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": JOB,
            "generated_at": self.start.isoformat(),
            "horizon_days": self.days,
            "schedule": self.schedule,
            "new_images": self.new_images.value,
            "regions": list(self.regions),
            "runs": len(self.runs),
            "assumptions": self.assumptions(),
            "events": [e.to_dict() for e in self.events],
            "by_week": [w.to_dict() for w in self.weeks()],
            "families": [
                {
                    "region": f.region,
                    "family": f.family,
                    **{a.value: sum(e.action is a for e in f.events) for a in RETIRING},
                    "first": f.events[0].day.isoformat() if f.events else None,
                    "last": f.events[-1].day.isoformat() if f.events else None,
                    "old_images_left": f.old_left,
                    "last_old_image_gone": f.cleared_on.isoformat() if f.cleared_on else None,
                }
                for f in self.families
            ],
            "totals": {a.value: sum(e.action is a for e in self.events) for a in RETIRING},
            "gib_reclaimed": self.gib_reclaimed,
            "monthly_saving_usd": self.monthly_saving_usd,
            "deferred_at_end": self.deferred_at_end,
            "errors": list(self.errors),
        }


def scheduled_runs(schedule: str, now: datetime, days: int) -> list[datetime]:
    """The forecast's runs: one now (day 0, today's report-mode plan), then every scheduled one to `days`."""
    end = now + timedelta(days=days)
    return [now, *(t for t in parse_schedule(schedule).runs(now, end) if t > now)]


def simulate(
    estates: Sequence[RegionEstate],
    settings: RotateJobSettings,
    runs: Sequence[datetime],
    planner: Planner,
    *,
    days: int,
    schedule: str,
    new_images: NewImages = NewImages.CADENCE,
    should_stop: Callable[[], bool] = lambda: False,
    notes: tuple[str, ...] = (),
    keep_first_plans: bool = True,
) -> Forecast:
    """Run the rotation policy at each of `runs` (the first is now), applying each run's actions.

    `should_stop()` is asked before each run after the first; when it says yes, the forecast
    ends there (`stopped_at`): a Lambda run's deadline comes before the horizon's end. Day 0's
    plans are kept in `first_plans` unless `keep_first_plans` is false (the report, which has
    them already, saves their memory).
    """
    if not runs:
        raise ValueError("a forecast needs at least one run")
    start = runs[0]
    end = start + timedelta(days=days)
    model = {e.region: e for e in estates}
    builds = sorted(
        (b for e in estates for b in _cadence_builds(e, start, end))
        if new_images is NewImages.CADENCE
        else (),
        key=lambda b: (b.at, b.region, b.family),
    )
    families: dict[tuple[str, str], str] = {}  # (region, image_id) -> family, from the plans
    events: list[Event] = []
    first_plans: list[Plan] = []
    errors: list[str] = []
    seen: set[str] = set()
    deferred = 0
    next_build = 0
    # Each family's assumed builds copy its newest image at the start (one pass, not one per build).
    templates = {(e.region, f): image for e in estates for f, image in _newest_by_family(e).items()}
    assumed: set[str] = set()
    stopped_at = None
    for index, run in enumerate(runs):
        if index and should_stop():
            stopped_at = run
            break
        due: dict[str, list[Image]] = defaultdict(list)
        while next_build < len(builds) and builds[next_build].at <= run:
            build = builds[next_build]
            template = templates.get((build.region, build.family))
            if template is not None:
                due[build.region].append(_built(template, build))
                assumed.add(build.image_id)
            next_build += 1
        for region, new in due.items():
            model[region] = _with_images(model[region], new)
        budget = settings.max_actions
        deferred = 0
        for region in model:
            plan, read = planner(model[region], run, budget)
            budget = max(0, budget - plan.budget_used())
            if index == 0 and keep_first_plans:
                first_plans.append(plan)
            # Errors of later runs too (a read denied when a run first needs it), each once, dated.
            errors.extend(e if index == 0 else f"{run:%Y-%m-%d}: {e}" for e in plan.errors if e not in seen)
            seen.update(plan.errors)
            for d in plan.decisions:
                families[(region, d.image_id)] = d.family
            taken = [d for d in plan.decisions if _taken(d)]
            deferred += sum(
                1 for d in plan.decisions if d.is_action and not _taken(d) and d.action in RETIRING
            )
            events.extend(_event(d, run, d.image_id in assumed) for d in taken)
            model[region] = applied(read, taken, run)
            # One plan of a large estate is tens of MiB: let it go before the next is made.
            del plan, read, taken
    return Forecast(
        start=start,
        days=days,
        schedule=schedule,
        new_images=new_images,
        settings=settings,
        runs=tuple(runs),
        events=tuple(events),
        builds=tuple(builds),
        families=_family_lines(events, model, families, settings.keep_latest),
        regions=tuple(model),
        first_plans=tuple(first_plans),
        errors=tuple(dict.fromkeys(errors)),
        deferred_at_end=deferred,
        stopped_at=stopped_at,
        notes=notes,
    )


def _taken(d: Decision) -> bool:
    """What the executor would apply: a planned retiring action with no check pending."""
    return costs(d) and d.action in RETIRING and not d.pending_checks


def _event(d: Decision, run: datetime, assumed: bool) -> Event:
    return Event(
        at=run,
        region=d.region,
        image_id=d.image_id,
        name=d.name,
        family=d.family,
        action=d.action,
        reason="; ".join(d.reasons),
        gib=sum(s.size_gib for s in d.snapshots) if d.action is Action.DEREGISTER else 0,
        assumed=assumed,
    )


# -- the model: what each action does to the estate ----------------------------------------


def applied(estate: RegionEstate, decisions: Iterable[Decision], now: datetime) -> RegionEstate:
    """`estate` after `decisions` were applied at `now`, as the rotate job's writers apply them."""
    by_id = {d.image_id: d for d in decisions}
    if not by_id:
        return estate
    images: list[Image] = []
    sharing = dict(estate.sharing)
    consumers = dict(estate.consumers)
    for image in estate.images:
        d = by_id.get(image.image_id)
        if d is None:
            images.append(image)
        elif d.action is Action.DEPRECATE:
            images.append(replace(image, deprecation_time=d.deprecate_at))
        elif d.action is Action.DISABLE:
            record = (record_of(d.shared_with).tags() if d.shared_with else {}) or {}
            tags = {**image.tags, TAG_DISABLED_AT: f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}", **record}
            images.append(replace(image, state=ImageState.DISABLED.value, tags=tags))
            # DisableImage removes every launch permission (EC2 API reference, DisableImage).
            sharing[image.image_id] = Sharing()
            consumers.pop(image.image_id, None)
        elif d.action is not Action.DEREGISTER:
            images.append(image)  # a decision no writer applies (kept) changes nothing
        # DEREGISTER: the image (and the snapshots that went with it) is gone.
    return replace(estate, images=tuple(images), sharing=sharing, consumers=consumers)


# -- new images ------------------------------------------------------------------------------


def _cadence_builds(estate: RegionEstate, start: datetime, end: datetime) -> list[Build]:
    """Each family's next builds in (start, end), at the median interval of its last few images."""
    dates: dict[str, list[datetime]] = defaultdict(list)
    for image in estate.images:
        # A build is an image that came out: available, or disabled since (not failed, not pending).
        if image.owner_id != estate.account_id or not (image.is_available or image.is_disabled):
            continue
        try:
            family = family_of(image)
        except FamilyTagError:
            continue
        dates[family].append(image.creation_date)
    builds: list[Build] = []
    for family, found in sorted(dates.items()):
        found.sort()
        recent = found[-CADENCE_SAMPLE:]
        if len(recent) < 2:
            continue
        interval = timedelta(seconds=statistics.median((b - a).total_seconds() for a, b in pairwise(recent)))
        if interval <= timedelta(0):
            continue
        at = recent[-1] + interval
        if start - recent[-1] > interval * STALLED_AFTER:
            continue
        while at <= start:
            at += interval
        n = 0
        while at < end:
            n += 1
            builds.append(Build(estate.region, family, at, f"new:{estate.region}:{family}#{n}@{at:%Y-%m-%d}"))
            at += interval
    return builds


def _newest_by_family(estate: RegionEstate) -> dict[str, Image]:
    """Each family's newest owned image (the template of its assumed builds)."""
    newest: dict[str, Image] = {}
    for image in estate.images:
        family = _family(image) if image.owner_id == estate.account_id else None
        if family is None:
            continue
        known = newest.get(family)
        if known is None or (image.creation_date, image.image_id) > (known.creation_date, known.image_id):
            newest[family] = image
    return newest


def _built(newest: Image, build: Build) -> Image:
    """The assumed image of `build`: a copy of the family's newest, unused and unshared."""
    # Its name and tags give it the same family; our control tags are per image, not inherited.
    tags = {k: v for k, v in newest.tags.items() if not k.startswith(TAG_PREFIX) or k == TAG_FAMILY}
    return Image(
        image_id=build.image_id,
        region=newest.region,
        owner_id=newest.owner_id,
        name=newest.name,
        creation_date=build.at,
        state=ImageState.AVAILABLE.value,
        tags=tags,
        snapshots=tuple(
            SnapshotRef(f"{build.image_id}/{s.device_name}", s.device_name, s.size_gib)
            for s in newest.snapshots
        ),
        platform=newest.platform,
        architecture=newest.architecture,
    )


def _with_images(estate: RegionEstate, new: list[Image]) -> RegionEstate:
    """`estate` with the assumed images `new`, none of them shared."""
    return replace(
        estate,
        images=(*estate.images, *new),
        sharing={**estate.sharing, **{image.image_id: Sharing() for image in new}},
    )


def _family(image: Image) -> str | None:
    try:
        return family_of(image)
    except FamilyTagError:
        return None


# -- per family --------------------------------------------------------------------------------


def _family_lines(
    events: list[Event],
    model: dict[str, RegionEstate],
    families: dict[tuple[str, str], str],
    keep_latest: int,
) -> tuple[FamilyLine, ...]:
    by_family: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in events:
        by_family[(e.region, e.family)].append(e)
    # (owned images, available ones) left at the end, per family with events: one pass per region.
    left: dict[tuple[str, str], list[int]] = {key: [0, 0] for key in by_family}
    for region, estate in model.items():
        for i in estate.images:
            key = (region, families.get((region, i.image_id)) or _family(i) or i.image_id)
            if i.owner_id == estate.account_id and key in left:
                left[key][0] += 1
                left[key][1] += i.is_available
    lines = []
    for (region, family), found in sorted(by_family.items()):
        owned, available = left[(region, family)]
        old_left = owned - min(keep_latest, available)
        gone = [e.day for e in found if e.action is Action.DEREGISTER]
        lines.append(
            FamilyLine(region, family, tuple(found), old_left, gone[-1] if gone and old_left == 0 else None)
        )
    return tuple(lines)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())
