"""``scrapy crawl``, with every bad input in one line, ``-a dry_run=true``, and an exit
status that tells a complete crawl from an incomplete one.

Scrapy builds the spider inside the crawl; a bad config or setting would surface as a
traceback in "Unhandled error in Deferred" (or, read per page, as a crawl that "finishes"
with nothing). This command first runs :func:`tiktok_scrapy.preflight.preflight` — the
spider's name, every setting, the ``-a`` values, the config and its input files — and
checks the JOBDIR (not in use by another crawl, not damaged, not overwritten by ``-O``)
while the options are processed, before Scrapy starts logging; on a mistake it prints
``error: <what, where, how to fix>`` as the only line on stderr (and in the job's log file
under scrapyd) and exits with status 2. ``-a dry_run=true`` prints what ``scrapy plan``
prints and sends nothing. ``scrapy crawl SPIDER -h`` adds the spider's config keys to
Scrapy's help. After the crawl, the exit status is the crawl's verdict
(``tiktok_scrapy.verdict``: 0 complete, 3 incomplete and resumable, 4 quota spent, 5
credentials or approval, 6 API refused a request, 1 a bug).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, UsageError
from scrapy.settings import BaseSettings
from scrapy.spiderloader import get_spider_loader

from tiktok_scrapy.chains.lock import JobdirLocked, check_free
from tiktok_scrapy.chains.store import CheckpointError, CheckpointStore
from tiktok_scrapy.commands.plan import plan_text
from tiktok_scrapy.config import ConfigError
from tiktok_scrapy.config_help import config_help
from tiktok_scrapy.default_settings import apply_defaults
from tiktok_scrapy.preflight import BAD_INPUT, check_spider, flag, one_line, preflight
from tiktok_scrapy.verdict import EXIT_ERROR, EXIT_USAGE, exit_status

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
    dry_run = False
    ours = False

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-h", "--help", action=SpiderHelp)

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            super().process_options(args, opts)
        except UsageError as error:
            fail(str(error), self.settings)
        apply_defaults(self.settings)  # checked and planned with them; the add-on applies them too
        if len(args) != 1:
            return  # Scrapy's own usage message
        assert self.settings is not None
        try:
            loader = get_spider_loader(self.settings)
            check_spider(args[0], loader.list())
            if not hasattr(loader.load(args[0]), "endpoint_name"):
                return  # not one of ours: Scrapy's crawl as it is
            self.ours = True
            spargs = dict(opts.spargs)
            self.dry_run = flag(spargs, "dry_run")
            spargs.pop("dry_run", None)
            opts.spargs = spargs
            preflight(args[0], spargs, self.settings)
            if not self.dry_run:
                check_jobdir(self.settings, bool(getattr(opts, "overwrite_output", None)))
        except (*BAD_INPUT, CloseSpider, JobdirLocked) as error:
            fail(one_line(error), self.settings)
        except Exception as error:  # a bug in a check: still one line, never a traceback
            fail(
                f"could not check this crawl ({type(error).__name__}: "
                f"{one_line(error)[:200]}) — please report it with the command you ran",
                self.settings,
            )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if self.dry_run:
            try:
                print(plan_text(args[0], opts.spargs, self.settings))
            except (*BAD_INPUT, CloseSpider) as error:
                print(f"error: {one_line(error)}", file=sys.stderr)
                self.exitcode = EXIT_USAGE
            return
        if not self.ours or self.crawler_process is None:
            super().run(args, opts)
            return
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = EXIT_ERROR
            return
        self.exitcode = crawl_exit_status(crawler)


def check_jobdir(settings: BaseSettings, overwrite: bool) -> None:
    """A JOBDIR in use, damaged, or about to lose its feed to ``-O``: an error now."""
    jobdir = settings.get("JOBDIR")
    if not jobdir:
        return
    check_free(jobdir)
    if not (Path(jobdir) / CheckpointStore.FILENAME).exists():
        return
    try:
        store = CheckpointStore(jobdir)
        try:
            started = bool(store.load())
        finally:
            store.close()
    except CheckpointError as error:
        raise ConfigError(f"JOBDIR {jobdir}: {error}") from None
    if started and overwrite:
        raise ConfigError(
            f"-O would overwrite the output of the crawl being resumed from JOBDIR {jobdir} "
            "(what earlier runs collected would be lost): use -o to append"
        )


def crawl_exit_status(crawler: Crawler) -> int:
    stats = crawler.stats
    if stats is None:
        return EXIT_ERROR
    return exit_status(stats.get_value("finish_reason"), stats.get_value("tiktok/verdict"))


def fail(message: str, settings: BaseSettings | None = None) -> NoReturn:
    """``error: message`` as the one line on stderr (and in the job's log file, where
    scrapyd users look), then exit with status 2."""
    line = f"error: {message}"
    print(line, file=sys.stderr)
    log_file = settings.get("LOG_FILE") if settings is not None else None
    if log_file:
        try:
            with Path(log_file).open("a", encoding="utf-8") as log:
                log.write(line + "\n")
        except OSError:
            pass
    sys.exit(EXIT_USAGE)
