"""Progress: a live display on a terminal, log lines elsewhere, a word at the end.

Long crawls run for hours; researchers want to see chains (windows, accounts) done of
all known, pages, items, requests, quota left today and an estimate of the time left.
- On a terminal (stderr is a TTY and no LOG_FILE): a live bar drawn with ``rich`` (pinned
  in requirements.txt: maintained, handles resizing and non-UTF-8 terminals, and prints
  log records above the bar instead of through it). Log records keep flowing above it.
- Elsewhere (scrapyd, cron, a pipe): a log line at the start and every
  ``TIKTOK_PROGRESS_INTERVAL`` seconds, with the same numbers.
- At the end: one summary line, and a warning when the crawl finished with no record at
  all (a query that matches nothing ends otherwise without a word).
Chain counts come from the chain core's ``progress()`` and, for the total, its ``plan()``
(counted once at the start); quota from the quota middleware's ledger. The estimate is
the rate of chains finished so far applied to those left: rough when chains differ in
size, and said so ("about").
Settings: ``TIKTOK_PROGRESS_INTERVAL`` (seconds between log lines; 0: no progress output
besides the end), ``TIKTOK_PROGRESS_DISPLAY`` (``auto``, ``bar`` or ``log``).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

from tiktok_scrapy.chains import ChainCore, core_of
from tiktok_scrapy.middlewares.quota import find_quota_middleware

logger = logging.getLogger(__name__)

QUOTA_CACHE_SECONDS = 2.0
BAR_REFRESH_SECONDS = 0.5


@dataclass
class Snapshot:
    """What the progress display shows at one moment."""

    chains: int
    done: int
    failed: int
    pages: int
    items: int
    requests: int
    elapsed: float
    quota_left: dict[str, tuple[int, int]]  # family -> (left, limit)
    quota_wait: float | None = None  # seconds until held requests go again (quota reset)

    @property
    def fraction(self) -> float | None:
        return self.done / self.chains if self.chains else None

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate chains finished so far (None: too early to say)."""
        if not self.chains:
            return None
        if self.done >= self.chains:
            return 0.0
        if not self.done:
            return None
        return self.elapsed * (self.chains - self.done) / self.done

    def quota_text(self) -> str:
        if not self.quota_left:
            return "quota left today: unknown"
        return "quota left today: " + ", ".join(
            f"{family} {left}/{limit}" for family, (left, limit) in sorted(self.quota_left.items())
        )

    def line(self) -> str:
        percent = f" ({100 * self.fraction:.0f}%)" if self.fraction is not None else ""
        eta = self.eta
        if self.quota_wait is not None:
            eta_text = f"waiting {hms(self.quota_wait)} for the daily quota to reset"
        elif self.chains and self.done >= self.chains:
            eta_text = "all chains done"
        elif eta is None:
            eta_text = "ETA unknown until a chain finishes"
        else:
            eta_text = f"ETA about {hms(eta)}"
        return (
            f"{self.done}/{self.chains} chains done{percent}, {self.failed} failed, "
            f"{self.pages} pages, {self.items} items, {self.requests} requests; "
            f"{self.quota_text()}; elapsed {hms(self.elapsed)}, {eta_text}"
        )


def planned_chains(spider: Any) -> int:
    """How many chains the config asks for: the spider hands its start requests out
    lazily, so its own count grows as the crawl goes (splits and network levels add more).
    Not for the refresh spider, whose plan reads the whole store again."""
    if not spider.plan_is_cheap:
        return 0
    try:
        return sum(1 for _ in spider.plan())
    except Exception:  # inputs that cannot be read again: the spider's count will do
        logger.debug("Could not count the planned chains", exc_info=True)
        return 0


def hms(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def use_bar(setting: str, log_file: Any, stream: Any = None) -> bool:
    setting = (setting or "auto").lower()
    if setting in ("bar", "log"):
        return setting == "bar"
    stream = stream or sys.stderr
    return not log_file and bool(getattr(stream, "isatty", lambda: False)())


def bar_view(s: Snapshot) -> Any:
    """Three short lines that fit an 80-column terminal: the bar, the counts, the quota."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    eta = s.eta
    percent = f"{100 * s.fraction:.0f}%" if s.fraction is not None else "…"
    head = Table.grid(padding=(0, 1))
    head.add_row(
        "[bold]chains[/]",
        ProgressBar(total=s.chains or None, completed=s.done, width=30),
        f"{s.done}/{s.chains} {percent}",
        f"quota resets in {hms(s.quota_wait)}"
        if s.quota_wait is not None
        else "ETA ?"
        if eta is None
        else f"ETA ~{hms(eta)}",
    )
    counts = (
        f"  {s.pages} pages · {s.items} items · {s.requests} requests · "
        f"{s.failed} chains failed · {hms(s.elapsed)} elapsed"
    )
    return Group(head, counts, f"  {s.quota_text()}")


class Progress:
    def __init__(self, crawler: Crawler, core: ChainCore, interval: float, bar: bool) -> None:
        self.crawler = crawler
        self.core = core
        self.interval = interval
        self.bar = bar
        self.started = time.monotonic()
        self._loop: task.LoopingCall | None = None
        self._quota: dict[str, tuple[int, int]] = {}
        self._quota_at = -QUOTA_CACHE_SECONDS
        self._live: Any = None
        self._first: Any = None  # the first log line's delayed call
        self.planned = 0  # chains the config asks for (the spider starts them lazily)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        core = core_of(crawler)
        if core is None or core.config is None:
            raise NotConfigured
        settings = crawler.settings
        interval = settings.getfloat("TIKTOK_PROGRESS_INTERVAL")
        bar = interval > 0 and use_bar(
            settings.get("TIKTOK_PROGRESS_DISPLAY"), settings.get("LOG_FILE")
        )
        ext = cls(crawler, core, interval, bar)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    # --- numbers -------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        p = self.core.progress()
        return Snapshot(
            chains=max(p["chains"], self.planned),
            done=p["done"],
            failed=p["failed"],
            pages=p["pages"],
            items=p["items"],
            requests=p["requests"],
            elapsed=time.monotonic() - self.started,
            quota_left=self.quota_left(),
            quota_wait=self.quota_wait(),
        )

    def quota_wait(self) -> float | None:
        """Seconds until requests held for the quota reset go again (None: none held)."""
        middleware = find_quota_middleware(self.crawler)
        return middleware.waiting_for_reset() if middleware is not None else None

    def quota_left(self) -> dict[str, tuple[int, int]]:
        """(left, limit) per family from the ledger, read at most every few seconds."""
        now = time.monotonic()
        if now - self._quota_at < QUOTA_CACHE_SECONDS:
            return self._quota
        self._quota_at = now
        middleware = find_quota_middleware(self.crawler)
        if middleware is None or middleware.ledger is None or middleware.client is None:
            return self._quota
        try:
            spent = middleware.ledger.spent(middleware.client, middleware.api_clock.day())
        except Exception:  # the ledger is closing or unreachable: keep the last numbers
            return self._quota
        quota = {}
        used_here = {*self.core.families(), *middleware.spent_this_crawl}
        for family, limit in middleware.limits.items():
            if family not in used_here:
                continue
            spend = spent.get(family)
            used = spend.requests if spend else 0
            quota[family] = (0 if spend and spend.exhausted else max(0, limit - used), limit)
        self._quota = quota
        return quota

    # --- output --------------------------------------------------------------------------
    def spider_opened(self) -> None:
        self.planned = planned_chains(self.crawler.spider)
        if self.bar:
            self._start_bar()
            self._loop = task.LoopingCall(self.refresh_bar)
            self._loop.start(BAR_REFRESH_SECONDS, now=True)
        elif self.interval > 0:
            self._loop = task.LoopingCall(self.log)
            # The first line once the start requests are out, then every interval.
            self._loop.start(self.interval, now=False)
            from twisted.internet import reactor

            self._first = reactor.callLater(min(2.0, self.interval), self.log)  # type: ignore[attr-defined]

    def log(self) -> None:
        if self.crawler.crawling:
            logger.info("Progress: %s.", self.snapshot().line())

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self._live = Live(
            console=Console(stderr=True),
            redirect_stderr=True,
            redirect_stdout=False,
            refresh_per_second=4,
        )
        self._live.start()
        self._redirect_log_handlers(sys.stderr)

    def _redirect_log_handlers(self, stream: Any) -> None:
        """Send log records written to the terminal through rich, above the bar.

        Scrapy's handler holds the stderr it found at start; rich replaces
        ``sys.stderr`` with a proxy that prints above the live bar.
        """
        self._redirected: list[tuple[logging.StreamHandler, Any]] = []
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.__stderr__:
                self._redirected.append((handler, handler.setStream(stream)))

    def refresh_bar(self) -> None:
        if self._live is not None:
            self._live.update(bar_view(self.snapshot()))

    def _stop_bar(self) -> None:
        if self._live is None:
            return
        self._quota_at = -QUOTA_CACHE_SECONDS
        self._live.update(bar_view(self.snapshot()), refresh=True)
        for handler, original in getattr(self, "_redirected", []):
            handler.setStream(original)
        self._live.stop()
        self._live = None

    def spider_closed(self, reason: str) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._first is not None and self._first.active():
            self._first.cancel()
        self._stop_bar()
        self._quota_at = -QUOTA_CACHE_SECONDS  # fresh numbers for the last line
        snapshot = self.snapshot()
        logger.info("Progress at the end (%s): %s.", reason, snapshot.line())
        if reason == "finished" and snapshot.chains and not snapshot.items and not snapshot.failed:
            logger.warning(
                "The crawl finished without a single record: the query matched nothing. "
                "Check its values (a placeholder id such as the example's music_id, a "
                "misspelt hashtag or username, a window less than 48 h old) with "
                "`scrapy plan %s -a config=...`.",
                self.core.spider_name,
            )
