"""``scrapy crawl``, with config mistakes in one line, ``-a dry_run=true``, and an exit
status that tells a complete crawl from an incomplete one.

Scrapy builds the spider inside the crawl; a bad config would surface as a traceback in
"Unhandled error in Deferred". This command loads and validates the config first (the
same ``load_config`` the spider calls), checks the JOBDIR (not in use by another crawl,
not overwritten by ``-O``), prints ``error: <what, where, how to fix>`` and exits with
status 2. ``-a dry_run=true`` prints what ``scrapy plan`` prints (chains, windows, request
bounds against today's quota) and sends nothing. After the crawl, the exit status is the
crawl's verdict (``tiktok_scrapy.verdict``: 0 complete, 3 incomplete and resumable, 4
quota spent, 5 credentials, 6 API refused a request, 2 bad input).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider

from tiktok_scrapy.checkpoints import CheckpointError, CheckpointStore
from tiktok_scrapy.commands.plan import plan_text
from tiktok_scrapy.config import ConfigError, load_config
from tiktok_scrapy.jobdir_lock import JobdirLocked, check_free
from tiktok_scrapy.settings_check import SettingsError, check_settings
from tiktok_scrapy.verdict import EXIT_USAGE, exit_status

TRUE = {"1", "true", "yes", "on"}


class Command(ScrapyCrawlCommand):
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
