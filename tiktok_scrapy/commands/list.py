"""``scrapy list``: the spiders, each with what it crawls when shown on a terminal.

Piped or captured (scrapyd runs ``scrapy list`` and reads one name a line), it prints the
names alone, as Scrapy's own command does; ``--names`` forces that, ``--long`` the
descriptions.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, ClassVar

from scrapy.commands import ScrapyCommand
from scrapy.spiderloader import get_spider_loader

from tiktok_scrapy.commands import ProjectDefaults
from tiktok_scrapy.config_help import describe


class Command(ProjectDefaults, ScrapyCommand):
    requires_project = True
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def short_desc(self) -> str:
        return "List the spiders and what each crawls"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--long", "-l", action="store_true", help="with descriptions (default on a terminal)"
        )
        parser.add_argument("--names", action="store_true", help="names only, one a line")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        loader = get_spider_loader(self.settings)
        names = sorted(loader.list())
        long = opts.long or (sys.stdout.isatty() and not opts.names)
        if not long:
            print("\n".join(names))
            return
        width = max(map(len, names), default=0)
        for name in names:
            print(f"{name:<{width}}  {describe(loader.load(name))}")
        print(
            "\nscrapy crawl SPIDER -h lists a spider's config keys; "
            "scrapy validate SPIDER -a config=FILE checks a config."
        )
