"""The rotate report's "Coming up": the next weeks of rotation, after today's run.

Subscribers see a disable wave before it lands. The weeks (7-day windows from the
report's time) are counted from the forecast of the same settings
(jobs/rotate/forecast.py): every run of the rotation schedule in the next
`ComingUpDays` (default 28), the run that made the report (run 0) left out, since
the report lists it already.

It costs the run no call: the images whose launch permissions today's run did
not read are taken as unshared (a few may turn out shared, and be kept then).
`ami-hygiene forecast` reads them, when a run would act, as rotate does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ami_hygiene.core.estate import RegionEstate, Sharing
from ami_hygiene.core.plan import Action
from ami_hygiene.core.report import Section
from ami_hygiene.jobs.rotate.forecast import RETIRING, Event, Forecast

KEY = "forecast"
UNSHARED_NOTE = (
    "images whose launch permissions were not read (today, for the runs to come) are taken as unshared; "
    "each is read before any real run acts on it (`ami-hygiene forecast` reads them unless --assume-unshared)"
)
# The section's default reach (the setting ComingUpDays): four weeks, counted 7 days at a time.
WINDOW_DAYS = 7


def assumed_unshared(estate: RegionEstate) -> RegionEstate:
    """`estate` with no launch permission for every image whose permissions were not read."""
    unshared = Sharing()  # frozen: one for all of them
    unread = {i.image_id: unshared for i in estate.images if i.image_id not in estate.sharing}
    return replace(estate, sharing={**estate.sharing, **unread}) if unread else estate


def not_forecast(why: str) -> Section:
    """The section when there is no forecast to show, saying why."""
    return Section(KEY, _title(0), {"horizon_days": 0, "not_forecast": why}, (f"  ~ not shown: {why}",))


def coming_up(forecast: Forecast, *, cut_short: str = "") -> Section:
    """The section: per 7 days from the report's time, counts per action and GiB; first dates.

    `cut_short`: why the forecast stopped before its horizon (the run's time ran out), if it did.
    Each region's own message gets the region's part (`by_region`).
    """
    section = _section(forecast, forecast.events, cut_short)
    if len(forecast.regions) < 2:
        return section
    by_region = {
        region: _section(forecast, [e for e in forecast.events if e.region == region], cut_short)
        for region in forecast.regions
    }
    return replace(section, by_region=by_region)


def _section(forecast: Forecast, events: list[Event] | tuple[Event, ...], cut_short: str) -> Section:
    later = [e for e in events if e.at > forecast.start]
    weeks = []
    for n in range(-(-forecast.days // WINDOW_DAYS)):  # the windows that cover the horizon
        start = forecast.start + timedelta(days=WINDOW_DAYS * n)
        end = min(start + timedelta(days=WINDOW_DAYS), forecast.end)
        found = [e for e in later if start <= e.at < end]
        counts = Counter(e.action for e in found)
        weeks.append(
            {
                "week_start": _day(start).isoformat(),
                **{action.value: counts.get(action, 0) for action in RETIRING},
                "gib_reclaimed": sum(e.gib for e in found),
            }
        )
    first: dict[Action, date] = {}
    for e in later:
        first.setdefault(e.action, e.day)
    data: dict[str, Any] = {
        "horizon_days": forecast.days,
        "schedule": forecast.schedule,
        # Runs after today's that were simulated (fewer when the run's time ran out).
        "runs": sum(1 for r in forecast.runs[1:] if forecast.stopped_at is None or r < forecast.stopped_at),
        "weeks": weeks,
        "first_dates": {a.value: first[a].isoformat() for a in RETIRING if a in first},
        "gib_reclaimed": sum(e.gib for e in later),
        "assumptions": forecast.assumptions(),
    }
    if cut_short:
        data["cut_short"] = cut_short
    return Section(
        KEY,
        _title(forecast.days),
        data,
        _lines(data, later),
    )


def _lines(data: dict[str, Any], later: list[Event]) -> tuple[str, ...]:
    if not later:
        days = data["horizon_days"]
        lines = [f"  nothing: no run of {data['schedule']} in the next {days} days would change an image"]
    else:
        lines = [f"  {'7 days from':<12}{'deprecate':>10}{'disable':>9}{'deregister':>12}{'GiB':>8}"]
        for week in data["weeks"]:
            lines.append(
                f"  {week['week_start']:<12}{week['deprecate']:>10}{week['disable']:>9}"
                f"{week['deregister']:>12}{week['gib_reclaimed']:>8,}"
            )
        lines.append(
            "  first: " + " · ".join(f"{action} {day}" for action, day in data["first_dates"].items())
        )
    if data.get("cut_short"):
        lines.append(f"  ~ {data['cut_short']}")
    lines.append("  (`ami-hygiene forecast` shows every date, image and family, over any horizon.)")
    return tuple(lines)


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _title(days: int) -> str:
    return f"Coming up (the next {days} days, if every run enforced these settings)"
