"""The rotate report's "Coming up": the next four weeks of rotation, from what today's run read."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from ami_hygiene.core.clients import Clients
from ami_hygiene.core.report import Report, Section
from ami_hygiene.jobs.rotate import run as rotate_run
from ami_hygiene.jobs.rotate.coming_up import UNSHARED_NOTE
from ami_hygiene.jobs.rotate.forecast import RETIRING, NewImages
from ami_hygiene.jobs.rotate.run import run_rotation
from ami_hygiene.jobs.rotate.settings import RotateJobSettings
from sandbox.demo import Seeder
from tests.helpers.cli import run_cli
from tests.helpers.constants import NOW, REGION

ENV = {"REGIONS": REGION, "RETENTION_DAYS": "10", "DISABLE_GRACE_DAYS": "5", "KEEP_LATEST": "2"}
FLAGS = ["--region", REGION, "--retention-days", "10", "--disable-grace-days", "5", "--keep-latest", "2"]
ACTIONS = [a.value for a in RETIRING]
WEEKS = 4


@pytest.fixture
def estate(seeder: Seeder) -> dict[str, str]:
    """Two families building at their pace, nothing shared, nothing used: every week has work.

    app builds weekly (the next tomorrow): each build supersedes an image past the retention,
    disabled at once; svc builds daily: each build supersedes a young image, deprecated first.
    """
    seeder.family([(f"app-v{k}", 34 - 7 * (k - 1)) for k in range(1, 6)])  # ages 34, 27, 20, 13, 6
    seeder.family([("svc-v1", 3), ("svc-v2", 2), ("svc-v3", 1)])
    return dict(seeder.images)


def _settings(**overrides: Any) -> RotateJobSettings:
    return RotateJobSettings.load(ENV, overrides={"mode": "report", **overrides})


def _section(report: Report) -> dict[str, Any]:
    (section,) = [s for s in report.sections if s.key == "forecast"]
    return dict(section.data)


def test_the_report_has_four_weeks_coming_up_after_the_summary_and_before_the_actions(
    estate: dict[str, str],
) -> None:
    with time_machine.travel(NOW, tick=False):  # the runs are then 06:00 UTC on days 1 to 27
        code, out = run_cli(["rotate", "--mode", "report", "--format", "json", *FLAGS])
    assert code == 0
    coming = json.loads(out)["forecast"]
    assert len(coming["weeks"]) == WEEKS
    assert all(w.keys() == {"week_start", *ACTIONS, "gib_reclaimed"} for w in coming["weeks"])
    # Seven days each from the report's time (not calendar weeks), so week 1 is the next 7 days.
    starts = [(NOW + timedelta(days=7 * n)).date().isoformat() for n in range(WEEKS)]
    assert [w["week_start"] for w in coming["weeks"]] == starts
    assert all(sum(w[a] for a in ACTIONS) for w in coming["weeks"])  # this estate keeps every week busy
    assert set(coming["first_dates"]) == set(ACTIONS)
    assert coming["horizon_days"] == 28 and coming["runs"] == 27 and coming["schedule"] == "cron(0 6 * * ? *)"
    assert UNSHARED_NOTE in coming["assumptions"]
    assert any("sharing stay as they are today" in a for a in coming["assumptions"])

    with time_machine.travel(NOW, tick=False):
        code, text = run_cli(["rotate", "--mode", "report", *FLAGS])
    assert code == 0
    lines = text.splitlines()
    title = "Coming up (the next 28 days, if every run enforced these settings)"
    assert lines.index("Summary") < lines.index(title) < lines.index("Actions")
    table = lines[lines.index(title) + 1 : lines.index(title) + 7]
    assert table[0].split() == ["7", "days", "from", "deprecate", "disable", "deregister", "GiB"]
    assert [row.split()[0] for row in table[1:5]] == starts
    assert table[5].startswith("  first: deprecate ")


def test_the_weeks_are_the_full_forecasts_without_day_0_when_nothing_is_shared(
    estate: dict[str, str],
) -> None:
    from ami_hygiene.forecast.cli import forecast_account

    settings = _settings()
    report = run_rotation(settings, Clients(), now=NOW)
    coming = _section(report)
    full, _, unread = forecast_account(settings, Clients(), days=28, new_images=NewImages.CADENCE, now=NOW)
    assert unread == [] and full.start == NOW
    later = [e for e in full.events if e.at > NOW]
    weeks: list[dict[str, Any]] = []
    for n in range(WEEKS):
        start = NOW + timedelta(days=7 * n)
        found = [e for e in later if start <= e.at < start + timedelta(days=7)]
        counts = Counter(e.action.value for e in found)
        week = {"week_start": start.date().isoformat(), **{a: counts[a] for a in ACTIONS}}
        weeks.append({**week, "gib_reclaimed": sum(e.gib for e in found)})
    assert coming["weeks"] == weeks
    # Not a trivial match: every week has each kind of action.
    assert all(w[a] for w in weeks for a in ACTIONS), weeks
    firsts: dict[str, str] = {}
    for e in later:
        firsts.setdefault(e.action.value, e.day.isoformat())
    assert coming["first_dates"] == firsts
    # Day 0 is the report itself: its actions are not counted again.
    today = {(e.image_id, e.action) for e in full.events if e.at == NOW}
    assert today and today == {(d.image_id, d.action) for d in report.decisions if d.action in RETIRING}
    assert coming["gib_reclaimed"] == sum(e.gib for e in later) > 0


def test_coming_up_costs_no_call(estate: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    with_it = run_rotation(_settings(), Clients(), now=NOW)
    assert _section(with_it)["weeks"][0]["disable"]  # candidates whose sharing today's run did not read
    monkeypatch.setattr(rotate_run, "_coming_up", lambda *_: Section("forecast", "Coming up", {}, ()))
    without = run_rotation(_settings(), Clients(), now=NOW)
    assert _section(without) == {}
    assert with_it.api_calls == without.api_calls
    # Today's run read the launch permissions of today's candidates only.
    today = [d for d in with_it.decisions if d.action.value in ("disable", "deregister")]
    assert with_it.api_calls["ec2.DescribeImageAttribute"] == len(today) == 3


def test_it_stops_when_the_run_is_told_to_and_says_so(estate: dict[str, str]) -> None:
    asked = 0

    def should_stop() -> bool:
        nonlocal asked
        asked += 1
        return asked > 2  # the forecast asks before each run after the report's: runs 1 and 2 go

    report = run_rotation(_settings(), Clients(), now=NOW, should_stop=should_stop)
    coming = _section(report)
    stop = (NOW + timedelta(days=3)).date()
    assert coming["cut_short"] == f"stopped at {stop}: the run's time ran out"
    assert f"  ~ stopped at {stop}: the run's time ran out" in report.render_text().splitlines()
    # Only runs 1 and 2 were forecast: nothing from day 3 on.
    first, *rest = coming["weeks"]
    assert sum(first[a] for a in ACTIONS) > 0 and all(w[a] == 0 for w in rest for a in ACTIONS)
    assert all(day < stop.isoformat() for day in coming["first_dates"].values())
    # The run itself (report mode) was not cut: every decision is there.
    assert any(d.action.value == "disable" for d in report.decisions)


def test_coming_up_days_sets_the_horizon_and_zero_leaves_the_section_out(estate: dict[str, str]) -> None:
    with time_machine.travel(NOW, tick=False):
        ten = run_rotation(_settings(coming_up_days=10), Clients(), now=NOW)
        none = run_rotation(_settings(coming_up_days=0), Clients(), now=NOW)
    coming = _section(ten)
    assert coming["horizon_days"] == 10
    # Two windows: days 0-7, then the 3 days left; no event past the horizon.
    assert [w["week_start"] for w in coming["weeks"]] == [
        NOW.date().isoformat(),
        (NOW + timedelta(days=7)).date().isoformat(),
    ]
    assert coming["runs"] == 9  # days 1 to 9 at 06:00: a run at day 10 falls at the horizon, outside it
    assert "Coming up (the next 10 days" in ten.render_text()
    assert not none.sections
    assert "forecast" not in none.to_dict() and "Coming up" not in none.render_text()
    # The section costs no call: the same calls with it and without it.
    assert ten.api_calls == none.api_calls
