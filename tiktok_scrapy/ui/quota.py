"""Quota for the UI: today's spend per family and client, and 30 days as an SVG chart.

Reads the ledger the crawls write (``open_ledger``, the same one ``scrapy quota`` reads);
the chart is drawn here as inline SVG, so the page needs no script or library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Any

from tiktok_scrapy.quota_ledger import ApiClock, QuotaLedger, Spend

COLOURS = ("#3b6ea5", "#d9822b", "#5a9e5a", "#b04a4a", "#7d5ba6", "#8c8c8c")


@dataclass
class FamilyRow:
    family: str
    limit: int
    requests: int
    records: int
    left: int
    exhausted: bool


def today_rows(
    ledger: QuotaLedger, limits: dict[str, int], day: str, merged: str | None = None
) -> list[tuple[str, list]]:
    """``[(client label, [FamilyRow, ...]), ...]`` for every client in the ledger, or one
    row set labelled ``merged`` for them all (each sandbox run is a client of its own)."""
    result = []
    spends = [(str(client), ledger.spent(client, day)) for client in ledger.clients()]
    if merged and spends:
        total: dict[str, Spend] = {}
        for _, spent in spends:
            for family, spend in spent.items():
                was = total.get(family, Spend())
                total[family] = Spend(
                    was.requests + spend.requests,
                    was.records + spend.records,
                    was.exhausted or spend.exhausted,
                )
        spends = [(merged, total)]
    for label, spent in spends:
        rows = []
        for family, limit in limits.items():
            spend = spent.get(family, Spend())
            left = 0 if spend.exhausted else max(0, limit - spend.requests)
            rows.append(
                FamilyRow(family, limit, spend.requests, spend.records, left, spend.exhausted)
            )
        result.append((label, rows))
    return result


def last_days(ledger: QuotaLedger, families: list[str], today: str, days: int = 30) -> list:
    """``[(day, {family: requests})]`` for the ``days`` up to today, every client summed."""
    end = date.fromisoformat(today)
    clients = ledger.clients()
    series = []
    for back in range(days - 1, -1, -1):
        day = (end - timedelta(days=back)).isoformat()
        totals = dict.fromkeys(families, 0)
        for client in clients:
            for family, spend in ledger.spent(client, day).items():
                totals[family] = totals.get(family, 0) + spend.requests
        series.append((day, totals))
    return series


def chart_svg(series: list[tuple[str, dict[str, int]]], width: int = 720, height: int = 200) -> str:
    """Stacked bars of requests per day and family, with a legend; plain SVG text."""
    families = sorted({f for _, totals in series for f, n in totals.items() if n})
    peak = max((sum(t.values()) for _, t in series), default=0) or 1
    left, bottom, top = 44, 24, 10
    plot_h = height - bottom - top
    bar_w = (width - left - 10) / max(1, len(series))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" '
        f'role="img" aria-label="Requests per day, last {len(series)} days">',
        f'<text x="4" y="{top + 8}" font-size="11">{peak}</text>',
        f'<text x="4" y="{top + plot_h}" font-size="11">0</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#999"/>',
    ]
    for i, (day, totals) in enumerate(series):
        x = left + i * bar_w
        y = top + plot_h
        for family in families:
            n = totals.get(family, 0)
            if not n:
                continue
            h = n / peak * plot_h
            y -= h
            colour = COLOURS[families.index(family) % len(COLOURS)]
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(1, bar_w - 2):.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(day)} {escape(family)}: '
                f"{n} requests</title></rect>"
            )
        last = len(series) - 1
        if (i % 7 == 0 and last - i >= 3) or i == last:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 6}" font-size="10">{escape(day[5:])}</text>'
            )
    for i, family in enumerate(families):
        colour = COLOURS[i % len(COLOURS)]
        parts.append(
            f'<rect x="{left + i * 110}" y="{height + 6}" width="10" height="10" '
            f'fill="{colour}"/><text x="{left + i * 110 + 14}" y="{height + 15}" '
            f'font-size="11">{escape(family)}</text>'
        )
    if not families:
        parts.append(
            f'<text x="{left + 10}" y="{top + plot_h / 2}" font-size="12">'
            "No requests in the ledger for these days.</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def quota_view(
    ledger: QuotaLedger,
    limits: dict[str, int],
    clock: ApiClock | None = None,
    merged: str | None = None,
) -> Any:
    clock = clock or ApiClock()
    day = clock.day()
    return {
        "day": day,
        "clients": today_rows(ledger, limits, day, merged),
        "chart": chart_svg(last_days(ledger, list(limits), day)),
    }
