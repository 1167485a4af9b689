"""``scrapy crawl``, with config mistakes reported in one line instead of a traceback.

Scrapy builds the spider inside the crawl; a bad config would surface as a traceback in
"Unhandled error in Deferred". This command loads and validates the config first (the
same ``load_config`` the spider calls), prints ``error: <what, where, how to fix>`` and
exits with status 2. Everything else is Scrapy's own crawl command.
"""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError

from tiktok_scrapy.config import ConfigError, load_config


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) == 1 and self.crawler_process is not None:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                spidercls = None
            if hasattr(spidercls, "endpoint_name") or hasattr(spidercls, "config_kind"):
                spargs = dict(opts.spargs)
                source = spargs.pop("config", None)
                spargs.pop("force", None)
                overrides = {k: v for k, v in spargs.items() if not k.startswith("_")}
                try:
                    load_config(args[0], source, overrides)
                except ConfigError as error:
                    print(f"error: {error}", file=sys.stderr)
                    self.exitcode = 2
                    return
        super().run(args, opts)


__all__ = ["Command", "UsageError"]
