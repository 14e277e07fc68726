"""When rotation runs: an EventBridge schedule expression, turned into run times.

The forecast simulates one rotation per scheduled run, so it needs the times the
stack's RotationSchedule fires. The rules read here are Amazon EventBridge's
(User Guide, "Using cron and rate expressions to schedule rules",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html,
with its "Cron expressions reference" (eb-cron-expressions.html) and "Rate
expressions reference" (eb-rate-expressions.html)). A scheduled rule runs in UTC
(the page's examples say "UTC+0"), to the minute.

* ``rate(value unit)``: value a positive whole number; unit ``minute``, ``hour``
  or ``day`` when the value is 1, ``minutes``, ``hours`` or ``days`` otherwise
  (the rate reference: "rate(1 hours) and rate(5 hour) aren't valid"). A rate
  counts from when the rule was created, which a forecast cannot know: it
  counts from the forecast's start.
* ``cron(minutes hours day-of-month month day-of-week year)``: six fields;
  minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12 or JAN-DEC,
  day-of-week 1-7 or SUN-SAT (1 is Sunday), year 1970-2199. ``,`` ``-`` ``*``
  ``/`` in every field (``1/10``: minute 1 and every tenth after it);
  ``?`` in day-of-month or day-of-week, and one of the two must be ``?``;
  ``L`` in day-of-month (the month's last day) and in day-of-week (alone: the
  last day of the week, Saturday; ``6L``: the month's last Friday); ``#`` in
  day-of-week (``3#2``: the month's second Tuesday), and then as the field's
  only expression ("3#1,6#3" is invalid, the page says).

What the page leaves open, the forecast refuses with ScheduleUnsupported (a
ScheduleError) rather than guess: ``W`` (which weekday is "closest" at a month's
edge), ``L`` beside other entries or with an offset (``1,L``, ``L-2``, ``2,6L``),
and ranges that run backwards (``22-2``: wrap around, or an error?).
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# The stack's RotationSchedule default (infra/parameters.py reads it from here), and the
# variable the stack gives the rotate function its RotationSchedule in.
DEFAULT_SCHEDULE = "cron(0 6 * * ? *)"
ROTATION_SCHEDULE_ENV = "ROTATION_SCHEDULE"

_RATE = re.compile(r"^rate\((.*)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
# One entry of a field's comma list: a value or *, then an optional -end, then an optional /step.
_ENTRY = re.compile(r"^(?P<first>\*|[A-Z0-9]+)(?:-(?P<last>[A-Z0-9]+))?(?:/(?P<step>[A-Z0-9]+))?$")
_MONTHS = {name.upper(): n for n, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_SATURDAY = 7
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_DAY = timedelta(days=1)


class ScheduleError(ValueError):
    """A schedule expression the forecast cannot read; the message says why."""


class ScheduleUnsupported(ScheduleError):
    """An expression EventBridge may accept but whose runs its documentation leaves open (W, ...)."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_MINUTES = _Field("minutes", 0, 59, {})
_HOURS = _Field("hours", 0, 23, {})
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, {})
_MONTH = _Field("month", 1, 12, _MONTHS)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, _WEEKDAYS)
_YEAR = _Field("year", 1970, 2199, {})
_OCCURRENCE = _Field("day-of-week occurrence (after '#')", 1, 5, {})


@dataclass(frozen=True)
class _Days:
    """The days of a month a cron expression fires on, from its day-of-month or day-of-week field."""

    days: frozenset[int]  # dates (1-31), or with weekly, weekdays (1 is Sunday)
    weekly: bool = False
    last: bool = False  # L: the month's last day; with weekly (6L), the month's last such weekday
    nth: int = 0  # with weekly (2#1): the month's nth such weekday

    def in_month(self, year: int, month: int) -> list[int]:
        first, length = calendar.monthrange(year, month)  # first: Monday is 0
        if not self.weekly:
            return [length] if self.last else sorted(d for d in self.days if d <= length)
        # Day d's weekday counted from Sunday = 1, as EventBridge does: Monday (0 here) is 2.
        matching = [d for d in range(1, length + 1) if (first + d) % 7 + 1 in self.days]
        if self.last:
            return matching[-1:]
        if self.nth:
            return matching[self.nth - 1 : self.nth]
        return matching


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: `runs(start, end)` gives its run times in [start, end)."""

    expression: str
    every: timedelta | None = None  # rate(...)
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: _Days | None = None  # cron: the day-of-month or day-of-week field, whichever is not '?'
    months: frozenset[int] = frozenset()
    years: frozenset[int] = frozenset()

    def runs(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Run times in [start, end), strictly increasing, in UTC; start and end must carry a time zone."""
        start, end = _utc(start, "start"), _utc(end, "end")
        if start >= end:
            return
        if self.every is not None:
            count, rest = divmod(end - start, self.every)
            moment = start
            for i in range(count + (1 if rest else 0)):  # counted, so never a step past `end`
                if i:
                    moment += self.every  # exact: timedelta sums are whole microseconds
                yield moment
            return
        if self.days is not None:
            yield from self._cron_runs(self.days, start, end)

    def _cron_runs(self, days: _Days, start: datetime, end: datetime) -> Iterator[datetime]:
        times = sorted(timedelta(hours=h, minutes=m) for h in self.hours for m in self.minutes)
        years = sorted(self.years)
        year, month = start.year, start.month
        while (year, month) <= (end.year, end.month):
            if year not in self.years:
                later = bisect_right(years, year)
                if later == len(years):
                    return
                year, month = years[later], 1
                continue
            if month in self.months:
                for day in days.in_month(year, month):
                    midnight = datetime(year, month, day, tzinfo=UTC)
                    if start <= midnight and midnight + _DAY <= end:  # the whole day is inside
                        yield from (midnight + t for t in times)
                        continue
                    for t in times:
                        moment = midnight + t
                        if moment >= end:
                            return
                        if moment >= start:
                            yield moment
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def parse_schedule(expression: str) -> Schedule:
    """The Schedule of an EventBridge rate(...) or cron(...) expression; ScheduleError if it is not one."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        return Schedule(text, every=_rate(rate.group(1), expression))
    cron = _CRON.match(text)
    if not cron:
        raise ScheduleError(
            f"schedule {expression!r} is not an EventBridge expression: give rate(N minutes|hours|days) "
            "or cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 6 * * ? *)"
        )
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(
            f"schedule {expression!r}: a cron expression has 6 fields "
            f"(minutes hours day-of-month month day-of-week year), not {len(fields)}"
        )
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(
            f"schedule {expression!r}: one of day-of-month ({dom!r}) and day-of-week ({dow!r}) must be '?', "
            "and only one (EventBridge reads one or the other)"
        )
    return Schedule(
        text,
        minutes=_values(minutes, _MINUTES, expression),
        hours=_values(hours, _HOURS, expression),
        days=_day_of_month(dom, expression) if dow == "?" else _day_of_week(dow, expression),
        months=_values(month, _MONTH, expression),
        years=_values(year, _YEAR, expression),
    )


def _rate(inside: str, expression: str) -> timedelta:
    words = inside.split()
    if len(words) != 2:
        raise ScheduleError(f"schedule {expression!r}: a rate is rate(value unit), e.g. rate(5 minutes)")
    raw, unit = words
    if not re.fullmatch(r"[1-9]\d*", raw):
        raise ScheduleError(
            f"schedule {expression!r}: the rate's value {raw!r} is not a positive whole number"
        )
    value, singular = int(raw), unit.removesuffix("s")
    if singular not in _UNIT_SECONDS:
        raise ScheduleError(
            f"schedule {expression!r}: the rate's unit {unit!r} is not minute(s), hour(s) or day(s)"
        )
    # Refused, though the stack's AllowedPattern lets it through: EventBridge's PutRule rejects
    # a unit that disagrees with its value ("rate(1 hours) and rate(5 hour) aren't valid", rate
    # reference), so the stack could not deploy this schedule and a forecast of it would mislead.
    wanted = singular if value == 1 else f"{singular}s"
    if unit != wanted:
        raise ScheduleError(
            f"schedule {expression!r}: EventBridge wants rate({value} {wanted}), not rate({value} {unit}) "
            "(the unit is singular for 1, plural otherwise)"
        )
    try:
        return timedelta(seconds=value * _UNIT_SECONDS[singular])
    except OverflowError:
        raise ScheduleError(f"schedule {expression!r}: the rate's value {raw} is too large") from None


def _values(text: str, field: _Field, expression: str) -> frozenset[int]:
    found: set[int] = set()
    for entry in text.upper().split(","):
        found.update(_entry(entry, field, expression))
    return frozenset(found)


def _entry(entry: str, field: _Field, expression: str) -> range:
    """One entry of a comma list: `*`, `5`, `1-5`, `*/5`, `0/15`, `1-5/2` (names where the field has them)."""
    where = f"schedule {expression!r}: {field.name}"
    if entry == "?":
        raise ScheduleError(f"{where}: '?' stands alone, and only in day-of-month or day-of-week")
    shape = _ENTRY.match(entry)
    if not shape:
        raise ScheduleError(f"{where} entry {entry!r} is not a value, a range (1-5) or a step (0/15, 1-5/2)")
    first, last, step = shape.group("first", "last", "step")
    if first == "*" and last is not None:
        raise ScheduleError(f"{where} entry {entry!r}: '*' cannot start a range")
    steps = _Field(f"{field.name} step", 1, field.high, {})
    increment = 1 if step is None else _number(step, steps, expression)
    if first == "*":
        return range(field.low, field.high + 1, increment)
    low = _number(first, field, expression)
    # `5/15` runs from 5 to the field's end; a lone value is just itself.
    high = _number(last, field, expression) if last is not None else (field.high if step else low)
    if high < low:
        raise ScheduleUnsupported(
            f"{where} range {entry!r} runs backwards; EventBridge does not document whether it wraps around, "
            f"so write it as two ranges ({first}-{field.high},{field.low}-{last})"
        )
    return range(low, high + 1, increment)


def _number(text: str, field: _Field, expression: str) -> int:
    value = field.names.get(text) if text in field.names else (int(text) if text.isdigit() else None)
    if value is None or not field.low <= value <= field.high:
        names = f" or one of {', '.join(field.names)}" if field.names else ""
        raise ScheduleError(
            f"schedule {expression!r}: {field.name} value {text!r} is not a number from "
            f"{field.low} to {field.high}{names}"
        )
    return value


def _day_of_month(text: str, expression: str) -> _Days:
    upper = text.upper()
    if "W" in upper:
        raise ScheduleUnsupported(
            f"schedule {expression!r}: day-of-month {text!r} uses 'W' (nearest weekday), which the forecast "
            "does not simulate: EventBridge does not say which weekday is nearest at a month's edge"
        )
    if "L" in upper:
        if upper != "L":
            raise ScheduleUnsupported(
                f"schedule {expression!r}: day-of-month {text!r}: the forecast reads 'L' (the month's last "
                "day) only on its own; EventBridge documents no list, range or offset with it"
            )
        return _Days(frozenset(), last=True)
    return _Days(_values(text, _DAY_OF_MONTH, expression))


def _day_of_week(text: str, expression: str) -> _Days:
    upper = text.upper()  # no weekday name holds an L or a #
    if "#" in upper:
        if "," in upper:
            raise ScheduleError(
                f"schedule {expression!r}: day-of-week {text!r}: with '#', EventBridge allows one expression "
                "in the field, not a list"
            )
        weekday, _, nth = upper.partition("#")
        return _Days(
            frozenset({_number(weekday, _DAY_OF_WEEK, expression)}),
            weekly=True,
            nth=_number(nth, _OCCURRENCE, expression),
        )
    if "L" in upper:
        if "," in upper:
            raise ScheduleUnsupported(
                f"schedule {expression!r}: day-of-week {text!r}: the forecast reads 'L' and 'nL' only on "
                "their own; EventBridge documents no list with them"
            )
        if upper == "L":  # the last day of the week: Saturday, every week
            return _Days(frozenset({_SATURDAY}), weekly=True)
        if not upper.endswith("L"):
            raise ScheduleError(
                f"schedule {expression!r}: day-of-week {text!r}: 'L' comes alone or after a weekday (6L)"
            )
        return _Days(frozenset({_number(upper[:-1], _DAY_OF_WEEK, expression)}), weekly=True, last=True)
    return _Days(_values(text, _DAY_OF_WEEK, expression), weekly=True)


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TypeError(f"Schedule.runs: {name} {moment.isoformat()} has no time zone (give an aware one)")
    return moment.astimezone(UTC)
