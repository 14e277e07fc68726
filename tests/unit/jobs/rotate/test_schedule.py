"""EventBridge schedule expressions, read as the forecast reads them (jobs/rotate/schedule.py).

By example: each rule of the EventBridge pages (eb-scheduled-rule-pattern.html, eb-rate-expressions.html)
on dates checked against a calendar, and each bad input's message. By property: for random cron fields,
the runs in a short window are exactly the minutes a brute-force reading of the fields accepts, and for
random day rules, the days over a year and more; rates step from the start and stop before the end.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ami_hygiene.jobs.rotate.schedule import (
    DEFAULT_SCHEDULE,
    ScheduleError,
    ScheduleUnsupported,
    parse_schedule,
)

PROPERTY = settings(max_examples=150, deadline=None)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def runs(expression: str, start: datetime, end: datetime) -> list[datetime]:
    return list(parse_schedule(expression).runs(start, end))


def run_days(expression: str, start: datetime, end: datetime) -> list[date]:
    return [r.date() for r in runs(expression, start, end)]


def weekday(day: date) -> int:
    """EventBridge's day-of-week: SUN is 1 ... SAT is 7 (the test's own reading, from the date's name)."""
    return ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"].index(
        calendar.day_abbr[day.weekday()].upper()
    ) + 1


def is_last_of_month(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


# -- rate(...) ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "step"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(2 hours)", timedelta(hours=2)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
        ("  rate(5 minutes) ", timedelta(minutes=5)),
    ],
)
def test_a_rate_steps_from_the_start(expression: str, step: timedelta) -> None:
    start = datetime(2025, 3, 1, 6, 30, 15, tzinfo=UTC)
    found = runs(expression, start, start + 3 * step)
    assert found == [start, start + step, start + 2 * step]


def test_a_rate_over_two_years_of_five_minutes_ends_before_the_end() -> None:
    start = at(2025, 1, 1)
    found = runs("rate(5 minutes)", start, start + timedelta(days=730))
    assert len(found) == 730 * 24 * 12
    assert found[-1] == at(2026, 12, 31, 23, 55)
    assert all(b - a == timedelta(minutes=5) for a, b in pairwise(found))


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("rate(1 days)", "wants rate(1 day), not rate(1 days)"),
        ("rate(1 hours)", "wants rate(1 hour)"),
        ("rate(5 minute)", "wants rate(5 minutes), not rate(5 minute)"),
        ("rate(2 hour)", "wants rate(2 hours)"),
        ("rate(0 minutes)", "value '0' is not a positive whole number"),
        ("rate(-1 days)", "value '-1' is not a positive whole number"),
        ("rate(1.5 hours)", "value '1.5' is not a positive whole number"),
        ("rate(05 minutes)", "value '05' is not a positive whole number"),
        ("rate(5 weeks)", "unit 'weeks' is not minute(s), hour(s) or day(s)"),
        ("rate(5)", "a rate is rate(value unit)"),
        ("rate(5 minutes please)", "a rate is rate(value unit)"),
        ("rate()", "a rate is rate(value unit)"),
        ("rate(99999999999999999 days)", "too large"),
    ],
)
def test_a_bad_rate_is_refused_with_its_problem(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleError, match=r"^schedule .*") as refused:
        parse_schedule(expression)
    assert problem in str(refused.value)


# -- cron(...): fields, wildcards, names ------------------------------------------------------------


def test_the_default_runs_daily_at_six_utc() -> None:
    found = runs(DEFAULT_SCHEDULE, at(2025, 1, 1), at(2027, 1, 1))
    assert len(found) == 730
    assert {(r.hour, r.minute) for r in found} == {(6, 0)}
    assert found[0] == at(2025, 1, 1, 6)


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        ("0/15", [0, 15, 30, 45]),
        ("*/15", [0, 15, 30, 45]),
        ("1/10", [1, 11, 21, 31, 41, 51]),  # the page's own example
        ("50/1", [50, 51, 52, 53, 54, 55, 56, 57, 58, 59]),  # a step of 1 still runs to the end
        ("5-20/5", [5, 10, 15, 20]),
        ("1-5/2", [1, 3, 5]),
        ("7,3,7,59", [3, 7, 59]),
        ("58-59,0-1", [0, 1, 58, 59]),
        ("30", [30]),
    ],
)
def test_minutes_lists_ranges_and_steps(minutes: str, expected: list[int]) -> None:
    found = runs(f"cron({minutes} 10 * * ? *)", at(2025, 5, 5), at(2025, 5, 6))
    assert [r.minute for r in found] == expected
    assert {r.hour for r in found} == {10}


def test_every_five_minutes_in_office_hours_on_weekdays() -> None:
    # The page's example cron(0/5 8-17 ? * MON-FRI *): 8:00 to 17:55, Monday to Friday.
    found = runs("cron(0/5 8-17 ? * MON-FRI *)", at(2025, 6, 2), at(2025, 6, 9))  # Monday to Monday
    assert len(found) == 5 * 10 * 12
    assert found[0] == at(2025, 6, 2, 8) and found[-1] == at(2025, 6, 6, 17, 55)
    assert {r.date().weekday() for r in found} == {0, 1, 2, 3, 4}


@pytest.mark.parametrize(
    ("day_of_week", "days"),
    [
        ("1", [date(2025, 6, 1), date(2025, 6, 8)]),  # 1 is Sunday
        ("SUN", [date(2025, 6, 1), date(2025, 6, 8)]),
        ("7", [date(2025, 6, 7)]),  # 7 is Saturday
        ("2-6", [date(2025, 6, d) for d in (2, 3, 4, 5, 6)]),
        ("MON-FRI", [date(2025, 6, d) for d in (2, 3, 4, 5, 6)]),
        ("mon,wed,fri", [date(2025, 6, d) for d in (2, 4, 6)]),  # names in any case
        ("*", [date(2025, 6, d) for d in range(1, 9)]),
        ("L", [date(2025, 6, 7)]),  # alone: the last day of the week, Saturday
        ("2/2", [date(2025, 6, d) for d in (2, 4, 6)]),  # MON, WED, FRI
    ],
)
def test_day_of_week_counts_from_sunday(day_of_week: str, days: list[date]) -> None:
    # 2025-06-01 is a Sunday.
    assert date(2025, 6, 1).weekday() == calendar.SUNDAY
    assert run_days(f"cron(0 12 ? * {day_of_week} *)", at(2025, 6, 1), at(2025, 6, 9)) == days


def test_months_by_number_and_by_name() -> None:
    by_name = run_days("cron(0 0 1 JAN,jul ? *)", at(2025, 1, 1), at(2027, 1, 1))
    assert by_name == [date(2025, 1, 1), date(2025, 7, 1), date(2026, 1, 1), date(2026, 7, 1)]
    assert run_days("cron(0 0 1 1,7 ? *)", at(2025, 1, 1), at(2027, 1, 1)) == by_name
    quarters = run_days("cron(0 0 1 */3 ? *)", at(2025, 1, 1), at(2026, 1, 1))
    assert [d.month for d in quarters] == [1, 4, 7, 10]
    assert [d.month for d in run_days("cron(0 0 1 FEB-APR ? *)", at(2025, 1, 1), at(2026, 1, 1))] == [2, 3, 4]


def test_years_limit_the_runs() -> None:
    assert runs("cron(0 0 1 1 ? 2026)", at(2020, 1, 1), at(2030, 1, 1)) == [at(2026, 1, 1)]
    found = run_days("cron(0 0 1 1 ? 2025-2031/3)", at(2020, 1, 1), at(2040, 1, 1))
    assert found == [date(2025, 1, 1), date(2028, 1, 1), date(2031, 1, 1)]
    # Past the field's last year nothing runs, and the search stops rather than walk the months.
    assert runs("cron(0 0 * * ? 2024)", at(2025, 1, 1), datetime.max.replace(tzinfo=UTC)) == []


def test_day_of_month_values_a_month_does_not_have_are_skipped() -> None:
    found = run_days("cron(0 0 31 * ? *)", at(2025, 1, 1), at(2026, 1, 1))
    assert [d.month for d in found] == [1, 3, 5, 7, 8, 10, 12]
    assert run_days("cron(0 0 1-5/2 * ? *)", at(2025, 2, 1), at(2025, 3, 1)) == [
        date(2025, 2, 1),
        date(2025, 2, 3),
        date(2025, 2, 5),
    ]


def test_the_29th_of_february_comes_in_leap_years_only() -> None:
    found = run_days("cron(0 0 29 2 ? *)", at(2023, 1, 1), at(2033, 1, 1))
    assert found == [date(2024, 2, 29), date(2028, 2, 29), date(2032, 2, 29)]
    assert run_days("cron(0 0 29 FEB ? *)", at(2100, 1, 1), at(2101, 1, 1)) == []  # 2100 is no leap year


# -- L and # -------------------------------------------------------------------------------------


def test_l_in_day_of_month_is_the_last_day_leap_years_and_year_ends_included() -> None:
    found = run_days("cron(0 0 L * ? *)", at(2023, 12, 1), at(2025, 3, 1))
    assert found == [
        date(2023, 12, 31),
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
        date(2024, 7, 31),
        date(2024, 8, 31),
        date(2024, 9, 30),
        date(2024, 10, 31),
        date(2024, 11, 30),
        date(2024, 12, 31),
        date(2025, 1, 31),
        date(2025, 2, 28),
    ]


def test_5l_is_the_last_thursday_of_the_month() -> None:
    found = run_days("cron(0 9 ? * 5L *)", at(2025, 1, 1), at(2026, 1, 1))
    assert found == [
        date(2025, 1, 30),
        date(2025, 2, 27),
        date(2025, 3, 27),
        date(2025, 4, 24),
        date(2025, 5, 29),
        date(2025, 6, 26),
        date(2025, 7, 31),
        date(2025, 8, 28),
        date(2025, 9, 25),
        date(2025, 10, 30),
        date(2025, 11, 27),
        date(2025, 12, 25),
    ]
    assert all(d.weekday() == calendar.THURSDAY for d in found)
    assert run_days("cron(0 9 ? * THUL *)", at(2025, 1, 1), at(2026, 1, 1)) == found


def test_the_pages_last_friday_example_keeps_to_its_years() -> None:
    # cron(15 10 ? * 6L 2019-2022): 10:15 UTC on the last Friday of each month, 2019 to 2022.
    found = runs("cron(15 10 ? * 6L 2019-2022)", at(2018, 1, 1), at(2024, 1, 1))
    assert len(found) == 48
    assert found[0] == at(2019, 1, 25, 10, 15) and found[-1] == at(2022, 12, 30, 10, 15)


def test_2_hash_1_is_the_first_monday_and_3_hash_2_the_second_tuesday() -> None:
    first_mondays = run_days("cron(0 9 ? * 2#1 *)", at(2025, 1, 1), at(2025, 7, 1))
    assert first_mondays == [
        date(2025, 1, 6),
        date(2025, 2, 3),
        date(2025, 3, 3),
        date(2025, 4, 7),
        date(2025, 5, 5),
        date(2025, 6, 2),
    ]
    assert run_days("cron(0 9 ? * MON#1 *)", at(2025, 1, 1), at(2025, 7, 1)) == first_mondays
    assert run_days("cron(0 9 ? * 3#2 *)", at(2025, 9, 1), at(2025, 11, 1)) == [
        date(2025, 9, 9),
        date(2025, 10, 14),
    ]


def test_a_fifth_weekday_runs_only_in_months_that_have_one() -> None:
    # Fridays in 2025: five of them in January, May, August and October only.
    found = run_days("cron(0 0 ? * 6#5 *)", at(2025, 1, 1), at(2026, 1, 1))
    assert found == [date(2025, 1, 31), date(2025, 5, 30), date(2025, 8, 29), date(2025, 10, 31)]


# -- the window ----------------------------------------------------------------------------------


def test_runs_are_in_the_half_open_window() -> None:
    expression = "cron(0 6 * * ? *)"
    assert runs(expression, at(2025, 1, 1, 6), at(2025, 1, 3, 6)) == [at(2025, 1, 1, 6), at(2025, 1, 2, 6)]
    assert runs(expression, at(2025, 1, 1, 6, 1), at(2025, 1, 2, 6)) == []
    assert runs(expression, at(2025, 1, 2), at(2025, 1, 1)) == []
    moment = datetime(2025, 1, 1, 6, 0, 0, 1, tzinfo=UTC)  # a microsecond late
    assert runs(expression, moment, at(2025, 1, 2, 7)) == [at(2025, 1, 2, 6)]


def test_across_the_year_end() -> None:
    found = runs("cron(30 23,0 * * ? *)", at(2025, 12, 31, 12), at(2026, 1, 1, 12))
    assert found == [at(2025, 12, 31, 23, 30), at(2026, 1, 1, 0, 30)]


def test_runs_are_in_utc_whatever_zone_the_window_is_given_in() -> None:
    paris = timezone(timedelta(hours=1))
    start = datetime(2025, 1, 1, 8, 0, tzinfo=paris)  # 07:00 UTC
    cron = runs("cron(0 6 * * ? *)", start, start + timedelta(days=2))
    assert cron == [at(2025, 1, 2, 6), at(2025, 1, 3, 6)]
    rate = runs("rate(1 day)", start, start + timedelta(days=2))
    assert rate == [at(2025, 1, 1, 7), at(2025, 1, 2, 7)]
    assert all(r.tzinfo is UTC for r in cron + rate)


@pytest.mark.parametrize("expression", ["rate(1 day)", DEFAULT_SCHEDULE])
def test_a_window_without_a_time_zone_is_refused(expression: str) -> None:
    with pytest.raises(TypeError, match="start 2025-01-01T00:00:00 has no time zone"):
        list(parse_schedule(expression).runs(datetime(2025, 1, 1), at(2025, 2, 1)))
    with pytest.raises(TypeError, match=r"end .* has no time zone"):
        list(parse_schedule(expression).runs(at(2025, 1, 1), datetime(2025, 2, 1)))


# -- bad cron expressions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "is not an EventBridge expression"),
        ("daily", "is not an EventBridge expression"),
        ("0 6 * * ? *", "is not an EventBridge expression"),  # no cron(...)
        ("cron(0 6 * * ?)", "has 6 fields (minutes hours day-of-month month day-of-week year), not 5"),
        ("cron(0 0 6 * * ? *)", "not 7"),
        ("cron()", "not 0"),
        ("cron(60 6 * * ? *)", "minutes value '60' is not a number from 0 to 59"),
        ("cron(0 24 * * ? *)", "hours value '24' is not a number from 0 to 23"),
        ("cron(0 6 0 * ? *)", "day-of-month value '0' is not a number from 1 to 31"),
        ("cron(0 6 32 * ? *)", "day-of-month value '32'"),
        ("cron(0 6 * 13 ? *)", "month value '13' is not a number from 1 to 12 or one of JAN"),
        ("cron(0 6 * JAN-FOO ? *)", "month value 'FOO'"),
        ("cron(0 6 * MON ? *)", "month value 'MON'"),
        ("cron(0 6 ? * 0 *)", "day-of-week value '0' is not a number from 1 to 7 or one of SUN"),
        ("cron(0 6 ? * 8 *)", "day-of-week value '8'"),
        ("cron(0 6 ? * JAN *)", "day-of-week value 'JAN'"),
        ("cron(0 6 * * ? 1969)", "year value '1969' is not a number from 1970 to 2199"),
        ("cron(0 6 * * ? 2200)", "year value '2200'"),
        ("cron(0 6 * * * *)", "one of day-of-month ('*') and day-of-week ('*') must be '?'"),
        ("cron(0 6 1 * MON *)", "one of day-of-month ('1') and day-of-week ('MON') must be '?'"),
        ("cron(0 6 ? * ? *)", "and only one"),
        ("cron(? 6 * * ? *)", "minutes: '?' stands alone, and only in day-of-month or day-of-week"),
        ("cron(0 6 ?,1 * ? *)", "day-of-month: '?' stands alone"),
        ("cron(0 6 1,? * ? *)", "day-of-month: '?' stands alone"),
        ("cron(0 L * * ? *)", "hours value 'L'"),
        ("cron(0 6 1,,2 * ? *)", "day-of-month entry '' is not a value, a range (1-5) or a step"),
        ("cron(0 6 1-2-3 * ? *)", "day-of-month entry '1-2-3'"),
        ("cron(*-5 6 * * ? *)", "'*' cannot start a range"),
        ("cron(*/0 6 * * ? *)", "minutes step value '0' is not a number from 1 to 59"),
        ("cron(0/60 6 * * ? *)", "minutes step value '60'"),
        ("cron(0/x 6 * * ? *)", "minutes step value 'X'"),
        ("cron(0 6 * * ? */MON)", "year step value 'MON'"),
        ("cron(0 6 ? * 2#1,6#3 *)", "with '#', EventBridge allows one expression in the field, not a list"),
        ("cron(0 6 ? * 2#6 *)", "day-of-week occurrence (after '#') value '6' is not a number from 1 to 5"),
        ("cron(0 6 ? * 2#0 *)", "occurrence (after '#') value '0'"),
        ("cron(0 6 ? * 9#1 *)", "day-of-week value '9'"),
        ("cron(0 6 ? * 8L *)", "day-of-week value '8'"),
        ("cron(0 6 ? * L5 *)", "'L' comes alone or after a weekday (6L)"),
        ("cron(0 6 ? * 2-6L *)", "day-of-week value '2-6'"),
    ],
)
def test_a_bad_cron_is_refused_with_its_problem(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        parse_schedule(expression)
    assert not isinstance(refused.value, ScheduleUnsupported)  # EventBridge refuses these too
    assert str(refused.value).startswith(f"schedule {expression!r}")
    assert problem in str(refused.value)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("cron(0 6 15W * ? *)", "uses 'W' (nearest weekday), which the forecast does not simulate"),
        ("cron(0 6 LW * ? *)", "uses 'W'"),
        ("cron(0 6 1,L * ? *)", "reads 'L' (the month's last day) only on its own"),
        ("cron(0 6 L-2 * ? *)", "only on its own"),
        ("cron(0 6 ? * 2,6L *)", "reads 'L' and 'nL' only on their own"),
        ("cron(0 6 5-1 * ? *)", "day-of-month range '5-1' runs backwards"),
        ("cron(0 22-2 * * ? *)", "write it as two ranges (22-23,0-2)"),
        ("cron(0 6 ? * FRI-MON *)", "day-of-week range 'FRI-MON' runs backwards"),
    ],
)
def test_what_the_documentation_leaves_open_is_refused_as_unsupported(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleUnsupported) as refused:
        parse_schedule(expression)
    assert isinstance(refused.value, ScheduleError) and isinstance(refused.value, ValueError)
    assert problem in str(refused.value)


# -- properties ----------------------------------------------------------------------------------

MONTH_NAMES = [name.upper() for name in calendar.month_abbr[1:]]
WEEKDAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@dataclass(frozen=True)
class Field:
    text: str
    values: frozenset[int]


@st.composite
def fields(draw: st.DrawFn, low: int, high: int, names: list[str] | None = None) -> Field:
    """A cron field of 1 to 3 entries, with the values it means computed from the draw, not parsed."""

    def value(n: int) -> str:
        if names and draw(st.booleans()):
            name = names[n - low]
            return name if draw(st.booleans()) else name.lower()
        return str(n)

    texts: list[str] = []
    values: set[int] = set()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["*", "value", "range", "start/step", "*/step", "range/step"]))
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        step = draw(st.integers(1, high))
        if kind == "*":
            texts.append("*")
            values.update(range(low, high + 1))
        elif kind == "value":
            texts.append(value(a))
            values.add(a)
        elif kind == "range":
            texts.append(f"{value(a)}-{value(b)}")
            values.update(range(a, b + 1))
        elif kind == "start/step":
            texts.append(f"{value(a)}/{step}")
            values.update(range(a, high + 1, step))
        elif kind == "*/step":
            texts.append(f"*/{step}")
            values.update(range(low, high + 1, step))
        else:
            texts.append(f"{value(a)}-{value(b)}/{step}")
            values.update(range(a, b + 1, step))
    return Field(",".join(texts), frozenset(values))


@dataclass(frozen=True)
class Days:
    day_of_month: str
    day_of_week: str
    matches: Callable[[date], bool]


@st.composite
def day_rules(draw: st.DrawFn) -> Days:
    """One of the day fields (the other '?'), with the test's own reading of which dates it means."""
    kind = draw(st.sampled_from(["dom", "dom L", "dow", "dow L", "nL", "n#k"]))
    if kind == "dom":
        field = draw(fields(1, 31))
        return Days(field.text, "?", lambda d: d.day in field.values)
    if kind == "dom L":
        return Days("L", "?", is_last_of_month)
    if kind == "dow":
        field = draw(fields(1, 7, WEEKDAY_NAMES))
        return Days("?", field.text, lambda d: weekday(d) in field.values)
    if kind == "dow L":
        return Days("?", "L", lambda d: weekday(d) == 7)
    n = draw(st.integers(1, 7))
    shown = draw(st.sampled_from([str(n), WEEKDAY_NAMES[n - 1]]))
    if kind == "nL":
        return Days("?", f"{shown}L", lambda d: weekday(d) == n and (d + timedelta(days=7)).month != d.month)
    k = draw(st.integers(1, 5))
    return Days("?", f"{shown}#{k}", lambda d: weekday(d) == n and (d.day - 1) // 7 + 1 == k)


@st.composite
def window_starts(draw: st.DrawFn) -> datetime:
    """A start often at a month's or year's end, February of leap years included, to the second."""
    year = draw(st.integers(2023, 2029))
    month = draw(st.sampled_from([2, 12]) | st.integers(1, 12))
    length = calendar.monthrange(year, month)[1]
    day = draw(st.sampled_from([length - 1, length]) | st.integers(1, length))
    return datetime(
        year,
        month,
        day,
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
        tzinfo=UTC,
    )


def brute_force(start: datetime, end: datetime, accepts: Callable[[datetime], bool]) -> list[datetime]:
    minute = start.replace(second=0, microsecond=0)
    if minute < start:
        minute += timedelta(minutes=1)
    found = []
    while minute < end:
        if accepts(minute):
            found.append(minute)
        minute += timedelta(minutes=1)
    return found


@PROPERTY
@given(
    minutes=fields(0, 59),
    hours=fields(0, 23),
    days=day_rules(),
    months=st.just(Field("*", frozenset(range(1, 13)))) | fields(1, 12, MONTH_NAMES),
    years=st.sampled_from(
        [Field("*", frozenset(range(1970, 2200))), Field("2024-2026", frozenset({2024, 2025, 2026}))]
    ),
    start=window_starts(),
    length=st.integers(0, 3 * 24 * 60),
    cut=st.floats(0, 1),
)
def test_cron_runs_are_exactly_the_minutes_its_fields_accept(
    minutes: Field,
    hours: Field,
    days: Days,
    months: Field,
    years: Field,
    start: datetime,
    length: int,
    cut: float,
) -> None:
    expression = (
        f"cron({minutes.text} {hours.text} {days.day_of_month} {months.text} {days.day_of_week} {years.text})"
    )
    end = start + timedelta(minutes=length)

    def accepts(m: datetime) -> bool:
        return (
            m.minute in minutes.values
            and m.hour in hours.values
            and m.month in months.values
            and m.year in years.values
            and days.matches(m.date())
        )

    schedule = parse_schedule(expression)
    found = list(schedule.runs(start, end))
    assert found == brute_force(start, end, accepts)
    # A window cut in two gives the same runs: nothing lost or doubled at the cut.
    middle = start + (end - start) * cut
    assert list(schedule.runs(start, middle)) + list(schedule.runs(middle, end)) == found


@PROPERTY
@given(days=day_rules(), months=fields(1, 12, MONTH_NAMES), start=window_starts(), length=st.integers(0, 800))
def test_cron_runs_on_exactly_the_days_its_day_rule_accepts(
    days: Days, months: Field, start: datetime, length: int
) -> None:
    expression = f"cron(0 12 {days.day_of_month} {months.text} {days.day_of_week} *)"
    end = start + timedelta(days=length)
    found = runs(expression, start, end)
    expected = []
    day = start.date()
    while (moment := datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)) < end:
        if moment >= start and day.month in months.values and days.matches(day):
            expected.append(moment)
        day += timedelta(days=1)
    assert found == expected


@PROPERTY
@given(
    value=st.integers(1, 200),
    unit=st.sampled_from(["minute", "hour", "day"]),
    start=window_starts(),
    offset=st.integers(-12 * 60, 14 * 60),
    length=st.timedeltas(timedelta(0), timedelta(days=30)),
)
def test_rate_runs_step_from_the_start_and_stop_before_the_end(
    value: int, unit: str, start: datetime, offset: int, length: timedelta
) -> None:
    every = timedelta(**{f"{unit}s": value})
    expression = f"rate({value} {unit if value == 1 else unit + 's'})"
    local = start.astimezone(timezone(timedelta(minutes=offset)))
    found = runs(expression, local, local + length)
    if length:
        assert found[0] == start and found[0].tzinfo is UTC
    assert found == [start + i * every for i in range(len(found))]
    assert all(r < start + length for r in found)
    assert not found or found[-1] + every >= start + length
