"""``scrapy crawl``, with config mistakes in one line and ``-a dry_run=true``.

Scrapy builds the spider inside the crawl; a bad config would surface as a traceback in
"Unhandled error in Deferred". This command loads and validates the config first (the
same ``load_config`` the spider calls), prints ``error: <what, where, how to fix>`` and
exits with status 2. ``-a dry_run=true`` prints what ``scrapy plan`` prints (chains,
windows, request bounds against today's quota) and sends nothing. A crawl stopped because
the client lacks an endpoint's approval exits with status 1. Everything else is Scrapy's
own crawl command.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider

from tiktok_scrapy.commands.plan import plan_text
from tiktok_scrapy.config import ConfigError, load_config
from tiktok_scrapy.settings_check import SettingsError, check_settings

TRUE = {"1", "true", "yes", "on"}
# Close reasons that mean the crawl cannot succeed as configured: exit status 1.
FAILED_REASONS = frozenset({"scope_not_authorized"})


class Command(ScrapyCrawlCommand):
    _crawler: Crawler | None = None

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None and self._is_ours(args[0]):
            spargs = dict(opts.spargs)
            dry_run = str(spargs.pop("dry_run", "")).strip().lower() in TRUE
            opts.spargs = spargs
            overrides = {
                k: v
                for k, v in spargs.items()
                if not k.startswith("_") and k not in ("config", "force")
            }
            try:
                check_settings(self.settings)
                if dry_run:
                    print(plan_text(args[0], spargs, self.settings))
                    return
                config = load_config(args[0], spargs.get("config"), overrides)
                if hasattr(config, "inputs"):  # input files are read now, not mid-crawl
                    config.inputs()
            except (ConfigError, SettingsError, CloseSpider) as error:
                print(f"error: {getattr(error, 'reason', None) or error}", file=sys.stderr)
                self.exitcode = 2
                return
        super().run(args, opts)
        reason = self._crawler.stats.get_value("finish_reason") if self._crawler else None
        if reason in FAILED_REASONS:
            self.exitcode = 1

    def _create_crawler(self, spname: str) -> Crawler:
        self._crawler = super()._create_crawler(spname)
        return self._crawler

    def _is_ours(self, spider: str) -> bool:
        try:
            spidercls = self.crawler_process.spider_loader.load(spider)
        except KeyError:
            return False  # Scrapy's own command says the spider is unknown
        return hasattr(spidercls, "endpoint_name")
