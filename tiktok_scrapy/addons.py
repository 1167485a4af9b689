"""TikTokAddon: the project's defaults and the settings a crawl derives from its config.

Both are set before the settings freeze. First the defaults
(``tiktok_scrapy.default_settings``) at "addon" priority: what a user sets anywhere else
(settings.py, ``custom_settings``, ``-s``, a scrapyd job) wins. Scrapy builds the spider
(and so loads and validates its config) before it applies add-ons, so this is the one place
that can turn a config into settings:
- ``TIKTOK_SANDBOX``: start the sandbox in a background thread on a free loopback port and
  point ``TIKTOK_API_URL``, the credentials and the quota ledger at it (a resumed crawl
  re-issues its chains from the checkpoints, so a new port each run is fine);
- ``TIKTOK_OUTPUT_DIR``: resolve ``{spider}``/``{job}`` to a concrete folder;
- ``FEEDS``: with no feed given (``-o``/``-O``) and no MongoDB, one JSON Lines file per item
  type in the output folder (appended to on resume); a CSV feed given with ``-o`` keeps one
  header and one column order over every run of a JOBDIR (``csv_feeds``);
- ``CONCURRENT_ITEMS``: 1 without MongoDB unless set (items never wait there), else Scrapy's 100;
- the config's limits: ``max_items`` → ``CLOSESPIDER_ITEMCOUNT``, ``max_minutes`` →
  ``CLOSESPIDER_TIMEOUT`` (``max_requests`` is enforced by the chain gate).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from tiktok_scrapy.default_settings import apply_defaults
from tiktok_scrapy.quota_ledger import (
    DEFAULT_SANDBOX_COLLECTION,
    DEFAULT_SANDBOX_LEDGER_PATH,
    SANDBOX_CLIENT_KEY,
)
from tiktok_scrapy.storage.backend import MONGODB, backend

logger = logging.getLogger(__name__)


class TikTokAddon:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.sandbox: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TikTokAddon:
        addon = cls(crawler)
        crawler.signals.connect(addon._stop_sandbox, signal=signals.engine_stopped)
        return addon

    def update_settings(self, settings: BaseSettings) -> None:
        apply_defaults(settings)
        spider = self.crawler.spider
        if settings.getbool("TIKTOK_SANDBOX"):
            self._start_sandbox(settings)
        if getattr(spider, "config", None) is None:
            return
        outdir = resolve_output_dir(settings, spider.name)
        _replace(settings, "TIKTOK_OUTPUT_DIR", str(outdir))
        checking = bool(os.environ.get("SCRAPY_CHECK"))  # `scrapy check` runs no feeds
        with_mongodb = backend(settings) == MONGODB
        if not settings.getdict("FEEDS") and not with_mongodb and not checking:
            _replace(settings, "FEEDS", default_feeds(outdir, spider))
        elif settings.getdict("FEEDS"):
            _replace(settings, "FEEDS", csv_feeds(settings.getdict("FEEDS"), spider))
        if not with_mongodb and settings.getpriority("CONCURRENT_ITEMS") == 0:
            # Nothing in an item's path waits without MongoDB (validation and JSON Lines
            # are synchronous), so one item at a time per response loses nothing, and
            # Scrapy's 100 cost a task per item (~20% of the CPU; docs/benchmarks.md). The
            # MongoDB pipeline answers once its batch is written: it needs the 100.
            settings.set("CONCURRENT_ITEMS", 1, priority="addon")
        config = spider.config
        if config.max_items:
            _replace(settings, "CLOSESPIDER_ITEMCOUNT", config.max_items)
        if config.max_minutes:
            _replace(settings, "CLOSESPIDER_TIMEOUT", config.max_minutes * 60)

    def _start_sandbox(self, settings: BaseSettings) -> None:
        from tiktok_scrapy.sandbox import SandboxOptions, SandboxThread

        options = SandboxOptions.from_dict(settings.getdict("TIKTOK_SANDBOX_OPTIONS"))
        self.sandbox = SandboxThread(options)
        url = self.sandbox.start()
        logger.info("Sandbox started at %s (no credentials needed).", url)
        _replace(settings, "TIKTOK_API_URL", url)
        _replace(settings, "TIKTOK_CLIENT_SECRET", options.client_secret)
        for name, value in sandbox_quota_settings(settings).items():
            _replace(settings, name, value)

    def _stop_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


def sandbox_quota_settings(settings: BaseSettings) -> dict[str, str]:
    """The client key and quota ledger the built-in sandbox books its requests to.

    Its own ledger (``sandbox-quota.sqlite`` beside the real one, or its own MongoDB
    collection) keeps sandbox spend out of the real API's; one client for every run, so
    ``scrapy quota -s TIKTOK_SANDBOX=true`` shows today's sandbox spend like the real one.
    """
    ledger = settings.get("TIKTOK_QUOTA_LEDGER") or (
        DEFAULT_SANDBOX_COLLECTION if backend(settings) == MONGODB else DEFAULT_SANDBOX_LEDGER_PATH
    )
    return {"TIKTOK_CLIENT_KEY": SANDBOX_CLIENT_KEY, "TIKTOK_QUOTA_LEDGER": ledger}


def with_sandbox_quota(settings: BaseSettings) -> BaseSettings:
    """``settings``, or for a sandbox run (TIKTOK_SANDBOX) a copy naming its quota ledger.

    For commands that read the ledger without starting a crawl (``quota``, ``plan``).
    """
    if not settings.getbool("TIKTOK_SANDBOX"):
        return settings
    copy = settings.copy()
    for name, value in sandbox_quota_settings(settings).items():
        copy.set(name, value, priority="cmdline")
    return copy


def _replace(settings: BaseSettings, name: str, value: Any) -> None:
    """Set a value derived from the setting's own value (a resolved template, the sandbox's
    URL) at that value's priority, so it replaces what it was derived from, whoever set it.
    """
    settings.set(name, value, priority=max(settings.getpriority(name) or 0, 15))


def resolve_output_dir(settings: BaseSettings, spider_name: str) -> Path:
    """``TIKTOK_OUTPUT_DIR`` with ``{spider}`` and ``{job}`` filled in.

    ``{job}`` is the JOBDIR's folder name, so a resumed crawl appends to the same files;
    without a JOBDIR it is the crawl's UTC start time.
    """
    jobdir = settings.get("JOBDIR")
    job = Path(jobdir).name if jobdir else datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(settings.get("TIKTOK_OUTPUT_DIR").format(spider=spider_name, job=job))


def default_feeds(outdir: Path, spider: Any) -> dict[str, dict]:
    """One JSON Lines feed per item type the spider yields."""
    classes = getattr(spider, "item_classes", None) or (spider.item_class,)
    return {
        str(outdir / f"{cls.collection}.jsonl"): {
            "format": "jsonlines",
            "item_classes": [cls],
            "overwrite": False,
            "encoding": "utf-8",
        }
        for cls in classes
    }


def csv_feeds(feeds: dict[str, dict], spider: Any) -> dict[str, dict]:
    """CSV feeds whose columns stay the same when a resumed crawl appends to them.

    Scrapy takes a CSV's columns from the first item of each run and writes a header every
    run: appended runs repeated the header, in another order, and dropped fields the first
    item lacked. A CSV that already has lines keeps its header's columns and gets no new
    header; a new one gets every field the config asks for (``spider.feed_fields()``).
    """
    result = {}
    for uri, options in feeds.items():
        options = dict(options)
        if options.get("format") == "csv" and not options.get("fields"):
            path = Path(uri[7:] if uri.startswith("file://") else uri)
            header = _csv_header(path)
            if header:
                options["fields"] = header
                options["item_export_kwargs"] = {
                    **options.get("item_export_kwargs", {}),
                    "include_headers_line": False,
                }
            elif fields := spider.feed_fields():
                options["fields"] = fields
        result[uri] = options
    return result


def _csv_header(path: Path) -> list[str] | None:
    import csv

    try:
        with path.open(encoding="utf-8", newline="") as lines:
            return next(csv.reader(lines), None) or None
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
