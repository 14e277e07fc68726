"""The forecast for a person: assumptions, a week-by-week table, a bar chart of GiB, each family's way."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

from ami_hygiene.core.plan import Action
from ami_hygiene.jobs.rotate.forecast import Event, FamilyLine, Forecast

BAR_WIDTH = 40
EVENTS_LISTED = 60  # the text names this many events; the JSON has them all
_ACTIONS = (Action.DEPRECATE, Action.DISABLE, Action.DEREGISTER)


def render_text(forecast: Forecast, *, account: str, unread_regions: Sequence[str] = ()) -> str:
    return "\n".join(text_lines(forecast, account=account, unread_regions=unread_regions)) + "\n"


def text_lines(forecast: Forecast, *, account: str, unread_regions: Sequence[str] = ()) -> Iterator[str]:
    end = forecast.end - timedelta(seconds=1)
    totals = {a: sum(e.action is a for e in forecast.events) for a in _ACTIONS}
    yield (
        f"[ami-hygiene] forecast: {totals[Action.DISABLE]} to disable, "
        f"{totals[Action.DEREGISTER]} to deregister, {forecast.gib_reclaimed:,} GiB in {forecast.days} days"
    )
    yield ""
    yield "FORECAST: nothing was changed. Below is what rotation in enforce mode would do, run by run."
    yield (
        f"Account {account} · {', '.join(forecast.regions) or 'no region read'} · "
        f"{forecast.start:%Y-%m-%d} to {end:%Y-%m-%d} ({forecast.days} days)"
    )
    yield from ("", "Assumptions", *(f"  - {a}" for a in forecast.assumptions()))
    problems = [*unread_regions, *forecast.errors]
    if problems:
        yield from ("", "Errors (what cannot be read is kept, as rotate would keep it)")
        yield from (f"  ! {p}" for p in problems)
    yield from _weeks(forecast, totals)
    yield from _chart(forecast)
    yield from _families(forecast.families)
    yield from _events(forecast.events)
    yield ""
    yield (
        "Day 0 is what `ami-hygiene rotate --mode report` reports now. To act on it, set RotationMode to "
        "enforce (README: From report mode to enforce)."
    )


def _weeks(forecast: Forecast, totals: dict[Action, int]) -> Iterator[str]:
    yield from ("", "Week by week (weeks start on Monday)")
    yield f"  {'week of':<12}{'deprecate':>10}{'disable':>9}{'deregister':>12}{'GiB':>9}"
    for week in forecast.weeks():
        counts = [week.counts.get(a, 0) for a in _ACTIONS]
        yield f"  {week.start.isoformat():<12}{counts[0]:>10}{counts[1]:>9}{counts[2]:>12}{week.gib:>9,}"
    yield (
        f"  {'total':<12}{totals[Action.DEPRECATE]:>10}{totals[Action.DISABLE]:>9}"
        f"{totals[Action.DEREGISTER]:>12}{forecast.gib_reclaimed:>9,}"
    )
    yield (
        f"  storage reclaimed by the end: {forecast.gib_reclaimed:,} GiB, "
        f"~{forecast.monthly_saving_usd:,.2f} USD/month "
        f"at {forecast.settings.price_per_gib_month} USD/GiB-month"
    )
    if forecast.deferred_at_end:
        yield f"  still deferred at the last run: {forecast.deferred_at_end} (MaxActionsPerRun)"
    if forecast.stopped_at:
        yield f"  ~ the forecast stopped at {forecast.stopped_at:%Y-%m-%d}"


def _chart(forecast: Forecast) -> Iterator[str]:
    """GiB reclaimed per week as a bar of block characters, scaled to the largest week."""
    weeks = forecast.weeks()
    most = max((w.gib for w in weeks), default=0)
    yield from ("", "GiB reclaimed per week")
    if not most:
        yield "  nothing to reclaim in this horizon"
        return
    for week in weeks:
        eighths = round(week.gib * BAR_WIDTH * 8 / most)
        bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
        yield (
            f"  {week.start.isoformat()} │{bar} {week.gib:,}" if week.gib else f"  {week.start.isoformat()} │"
        )


def _families(families: Sequence[FamilyLine]) -> Iterator[str]:
    yield from ("", "Families (those with something in the horizon)")
    if not families:
        yield "  none: no family has an image to deprecate, disable or deregister"
        return
    for line in families:
        steps = []
        for action in _ACTIONS:
            days = [e.day for e in line.events if e.action is action]
            if days:
                span = days[0].isoformat() if days[0] == days[-1] else f"{days[0]} … {days[-1]}"
                steps.append(f"{action.value} {len(days)} ({span})")
        if line.cleared_on:
            end = f"last old image gone {line.cleared_on}"
        else:
            end = f"{line.old_left} old image{'s' if line.old_left != 1 else ''} still there at the end"
        yield f"  {line.region} {line.family}: {' · '.join(steps)}; {end}"


def _events(events: Sequence[Event]) -> Iterator[str]:
    yield from ("", "Events")
    if not events:
        yield "  none"
        return
    for e in events[:EVENTS_LISTED]:
        assumed = " (an assumed new build)" if e.assumed else ""
        size = f", {e.gib} GiB" if e.action is Action.DEREGISTER else ""
        where = f"({e.family}, {e.region}{size}){assumed}"
        yield f"  {e.day}  {e.action.value.upper():<10} {e.image_id}  {e.name}  {where}"
    if len(events) > EVENTS_LISTED:
        yield f"  ... {len(events) - EVENTS_LISTED:,} more: --format json lists every one, with its reasons"
