"""``scrapy crawl``, with config mistakes in one line and ``-a dry_run=true``.

Scrapy builds the spider inside the crawl; a bad config would surface as a traceback in
"Unhandled error in Deferred". This command loads and validates the config first (the
same ``load_config`` the spider calls), prints ``error: <what, where, how to fix>`` and
exits with status 2. ``-a dry_run=true`` prints what ``scrapy plan`` prints (chains,
windows, request bounds against today's quota) and sends nothing. ``scrapy crawl SPIDER
-h`` adds the spider's config keys to Scrapy's help. Everything else is Scrapy's own crawl
command.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import CloseSpider

from tiktok_scrapy.commands.plan import plan_text
from tiktok_scrapy.config import ConfigError, load_config
from tiktok_scrapy.config_help import config_help
from tiktok_scrapy.settings_check import SettingsError, check_settings

TRUE = {"1", "true", "yes", "on"}
# Options of `scrapy crawl` that take a value (so the value is not the spider's name).
VALUE_OPTIONS = {"-a", "-s", "-o", "-O", "-t", "--logfile", "-L", "--loglevel", "--output"}


def spider_in_argv(argv: list[str]) -> str | None:
    """The spider named on a command line such as ``scrapy crawl -s X=1 videos -h``.

    Scrapy takes the command's name out of ``sys.argv`` before parsing; either form works.
    """
    rest = argv[1:]
    if rest and rest[0] == "crawl":
        rest = rest[1:]
    for i, arg in enumerate(rest):
        if arg.startswith("-"):
            continue
        if i and rest[i - 1] in VALUE_OPTIONS:
            continue
        return arg
    return None


class SpiderHelp(argparse.Action):
    """``-h``: Scrapy's help, then the config keys of the spider named on the line."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show this help and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.print_help()
        spider = spider_in_argv(sys.argv)
        text = config_help(spider) if spider else ""
        print(
            f"\n{text}"
            if text
            else "\nName a spider (scrapy crawl videos -h) to list its config keys; "
            "scrapy list shows the spiders."
        )
        parser.exit()


class Command(ScrapyCrawlCommand):
    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-h", "--help", action=SpiderHelp)

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

    def _is_ours(self, spider: str) -> bool:
        try:
            spidercls = self.crawler_process.spider_loader.load(spider)
        except KeyError:
            return False  # Scrapy's own command says the spider is unknown
        return hasattr(spidercls, "endpoint_name")
