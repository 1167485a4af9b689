"""Continuous (daily) video crawling: which days a run crawls, and the ledger of days done.

A videos config with ``mode: daily`` is meant to run from cron or scrapyd with no date
arithmetic: each run crawls the newest complete day (today - ``lag_days``, UTC; never a
day inside TikTok's ~48 h indexing lag), every earlier day since ``start_date`` (or since
the ledger's first day) that no run finished, and, with ``recrawl_after_days: N``, each
day once more N days later (late-indexed videos, settled counts). A day enters the ledger
only when every chain of it finished; an interrupted day is simply crawled again.

The ledger is ``daily_ledger.json`` in ``TIKTOK_STATE_DIR`` (default
``data/state/{query_id}``). ``TIKTOK_TODAY`` pins "today" (tests, backfills).
``DailyMode`` is the Scrapy extension that plans the run's windows into the config before
the spider starts and writes the ledger when it closes.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings

from tiktok_scrapy.api.windows import Window, utc_today
from tiktok_scrapy.chains import FINISHED_STATES, ChainCore, core_of
from tiktok_scrapy.chains.chain import window_chain_id
from tiktok_scrapy.config import ConfigError, VideosConfig

logger = logging.getLogger(__name__)

LEDGER_FILE = "daily_ledger.json"


# --- plain date logic ---------------------------------------------------------------------
def newest_day(today: date, lag_days: int) -> date:
    """The newest day a run may crawl: complete and outside the indexing lag."""
    return today - timedelta(days=lag_days)


def days_to_crawl(
    today: date,
    lag_days: int,
    ledger: Mapping[date, Mapping[str, Any]],
    start: date | None = None,
    end: date | None = None,
    recrawl_after_days: int | None = None,
) -> tuple[list[date], list[date]]:
    """``(new days, days due for a re-crawl)`` for a run on ``today``, oldest first."""
    newest = newest_day(today, lag_days)
    last = min(newest, end) if end else newest
    first = start or min([*ledger, newest])
    new = []
    day = first
    while day <= last:
        if not ledger.get(day, {}).get("crawled"):
            new.append(day)
        day += timedelta(days=1)
    recrawl = []
    if recrawl_after_days:
        recrawl = sorted(
            day
            for day, entry in ledger.items()
            if entry.get("crawled")
            and not entry.get("recrawled")
            and day + timedelta(days=recrawl_after_days) <= newest
        )
    return new, recrawl


def complete_days(chains: Iterable[tuple[Window | None, str]]) -> set[date]:
    """Days whose every chain (one-day windows and their splits) finished."""
    finished: dict[date, bool] = {}
    for window, state in chains:
        if window is None or window.days != 1:
            continue
        finished[window.start] = finished.get(window.start, True) and state in FINISHED_STATES
    return {day for day, done in finished.items() if done}


class DayLedger:
    """Days crawled (and re-crawled), with the run day that did it, in a small JSON file."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LEDGER_FILE
        self.days: dict[date, dict[str, Any]] = {}
        if self.path.exists():
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.days = {date.fromisoformat(k): v for k, v in raw.get("days", {}).items()}

    def mark(self, day: date, today: date, recrawl: bool) -> None:
        entry = self.days.setdefault(day, {})
        entry["recrawled" if recrawl and entry.get("crawled") else "crawled"] = today.isoformat()

    def save(self) -> None:
        """Write atomically: a kill while saving leaves the previous ledger intact."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"days": {d.isoformat(): self.days[d] for d in sorted(self.days)}}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


# --- wiring -------------------------------------------------------------------------------
def run_today(settings: BaseSettings) -> date:
    """``TIKTOK_TODAY`` (YYYY-MM-DD) or today's UTC date."""
    pinned = settings.get("TIKTOK_TODAY")
    if not pinned:
        return utc_today()
    try:
        return date.fromisoformat(str(pinned))
    except ValueError:
        raise ConfigError(f"-s TIKTOK_TODAY={pinned}: not a date — write YYYY-MM-DD") from None


def state_dir(settings: BaseSettings, config: VideosConfig) -> Path:
    """``TIKTOK_STATE_DIR`` with ``{query_id}`` filled in."""
    return Path(settings.get("TIKTOK_STATE_DIR").format(query_id=config.query_id()))


def prepare_daily(config: VideosConfig, settings: BaseSettings) -> tuple[list[date], list[date]]:
    """Put this run's one-day windows into ``config``; ``(new days, re-crawled days)``."""
    ledger = DayLedger(state_dir(settings, config))
    new, recrawl = days_to_crawl(
        run_today(settings),
        config.lag_days,
        ledger.days,
        config.start_date,
        config.end_date,
        config.recrawl_after_days,
    )
    config.set_daily_windows([Window(d, d) for d in sorted({*new, *recrawl})])
    return new, recrawl


class DailyMode:
    """Plans a daily-mode videos crawl from its ledger and records the days it finished."""

    def __init__(self, crawler: Crawler, core: ChainCore, config: VideosConfig) -> None:
        self.crawler = crawler
        self.core = core
        self.config = config
        self.today = run_today(crawler.settings)
        self.ledger = DayLedger(state_dir(crawler.settings, config))
        self.new, self.recrawl = prepare_daily(config, crawler.settings)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DailyMode:
        core = core_of(crawler)
        config = core.config if core else None
        if core is None or not isinstance(config, VideosConfig) or config.mode != "daily":
            raise NotConfigured  # not a daily-mode videos crawl
        mode = cls(crawler, core, config)
        mode._log_plan()
        # A JOBDIR reused run after run: not "finished", and days to re-crawl start over.
        core.reopen_finished(
            window_chain_id("videos", *Window(d, d).api_dates()) for d in mode.recrawl
        )
        return mode

    def _log_plan(self) -> None:
        newest = newest_day(self.today, self.config.lag_days)
        logger.info(
            "Daily mode (today %s, newest complete day %s): crawling %s; re-crawling %s.",
            self.today,
            newest,
            _days_text(self.new) or "nothing new",
            _days_text(self.recrawl) or "nothing",
        )
        self.crawler.stats.set_value("tiktok/daily/days", len(self.new))
        self.crawler.stats.set_value("tiktok/daily/recrawl_days", len(self.recrawl))

    def spider_closed(self, reason: str) -> None:
        if self.core.pending_pages():
            logger.warning("Daily mode: some items were not stored; no day is marked crawled.")
            return
        done = complete_days(self.core.windows())
        for day in sorted(done):
            self.ledger.mark(day, self.today, recrawl=day in self.recrawl)
        self.ledger.save()
        missing = sorted({*self.new, *self.recrawl} - done)
        logger.info(
            "Daily mode: %d day(s) done%s; ledger %s.",
            len(done),
            f", {_days_text(missing)} left for the next run" if missing else "",
            self.ledger.path,
        )
        self.crawler.stats.set_value("tiktok/daily/days_done", len(done))


def _days_text(days: list[date]) -> str:
    return ", ".join(d.isoformat() for d in days)
