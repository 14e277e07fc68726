"""The forecast's `--chart` picture (ami_hygiene/forecast/chart.py): PNG and SVG, the same weeks as the text.

A tiny estate run forward four weeks with the pure planner: three old web images in one region
and one in another are disabled on the first run and deregistered a week later (8 GiB each).
SVG text is kept as text, so what the picture says is read back from the file.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import timedelta
from functools import cache
from pathlib import Path

import pytest

from ami_hygiene.core.estate import RegionEstate
from ami_hygiene.forecast.chart import MAX_LABELS, ChartError, check_chart, write_chart
from ami_hygiene.jobs.rotate.forecast import Forecast, NewImages, simulate
from ami_hygiene.jobs.rotate.policy import plan_rotation
from ami_hygiene.jobs.rotate.schedule import DEFAULT_SCHEDULE, parse_schedule
from ami_hygiene.jobs.rotate.settings import RotateJobSettings
from tests.helpers.builders import estate, image
from tests.helpers.constants import OTHER_REGION, POLICY_NOW, REGION

ROOT = Path(__file__).resolve().parents[3]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_TEXT = "{http://www.w3.org/2000/svg}text"
SETTINGS = RotateJobSettings.load(
    {
        "REGIONS": f"{REGION},{OTHER_REGION}",
        "RETENTION_DAYS": "30",
        "KEEP_LATEST": "1",
        "DISABLE_GRACE_DAYS": "7",
        "MAX_ACTIONS": "100",
    }
)


def _region(region: str, old: int) -> RegionEstate:
    """`old` images of family web past retention, and the newest one that is kept."""
    images = [
        image(f"ami-{region}-{n}", 100 + 10 * n, f"web-v{n}", region=region, snapshots=[f"snap-{region}-{n}"])
        for n in range(old)
    ]
    newest = image(f"ami-{region}-new", 1, "web-v9", region=region, snapshots=[f"snap-{region}-new"])
    return estate(*images, newest, region=region, sharing_read=True, references_checked=True)


def _forecast(*estates: RegionEstate, days: int = 28) -> Forecast:
    runs = list(parse_schedule(DEFAULT_SCHEDULE).runs(POLICY_NOW, POLICY_NOW + timedelta(days=days)))
    return simulate(
        estates,
        SETTINGS,
        runs,
        lambda e, t, b: (plan_rotation(e, SETTINGS, t, b), e),
        days=days,
        schedule=DEFAULT_SCHEDULE,
        new_images=NewImages.NONE,
    )


@cache
def busy() -> Forecast:
    return _forecast(_region(REGION, 3), _region(OTHER_REGION, 1))


@cache
def empty() -> Forecast:
    return _forecast(estate(region=REGION))


def svg_texts(path: Path, style: str = "") -> list[str]:
    """The SVG's texts in drawing order, those whose style has `style` if given."""
    root = ET.parse(path).getroot()
    return ["".join(t.itertext()).strip() for t in root.iter(SVG_TEXT) if style in t.get("style", "")]


def test_the_example_has_weeks_with_and_without_actions() -> None:
    """What the other tests read in the picture, as the forecast itself counts it."""
    weeks = busy().weeks()
    assert [w.gib for w in weeks] == [0, 32, 0, 0, 0]
    assert busy().gib_reclaimed == 32 and busy().monthly_saving_usd == 1.6
    assert empty().events == () and len(empty().weeks()) == 5


@pytest.mark.parametrize("name", ["forecast.png", "FORECAST.PNG"])
def test_a_png_is_a_png_of_the_figures_size(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_chart(busy(), path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    # IHDR, the first chunk: width and height in pixels (11 x 7 inches at 100 dpi).
    assert data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (1100, 700)


def test_an_svg_says_the_weeks_totals_and_assumptions(tmp_path: Path) -> None:
    path = tmp_path / "forecast.Svg"
    write_chart(busy(), str(path))
    texts = svg_texts(path)
    joined = "\n".join(texts)
    for week in busy().weeks():
        assert f"{week.start:%Y-%m-%d}" in texts
    assert "Rotation forecast: 28 days from 2024-06-02 (28 runs of cron(0 6 * * ? *))" in texts
    assert f"regions: {REGION}, {OTHER_REGION}; no new images" in texts
    assert "Total 32 GiB reclaimed, ~1.60 USD/month saved at 0.05 USD/GiB-month" in texts
    axes = {"GiB reclaimed (snapshots deleted)", "images per week", "week starting (Monday, UTC)"}
    assert axes | {"deprecate", "disable", "deregister"} <= set(texts)
    # The week's GiB over its bar, then each week's number of images over its stack (small,
    # centred text; the axes' numbers are larger).
    assert [t for t in svg_texts(path, "font-size: 8px") if t.isdigit()] == ["32", "4", "4"]
    assert "nothing to reclaim" not in joined


def test_new_images_and_many_regions_are_named_in_the_title(tmp_path: Path) -> None:
    regions = ("eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "us-east-1", "us-east-2")
    forecast = replace(busy(), regions=regions, new_images=NewImages.CADENCE)
    write_chart(forecast, tmp_path / "f.svg")
    texts = svg_texts(tmp_path / "f.svg")
    assert (
        "regions: eu-west-1, eu-west-2, eu-west-3, eu-central-1 (+2 more); "
        "new images at each family's pace (0 assumed)"
    ) in texts


def test_an_empty_forecast_still_draws_its_weeks_and_says_nothing_to_reclaim(tmp_path: Path) -> None:
    write_chart(empty(), tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes().startswith(PNG_MAGIC)
    write_chart(empty(), tmp_path / "empty.svg")
    texts = svg_texts(tmp_path / "empty.svg")
    assert "nothing to reclaim in the next 28 days" in texts
    assert "no actions" in texts
    assert any(t.startswith("Total: nothing to reclaim") for t in texts)
    assert [f"{w.start:%Y-%m-%d}" for w in empty().weeks()] == [t for t in texts if t.startswith("2024-")]


def test_a_long_horizon_labels_every_nth_week(tmp_path: Path) -> None:
    two_years = replace(empty(), days=730)
    weeks = two_years.weeks()
    assert len(weeks) > MAX_LABELS
    write_chart(two_years, tmp_path / "long.svg")
    labels = [t for t in svg_texts(tmp_path / "long.svg") if t[:3] in {"202", "203"}]
    assert labels[0] == f"{weeks[0].start:%Y-%m-%d}"
    assert len(labels) <= MAX_LABELS


def test_the_same_forecast_gives_the_same_svg(tmp_path: Path) -> None:
    import matplotlib

    before = dict(matplotlib.rcParams)
    write_chart(busy(), tmp_path / "a.svg")
    write_chart(busy(), tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    assert b"<dc:date>" not in (tmp_path / "a.svg").read_bytes()
    # The SVG settings were the chart's only: the process's own are as they were.
    assert dict(matplotlib.rcParams) == before


@pytest.mark.parametrize("name", ["forecast.pdf", "forecast", "forecast.png.txt", "forecast.jpeg", ".png"])
def test_another_suffix_is_refused_and_nothing_is_written(tmp_path: Path, name: str) -> None:
    with pytest.raises(ChartError, match=r"must end in \.png or \.svg"):
        write_chart(busy(), tmp_path / name)
    with pytest.raises(ChartError, match=r"must end in \.png or \.svg"):
        check_chart(tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    assert issubclass(ChartError, ValueError)


def test_without_matplotlib_it_says_to_install_the_requirements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert check_chart(tmp_path / "forecast.PNG") == "png"
    # A None entry in sys.modules makes `import matplotlib` raise ImportError (and find_spec find none).
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ChartError, match=r"pip install -r requirements\.txt"):
        write_chart(busy(), tmp_path / "forecast.png")
    # The CLI asks before it reads the account, so a missing matplotlib costs no wait.
    with pytest.raises(ChartError, match=r"pip install -r requirements\.txt"):
        check_chart(tmp_path / "forecast.svg")
    # The suffix is checked first: its own message, whatever is installed.
    with pytest.raises(ChartError, match=r"\.png or \.svg"):
        write_chart(busy(), tmp_path / "forecast.gif")
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_written_is_a_chart_error(tmp_path: Path) -> None:
    with pytest.raises(ChartError, match="cannot write it"):
        write_chart(busy(), tmp_path / "no-such-folder" / "forecast.png")


def test_importing_the_module_loads_no_matplotlib_and_drawing_loads_no_pyplot(tmp_path: Path) -> None:
    """A Lambda function never pays for matplotlib; the CLI loads it only to draw, and never pyplot.

    Checking a --chart path before the account is read loads none of it either.
    """
    probe = (
        "import sys\n"
        "import ami_hygiene.forecast.chart as chart\n"
        "chart.check_chart('forecast.svg')\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'matplotlib'))\n"
        "from tests.unit.forecast.test_chart import empty\n"
        f"chart.write_chart(empty(), {str(tmp_path / 'probe.png')!r})\n"
        "print('matplotlib.figure' in sys.modules, 'matplotlib.pyplot' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={
            "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT)]),
            "PATH": "",
            "HOME": os.environ.get("HOME", str(tmp_path)),
        },
    )
    after_import, after_drawing = done.stdout.splitlines()
    assert after_import == "[]"
    # The probe sees matplotlib once it is loaded: the first line could have failed.
    assert after_drawing == "True False"
    assert (tmp_path / "probe.png").read_bytes().startswith(PNG_MAGIC)
