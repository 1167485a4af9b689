"""The project's defaults, in one place, applied at "addon" priority.

``TikTokAddon`` (registered in ``settings.py``'s ``ADDONS``) calls :func:`apply_defaults`
first thing, so every value here sits below a user's ``settings.py``, a spider's
``custom_settings``, ``-s NAME=value`` and a scrapyd job's settings: those always win, and
no add-on needs a priority workaround. Our own settings (``TIKTOK_*``, ``MONGODB_*``,
``CASSETTE_*``) and the Scrapy settings the project checks take their defaults from their
declarations in ``settings_spec.py`` (one fact: the value, its type and docs/settings.md);
the other Scrapy settings the project changes are below, each with why. The component
dictionaries (middlewares, pipelines, extensions, feed storages and exporters) set in a
user's settings.py add to ours (``None`` for one of our keys turns it off); given with
``-s``, in ``custom_settings`` or a scrapyd job they replace ours, as they always did.

Commands that run no crawl (``plan``, ``quota``, ``export``, ``ui``, ``settings`` ...) read
no add-on: they apply the same defaults through :class:`tiktok_scrapy.commands.ProjectDefaults`.
``settings.py`` keeps only what Scrapy reads before add-ons run.
"""

from __future__ import annotations

import copy
from typing import Any

from tiktok_scrapy import settings_spec

# --- Scrapy reads these before add-ons (settings.py imports them from here) -------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# `scrapy check` contracts: @cassette <name> checks a callback on a recorded cassette.
# (Read by the check command itself, before any crawler or add-on.)
SPIDER_CONTRACTS = {"tiktok_scrapy.contracts.CassetteContract": 10}

# --- Scrapy settings the project changes ---------------------------------------------
# They open local ports; a crawler of a rate-limited API does not need them.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
CONCURRENT_REQUESTS_PER_DOMAIN = 16
# CONCURRENT_ITEMS (not set here: Scrapy's 100): the add-on lowers it to 1 when there is no
# MongoDB and it was not set, as items then never wait (tiktok_scrapy/addons.py).
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = False
# Our retry middleware replaces Scrapy's: it reads the error body, not only the status.
RETRY_ENABLED = False
# Error responses reach the spider, which records them as page records.
HTTPERROR_ALLOW_ALL = True
FEED_EXPORT_ENCODING = "utf-8"
# Requests are kept in memory only, even with a JOBDIR: the checkpoints hold every chain
# and re-issue it on resume, addressed to this run's API (tiktok_scrapy/scheduler.py).
SCHEDULER = "tiktok_scrapy.scheduler.MemoryScheduler"
# Every request is a chain's page (dont_filter): no request fingerprints to keep on disk.
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"
# Skips the per-item "Scraped from" DEBUG record unless LOG_LEVEL is DEBUG (CPU per item).
LOG_FORMATTER = "tiktok_scrapy.logformatter.QuietLogFormatter"

# Scrapy reads a generator callback's source with `ast` to warn about `return value`, and
# caches the answer by weak reference to the callable: a bound method is a new object every
# page, so it re-parsed the spider's source for every response (~1 ms a page).
WARN_ON_GENERATOR_RETURN_VALUE = False
# Spider middlewares that have nothing to do for JSON POSTs to an API but wrap every item
# in one more async generator: Referer (no page links to another), URL length (our URLs are
# fixed), depth (chains are cursors, not links). Measured in docs/benchmarks.md.
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
}
DOWNLOADER_MIDDLEWARES = {
    # Every request carries handle_httpstatus_all, so neither would ever redirect one; off,
    # they also do not warn about the missing Referer middleware.
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "tiktok_scrapy.middlewares.gate.ChainGateMiddleware": 530,
    "tiktok_scrapy.middlewares.quota.QuotaMiddleware": 540,
    "tiktok_scrapy.middlewares.retry.ApiRetryMiddleware": 550,
    "tiktok_scrapy.middlewares.token.TokenMiddleware": 560,
}
ITEM_PIPELINES = {
    "tiktok_scrapy.pipelines.validate.ValidationPipeline": 100,
    # Off (NotConfigured) unless the storage backend is MongoDB (TIKTOK_STORAGE_BACKEND).
    "tiktok_scrapy.pipelines.mongodb.MongoDBPipeline": 500,
}
EXTENSIONS = {
    # spider.state is unused (checkpoints hold the crawl's state); a damaged pickle of it in
    # the JOBDIR would otherwise stop every resume with a traceback.
    "scrapy.extensions.spiderstate.SpiderState": None,
    # Same stats, no per-item receiver: the spider counts item_scraped_count itself.
    "scrapy.extensions.corestats.CoreStats": None,
    "tiktok_scrapy.extensions.corestats.CoreStats": 0,
    "tiktok_scrapy.continuous.DailyMode": 50,
    "tiktok_scrapy.extensions.pagelog.PageLog": 100,
    "tiktok_scrapy.extensions.progress.Progress": 200,
    "tiktok_scrapy.extensions.report.CrawlReport": 800,
    "tiktok_scrapy.extensions.statsfile.StatsFile": 900,
}
# Local feeds write whole lines, one OS write per page, flushed before each checkpoint commit.
FEED_STORAGES = {
    "": "tiktok_scrapy.feedstorage.PageFlushedFileFeedStorage",
    "file": "tiktok_scrapy.feedstorage.PageFlushedFileFeedStorage",
}
# JSON Lines without Scrapy's per-field serializer walk for dict items (same bytes, less CPU).
FEED_EXPORTERS = {
    "jsonlines": "tiktok_scrapy.exporters.JsonLinesExporter",
    "jsonl": "tiktok_scrapy.exporters.JsonLinesExporter",
    "jl": "tiktok_scrapy.exporters.JsonLinesExporter",
}

# --- Every default, as applied ---------------------------------------------------------
# The Scrapy settings above (every upper-case name so far).
SCRAPY_DEFAULTS: dict[str, Any] = {k: v for k, v in globals().items() if k.isupper()}
# Dictionaries that a user's settings.py adds to, key by key, instead of replacing.
MERGED = (
    "SPIDER_MIDDLEWARES",
    "DOWNLOADER_MIDDLEWARES",
    "ITEM_PIPELINES",
    "EXTENSIONS",
    "FEED_STORAGES",
    "FEED_EXPORTERS",
    "SPIDER_CONTRACTS",
)
# From settings_spec: ours, and Scrapy's settings the spec declares with a project default
# (LOG_LEVEL, CONCURRENT_REQUESTS, DOWNLOAD_TIMEOUT; not JOBDIR).
FROM_SPEC: dict[str, Any] = {
    s.name: s.default
    for s in settings_spec.SETTINGS
    if s.name.startswith(settings_spec.PREFIXES) or s.default is not None
}
DEFAULTS: dict[str, Any] = {**SCRAPY_DEFAULTS, **FROM_SPEC}
LOG_LEVEL = FROM_SPEC["LOG_LEVEL"]  # settings.py imports it: logging starts before add-ons

ADDON_PRIORITY = "addon"


def apply_defaults(settings: Any) -> None:
    """Set every default in ``settings`` at "addon" priority (a value set higher wins).

    Idempotent. A dictionary in ``MERGED`` given in settings.py adds to ours (a key set to
    ``None`` turns one of ours off); one given with ``-s``, in a spider's
    ``custom_settings`` or a scrapyd job replaces ours, as it always did.
    """
    from scrapy.settings import SETTINGS_PRIORITIES

    addon, project = SETTINGS_PRIORITIES[ADDON_PRIORITY], SETTINGS_PRIORITIES["project"]
    for name, value in DEFAULTS.items():
        value = copy.deepcopy(value)
        given = settings.getpriority(name) or 0
        if name in MERGED and given <= project:
            value = {**value, **settings.getdict(name)}
            settings.set(name, value, priority=max(given, addon))
        else:
            settings.set(name, value, priority=addon)
