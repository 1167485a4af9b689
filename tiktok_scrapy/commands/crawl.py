"""``scrapy crawl``, with every bad input in one line and ``-a dry_run=true``.

Scrapy builds the spider inside the crawl; a bad config or setting would surface as a
traceback in "Unhandled error in Deferred" (or, read per page, as a crawl that "finishes"
with nothing). This command first runs :func:`tiktok_scrapy.preflight.preflight` — the
spider's name, every setting, the ``-a`` values, the config and its input files — while
the options are processed, before Scrapy starts logging; on a mistake it prints
``error: <what, where, how to fix>`` as the only line on stderr and exits with status 2.
``-a dry_run=true`` prints what ``scrapy plan`` prints (chains, windows, request bounds
against today's quota) and sends nothing. Everything else is Scrapy's own crawl command.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import CloseSpider, UsageError
from scrapy.spiderloader import get_spider_loader

from tiktok_scrapy.commands.plan import plan_text
from tiktok_scrapy.preflight import BAD_INPUT, check_spider, flag, one_line, preflight


class Command(ScrapyCrawlCommand):
    dry_run = False

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            super().process_options(args, opts)
        except UsageError as error:
            fail(str(error))
        if len(args) != 1:
            return  # Scrapy's own usage message
        assert self.settings is not None
        try:
            loader = get_spider_loader(self.settings)
            check_spider(args[0], loader.list())
            if not hasattr(loader.load(args[0]), "endpoint_name"):
                return  # not one of ours: Scrapy's crawl as it is
            spargs = dict(opts.spargs)
            self.dry_run = flag(spargs, "dry_run")
            spargs.pop("dry_run", None)
            opts.spargs = spargs
            preflight(args[0], spargs, self.settings)
        except (*BAD_INPUT, CloseSpider) as error:
            fail(one_line(error))
        except Exception as error:  # a bug in a check: still one line, never a traceback
            fail(
                f"could not check this crawl ({type(error).__name__}: "
                f"{one_line(error)[:200]}) — please report it with the command you ran"
            )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if self.dry_run:
            try:
                print(plan_text(args[0], opts.spargs, self.settings))
            except (*BAD_INPUT, CloseSpider) as error:
                print(f"error: {one_line(error)}", file=sys.stderr)
                self.exitcode = 2
            return
        super().run(args, opts)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` as the one line on stderr and exit with status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
