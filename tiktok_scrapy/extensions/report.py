"""CrawlReport: ``report.html`` and ``methods.md`` in the output folder at the end of a crawl.

One self-contained page (inline SVG, no scripts, nothing loaded from the network) a
researcher can open or mail, and its text as Markdown for a paper's data section
(``tiktok_scrapy.reporting.methods`` says what is in them). What it counts:
- every response of a data endpoint as downloaded (signal ``response_downloaded``), before
  the retry middleware: error responses that were retried cost quota and show here, per
  API day and quota family;
- the page records (final outcome of each page, records per page against ``max_count``,
  the request bodies sent);
- the items of each page (creation days, hashtags, regions);
- at the end, the chains (windows, splits, failures) and the crawl's stats, read through
  ``crawl_stats`` (the verdict: ``tiktok/verdict``, ``tiktok/verdict/reason``).
Memory stays bounded: counters, tallies pruned to the most frequent values, and one float
per request sent (the quota caps those at ~21,000 a day).
Settings: ``TIKTOK_REPORT_ENABLED`` (default True), ``TIKTOK_OUTPUT_DIR``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from array import array
from collections import Counter
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from tiktok_scrapy.api.endpoints import ENDPOINTS, endpoint_for_url
from tiktok_scrapy.api.errors import Outcome, classification
from tiktok_scrapy.chains import core_of, meta
from tiktok_scrapy.extensions.statsfile import accumulate
from tiktok_scrapy.middlewares.quota import daily_limits, find_quota_middleware
from tiktok_scrapy.reporting import document
from tiktok_scrapy.reporting.methods import ChainRow, CrawlFacts, FamilyUse, PageFill, build
from tiktok_scrapy.signals import page_items, page_recorded

logger = logging.getLogger(__name__)

MAX_TALLY = 5000  # distinct hashtags/regions kept before pruning to the most frequent
KEEP_TALLY = 1000
TOP = 15
MAX_QUERIES = 5  # distinct request bodies shown
MAX_BODIES_SEEN = 10_000  # distinct bodies counted before giving up counting


def crawl_stats(crawler: Crawler) -> dict[str, Any]:
    """The stats the report reads: this run's added to the earlier runs' of the same job
    (``stats.json`` in the output folder, as ``StatsFile`` writes it)."""
    folder = Path(crawler.settings["TIKTOK_OUTPUT_DIR"])
    try:
        previous = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    current = dict(crawler.stats.get_stats())
    total = accumulate(previous if isinstance(previous, dict) else None, current)
    for key in ("start_time", "finish_time"):  # the report reads them as datetimes
        if isinstance(current.get(key), datetime):
            total[key] = current[key]
    return total


# Counters of the report kept in ``report_data.json`` so that every run of a JOBDIR adds
# to the same report: name -> how its keys are stored (tuple keys as lists).
CARRIED = (
    "items_per_day",
    "items_by_type",
    "hashtags",
    "regions",
    "requests",
    "error_responses",
    "errors",
    "per_day",
    "outcomes",
    "records",
)


def _api_day(response: Response) -> str:
    date_header = response.headers.get(b"Date")
    if date_header:
        try:
            return parsedate_to_datetime(date_header.decode("latin-1")).date().isoformat()
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC).date().isoformat()


PER_CHAIN_KEYS = ("cursor", "search_id", "start_date", "end_date")


def _query_key(path: str, body: dict[str, Any]) -> str:
    """What makes two requests the same query: all but paging and the window's dates."""
    same = {k: v for k, v in body.items() if k not in PER_CHAIN_KEYS}
    return path + json.dumps(same, sort_keys=True, default=str)


class CrawlReport:
    def __init__(self, crawler: Crawler, folder: Path) -> None:
        self.crawler = crawler
        self.folder = folder
        self.path = folder / "report.html"
        self.started = time.monotonic()
        self.items_per_day: Counter[str] = Counter()
        self.items_by_type: Counter[str] = Counter()
        self.hashtags: Counter[str] = Counter()
        self.regions: Counter[str] = Counter()
        # Every downloaded response of a data endpoint, retries included.
        self.request_times: dict[str, tuple[array, array]] = {}  # family -> (ok, error)
        self.requests: Counter[str] = Counter()  # family
        self.error_responses: Counter[str] = Counter()  # family
        self.errors: Counter[str] = Counter()  # kind
        self.per_day: Counter[tuple[str, str, str]] = Counter()  # (day, family, what)
        # Page records: final outcomes.
        self.outcomes: Counter[str] = Counter()
        self.records: Counter[str] = Counter()  # family
        self.fill: dict[tuple[str, int], PageFill] = {}
        self.queries: dict[str, tuple[str, str]] = {}  # body key -> (url, body JSON)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlReport:
        if not crawler.settings.getbool("TIKTOK_REPORT_ENABLED"):
            raise NotConfigured
        core = core_of(crawler)
        if core is None or core.config is None:
            raise NotConfigured
        report = cls(crawler, Path(crawler.settings["TIKTOK_OUTPUT_DIR"]))
        crawler.signals.connect(report.page_items, signal=page_items)
        crawler.signals.connect(report.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(report.page_recorded, signal=page_recorded)
        crawler.signals.connect(report.write, signal=signals.spider_closed)
        return report

    # --- counting ------------------------------------------------------------------------
    def _seconds(self) -> float:
        return time.monotonic() - self.started

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

    def response_downloaded(self, response: Response, request: Request) -> None:
        """Every response as it came off the wire, before any retry: each cost quota."""
        if request.meta.get(meta.TOKEN_REQUEST):
            return
        endpoint = endpoint_for_url(request.url)
        if endpoint is None:
            return
        family = endpoint.family.value
        day = _api_day(response)
        ok_times, error_times = self.request_times.setdefault(family, (array("d"), array("d")))
        self.requests[family] += 1
        self.per_day[(day, family, "requests")] += 1
        kind = self._error_kind(response)
        if kind is None:
            ok_times.append(self._seconds())
        else:
            error_times.append(self._seconds())
            self.errors[kind] += 1
            self.error_responses[family] += 1
            self.per_day[(day, family, "errors")] += 1
        if request.meta.get(meta.PAGE) == 0:
            self._remember_query(request)

    @staticmethod
    def _error_kind(response: Response) -> str | None:
        """None for an answer (data or a user-level outcome), else the kind of error."""
        body = response.body or b""
        ends = body[:300] + body[-300:]
        if response.status == 200 and body.lstrip()[:1] == b"{" and b'"ok"' in ends:
            return None  # the common case, decided without parsing the page
        classified = classification(response)  # the middlewares reuse it
        if classified.outcome in (Outcome.OK, Outcome.USER_LEVEL):
            return None
        if classified.payload is None:
            return f"HTTP {response.status}, not JSON ({classified.code})"
        return f"HTTP {response.status} {classified.code}"

    def _remember_query(self, request: Request) -> None:
        if len(self.queries) >= MAX_BODIES_SEEN:
            return
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return
        url = urlsplit(request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        key = _query_key(path, body)
        if key not in self.queries:
            shown = {k: v for k, v in body.items() if k not in ("cursor", "search_id")}
            self.queries[key] = (path, json.dumps(shown, indent=1, ensure_ascii=False))

    def page_recorded(self, record: dict[str, Any]) -> None:
        outcome = str(record.get("outcome") or "unknown")
        self.outcomes[outcome] += 1
        endpoint = ENDPOINTS.get(str(record.get("endpoint")))
        records = int(record.get("items") or 0)
        if endpoint is not None and records:
            family = endpoint.family.value
            self.records[family] += records
            day = str(record.get("at") or datetime.now(UTC).isoformat())[:10]
            self.per_day[(day, family, "records")] += records
        if endpoint is None or not endpoint.paged or record.get("status") != 200:
            return
        if outcome not in ("ok", "cap_reached", "edge_cap", "stalled_cursor", "empty_pages"):
            return
        try:
            max_count = int(json.loads(record.get("request_body") or "{}").get("max_count") or 0)
        except (ValueError, TypeError, AttributeError):
            max_count = 0
        max_count = max_count or endpoint.default_max_count
        fill = self.fill.setdefault((endpoint.name, max_count), PageFill(endpoint.name, max_count))
        fill.add(records, bool(record.get("has_more")) and outcome == "ok")

    # --- the end -------------------------------------------------------------------------
    def facts(self, reason: str) -> CrawlFacts:
        stats = crawl_stats(self.crawler)
        core = core_of(self.crawler)
        assert core is not None and core.config is not None
        settings = self.crawler.settings
        limits = daily_limits(settings)
        left = self._left_today()
        families = sorted(set(self.requests) | set(self.records))
        start = stats.get("start_time")
        started = start.strftime("%Y-%m-%d %H:%M:%S") if isinstance(start, datetime) else "?"
        duration = self._seconds()
        return CrawlFacts(
            spider=core.spider_name,
            query_id=core.config.query_id(),
            crawl_id=core.crawl_id,
            verdict=stats.get("tiktok/verdict"),
            verdict_reason=stats.get("tiktok/verdict/reason"),
            finish_reason=reason,
            started=started,
            finished=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            duration=duration,
            config=core.config.to_jsonable(),
            items_by_type=self.items_by_type.most_common(),
            queries=list(self.queries.values())[:MAX_QUERIES],
            queries_total=len(self.queries),
            chains=self._chains(),
            families=[
                FamilyUse(
                    f,
                    self.requests[f],
                    self.error_responses[f],
                    self.records[f],
                    limits.get(f, 0),
                    left.get(f),
                )
                for f in families
            ],
            days=[
                (
                    day,
                    family,
                    self.per_day[(day, family, "requests")],
                    self.per_day[(day, family, "errors")],
                    self.per_day[(day, family, "records")],
                    limits.get(family, 0),
                )
                for day, family in sorted({(d, f) for d, f, _ in self.per_day})
            ],
            errors=self.errors.most_common(),
            retries=int(stats.get("tiktok/retry/count", 0)),
            retry_reasons=sorted(
                (
                    (k.removeprefix("tiktok/retry/reason_count/"), int(v))
                    for k, v in stats.items()
                    if k.startswith("tiktok/retry/reason_count/")
                ),
                key=lambda kv: -kv[1],
            ),
            outcomes=self.outcomes.most_common(),
            fill=sorted(self.fill.values(), key=lambda f: (f.endpoint, f.max_count)),
            items_per_day=dict(self.items_per_day),
            hashtags=self.hashtags.most_common(TOP),
            regions=self.regions.most_common(TOP),
            request_times={
                f: (list(ok), list(errors)) for f, (ok, errors) in self.request_times.items()
            },
            stats=stats,
        )

    def _chains(self) -> list[ChainRow]:
        core = core_of(self.crawler)
        assert core is not None
        rows = []
        for state in core.states():
            chain_id = state.id
            chain = core.chains.get(chain_id)
            window = getattr(chain, "window", None)
            rows.append(
                ChainRow(
                    chain_id,
                    str(window) if window else None,
                    state.state,
                    state.reason,
                    state.pages,
                    state.items,
                    getattr(chain, "parent", None),
                )
            )
        return sorted(rows, key=lambda r: (r.window or "", r.id))

    def _left_today(self) -> dict[str, int | None]:
        """Requests left today per family, from the quota ledger (None: unknown)."""
        middleware = find_quota_middleware(self.crawler)
        if middleware is None or middleware.ledger is None or middleware.client is None:
            return {}
        try:
            spent = middleware.ledger.spent(middleware.client, middleware.api_clock.day())
        except Exception:  # a closed or unreachable ledger: the report goes on without it
            return {}
        left: dict[str, int | None] = {}
        for family, limit in middleware.limits.items():
            spend = spent.get(family)
            left[family] = (
                0 if spend and spend.exhausted else limit - (spend.requests if spend else 0)
            )
        return left

    def _carry_over(self) -> None:
        """Add the counters of earlier runs of this job, and keep the sum for the next."""
        path = self.folder / "report_data.json"
        job = self.crawler.stats.get_value("tiktok/job_id")
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            earlier = None
        if isinstance(earlier, dict) and job is not None and earlier.get("job_id") == job:
            for name in CARRIED:
                counter: Counter = getattr(self, name)
                for key, value in earlier.get(name, []):
                    counter[tuple(key) if isinstance(key, list) else key] += value
            for key, (url, body) in earlier.get("queries", {}).items():
                self.queries.setdefault(key, (url, body))
        if job is None:
            return
        data: dict[str, Any] = {"job_id": job, "queries": self.queries}
        for name in CARRIED:
            data[name] = [
                [list(k) if isinstance(k, tuple) else k, v] for k, v in getattr(self, name).items()
            ]
        tmp = path.with_suffix(".json.tmp")
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)

    def write(self, reason: str) -> None:
        self._carry_over()
        title, head, sections, footer = build(self.facts(reason))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path.write_text(document.render_html(title, head, sections, footer), encoding="utf-8")
        (self.folder / "methods.md").write_text(
            document.render_markdown(title, head, sections, footer), encoding="utf-8"
        )
