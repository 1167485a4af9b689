"""``scrapy plan <spider> -a config=...``: chains, windows and request bounds, sent nothing.

Builds the spider exactly as ``scrapy crawl`` would (same config validation; daily mode
reads its ledger without writing it), lists what it would crawl and prints the minimum
and, where one exists, the upper bound of requests per quota family against what the
quota ledger says remains today (``tiktok_scrapy.planning``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, UsageError
from scrapy.utils.conf import arglist_to_dict

from tiktok_scrapy.addons import with_sandbox_quota
from tiktok_scrapy.chains.store import CheckpointStore
from tiktok_scrapy.commands import ProjectDefaults
from tiktok_scrapy.commands.validate import add_spider_args
from tiktok_scrapy.config import NetworkConfig, VideosConfig
from tiktok_scrapy.continuous import DayLedger, newest_day, prepare_daily, run_today, state_dir
from tiktok_scrapy.middlewares.quota import daily_limits, open_ledger
from tiktok_scrapy.middlewares.token import read_credentials
from tiktok_scrapy.planning import estimate, format_plan, network_estimate, pages_bound
from tiktok_scrapy.preflight import BAD_INPUT, check_project_settings, check_spider, one_line
from tiktok_scrapy.quota_ledger import ApiClock, Client


class Command(ProjectDefaults, ScrapyCommand):
    requires_project = True
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "<spider> -a config=<file|example|json> [-a key=value ...]"

    def short_desc(self) -> str:
        return "Print a crawl's chains and request bounds against today's quota; send nothing"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        add_spider_args(parser)

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("name one spider, e.g. scrapy plan videos -a config=quickstart")
        assert self.settings is not None
        try:
            spargs = arglist_to_dict(opts.spargs)
            check_project_settings(self.settings)
            print(plan_text(args[0], spargs, self.settings))
        except (*BAD_INPUT, CloseSpider) as error:
            print(f"error: {one_line(error)}", file=sys.stderr)
            self.exitcode = 2


def plan_text(spider_name: str, spargs: dict[str, str], settings: Any) -> str:
    from scrapy.spiderloader import get_spider_loader

    loader = get_spider_loader(settings)
    check_spider(spider_name, loader.list())
    spidercls = loader.load(spider_name)
    crawler = Crawler(spidercls, settings)
    spider = spidercls.from_crawler(crawler, **spargs)
    config = spider.config
    notes: list[str] = []
    if isinstance(config, VideosConfig) and config.mode == "daily":
        new, recrawl = prepare_daily(config, crawler.settings)
        notes.append(daily_note(config, crawler.settings, new, recrawl))
    chains = list(spider.plan())
    finished = finished_in_jobdir(crawler.settings.get("JOBDIR"))
    if finished:
        planned = len(chains)
        chains = [c for c in chains if c.id not in finished]
        notes.append(
            f"JOBDIR {crawler.settings.get('JOBDIR')}: {planned - len(chains)} of {planned} "
            "chains already finished there; the rest is planned below"
        )
    if isinstance(config, NetworkConfig):
        families = network_estimate(
            len(config.inputs()),
            config.depth,
            len(config.directions()),
            config.max_users_per_level,
            config.max_edges_per_user,
            config.max_count,
        )
    else:
        is_random = bool(getattr(config, "is_random", False))
        families = estimate(
            (
                c.endpoint.name,
                pages_bound(
                    c.endpoint.name,
                    int(c.body.get("max_count") or 100),
                    is_random=is_random,
                    ids=_ids_in(c.body) if spider_name == "refresh" else None,
                ),
            )
            for c in chains
        )
    windows = [str(c.window) for c in chains if c.window]
    if getattr(config, "adaptive", False) and windows:
        notes.append(
            f"adaptive windows: {len(windows)} of up to 30 days to start with (one request "
            "each if sparse); a window whose first page shows it dense is cut into chains "
            "of about TIKTOK_ADAPTIVE_PAGES_PER_CHAIN pages while crawling: about one "
            "request per 100 videos found, plus at most one partly filled page per new chain"
        )
    return format_plan(
        spider_name,
        [c.id for c in chains],
        windows,
        families,
        remaining_today(crawler.settings),
        config.max_requests,
        notes,
    )


def daily_note(config: Any, settings: Any, new: list, recrawl: list) -> str:
    """What daily mode does this run, and with which of the days already crawled."""
    ledger = DayLedger(state_dir(settings, config))
    today = run_today(settings)
    days = ", ".join(d.isoformat() for d in new) or "none"
    again = ", ".join(d.isoformat() for d in recrawl) or "none"
    return (
        f"daily mode: today {today}, newest complete day "
        f"{newest_day(today, config.lag_days)}; {len(ledger.days)} day(s) already crawled "
        f"({ledger.path}); new days: {days}; re-crawled days: {again}"
    )


def finished_in_jobdir(jobdir: str | None) -> set[str]:
    """Ids of the chains a JOBDIR's checkpoints mark finished (read only; none: empty)."""
    if not jobdir or not (Path(jobdir) / CheckpointStore.FILENAME).exists():
        return set()
    store = CheckpointStore(jobdir)
    try:
        return {chain_id for chain_id, state in store.load().items() if state.finished}
    finally:
        store.close()


def _ids_in(body: dict) -> int:
    return sum(len(c.get("field_values", [])) for c in body.get("query", {}).get("and", []))


def remaining_today(settings: Any) -> dict[str, int | None]:
    """Requests left today per quota family from the ledger (None: no client key set)."""
    settings = with_sandbox_quota(settings)
    limits = daily_limits(settings)
    key, _ = read_credentials(settings)
    if not key or not settings.getbool("TIKTOK_QUOTA_ENABLED"):
        return dict.fromkeys(limits)
    ledger = open_ledger(settings)
    try:
        spent = ledger.spent(Client.from_key(key, settings.get("TIKTOK_API_URL")), ApiClock().day())
    finally:
        ledger.close()
    left: dict[str, int | None] = {}
    for family, limit in limits.items():
        spend = spent.get(family)
        left[family] = 0 if spend and spend.exhausted else limit - (spend.requests if spend else 0)
    return left
