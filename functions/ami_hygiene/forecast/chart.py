"""`ami-hygiene forecast --chart FILE.png|svg`: the forecast's weeks as a picture.

The text output's bar chart, drawn with matplotlib: GiB reclaimed per week above, the
week's retiring actions (deprecate, disable, deregister) stacked below, the totals in a
note. matplotlib is the CLI's alone (requirements.txt): it is imported only when a chart is
drawn, never by a Lambda function, and through `Figure` and its Agg canvas rather than
pyplot, so no display, no global figure registry and no backend switch are needed.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from ami_hygiene.core.plan import Action
from ami_hygiene.jobs.rotate.forecast import RETIRING, Forecast, NewImages, Week

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = {".png": "png", ".svg": "svg"}
# Past this many weeks, only every n-th week is labelled (a two-year horizon has 105).
MAX_LABELS = 26
MAX_REGIONS_NAMED = 4
COLORS = {Action.DEPRECATE: "#f2c14e", Action.DISABLE: "#f78154", Action.DEREGISTER: "#b4436c"}
GIB_COLOR = "#4d9078"
# SVG ids are hashed from this salt (and no date is written), so the same forecast gives the same file.
SVG_SALT = "ami-hygiene-forecast"
NO_MATPLOTLIB = "--chart needs matplotlib, one of the CLI's requirements: pip install -r requirements.txt"


class ChartError(ValueError):
    """The chart cannot be drawn or written: an unknown file suffix, no matplotlib, a bad path."""


def chart_format(path: str | os.PathLike[str]) -> str:
    """'png' or 'svg', from the file's suffix (any case)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        accepted = " or ".join(FORMATS)
        raise ChartError(f"--chart {os.fspath(path)!r}: the file name must end in {accepted}")
    return FORMATS[suffix]


def check_chart(path: str | os.PathLike[str]) -> str:
    """What `write_chart` would refuse, found before the forecast is read: a bad suffix, no matplotlib.

    Returns the format. matplotlib is looked for, not imported.
    """
    fmt = chart_format(path)
    if importlib.util.find_spec("matplotlib") is None:
        raise ChartError(NO_MATPLOTLIB)
    return fmt


def write_chart(forecast: Forecast, path: str | os.PathLike[str]) -> None:
    """Draw `forecast` week by week into `path`, a PNG or an SVG file by its suffix."""
    fmt = chart_format(path)
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ChartError(NO_MATPLOTLIB) from err

    # rc_context restores what it changes once the chart is saved. SVG text is kept as text
    # (not glyph paths), so it can be searched and read; a "$" in a name is not TeX.
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT, "svg.fonttype": "none", "text.parse_math": False}):
        fig = Figure(figsize=(11, 7), layout="constrained")
        FigureCanvasAgg(fig)
        _draw(fig, forecast)
        out = io.BytesIO()
        fig.savefig(out, format=fmt, dpi=100, metadata=_metadata(fmt))
    # Drawn in memory first: a failed drawing leaves no half-written file behind.
    try:
        Path(path).write_bytes(out.getvalue())
    except OSError as err:
        raise ChartError(f"--chart {os.fspath(path)!r}: cannot write it: {err.strerror or err}") from err


def _metadata(fmt: str) -> dict[str, str | None]:
    found: dict[str, str | None] = {"Title": "ami-hygiene forecast"}
    if fmt == "svg":
        found["Date"] = None  # no date written: the same forecast, the same file
    return found


def _draw(fig: Figure, forecast: Forecast) -> None:
    weeks = forecast.weeks()
    x = list(range(len(weeks)))
    labels = [f"{w.start:%Y-%m-%d}" for w in weeks]
    gib_ax, actions_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    fig.suptitle(_title(forecast), fontsize=12)

    _gib_panel(gib_ax, x, weeks, forecast)
    _actions_panel(actions_ax, x, weeks)

    step = max(1, math.ceil(len(weeks) / MAX_LABELS))
    actions_ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right", fontsize=8)
    actions_ax.set_xlabel("week starting (Monday, UTC)")
    if x:
        actions_ax.set_xlim(-0.6, len(x) - 0.4)
    # As the figure's bottom label, constrained layout makes room for the note.
    fig.supxlabel(_note(forecast), fontsize=9, color="#333333")


def _gib_panel(ax: Axes, x: list[int], weeks: list[Week], forecast: Forecast) -> None:
    from matplotlib.ticker import MaxNLocator

    gib = [w.gib for w in weeks]
    bars = ax.bar(x, gib, width=0.7, color=GIB_COLOR, label="GiB reclaimed")
    if len(weeks) <= MAX_LABELS:
        ax.bar_label(bars, labels=[f"{g:,}" if g else "" for g in gib], fontsize=8, padding=2)
    ax.set_ylabel("GiB reclaimed (snapshots deleted)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max(gib, default=0)
    ax.set_ylim(0, top * 1.15 if top else 1)
    ax.grid(axis="y", alpha=0.3)
    if not forecast.gib_reclaimed:
        ax.text(
            0.5,
            0.5,
            f"nothing to reclaim in the next {forecast.days} days",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=12,
            color="#666666",
        )


def _actions_panel(ax: Axes, x: list[int], weeks: list[Week]) -> None:
    from matplotlib.ticker import MaxNLocator

    bottom = [0] * len(weeks)
    for action in RETIRING:
        counts = [w.counts.get(action, 0) for w in weeks]
        bars = ax.bar(x, counts, width=0.7, bottom=bottom, color=COLORS[action], label=action.value)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    if len(weeks) <= MAX_LABELS:
        # The last layer's bars end at the top of each stack: the week's total there.
        ax.bar_label(bars, labels=[str(n) if n else "" for n in bottom], fontsize=8, padding=2)
    ax.set_ylabel("images per week")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max(bottom, default=0)
    ax.set_ylim(0, top * 1.3 if top else 1)  # room for the legend
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, ncols=len(RETIRING), frameon=False)
    if not top:
        ax.text(0.5, 0.5, "no actions", transform=ax.transAxes, ha="center", va="center", color="#666666")


def _title(forecast: Forecast) -> str:
    regions = list(forecast.regions)
    named = ", ".join(regions[:MAX_REGIONS_NAMED])
    if len(regions) > MAX_REGIONS_NAMED:
        named += f" (+{len(regions) - MAX_REGIONS_NAMED} more)"
    if forecast.new_images is NewImages.NONE:
        new = "no new images"
    else:
        new = f"new images at each family's pace ({len(forecast.builds)} assumed)"
    return (
        f"Rotation forecast: {forecast.days} days from {forecast.start.astimezone(UTC):%Y-%m-%d} "
        f"({len(forecast.runs)} runs of {forecast.schedule})\n"
        f"regions: {named or 'none'}; {new}"
    )


def _note(forecast: Forecast) -> str:
    if forecast.gib_reclaimed:
        total = (
            f"Total {forecast.gib_reclaimed:,} GiB reclaimed, "
            f"~{forecast.monthly_saving_usd:,.2f} USD/month saved "
            f"at {forecast.settings.price_per_gib_month} USD/GiB-month"
        )
    else:
        total = "Total: nothing to reclaim"
    more = []
    if forecast.deferred_at_end:
        more.append(f"{forecast.deferred_at_end} actions still deferred by the budget at the end")
    if forecast.errors:
        more.append(f"{len(forecast.errors)} errors on the first run (see the text output)")
    more.append("every run assumed to enforce and succeed (the text output lists all assumptions)")
    return f"{total}\n{'; '.join(more)}"
