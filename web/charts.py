"""Charts drawn on the server as inline SVG: no script, no third-party code, fine offline.

Each chart is a set of horizontal bars with their labels and values written as text,
so it reads without colour and prints as it shows. It is an image to assistive
technology (``role="img"``, named by its <title>, described by its <desc>); the same
figures are always in a table beside it. Every colour is at least 3:1 against white.

    chart = bar_chart("reach-year", "Reach rate by year", "Share of families reached.",
                      [Bar("Year 7", (4,), "4 of 6 (67%)"), Bar("Year 8", (3,), "3 of 4")])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

# Dark enough for 3:1 against white (WCAG 1.4.11), and told apart by the legend's text.
PALETTE = ("#1d5fa8", "#1e6b34", "#a3261b", "#8a4f00", "#6b3fa0", "#00606e", "#5b6470",
           "#9c1f6e", "#1b1f24", "#4a5d00")  # fmt: skip
INK = "#1b1f24"
WIDTH = 720
LABEL = 190  # room for the bars' labels, right-aligned against the axis
VALUE = 120  # room for the value written after the longest bar
ROW = 26
BAR = 18
LEGEND_ROW = 22
LEGEND_ITEM = 240
FONT = 'font-family="system-ui, sans-serif" font-size="13"'


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (or one value per series, stacked) and the value in
    words written after it."""

    label: str
    values: tuple[float, ...]
    text: str


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars, one colour."""
    return _chart(chart_id, title, description, (), bars)


def stacked_chart(
    chart_id: str, title: str, description: str, series: Sequence[str], bars: Sequence[Bar]
) -> Markup:
    """Horizontal bars split into ``series`` (one colour each, named in a legend above)."""
    return _chart(chart_id, title, description, tuple(series), bars)


def _chart(
    chart_id: str, title: str, description: str, series: tuple[str, ...], bars: Sequence[Bar]
) -> Markup:
    per_row = max(1, WIDTH // LEGEND_ITEM)
    legend_height = -(-len(series) // per_row) * LEGEND_ROW + (8 if series else 0)
    height = legend_height + max(len(bars), 1) * ROW + 8
    top = max((sum(bar.values) for bar in bars), default=0) or 1
    span = WIDTH - LABEL - VALUE - 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f"aria-labelledby={quoteattr(chart_id + '-title')} "
        f"aria-describedby={quoteattr(chart_id + '-desc')} {FONT}>",
        f"<title id={quoteattr(chart_id + '-title')}>{escape(title)}</title>",
        f"<desc id={quoteattr(chart_id + '-desc')}>{escape(description)}</desc>",
    ]
    for index, name in enumerate(series):
        x = (index % per_row) * LEGEND_ITEM
        y = (index // per_row) * LEGEND_ROW
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y + 3}" width="14" height="14" fill="{colour}"/>')
        parts.append(f'<text x="{x + 20}" y="{y + 15}" fill="{INK}">{escape(name)}</text>')
    for row, bar in enumerate(bars):
        y = legend_height + row * ROW
        parts.append(f'<text x="{LABEL - 8}" y="{y + 14}" text-anchor="end" '
                     f'fill="{INK}">{escape(bar.label)}</text>')  # fmt: skip
        x = float(LABEL)
        for index, value in enumerate(bar.values):
            width = span * value / top
            if width > 0:
                colour = PALETTE[index % len(PALETTE)]
                # A white edge between stacked parts, so neighbours never run together.
                parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{width:.1f}" height="{BAR}" '
                             f'fill="{colour}" stroke="#fff" stroke-width="1"/>')  # fmt: skip
            x += width
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" fill="{INK}">{escape(bar.text)}</text>')
    axis_bottom = legend_height + max(len(bars), 1) * ROW
    parts.append(f'<line x1="{LABEL}" y1="{legend_height}" x2="{LABEL}" y2="{axis_bottom}" '
                 'stroke="#5b6470" stroke-width="1"/>')  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))
