"""The geometry of the report's score chart: horizontal bars on a 0 to 100 percent axis.

The report page draws it as inline SVG from these numbers, so it needs no script. All
lengths are in SVG user units of the chart's ``viewBox``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

WIDTH = 640
# Category names are drawn left of the bars, cut to this many characters. The bar's
# <title> and the table below the chart contain the full name.
LABEL_CHARS = 24
PLOT_LEFT = 190
# The space right of the plot contains the value label of a full bar ("100%").
PLOT_WIDTH = 390
# The space above the bars contains the pass mark's label.
PLOT_TOP = 26
BAR_HEIGHT = 22
BAR_GAP = 12
# The space below the bars contains the axis and its tick labels.
AXIS_HEIGHT = 30
TICKS = (0, 20, 40, 60, 80, 100)
OVERALL_NAME = "Overall"


@dataclasses.dataclass(frozen=True)
class ChartBar:
    """One bar: a category's percentage, or the weighted overall score when ``overall`` is true."""

    name: str
    label: str
    value: float
    y: float
    width: float
    overall: bool
    passed: bool | None

    @property
    def value_text(self) -> str:
        return f"{self.value:g}%"


@dataclasses.dataclass(frozen=True)
class ChartTick:
    value: int
    x: float


@dataclasses.dataclass(frozen=True)
class ScoreChart:
    """The chart's bars, axis ticks and pass mark line, with its accessible title and description."""

    bars: tuple[ChartBar, ...]
    ticks: tuple[ChartTick, ...]
    pass_mark: float | None
    pass_x: float | None
    height: float
    title: str
    description: str
    width: float = WIDTH
    plot_left: float = PLOT_LEFT
    plot_width: float = PLOT_WIDTH
    plot_top: float = PLOT_TOP
    bar_height: float = BAR_HEIGHT

    @property
    def plot_bottom(self) -> float:
        return self.height - AXIS_HEIGHT

    @property
    def pass_anchor(self) -> str:
        """Return the text-anchor that keeps the pass mark's label inside the chart."""
        if self.pass_x is None or self.pass_x < self.plot_left + 60:
            return "start"
        if self.pass_x > self.plot_left + self.plot_width - 60:
            return "end"
        return "middle"


def _x(percent: float) -> float:
    return round(PLOT_LEFT + PLOT_WIDTH * percent / 100.0, 1)


def _clamp(value: float) -> float:
    return min(max(value, 0.0), 100.0)


def _label(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


def score_chart(
    categories: list[dict[str, Any]], overall: float | None, pass_mark: float | None
) -> ScoreChart | None:
    """Lay out the chart of the overall score and each category's percentage.

    ``categories`` are rows of ``{"name", "percent"}``. Return None when there is no score
    to draw. Values outside 0 to 100 are drawn at the nearest end of the axis, and the
    value label shows the stored value.
    """
    if overall is None and not categories:
        return None

    rows: list[tuple[str, float, bool]] = []
    if overall is not None:
        rows.append((OVERALL_NAME, float(overall), True))
    rows += [(str(row["name"]), float(row["percent"]), False) for row in categories]

    bars = []
    for index, (name, value, is_overall) in enumerate(rows):
        passed = None if pass_mark is None or not is_overall else value >= pass_mark
        bars.append(
            ChartBar(
                name=name,
                label=_label(name),
                value=value,
                y=PLOT_TOP + index * (BAR_HEIGHT + BAR_GAP),
                width=round(PLOT_WIDTH * _clamp(value) / 100.0, 1),
                overall=is_overall,
                passed=passed,
            )
        )
    height = PLOT_TOP + len(rows) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP + 8 + AXIS_HEIGHT

    parts = [f"{bar.name} {bar.value_text}" for bar in bars]
    if pass_mark is not None:
        parts.append(f"pass mark {pass_mark:g}%")
    return ScoreChart(
        bars=tuple(bars),
        ticks=tuple(ChartTick(value=tick, x=_x(tick)) for tick in TICKS),
        pass_mark=pass_mark,
        pass_x=None if pass_mark is None else _x(_clamp(pass_mark)),
        height=height,
        title="Score by category, in percent",
        description="; ".join(parts) + ".",
    )
