"""The content of a crawl's report: what a paper's data section needs, and what went wrong.

``CrawlFacts`` holds what the crawl report extension counted; ``build`` turns it into the
sections that ``document.render_html`` (report.html) and ``render_markdown`` (methods.md)
print: the verdict, errors and the quota they cost, the exact query sent, windows and how
they were split or failed, requests and records per day and quota family against the
daily limit, retries, how full the pages were, expected outcomes, and the API's caveats.
Plain Python: tests build facts by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tiktok_scrapy.reporting import charts
from tiktok_scrapy.reporting.document import (
    Block,
    Bullets,
    Chart,
    Paragraph,
    Pre,
    Section,
    Table,
)

MAX_CHAIN_ROWS = 200
# Page outcomes that are answers, not failures: a private account, a capped list.
EXPECTED_OUTCOMES = {
    "ok": "data pages",
    "user_level": "account private, unknown or not returned (the API's answer for it)",
    "cap_reached": "list capped by the API (comments: the top 1,000)",
    "edge_cap": "list stopped at max_edges_per_user (your cap)",
}
# Outcomes that end a chain early on odd data rather than an error.
WARNING_OUTCOMES = {
    "stalled_cursor": "the API kept returning the same cursor: chain ended",
    "empty_pages": "empty pages that still said has_more: chain ended",
}
CAVEATS = [
    "Videos become searchable about **48 hours** after posting: a window ending less than "
    "two days before the crawl is incomplete.",
    "Engagement counts (views, likes, comments, shares, followers) keep changing for about "
    "**10 days**: counts are as of each record's `_crawl.crawled_at`.",
    "`region_code` is the country where the **account was registered**, not where a video "
    "was filmed or posted: there is no geolocation in the Research API.",
    "Only public content of adult accounts is served, some countries are excluded, and "
    "deleted or made-private videos drop out (they still use page slots; see page "
    "fullness).",
    "The same query run twice can return different sets; since 2026-02-26 the archive also "
    "covers videos not eligible for the For You feed, so re-crawls of old periods can "
    "return more. Report the crawl dates.",
    "Comments: only the top 1,000 per video. Follower/following lists: public accounts "
    "only, observed to stop after a few thousand.",
]


@dataclass
class FamilyUse:
    family: str
    requests: int
    error_responses: int
    records: int
    limit: int
    left_today: int | None


@dataclass
class PageFill:
    endpoint: str
    max_count: int
    pages: int = 0  # pages followed by more (has_more): should be full
    records: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * 10)
    last_pages: int = 0

    def add(self, records: int, has_more: bool) -> None:
        if not has_more:
            self.last_pages += 1
            return
        self.pages += 1
        self.records += records
        ratio = records / self.max_count if self.max_count else 1.0
        self.histogram[min(9, int(ratio * 10))] += 1


@dataclass
class ChainRow:
    id: str
    window: str | None
    state: str
    reason: str | None
    pages: int
    records: int
    parent: str | None


@dataclass
class CrawlFacts:
    spider: str
    query_id: str
    crawl_id: str
    verdict: str | None
    verdict_reason: str | None
    finish_reason: str
    started: str
    finished: str
    duration: float
    config: dict[str, Any]
    items_by_type: list[tuple[str, int]]
    queries: list[tuple[str, str]]  # (URL path + fields, body JSON), distinct
    queries_total: int
    chains: list[ChainRow]
    families: list[FamilyUse]
    days: list[tuple[str, str, int, int, int, int]]  # day, family, req, errors, records, limit
    errors: list[tuple[str, int]]  # error responses by kind (each cost a request)
    retries: int
    retry_reasons: list[tuple[str, int]]
    outcomes: list[tuple[str, int]]  # final page outcomes
    fill: list[PageFill]
    items_per_day: dict[str, int]
    hashtags: list[tuple[str, int]]
    regions: list[tuple[str, int]]
    request_times: dict[str, tuple[list[float], list[float]]]  # family -> (ok, error) seconds
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(f.requests for f in self.families)

    @property
    def error_responses(self) -> int:
        return sum(n for _, n in self.errors)

    @property
    def items(self) -> int:
        return sum(n for _, n in self.items_by_type)


def verdict_block(facts: CrawlFacts) -> Paragraph:
    verdict = facts.verdict or "unknown"
    why = f" — {facts.verdict_reason}" if facts.verdict_reason else ""
    if facts.verdict is None:
        why = " — this crawl recorded no verdict (tiktok/verdict)"
    return Paragraph(f"Verdict: **{verdict}**{why}", css=f"verdict {_css_word(verdict)}")


def _css_word(verdict: str) -> str:
    return verdict if verdict in ("complete", "incomplete") else "unknown"


def summary_table(facts: CrawlFacts) -> Table:
    items = ", ".join(f"{n} {k}" for k, n in facts.items_by_type) or "none"
    rows = [
        ["spider", facts.spider],
        ["query id", facts.query_id],
        ["crawl id", facts.crawl_id],
        ["started, finished (UTC)", f"{facts.started} to {facts.finished}"],
        ["duration", charts.duration_text(round(facts.duration, 1))],
        ["finish reason", facts.finish_reason],
        ["records stored", items],
        [
            "requests sent (quota spent)",
            f"{facts.requests}, of which {facts.error_responses} answered with an error",
        ],
    ]
    return Table(["", ""], rows)


def headline(facts: CrawlFacts) -> list[Block]:
    blocks: list[Block] = [verdict_block(facts), summary_table(facts)]
    if facts.error_responses:
        share = 100 * facts.error_responses / max(1, facts.requests)
        blocks.append(
            Paragraph(
                f"**{facts.error_responses} of {facts.requests} requests ({share:.0f}%) were "
                "answered with an error**, each costing one request of quota: see Errors.",
                css="alert",
            )
        )
    if not facts.items and facts.finish_reason == "finished":
        blocks.append(
            Paragraph(
                "**The crawl returned no records at all.** The query matched nothing in the "
                "archive: check its values (a placeholder id, a misspelt hashtag, a window "
                "less than 48 h old).",
                css="alert",
            )
        )
    return blocks


def build(facts: CrawlFacts) -> tuple[str, list[Block], list[Section], str]:
    """Title, head blocks, sections and footer of the report."""
    title = f"Crawl report — {facts.spider} {facts.query_id}"
    sections = [
        errors_section(facts),
        quota_section(facts),
        query_section(facts),
        chains_section(facts),
        fill_section(facts),
        outcomes_section(facts),
        data_section(facts),
        methods_section(facts),
    ]
    footer = (
        f"Written {facts.finished} UTC by tiktok-scrapy. Requests count every response of a "
        "data endpoint, retries included: each costs quota."
    )
    return title, headline(facts), sections, footer


def errors_section(facts: CrawlFacts) -> Section:
    blocks: list[Block] = []
    if facts.errors:
        rows = [[kind, n, n] for kind, n in facts.errors]
        blocks.append(
            Table(
                ["error response", "responses", "quota spent (requests)"],
                rows,
                note="Every error response costs one request of its quota family, like a "
                "successful one; the crawl retried them with backoff.",
            )
        )
    else:
        blocks.append(Paragraph("No error responses.", css="good"))
    failed = [(o, n) for o, n in facts.outcomes if o not in EXPECTED_OUTCOMES]
    failed = [(o, n) for o, n in failed if o not in WARNING_OUTCOMES]
    if failed:
        blocks.append(
            Table(
                ["pages that failed for good (after retries)", "pages"],
                [[o, n] for o, n in failed],
                note="Their chains are incomplete: resume with the same JOBDIR to try again.",
            )
        )
    warnings = [(o, n) for o, n in facts.outcomes if o in WARNING_OUTCOMES]
    if warnings:
        blocks.append(
            Table(
                ["chains ended on odd data", "pages"],
                [[f"{o}: {WARNING_OUTCOMES[o]}", n] for o, n in warnings],
            )
        )
    if facts.retries or facts.retry_reasons:
        blocks.append(
            Table(
                ["retries by reason", "retries"],
                [[r, n] for r, n in facts.retry_reasons] or [["all", facts.retries]],
                note=f"{facts.retries} retries in all; each resent request cost quota again.",
            )
        )
    times = [
        Chart(
            charts.time_chart(
                [
                    ("answered", ok, charts.OK_COLOUR),
                    ("error responses", errors, charts.ERROR_COLOUR),
                ],
                facts.duration,
                y_what="requests",
            ),
            f"{family} quota: requests over time, error responses in red",
        )
        for family, (ok, errors) in sorted(facts.request_times.items())
    ]
    return Section("Errors", blocks + times, "errors")


def quota_section(facts: CrawlFacts) -> Section:
    rows = [
        [
            f.family,
            f.requests,
            f.error_responses,
            f.records,
            f.limit,
            f"{100 * f.requests / f.limit:.1f}%" if f.limit else None,
            f.left_today,
        ]
        for f in facts.families
    ]
    blocks: list[Block] = [
        Table(
            [
                "quota family",
                "requests",
                "of which errors",
                "records",
                "daily limit",
                "share of the limit",
                "left today",
            ],
            rows,
            note="`main`: video query, user info, comments, liked/pinned/reposted videos, "
            "playlists (1,000 requests a day); `follow`: followers and following (20,000). "
            "Days are the API's UTC days; the quota resets at 00:00 UTC.",
        )
    ]
    if facts.days:
        blocks.append(
            Table(
                ["day (UTC)", "family", "requests", "errors", "records", "daily limit"],
                [list(row) for row in facts.days],
            )
        )
    return Section("Quota: requests and records per day, against the limit", blocks, "quota")


def query_section(facts: CrawlFacts) -> Section:
    blocks: list[Block] = []
    windows = sum(1 for c in facts.chains if c.window)
    for url, body in facts.queries:
        blocks += [Paragraph(f"`POST {url}`"), Pre(body)]
        if windows > 1 and '"start_date"' in body:
            blocks.append(
                Paragraph(
                    f"Sent for each of the {windows} windows, with their own `start_date` and "
                    "`end_date` (see Windows and chains); later pages add `cursor` and "
                    "`search_id`.",
                    css="note",
                )
            )
    if facts.queries_total > len(facts.queries):
        blocks.append(
            Paragraph(
                f"… and {facts.queries_total - len(facts.queries)} more distinct request "
                "bodies (one per input); every request body is in the page records "
                "(`pages.jsonl`, `request_body`).",
                css="note",
            )
        )
    if not facts.queries:
        blocks.append(Paragraph("No request was answered.", css="note"))
    blocks.append(Paragraph("The crawl's configuration:", css="note"))
    blocks.append(Pre(json.dumps(facts.config, ensure_ascii=False, default=str)))
    return Section("Query sent (first page of each distinct request)", blocks, "query")


def chains_section(facts: CrawlFacts) -> Section:
    counts: dict[tuple[str, str], int] = {}
    for c in facts.chains:
        key = (c.state, _reason_kind(c.reason))
        counts[key] = counts.get(key, 0) + 1
    blocks: list[Block] = [
        Table(
            ["state", "why", "chains"],
            [[s, r, n] for (s, r), n in sorted(counts.items())],
            note="A chain is one paginated request sequence (a video window, one account's "
            "list…). `split`: a window that kept failing was halved (or divided by "
            "video_length) and its parts crawled instead; `failed`: retried on resume; "
            "`open`: not finished when the crawl stopped.",
        )
    ]
    windowed = [c for c in facts.chains if c.window]
    if windowed:
        shown = windowed[:MAX_CHAIN_ROWS]
        blocks.append(
            Table(
                ["window", "state", "why", "pages", "records", "split from"],
                [[c.window, c.state, c.reason, c.pages, c.records, c.parent] for c in shown],
                note=(
                    f"First {MAX_CHAIN_ROWS} of {len(windowed)} windows."
                    if len(windowed) > MAX_CHAIN_ROWS
                    else ""
                ),
            )
        )
    return Section("Windows and chains", blocks, "chains")


def _reason_kind(reason: str | None) -> str:
    if not reason:
        return "—"
    return reason.split(":", 1)[0][:60]


def fill_section(facts: CrawlFacts) -> Section:
    blocks: list[Block] = []
    for fill in facts.fill:
        if not fill.pages:
            continue
        mean = fill.records / (fill.pages * fill.max_count) if fill.max_count else 1
        blocks.append(
            Paragraph(
                f"`{fill.endpoint}`: {fill.pages} pages followed by more held "
                f"{fill.records} records, **{100 * mean:.0f}%** of the {fill.max_count} "
                f"asked for (`max_count`); {fill.last_pages} last pages of their chains "
                "not counted."
            )
        )
        labels = [f"{10 * i}-{10 * (i + 1)}%" for i in range(10)]
        blocks.append(
            Chart(
                charts.bar_chart(
                    labels,
                    [("pages", fill.histogram, charts.OK_COLOUR)],
                    x_title="records on the page, % of max_count",
                    y_title="pages",
                    tick_labels=[(i, f"{10 * i}%") for i in range(0, 10, 2)],
                ),
                f"{fill.endpoint}: how full the pages were",
            )
        )
    if not blocks:
        blocks.append(Paragraph("No page was followed by another.", css="note"))
    blocks.append(
        Paragraph(
            "The API advances its cursor by `max_count` whatever a page holds: deleted, "
            "private and otherwise withheld videos still take their slots, so pages short of "
            "`max_count` measure what the archive no longer serves.",
            css="note",
        )
    )
    return Section("Page fullness", blocks, "fill")


def outcomes_section(facts: CrawlFacts) -> Section:
    expected = [(o, n) for o, n in facts.outcomes if o in EXPECTED_OUTCOMES]
    rows = [[o, EXPECTED_OUTCOMES[o], n] for o, n in expected]
    return Section(
        "Expected outcomes (not errors)",
        [Table(["outcome", "meaning", "pages"], rows)] if rows else [Paragraph("None.")],
        "outcomes",
    )


def data_section(facts: CrawlFacts) -> Section:
    return Section(
        "The data",
        [
            Chart(
                charts.day_chart(facts.items_per_day, y_what="records", x_what="creation day"),
                "records per creation day (create_time, UTC); days without records show as gaps",
            ),
            Chart(charts.hbar_chart(facts.hashtags), "top hashtags (records)"),
            Chart(
                charts.hbar_chart(facts.regions),
                "top regions: the country where the account was registered (records)",
            ),
        ],
        "data",
    )


def methods_paragraph(facts: CrawlFacts) -> str:
    windows = [c for c in facts.chains if c.window]
    span = ""
    if windows:
        starts = sorted(c.window.split("..")[0] for c in windows if c.window)
        ends = sorted(c.window.split("..")[-1] for c in windows if c.window)
        split = sum(1 for c in windows if c.state == "split")
        failed = sum(1 for c in windows if c.state in ("failed", "open"))
        span = (
            f" Videos created from {starts[0]} to {ends[-1]} (UTC) were requested in "
            f"{len(windows) - split} date windows ({split} windows split after repeated "
            f"server errors; {failed} not completed)."
        )
    items = ", ".join(f"{n} {k}" for k, n in facts.items_by_type) or "no records"
    return (
        f"Data were collected from the TikTok Research API with tiktok-scrapy (spider "
        f"`{facts.spider}`, query `{facts.query_id}`) between {facts.started} and "
        f"{facts.finished} UTC.{span} The crawl sent {facts.requests} requests, "
        f"{facts.error_responses} of which were answered with errors and retried, and "
        f"stored {items}. Crawl verdict: {facts.verdict or 'unknown'}."
    )


def methods_section(facts: CrawlFacts) -> Section:
    blocks: list[Block] = [
        Paragraph("A paragraph to adapt for a paper's data section:", css="note"),
        Paragraph(methods_paragraph(facts)),
        Paragraph("Caveats of the Research API to state alongside:", css="note"),
        Bullets(CAVEATS),
    ]
    return Section("For a methods section", blocks, "methods")
