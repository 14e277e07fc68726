"""`ami-hygiene forecast`: rotation run forward over a seeded estate, read-only, as a user runs it."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from sandbox import set_last_launched
from sandbox.demo import Seeder
from tests.helpers.cli import run_cli
from tests.helpers.constants import NOW, REGION
from tests.helpers.sandbox import account_state

RETENTION, GRACE, KEEP = 10, 5, 2
SETTINGS = f"--retention-days {RETENTION} --disable-grace-days {GRACE} --keep-latest {KEEP}".split()
RETIRING = ("deprecate", "disable", "deregister")
# By age in days at NOW. Superseded: svc-v1 and svc-v2 past the retention, svc-v3 to svc-v5 younger
# (svc-v4's retention ends at 18:00, between two runs), web-1 past it. Then the newest KEEP of each
# family, and two old svc images in use.
SUPERSEDED = {"svc-v1": 40, "svc-v2": 12.5, "svc-v3": 8, "svc-v4": 4.5, "svc-v5": 3, "web-1": 30}
NEWEST = {"svc-v6": 1, "svc-v7": 0.5, "web-2": 2, "web-3": 1}
USED_BY_INSTANCE, USED_BY_TEMPLATE = "svc-v0", "svc-v01"
IN_USE = {USED_BY_INSTANCE: 50, USED_BY_TEMPLATE: 45}
READ_PREFIXES = ("Describe", "Get", "List")


@pytest.fixture
def estate(seeder: Seeder) -> dict[str, str]:
    """Name -> image id: families svc (superseded, newest, in use) and web (one superseded), 8 GiB each."""
    for name, age in {**SUPERSEDED, **NEWEST, **IN_USE}.items():
        seeder.image(name, age)
    images = seeder.images
    seeder.ec2.run_instances(ImageId=images[USED_BY_INSTANCE], MinCount=1, MaxCount=1)
    # Launching stamps LastLaunchedTime; age it so only the instance's use keeps the image.
    set_last_launched(images[USED_BY_INSTANCE], REGION, NOW - timedelta(days=200))
    seeder.ec2.create_launch_template(
        LaunchTemplateName="svc", LaunchTemplateData={"ImageId": images[USED_BY_TEMPLATE]}
    )
    return dict(images)


@pytest.fixture
def received(aws: None, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every request the embedded AWS answers in this process, as "service.Operation"."""
    from moto.core.botocore_stubber import BotocoreStubber

    seen: Counter[str] = Counter()
    lock = threading.Lock()  # the CLI reads side by side
    answer = BotocoreStubber.process_request

    def recording(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            seen[_operation(request)] += 1
        return answer(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", recording)
    return seen


def _operation(request: Any) -> str:
    service = (urlsplit(request.url).hostname or "").split(".")[0]
    target = request.headers.get("X-Amz-Target")  # JSON protocols (SSM): "AmazonSSM.GetParameters"
    if target:
        name = target.decode() if isinstance(target, bytes) else target
        return f"{service}.{name.rsplit('.', 1)[-1]}"
    body = request.body or b""
    form = parse_qs(body.decode() if isinstance(body, bytes) else body)  # query protocols: EC2, STS, ...
    return f"{service}.{form.get('Action', [request.method])[0]}"


def _forecast(*argv: str) -> tuple[int, str]:
    """The CLI's forecast with the clock stopped at NOW, 06:00 UTC: its runs are then known to the second."""
    with time_machine.travel(NOW, tick=False):
        return run_cli(["forecast", "--region", REGION, *SETTINGS, *argv])


def _json_forecast(*argv: str) -> dict[str, Any]:
    code, out = _forecast("--format", "json", *argv)
    assert code == 0, out
    document: dict[str, Any] = json.loads(out)
    return document


def _day(n: float) -> date:
    return (NOW + timedelta(days=n)).date()


def _events(document: dict[str, Any], estate: dict[str, str]) -> dict[str, list[tuple[str, date]]]:
    """Image name -> its events in order, (action, date)."""
    names = {v: k for k, v in estate.items()}
    found: dict[str, list[tuple[str, date]]] = {}
    for e in document["events"]:
        found.setdefault(names.get(e["image_id"], e["image_id"]), []).append(
            (e["action"], date.fromisoformat(e["date"]))
        )
    return found


# -- the JSON document ---------------------------------------------------------------------------


def test_json_forecast_of_the_default_horizon(estate: dict[str, str]) -> None:
    document = _json_forecast()
    assert document["job"] == "forecast" and document["horizon_days"] == 90
    assert document["regions"] == [REGION] and document["new_images"] == "cadence"
    assert document["runs"] == 90  # now, then 06:00 UTC on each of the next 89 days
    assert any(
        "usage" in a and "sharing" in a and "as they are today" in a for a in document["assumptions"]
    ), document["assumptions"]
    events = document["events"]
    assert events and all(
        {"date", "image_id", "name", "family", "region", "action", "reason"} <= e.keys() for e in events
    )
    disable, deregister = [e for e in events if e["image_id"] == estate["svc-v1"]]
    assert disable["action"] == "disable" and disable["date"] == NOW.date().isoformat()
    assert disable["name"] == "svc-v1" and disable["family"] == "svc" and disable["region"] == REGION
    assert "older than the 10-day retention" in disable["reason"]
    assert deregister["action"] == "deregister" and deregister["gib"] == 8
    # Each family keeps building at its pace: its assumed builds retire within the horizon too.
    assert any(e.get("assumed_build") for e in events)
    weeks = document["by_week"]
    starts = [date.fromisoformat(w["week_start"]) for w in weeks]
    assert all(d.weekday() == 0 for d in starts) and starts[0] <= NOW.date() < starts[0] + timedelta(days=7)
    assert all(b - a == timedelta(days=7) for a, b in pairwise(starts))
    assert starts[-1] <= _day(89) < starts[-1] + timedelta(days=7)
    for action in RETIRING:
        assert sum(w[action] for w in weeks) == sum(e["action"] == action for e in events)
    deregistered = [e for e in events if e["action"] == "deregister"]
    assert (
        document["gib_reclaimed"]
        == sum(e["gib"] for e in deregistered)
        == sum(w["gib_reclaimed"] for w in weeks)
    )
    assert document["gib_reclaimed"] >= 8 * len(SUPERSEDED)  # every superseded image goes, 8 GiB each
    assert document["monthly_saving_usd"] == round(document["gib_reclaimed"] * 0.05, 2)


def test_each_superseded_image_retires_on_schedule_and_nothing_needed_appears(estate: dict[str, str]) -> None:
    document = _json_forecast("--new-images", "none", "--days", "30")
    runs = [NOW + timedelta(days=k) for k in range(30)]  # cron(0 6 * * ? *) from 06:00 UTC: one a day
    found = _events(document, estate)
    assert set(found) == set(SUPERSEDED)  # the newest KEEP and the images in use never appear
    for name, age in SUPERSEDED.items():
        created = NOW - timedelta(days=age)
        disabled = next(r for r in runs if r >= created + timedelta(days=RETENTION))
        gone = next(r for r in runs if r >= disabled + timedelta(days=GRACE))
        expected = [("disable", disabled.date()), ("deregister", gone.date())]
        if disabled > NOW:  # still young today: deprecated today, for its retirement
            expected.insert(0, ("deprecate", NOW.date()))
        assert found[name] == expected, name
    # The same, spelled out for the image that retires between two runs (created + 10 days = day 5, 18:00).
    assert found["svc-v4"] == [
        ("deprecate", _day(0)),
        ("disable", _day(6)),
        ("deregister", _day(11)),
    ]
    families = {f["family"]: f for f in document["families"]}
    assert families["web"]["last_old_image_gone"] == _day(5).isoformat()
    assert families["svc"]["old_images_left"] == 2  # the two in use
    assert families["svc"]["last_old_image_gone"] is None


def test_day_0_is_todays_report_mode_plan(estate: dict[str, str]) -> None:
    # A budget smaller than today's work: day 0 must also defer what rotate defers.
    budget = ["--max-actions", "3"]
    document = _json_forecast(*budget)
    with time_machine.travel(NOW, tick=False):
        code, out = run_cli(
            ["rotate", "--mode", "report", "--region", REGION, *SETTINGS, *budget, "--format", "json"]
        )
    assert code == 0, out
    planned = {
        (d["image_id"], d["action"])
        for d in json.loads(out)["decisions"]
        if d["action"] in RETIRING and d["outcome"] == "planned"
    }
    day_0 = {(e["image_id"], e["action"]) for e in document["events"] if e["date"] == NOW.date().isoformat()}
    assert day_0 == planned
    assert len(day_0) == 3  # deferred ones wait for the next run, in the forecast as in rotate


def test_it_only_reads_and_changes_nothing(estate: dict[str, str], received: Counter[str]) -> None:
    before = account_state()
    received.clear()  # the seeding's own calls
    document = _json_forecast("--new-images", "none", "--days", "30")
    assert received, "the forecast read nothing"
    writes = {op for op in received if not op.split(".")[1].startswith(READ_PREFIXES)}
    assert writes == set()
    # What the document says it called is what the embedded AWS answered (the counter names Auto
    # Scaling by its service id, the request by its host).
    assert {
        op.replace("auto-scaling.", "autoscaling."): n for op, n in document["api_calls"].items()
    } == received
    # Launch permissions are read once per image a run would retire, when that run comes.
    retired = {e["image_id"] for e in document["events"] if e["action"] in ("disable", "deregister")}
    assert received["ec2.DescribeImageAttribute"] == len(retired) == len(SUPERSEDED)
    assert account_state() == before
    assert all(deprecation is None for *_, deprecation in before["images"])


def test_assume_unshared_reads_no_image_and_forecasts_the_same_when_nothing_is_shared(
    estate: dict[str, str], received: Counter[str]
) -> None:
    read = _json_forecast("--new-images", "none", "--days", "30")
    received.clear()
    assumed = _json_forecast("--new-images", "none", "--days", "30", "--assume-unshared")
    # No per-image read at all, only the listings.
    assert received["ec2.DescribeImageAttribute"] == received["ec2.DescribeImageReferences"] == 0
    assert received["ec2.DescribeImages"] >= 1

    # Nothing in the estate is shared, so taking it as unshared changes no event (only some reasons:
    # references were not read).
    def what(document: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(e["date"], e["image_id"], e["action"]) for e in document["events"]]

    assert what(assumed) == what(read) and what(read)
    assert any("taken as unshared" in a for a in assumed["assumptions"])
    assert not any("taken as unshared" in a for a in read["assumptions"])


# -- text --------------------------------------------------------------------------------------


def test_text_has_the_weeks_the_chart_the_families_and_the_assumptions(estate: dict[str, str]) -> None:
    code, out = _forecast("--new-images", "none", "--days", "30")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("[ami-hygiene] forecast: ")
    assert "FORECAST: nothing was changed." in out
    header = next(line for line in lines if line.strip().startswith("week of"))
    assert header.split() == ["week", "of", "deprecate", "disable", "deregister", "GiB"]
    chart = lines.index("GiB reclaimed per week")
    bars = [
        line
        for line in lines[chart + 1 : lines.index("Families (those with something in the horizon)")]
        if "█" in line
    ]
    assert bars, out
    # The largest week, a full bar: svc-v1, svc-v2 and web-1 (day 5) and svc-v3 (day 7), 8 GiB each.
    assert f"  {_day(3)} │{'█' * 40} 32" in bars
    assert f"  {_day(10)} │{'█' * 20} 16" in bars  # svc-v4 and svc-v5, half as much
    assert f"{REGION} web: " in out and f"last old image gone {_day(5)}" in out
    assert f"{REGION} svc: " in out and "2 old images still there at the end" in out
    assert "Assumptions" in lines
    assert any("sharing stay as they are today" in line for line in lines)
    assert "  - no new images are built" in lines


def test_output_writes_the_file(estate: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "forecast.txt"
    code, out = _forecast("--days", "14", "--output", str(target))
    assert code == 0 and out == f"forecast written to {target}\n"
    assert target.read_text().startswith("[ami-hygiene] forecast: ")


def test_chart_writes_an_svg(
    estate: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "x.svg"
    code, _ = _forecast("--days", "14", "--chart", str(target), "--quiet")
    assert code == 0
    assert "<svg" in target.read_text() and "GiB reclaimed" in target.read_text()
    assert f"chart written to {target}" in capsys.readouterr().err


# -- the schedule ------------------------------------------------------------------------------


def test_a_weekly_rate_runs_on_day_0_and_every_7_days(estate: dict[str, str]) -> None:
    document = _json_forecast("--new-images", "none", "--days", "30", "--schedule", "rate(7 days)")
    assert document["schedule"] == "rate(7 days)" and document["runs"] == 5
    days = {(date.fromisoformat(e["date"]) - NOW.date()).days for e in document["events"]}
    assert days <= {0, 7, 14, 21, 28} and days - {0}
    # Due on day 2 and day 5 (18:00) on a daily schedule: both wait for the run of day 7.
    found = _events(document, estate)
    assert ("disable", _day(7)) in found["svc-v3"] and ("disable", _day(7)) in found["svc-v4"]


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--days", "0"], "argument --days: '0' is not a number of days from 1 to 730"),
        (["--days", "731"], "argument --days: '731' is not a number of days from 1 to 730"),
        (["--days", "x"], "argument --days: 'x' is not a number of days from 1 to 730"),
        (["--new-images", "weekly"], "argument --new-images: invalid choice: 'weekly'"),
    ],
)
def test_bad_arguments_exit_2_before_any_call(
    argv: list[str], message: str, received: Counter[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        run_cli(["forecast", *argv])
    assert exit_.value.code == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert message in error
    assert received == Counter()


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--chart", "out.gif"], ["--chart 'out.gif': the file name must end in .png or .svg"]),
        (["--retention-days", "0"], ["RETENTION_DAYS must be between 1 and 3650"]),
        (
            ["--schedule", "cron(0 6 * * *)"],
            ["ROTATION_SCHEDULE", "'cron(0 6 * * *)': a cron expression has 6 fields", "not 5"],
        ),
    ],
)
def test_bad_settings_exit_2_with_one_line_before_any_call(
    argv: list[str],
    fragments: list[str],
    received: Counter[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a chart, were one drawn, would land here
    code, out = run_cli(["forecast", *argv])
    assert code == 2 and out == ""
    err = capsys.readouterr().err
    assert err.startswith("ami-hygiene: error: ") and err.count("\n") == 1
    assert all(f in err for f in fragments), err
    assert received == Counter()
    assert list(tmp_path.iterdir()) == []
