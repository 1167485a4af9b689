"""Project settings: every setting this project reads, with its default and what it does.

Override any of them with ``-s NAME=value`` or in a scrapyd job. Settings named
``TIKTOK_*`` are ours; ``MONGODB_*`` configure storage; ``CASSETTE_*`` record/replay HTTP.
Secrets (client key/secret, MongoDB URI with a password) may also come from the
environment variables of the same name; they are never logged. Every setting of ours is
declared with its type and range in ``settings_spec.py`` (docs/settings.md is generated
from it) and checked before a crawl starts: add a new one there too.
"""

from __future__ import annotations

BOT_NAME = "tiktok_scrapy"
SPIDER_MODULES = ["tiktok_scrapy.spiders"]
NEWSPIDER_MODULE = "tiktok_scrapy.spiders"
COMMANDS_MODULE = "tiktok_scrapy.commands"

# --- The API -------------------------------------------------------------------------
# Base URL of the Research API; the token URL is {TIKTOK_API_URL}/v2/oauth/token/.
TIKTOK_API_URL = "https://open.tiktokapis.com"
# Client credentials. Default: the TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET environment
# variables. Never put them in a committed file.
TIKTOK_CLIENT_KEY = None
TIKTOK_CLIENT_SECRET = None
# Fetch a new token this many seconds before the current one expires (tokens live 2 h).
TIKTOK_TOKEN_REFRESH_MARGIN = 300
# Attempts at the token endpoint when it answers server_error/temporarily_unavailable/5xx or
# the network fails (exponential backoff from TIKTOK_RETRY_BACKOFF_BASE); then the crawl
# closes with reason token_unavailable.
TIKTOK_TOKEN_RETRY_TIMES = 5
# Start the local sandbox in-process on a free loopback port and crawl it with sandbox
# credentials (no account needed). TIKTOK_SANDBOX_OPTIONS passes sandbox options
# (seed, faults, quotas ...; see docs/sandbox.md), e.g. {"seed": 1, "error_rate": 0.1}.
TIKTOK_SANDBOX = False
TIKTOK_SANDBOX_OPTIONS: dict = {}

# --- Quota ---------------------------------------------------------------------------
# Keep a ledger of requests spent per client key, quota family and UTC day.
TIKTOK_QUOTA_ENABLED = True
# Ledger location: a SQLite file path, or (when MONGODB_URI is set) a MongoDB collection
# name. Default: ~/.local/share/tiktok-scrapy/quota.sqlite, or collection "quota_ledger".
TIKTOK_QUOTA_LEDGER = None
# Daily request limits per family, from TikTok's documentation. Lower them to split an
# organisation's quota between people or jobs.
TIKTOK_QUOTA_DAILY_REQUESTS = {"main": 1000, "follow": 20000}
# What to do when a family is spent: "stop" (close with reason quota_exhausted; resume
# with the same JOBDIR tomorrow) or "wait" (sleep until 00:00 UTC + margin, go on).
TIKTOK_QUOTA_ON_EXHAUSTED = "stop"
TIKTOK_QUOTA_WAIT_MARGIN = 60
# Cap on requests per second across the crawl (0: no cap). TikTok documents none;
# clients commonly keep to 5-10.
TIKTOK_MAX_REQUESTS_PER_SECOND = 8.0

# --- Retries -------------------------------------------------------------------------
# Error-aware retries (500s, 502-504, HTML/non-JSON bodies, transient 400s), with
# exponential backoff: min(BACKOFF_MAX, BACKOFF_BASE * 2**n) * jitter in [0.5, 1.5).
TIKTOK_RETRY_TIMES = 6
TIKTOK_RETRY_BACKOFF_BASE = 1.0
TIKTOK_RETRY_BACKOFF_MAX = 60.0
# "Search Id ... invalid or expired": retries before restarting the chain without it.
TIKTOK_SEARCH_ID_RETRY_TIMES = 3
# A window that keeps failing with 500s is split in halves down to one day, then by
# this query field (region_code or video_length); None: give up on that day.
TIKTOK_WINDOW_SPLIT_FIELD = "video_length"
# End a chain incomplete (the next run continues it) after this many pages in a row that
# still say has_more but made no progress (no records, or the cursor did not move).
TIKTOK_STALL_EMPTY_PAGES = 5
# Adaptive windows (video configs without window_days): a window whose first page shows
# more than this many pages left is cut into chains of about this many pages each, crawled
# in parallel. Lower: faster, a partly filled page more per chain; higher: fewer requests.
TIKTOK_ADAPTIVE_PAGES_PER_CHAIN = 5
# Outage breaker: when at least TIKTOK_OUTAGE_FAILURE_RATIO of the last TIKTOK_OUTAGE_WINDOW
# data requests failed (5xx, HTML, network errors), the crawl stops sending: "wait" holds
# every request and sends one probe after TIKTOK_OUTAGE_PAUSE seconds (doubling after each
# failed probe or relapse, up to TIKTOK_OUTAGE_PAUSE_MAX) and goes on when it succeeds;
# "stop" closes the crawl (reason api_outage, resumable).
TIKTOK_OUTAGE_WINDOW = 20
TIKTOK_OUTAGE_FAILURE_RATIO = 0.5
TIKTOK_OUTAGE_PAUSE = 30.0
TIKTOK_OUTAGE_PAUSE_MAX = 1800.0
TIKTOK_OUTAGE_ON_DETECTED = "wait"
# With "wait": give up (close with reason api_outage, resumable) once an outage has lasted
# this many seconds (0: wait for ever).
TIKTOK_OUTAGE_MAX_WAIT = 21600.0

# --- Output --------------------------------------------------------------------------
# Output folder for the default JSONL feeds, page records and report. {spider} and {job}
# (the JOBDIR's name, or a UTC timestamp) are filled in.
TIKTOK_OUTPUT_DIR = "data/{spider}/{job}"
# Write one page record per API response (pages.jsonl, or MongoDB "pages").
TIKTOK_PAGE_RECORDS = True
# Progress: a live bar on a terminal, else a log line 2 s after the start and then every
# TIKTOK_PROGRESS_INTERVAL seconds (0: only the closing summary). DISPLAY: auto | bar | log.
TIKTOK_PROGRESS_INTERVAL = 30.0
TIKTOK_PROGRESS_DISPLAY = "auto"
# Write report.html (items per day, requests and quota over time, errors, top hashtags
# and regions) in TIKTOK_OUTPUT_DIR at the end of each crawl.
TIKTOK_REPORT_ENABLED = True

# --- Continuous (daily) mode (videos configs with mode: daily) ------------------------
# Folder of the ledger of days crawled; {query_id} is the config's name (or hash).
TIKTOK_STATE_DIR = "data/state/{query_id}"
# Pin "today" (YYYY-MM-DD, UTC) for daily mode and `scrapy plan`; None: the real date.
TIKTOK_TODAY = None

# --- Refresh and purge (the 15-day duty; docs/compliance.md) ---------------------------
# Ids per batch compliance task (the API takes at most 10,000).
TIKTOK_COMPLIANCE_BATCH_IDS = 10000
# Seconds before a task's first status poll; each further poll waits twice as long, up to
# TIKTOK_COMPLIANCE_POLL_MAX. The pause is taken in the spider's callback: no download slot
# is held while waiting.
TIKTOK_COMPLIANCE_POLL_INTERVAL = 10.0
TIKTOK_COMPLIANCE_POLL_MAX = 300.0
# A task the API reports Failed is created again this many times; then the check fails
# (a resume with the same JOBDIR tries again).
TIKTOK_COMPLIANCE_TASK_RETRIES = 2
# File the purge appends its audit line to; None: <TIKTOK_OUTPUT_DIR>/purge_audit.jsonl.
TIKTOK_PURGE_AUDIT = None

# --- Validation and storage ----------------------------------------------------------
# Check every item against the codebook (tiktok_scrapy.schemas) and normalise it (NUL bytes
# stripped, create_datetime added). Invalid items go to invalid_items.jsonl in
# TIKTOK_OUTPUT_DIR (or the invalid_items collection with MongoDB) with the reason.
TIKTOK_VALIDATION_ENABLED = True
# Store ids as strings instead of 64-bit integers (for tools that read JSON as doubles).
TIKTOK_IDS_AS_STRINGS = False
# Storage backend: "auto" (MongoDB when MONGODB_URI, setting or environment variable, is
# set; else JSON Lines feeds), "mongodb" or "feeds". Decided in tiktok_scrapy/storage/backend.py.
TIKTOK_STORAGE_BACKEND = "auto"
MONGODB_URI = None
MONGODB_DATABASE = "tiktok_research"
# Writes are batched: a bulk_write when this many are queued, when the oldest has waited
# MONGODB_FLUSH_SECONDS, when the previous write ends, and at close. An item counts as
# scraped (and its page's checkpoint advances) only once its batch is written.
MONGODB_BATCH_SIZE = 500
MONGODB_FLUSH_SECONDS = 2.0
# Keep engagement counts per crawl in <collection>_snapshots.
MONGODB_SNAPSHOTS = False
# Client class, as an import path; tests use "mongomock.MongoClient". The quota ledger
# reads it too.
MONGODB_CLIENT_CLASS = "pymongo.MongoClient"
# Seconds to wait for the server at start (serverSelectionTimeoutMS) before giving up.
MONGODB_CONNECT_TIMEOUT = 10.0
# A failed batch write is retried this many times with backoff
# min(MONGODB_RETRY_BACKOFF_MAX, MONGODB_RETRY_BACKOFF * 2**n); then the crawl stops with
# reason mongodb_unavailable (resumable: unwritten items are not marked done).
MONGODB_RETRY_TIMES = 5
MONGODB_RETRY_BACKOFF = 1.0
MONGODB_RETRY_BACKOFF_MAX = 30.0

# --- Cassettes (record/replay HTTP) --------------------------------------------------
# record: write every request/response pair, secrets scrubbed, to CASSETTE_DIR/CASSETTE_NAME/;
# replay: answer from that cassette with no network (a request not recorded stops the crawl,
# reason cassette_miss); off. See docs/cassettes.md. The add-on tiktok_scrapy.cassettes.
# CassetteAddon turns this into the HTTPCACHE_* settings (Scrapy's HttpCacheMiddleware); in
# replay it also turns the quota ledger and retry backoff off. `scrapy check` replays.
CASSETTE_MODE = "off"  # record | replay | off
CASSETTE_NAME = None
CASSETTE_DIR = "fixtures/cassettes"
# `scrapy check` contracts: @cassette <name> checks a callback on a recorded cassette.
SPIDER_CONTRACTS = {"tiktok_scrapy.contracts.CassetteContract": 10}

# --- Scrapy --------------------------------------------------------------------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# They open local ports; a crawler of a rate-limited API does not need them.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
ROBOTSTXT_OBEY = False
COOKIES_ENABLED = False
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 16
# CONCURRENT_ITEMS (not set here: Scrapy's 100): the add-on lowers it to 1 when there is no
# MongoDB and it was not set, as items then never wait (tiktok_scrapy/addons.py).
DOWNLOAD_DELAY = 0
DOWNLOAD_TIMEOUT = 300  # the API can take minutes before a 504
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
LOG_LEVEL = "INFO"
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
    "tiktok_scrapy.pipelines.mongodb.MongoDBPipeline": 500,
}
# Starts the sandbox (TIKTOK_SANDBOX) and sets the default per-item-type JSONL feeds.
ADDONS = {
    "tiktok_scrapy.addons.TikTokAddon": 0,
    # CASSETTE_MODE=record|replay: HTTP cache storage that records/replays cassettes.
    "tiktok_scrapy.cassettes.CassetteAddon": 10,
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
