"""``scrapy crawl``, with config mistakes in one line, ``-a dry_run=true``, and an exit
status that tells a complete crawl from an incomplete one.

Scrapy builds the spider inside the crawl; a bad config would surface as a traceback in
"Unhandled error in Deferred". This command loads and validates the config first (the
same ``load_config`` the spider calls), checks the JOBDIR (not in use by another crawl,
not overwritten by ``-O``), prints ``error: <what, where, how to fix>`` and exits with
status 2. ``-a dry_run=true`` prints what ``scrapy plan`` prints (chains, windows, request
bounds against today's quota) and sends nothing. ``scrapy crawl SPIDER -h`` adds the
spider's config keys to Scrapy's help. After the crawl, the exit status is the
crawl's verdict (``tiktok_scrapy.verdict``: 0 complete, 3 incomplete and resumable, 4
quota spent, 5 credentials, 6 API refused a request, 2 bad input).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider

from tiktok_scrapy.checkpoints import CheckpointError, CheckpointStore
from tiktok_scrapy.commands.plan import plan_text
from tiktok_scrapy.config import ConfigError, load_config
from tiktok_scrapy.config_help import config_help
from tiktok_scrapy.jobdir_lock import JobdirLocked, check_free
from tiktok_scrapy.settings_check import SettingsError, check_settings
from tiktok_scrapy.verdict import EXIT_USAGE, exit_status

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
                self._check_jobdir(opts)
            except (ConfigError, SettingsError, CloseSpider, JobdirLocked) as error:
                self._refuse(f"{getattr(error, 'reason', None) or error}")
                return
            crawler = self._create_crawler(args[0])
            self.crawler_process.crawl(crawler, **opts.spargs)
            self.crawler_process.start()
            if self.crawler_process.bootstrap_failed:
                self.exitcode = 1
                return
            self.exitcode = self._exit_status(crawler)
            return
        super().run(args, opts)

    def _check_jobdir(self, opts: argparse.Namespace) -> None:
        """A JOBDIR in use, damaged, or about to lose its feed to ``-O``: one line now."""
        jobdir = self.settings.get("JOBDIR")
        if not jobdir:
            return
        check_free(jobdir)
        store_file = Path(jobdir) / CheckpointStore.FILENAME
        if not store_file.exists():
            return
        try:
            store = CheckpointStore(jobdir)
        except CheckpointError as error:
            raise ConfigError(f"JOBDIR {jobdir}: {error}") from None
        try:
            started = bool(store.load())
        except CheckpointError as error:
            raise ConfigError(f"JOBDIR {jobdir}: {error}") from None
        finally:
            store.close()
        if started and getattr(opts, "overwrite_output", None):
            raise ConfigError(
                f"-O would overwrite the output of the crawl being resumed from JOBDIR "
                f"{jobdir} (what earlier runs collected would be lost): use -o to append"
            )

    def _refuse(self, message: str) -> None:
        """One line on stderr (and in the job's log file, where scrapyd users look)."""
        line = f"error: {message}"
        print(line, file=sys.stderr)
        log_file = self.settings.get("LOG_FILE")
        if log_file:
            try:
                with Path(log_file).open("a", encoding="utf-8") as log:
                    log.write(line + "\n")
            except OSError:
                pass
        self.exitcode = EXIT_USAGE

    @staticmethod
    def _exit_status(crawler: Crawler) -> int:
        stats = crawler.stats
        if stats is None:
            return 1
        return exit_status(stats.get_value("finish_reason"), stats.get_value("tiktok/verdict"))

    def _is_ours(self, spider: str) -> bool:
        try:
            spidercls = self.crawler_process.spider_loader.load(spider)
        except KeyError:
            return False  # Scrapy's own command says the spider is unknown
        return hasattr(spidercls, "endpoint_name")
