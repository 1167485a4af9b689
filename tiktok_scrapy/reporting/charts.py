"""Small SVG charts for the crawl report: labelled axes, readable bins, no dependencies.

Why hand-drawn SVG and not a plotting library (docs/architecture.md): the report must be
one offline file; a few kilobytes of inline SVG per chart is that, with text that tests can
read and that a screen reader gets as ``<title>`` tooltips. matplotlib would add ~40 MB
and a font cache to every install and crawl for four bar charts. Charts scale to their
container (``viewBox``, width 100%), so the page never scrolls sideways.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import date, timedelta

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 44
OK_COLOUR, ERROR_COLOUR = "#3b6ea8", "#c0392b"
# Bin widths a reader can add up: 0.1 s … 1 day.
NICE_SECONDS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
NICE_SECONDS += (7200, 10800, 21600, 43200, 86400)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value`` (axis maxima)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def duration_text(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    if seconds < 86400:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 86400:g} d"


def bin_width(duration: float, max_bars: int = 48) -> float:
    """A nice bin width giving at most ``max_bars`` bars, at least ~8 for short crawls."""
    target = max(duration, 0.1) / max_bars
    for width in NICE_SECONDS:
        if width >= target:
            return width
    return NICE_SECONDS[-1] * math.ceil(target / NICE_SECONDS[-1])


def time_bins(times: Sequence[float], duration: float, width: float) -> list[int]:
    count = max(1, math.ceil(max(duration, max(times, default=0.0) + 1e-9) / width))
    bins = [0] * count
    for t in times:
        bins[min(int(t // width), count - 1)] += 1
    return bins


def _fmt(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:.3g}"


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    x_title: str,
    y_title: str,
    tick_labels: Sequence[tuple[int, str]] | None = None,
    height: int = HEIGHT,
) -> str:
    """Vertical (stacked) bars: ``series`` is ``(name, values, colour)``; axes titled.

    ``tick_labels`` are (bar index, text) under the x axis; default: about six evenly
    spaced bar labels.
    """
    n = len(labels)
    totals = [sum(values[i] for _, values, _ in series) for i in range(n)]
    if not n or not any(totals):
        return "<p class='empty'>No data.</p>"
    top = nice_ceiling(max(totals))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    step = plot_w / n
    parts: list[str] = []
    for frac in (0, 0.25, 0.5, 0.75, 1):  # y grid and ticks
        y = TOP + plot_h * (1 - frac)
        parts.append(
            f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y:.1f}' y2='{y:.1f}' class='grid'/>"
            f"<text x='{LEFT - 4}' y='{y + 4:.1f}' text-anchor='end'>{_fmt(top * frac)}</text>"
        )
    for i in range(n):
        base = 0.0
        for name, values, colour in series:
            value = values[i]
            if not value:
                continue
            h = plot_h * value / top
            y = TOP + plot_h * (1 - (base + value) / top)
            parts.append(
                f"<rect x='{LEFT + i * step + 0.5:.1f}' y='{y:.1f}' "
                f"width='{max(1.0, step - 1):.1f}' height='{h:.1f}' fill='{colour}'>"
                f"<title>{html.escape(labels[i])}: {_fmt(value)} {html.escape(name)}</title></rect>"
            )
            base += value
    if tick_labels is None:
        every = max(1, math.ceil(n / 6))
        tick_labels = [(i, labels[i]) for i in range(0, n, every)]
    for i, text in tick_labels:
        x = LEFT + i * step
        parts.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{TOP + plot_h}' y2='{TOP + plot_h + 4}' "
            f"class='axis'/><text x='{x:.1f}' y='{TOP + plot_h + 16}' text-anchor='middle'>"
            f"{html.escape(text)}</text>"
        )
    parts.append(
        f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{TOP + plot_h}' y2='{TOP + plot_h}' "
        "class='axis'/>"
        f"<text x='{LEFT + plot_w / 2:.1f}' y='{height - 6}' text-anchor='middle' "
        f"class='title'>{html.escape(x_title)}</text>"
        f"<text transform='translate(12,{TOP + plot_h / 2:.1f}) rotate(-90)' "
        f"text-anchor='middle' class='title'>{html.escape(y_title)}</text>"
    )
    legend = ""
    if len(series) > 1:
        legend = "<p class='legend'>" + " ".join(
            f"<span style='color:{colour}'>&#9632;</span> {html.escape(name)}"
            for name, _, colour in series
        )
        legend += "</p>"
    return _svg(height, parts) + legend


def time_chart(
    series: Sequence[tuple[str, Sequence[float], str]],
    duration: float,
    *,
    y_what: str,
) -> str:
    """Events over the crawl's time in nice bins; ``series`` holds each event's second."""
    width = bin_width(duration)
    binned = [(name, time_bins(times, duration, width), c) for name, times, c in series]
    n = max((len(b) for _, b, _ in binned), default=0)
    binned = [(name, b + [0] * (n - len(b)), c) for name, b, c in binned]
    labels = [f"{duration_text(i * width)} to {duration_text((i + 1) * width)}" for i in range(n)]
    every = max(1, math.ceil(n / 6))
    ticks = [(i, duration_text(i * width)) for i in range(0, n, every)]
    return bar_chart(
        labels,
        binned,
        x_title=f"time since the crawl started (bars of {duration_text(width)})",
        y_title=f"{y_what} per {duration_text(width)}",
        tick_labels=ticks,
    )


def day_chart(counts: dict[str, int], *, y_what: str, x_what: str) -> str:
    """Counts per ISO day, every day of the span shown (zeros too), by week past 120 days."""
    if not counts:
        return "<p class='empty'>No data.</p>"
    days = sorted(counts)
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    span = (last - first).days + 1
    step = 7 if span > 120 else 1
    labels, values = [], []
    for start in range(0, span, step):
        day = first + timedelta(days=start)
        labels.append(day.isoformat() if step == 1 else f"week of {day.isoformat()}")
        values.append(
            sum(counts.get((day + timedelta(days=k)).isoformat(), 0) for k in range(step))
        )
    every = max(1, math.ceil(len(labels) / 6))
    ticks = [(i, labels[i].removeprefix("week of ")) for i in range(0, len(labels), every)]
    return bar_chart(
        labels,
        [(y_what, values, OK_COLOUR)],
        x_title=f"{x_what} ({'weeks' if step == 7 else 'days'}, UTC)",
        y_title=f"{y_what} per {'week' if step == 7 else 'day'}",
        tick_labels=ticks,
    )


def hbar_chart(pairs: Sequence[tuple[str, int]], *, colour: str = OK_COLOUR) -> str:
    """Horizontal bars, one per (label, value), in the order given; values printed."""
    if not pairs:
        return "<p class='empty'>No data.</p>"
    top = max(value for _, value in pairs) or 1
    row, label_w = 22, 240
    parts = []
    for i, (label, value) in enumerate(pairs):
        w = (WIDTH - label_w - 70) * value / top
        y = i * row
        short = label if len(label) <= 38 else label[:37] + "…"
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 15}' text-anchor='end'>{html.escape(short)}</text>"
            f"<rect x='{label_w}' y='{y + 4}' width='{w:.1f}' height='{row - 8}' fill='{colour}'>"
            f"<title>{html.escape(label)}: {value}</title></rect>"
            f"<text x='{label_w + w + 4:.1f}' y='{y + 15}'>{value}</text>"
        )
    return _svg(row * len(pairs) + 4, parts)


def _svg(height: int, parts: list[str]) -> str:
    return (
        f"<svg viewBox='0 0 {WIDTH} {height}' "
        f"width='100%' role='img' font-size='12'>{''.join(parts)}</svg>"
    )
