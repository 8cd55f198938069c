"""Charts drawn on the server: the geometry of an SVG line or bar chart, which a template turns
into markup (autoescaped, no script, nothing loaded from elsewhere). Coordinates are Decimal
like the figures they are drawn from, rounded to a tenth of a pixel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT = 640, 200  # the drawing area, in SVG units
LEFT = 70  # room for the value axis' labels
BAR_HEIGHT, BAR_GAP, LABEL_WIDTH = 22, 6, 110
TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    css: str  # the class that colours it
    points: str  # SVG polyline points: "x,y x,y …"


@dataclass(frozen=True, slots=True)
class LineChart:
    width: int
    height: int
    left: int
    lines: list[Line]
    top_label: str  # the value at the top edge, and at the bottom one
    bottom_label: str
    zero_y: Decimal  # where the value 0 is
    zero_between: bool  # 0 is neither edge: labelled on its own
    ticks: list[tuple[Decimal, str]]  # (x, label) along the bottom


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    y: int
    length: Decimal


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[Bar]


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[Decimal]]],
    *,
    tick_every: int = 7,
) -> LineChart:
    """`series`: (name, css class, one value per label). The value axis spans 0 and every
    value, so a loss shows below the zero line."""
    values = [v for _, _, vs in series for v in vs]
    top, bottom = max([Decimal(0), *values]), min([Decimal(0), *values])
    span = (top - bottom) or Decimal(1)
    step = Decimal(WIDTH - LEFT) / max(len(labels) - 1, 1)

    def x(i: int) -> Decimal:
        return (LEFT + step * i).quantize(TENTH)

    def y(v: Decimal) -> Decimal:
        return ((top - v) / span * (HEIGHT - 20) + 5).quantize(TENTH)

    lines = [
        Line(name, css, " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(vs)))
        for name, css, vs in series
    ]
    ticks = [(x(i), label) for i, label in enumerate(labels) if i % tick_every == 0]
    return LineChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        lines=lines,
        top_label=f"{top:.2f}",
        bottom_label=f"{bottom:.2f}",
        zero_y=y(Decimal(0)),
        zero_between=bottom < 0 < top,
        ticks=ticks,
    )


def bar_chart(counts: Sequence[tuple[str, int]]) -> BarChart:
    """Horizontal bars, one per (label, count), the longest filling the width."""
    most = max((n for _, n in counts), default=0) or 1
    room = Decimal(WIDTH - LABEL_WIDTH - 60)  # and 60 for the count after the bar
    bars = [
        Bar(label, n, i * (BAR_HEIGHT + BAR_GAP), (room * n / most).quantize(TENTH))
        for i, (label, n) in enumerate(counts)
    ]
    height = max(len(bars), 1) * (BAR_HEIGHT + BAR_GAP)
    return BarChart(WIDTH, height, LABEL_WIDTH, BAR_HEIGHT, bars)
