"""CrawlReport: ``report.html`` in the output folder at the end of a crawl.

One self-contained page (inline SVG, no scripts, no dependencies) a researcher can open or
mail: items per day (from the items' ``create_time``), requests (quota spent) and pages
over time, outcomes and errors by kind (from the page records), and the top hashtags and
regions of the videos. Only counters are kept, so memory stays bounded however large the
crawl: per-day and per-second counts, and hashtag/region tallies pruned to the most
frequent ones. Settings: ``TIKTOK_REPORT_ENABLED`` (default True), ``TIKTOK_OUTPUT_DIR``.
"""

from __future__ import annotations

import html
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from tiktok_scrapy import meta
from tiktok_scrapy.api.endpoints import endpoint_for_url
from tiktok_scrapy.signals import page_items, page_recorded

MAX_TALLY = 5000  # distinct hashtags/regions kept before pruning to the most frequent
KEEP_TALLY = 1000
TOP = 15
MAX_BARS = 60


class CrawlReport:
    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path
        self.started = time.monotonic()
        self.items_per_day: Counter[str] = Counter()
        self.items_by_type: Counter[str] = Counter()
        self.requests_at: dict[str, Counter[int]] = {}  # quota family -> second -> requests
        self.pages_at: Counter[int] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.hashtags: Counter[str] = Counter()
        self.regions: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        if not crawler.settings.getbool("TIKTOK_REPORT_ENABLED"):
            raise NotConfigured
        if getattr(crawler.spider, "config", None) is None:
            raise NotConfigured
        report = cls(crawler, Path(crawler.settings["TIKTOK_OUTPUT_DIR"]) / "report.html")
        crawler.signals.connect(report.page_items, signal=page_items)
        crawler.signals.connect(report.response_received, signal=signals.response_received)
        crawler.signals.connect(report.page_recorded, signal=page_recorded)
        crawler.signals.connect(report.write, signal=signals.spider_closed)
        return report

    # --- counting ------------------------------------------------------------------------
    def _second(self) -> int:
        return int(time.monotonic() - self.started)

    def page_items(self, items: list[Any]) -> None:
        """Count a page's items as the spider hands them on (once per page, not per item)."""
        for item in items:
            self.count(item)

    def count(self, item: Any) -> None:
        if not isinstance(item, dict):
            return
        self.items_by_type[getattr(item, "collection", type(item).__name__)] += 1
        created = item.get("create_time")
        if isinstance(created, int | float) and not isinstance(created, bool):
            day = datetime.fromtimestamp(created, UTC).date().isoformat()
            self.items_per_day[day] += 1
        for tag in item.get("hashtag_names") or ():
            self.hashtags[str(tag).lower()] += 1
        if region := item.get("region_code"):
            self.regions[str(region)] += 1
        for tally in (self.hashtags, self.regions):
            if len(tally) > MAX_TALLY:
                kept = tally.most_common(KEEP_TALLY)
                tally.clear()
                tally.update(dict(kept))

    def response_received(self, response: Response, request: Request) -> None:
        if (
            request.meta.get(meta.TOKEN_REQUEST)
            or (endpoint := endpoint_for_url(request.url)) is None
        ):
            return
        self.requests_at.setdefault(endpoint.family.value, Counter())[self._second()] += 1

    def page_recorded(self, record: dict[str, Any]) -> None:
        self.pages_at[self._second()] += 1
        outcome = str(record.get("outcome") or "unknown")
        self.outcomes[outcome] += 1
        if outcome != "ok":
            error = record.get("error") or {}
            code = error.get("code") or record.get("status") or "no response"
            self.errors[f"{outcome}: {code}"] += 1

    # --- writing -------------------------------------------------------------------------
    def write(self, reason: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.render(reason), encoding="utf-8")

    def render(self, reason: str) -> str:
        stats = self.crawler.stats.get_stats()
        spider = self.crawler.spider
        seconds = max(1, self._second() + 1)
        summary = {
            "spider": spider.name,
            "query": spider.config.query_id(),
            "finish reason": reason,
            "duration": f"{seconds} s",
            "requests sent": stats.get("tiktok/requests_sent", 0),
            "items": ", ".join(f"{n} {k}" for k, n in self.items_by_type.most_common()) or "0",
        }
        days = sorted(self.items_per_day)
        sections = [
            _section(
                "Items per day (by creation time, UTC)",
                bar_chart(days, [self.items_per_day[d] for d in days]),
            ),
            *(
                _section(
                    f"Requests over time — {family} quota (seconds since start)",
                    bar_chart(*_binned(counts, seconds)),
                )
                for family, counts in sorted(self.requests_at.items())
            ),
            _section("Pages recorded over time", bar_chart(*_binned(self.pages_at, seconds))),
            _section("Outcomes of API responses", hbar_chart(self.outcomes.most_common())),
            _section(
                "Errors by kind",
                hbar_chart(self.errors.most_common(TOP)) if self.errors else "<p>No errors.</p>",
            ),
            _section("Top hashtags", hbar_chart(self.hashtags.most_common(TOP))),
            _section(
                "Top regions (account registration country)",
                hbar_chart(self.regions.most_common(TOP)),
            ),
        ]
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in summary.items()
        )
        title = f"Crawl report — {html.escape(spider.name)} {html.escape(str(summary['query']))}"
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{title}</title><style>{STYLE}</style></head><body>"
            f"<h1>{title}</h1><table>{rows}</table>{''.join(sections)}"
            f"<p class='note'>Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Requests count "
            f"every response of a data endpoint, retries included (they cost quota).</p>"
            "</body></html>\n"
        )


STYLE = (
    "body{font:14px sans-serif;margin:2em;max-width:800px}th{text-align:left;"
    "padding-right:1em}svg{background:#fafafa}.note{color:#666}rect{fill:#3b6ea8}"
)


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>{body}"


def _binned(counts: Counter[int], seconds: int) -> tuple[list[str], list[int]]:
    """Per-second counts in at most MAX_BARS bins, labelled by their first second."""
    width = max(1, -(-seconds // MAX_BARS))
    bins = [0] * (-(-seconds // width))
    for second, count in counts.items():
        bins[min(second // width, len(bins) - 1)] += count
    return [f"{i * width}s" for i in range(len(bins))], bins


def bar_chart(labels: list[str], values: list[int], width: int = 760, height: int = 200) -> str:
    """Vertical bars with the first/last labels and the maximum; a tooltip per bar."""
    if not values or not any(values):
        return "<p>No data.</p>"
    top, n = max(values), len(values)
    plot_h, step = height - 40, (width - 60) / n
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / top
        bars.append(
            f"<rect x='{50 + i * step:.1f}' y='{10 + plot_h - h:.1f}' "
            f"width='{max(1.0, step - 1):.1f}' height='{h:.1f}'>"
            f"<title>{html.escape(label)}: {value}</title></rect>"
        )
    axis = (
        f"<text x='45' y='18' text-anchor='end'>{top}</text>"
        f"<text x='45' y='{10 + plot_h}' text-anchor='end'>0</text>"
        f"<text x='50' y='{height - 8}'>{html.escape(labels[0])}</text>"
        f"<text x='{width - 10}' y='{height - 8}' text-anchor='end'>"
        f"{html.escape(labels[-1])}</text>"
    )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"font-size='11'>{''.join(bars)}{axis}</svg>"
    )


def hbar_chart(pairs: list[tuple[str, int]], width: int = 760) -> str:
    """Horizontal bars, one per (label, value), largest first."""
    if not pairs:
        return "<p>No data.</p>"
    top = max(value for _, value in pairs) or 1
    row, label_w = 20, 230
    rows = []
    for i, (label, value) in enumerate(pairs):
        w = (width - label_w - 60) * value / top
        y = i * row
        rows.append(
            f"<text x='{label_w - 6}' y='{y + 14}' text-anchor='end'>{html.escape(label)}</text>"
            f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row - 6}'>"
            f"<title>{html.escape(label)}: {value}</title></rect>"
            f"<text x='{label_w + w + 4:.1f}' y='{y + 14}'>{value}</text>"
        )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' "
        f"height='{row * len(pairs) + 4}' font-size='12'>{''.join(rows)}</svg>"
    )
