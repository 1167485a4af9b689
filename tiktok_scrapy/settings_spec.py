"""Every project setting, declared once: its type, what values it takes and what it does.

``settings_check.check_settings`` validates a crawl's settings against this table before
anything starts, and ``docs/settings.md`` is generated from it (``python -m
tiktok_scrapy.settings_spec > docs/settings.md``; a test keeps the page in sync). Each
declaration carries the setting's default: ``tiktok_scrapy.default_settings`` is built from
them, and the project's add-on applies it at "addon" priority. No Scrapy imports.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from tiktok_scrapy.api.endpoints import QuotaFamily

# Settings in these namespaces are ours: a name there that is not declared is a typo.
PREFIXES: tuple[str, ...] = ("TIKTOK_", "MONGODB_", "CASSETTE_")
# What Scrapy's Settings.getbool accepts (anything else raises in a component).
TRUE_WORDS = ("1", "true", "True")
FALSE_WORDS = ("0", "false", "False")


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: ``kind`` says how its value is read, the rest what is allowed."""

    name: str
    kind: str  # int, float, bool, choice, text, url, date, quota, sandbox, template, path, jobdir
    meaning: str
    minimum: float | None = None
    maximum: float | None = None
    zero_is_off: bool = False  # 0 is allowed below ``minimum`` and means "off"
    choices: tuple[str, ...] = ()
    placeholders: tuple[str, ...] = ()  # the {names} a template may use
    optional: bool = False  # None (unset) is allowed
    secret: bool = False  # never echoed in a message
    section: str = "The API"
    # The project's default, applied at "addon" priority by tiktok_scrapy.default_settings
    # (None: unset, or Scrapy's own default for Scrapy's settings).
    default: Any = None

    def allowed(self, unset: bool = True) -> str:
        """What values are allowed, in words (for errors and the reference page)."""
        text = ALLOWED[self.kind](self)
        if unset and self.optional:
            text += f"; empty (-s {self.name}=) for none"
        return text


def _range(s: Setting, noun: str) -> str:
    low, high = s.minimum, s.maximum
    text = f"{noun} from {_num(low)} to {_num(high)}" if high is not None else f"{noun}"
    if high is None and low is not None:
        text = f"{noun} of at least {_num(low)}"
    if s.zero_is_off:
        text += " (0: off)"
    return text


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


ALLOWED: dict[str, Callable[[Setting], str]] = {
    "int": lambda s: _range(s, "a whole number"),
    "float": lambda s: _range(s, "a number"),
    "bool": lambda s: "true or false (also 1/0)",
    "choice": lambda s: "one of " + ", ".join(s.choices),
    "text": lambda s: "text",
    "url": lambda s: "an http:// or https:// URL",
    "date": lambda s: "a date YYYY-MM-DD (UTC)",
    "quota": lambda s: (
        "a JSON object of whole numbers >= 0 with keys "
        + ", ".join(s.choices)
        + ', e.g. {"main": 500}'
    ),
    "sandbox": lambda s: 'a JSON object of sandbox options, e.g. {"seed": 1} (docs/sandbox.md)',
    "template": lambda s: (
        "a folder path; it may use " + ", ".join("{" + p + "}" for p in s.placeholders)
    ),
    "path": lambda s: "a file or folder path",
    "jobdir": lambda s: "a folder that exists or can be created, and is writable",
    "mongodb_uri": lambda s: "a mongodb:// or mongodb+srv:// URI",
    "database": lambda s: 'a MongoDB database name (no spaces, no / \\ . " $)',
    "import": lambda s: "an import path such as pymongo.MongoClient",
    "log_level": lambda s: "one of " + ", ".join(s.choices),
}

_API = "The API"
_QUOTA = "Quota"
_RETRY = "Retries"
_OUTPUT = "Output"
_DAILY = "Continuous (daily) mode"
_STORE = "Validation and storage"
_CASSETTE = "Cassettes"
_SCRAPY = "Scrapy settings checked too"

SETTINGS: tuple[Setting, ...] = (
    # --- The API
    Setting(
        "TIKTOK_API_URL",
        "url",
        "Base URL of the Research API (the token URL is {TIKTOK_API_URL}/v2/oauth/token/).",
        default="https://open.tiktokapis.com",
        section=_API,
    ),
    Setting(
        "TIKTOK_CLIENT_KEY",
        "text",
        "Client key; default: the TIKTOK_CLIENT_KEY environment "
        "variable. Never put it in a committed file.",
        optional=True,
        default=None,
        section=_API,
    ),
    Setting(
        "TIKTOK_CLIENT_SECRET",
        "text",
        "Client secret; default: the TIKTOK_CLIENT_SECRET environment variable. Never logged.",
        optional=True,
        secret=True,
        default=None,
        section=_API,
    ),
    Setting(
        "TIKTOK_TOKEN_REFRESH_MARGIN",
        "float",
        "Seconds before a token expires (tokens live 2 h) that a new one is fetched.",
        minimum=0,
        maximum=3600,
        default=300,
        section=_API,
    ),
    Setting(
        "TIKTOK_TOKEN_RETRY_TIMES",
        "int",
        "Attempts at the token endpoint on server errors "
        "before the crawl closes with reason token_unavailable.",
        minimum=0,
        maximum=100,
        default=5,
        section=_API,
    ),
    Setting(
        "TIKTOK_SANDBOX",
        "bool",
        "Start the local sandbox in-process and crawl it with "
        "sandbox credentials (no account needed).",
        default=False,
        section=_API,
    ),
    Setting(
        "TIKTOK_SANDBOX_OPTIONS",
        "sandbox",
        "Sandbox options (seed, faults, quotas ...), see docs/sandbox.md.",
        default={},
        section=_API,
    ),
    # --- Quota
    Setting(
        "TIKTOK_QUOTA_ENABLED",
        "bool",
        "Keep a ledger of requests spent per client key, quota family and UTC day.",
        default=True,
        section=_QUOTA,
    ),
    Setting(
        "TIKTOK_QUOTA_LEDGER",
        "text",
        "Ledger location: a SQLite file, or a MongoDB "
        "collection when MONGODB_URI is set. Unset: ~/.local/share/tiktok-scrapy/"
        "quota.sqlite or collection quota_ledger.",
        optional=True,
        default=None,
        section=_QUOTA,
    ),
    Setting(
        "TIKTOK_QUOTA_DAILY_REQUESTS",
        "quota",
        "Daily request limits per quota family; "
        "lower them to split an organisation's quota. Families not given keep TikTok's "
        "documented limit.",
        choices=tuple(f.value for f in QuotaFamily),
        maximum=10**9,
        default={"main": 1000, "follow": 20000},
        section=_QUOTA,
    ),
    Setting(
        "TIKTOK_QUOTA_ON_EXHAUSTED",
        "choice",
        "When a family is spent: stop (resume with "
        "the same JOBDIR tomorrow) or wait until 00:00 UTC + margin.",
        choices=("stop", "wait"),
        default="stop",
        section=_QUOTA,
    ),
    Setting(
        "TIKTOK_QUOTA_WAIT_MARGIN",
        "float",
        "Seconds after 00:00 UTC to wait before going on (TIKTOK_QUOTA_ON_EXHAUSTED=wait).",
        minimum=0,
        maximum=3600,
        default=60,
        section=_QUOTA,
    ),
    Setting(
        "TIKTOK_MAX_REQUESTS_PER_SECOND",
        "float",
        "Cap on requests per second across the crawl. TikTok documents none; clients keep to 5-10.",
        minimum=0.01,
        maximum=1000,
        zero_is_off=True,
        default=8.0,
        section=_QUOTA,
    ),
    # --- Retries
    Setting(
        "TIKTOK_RETRY_TIMES",
        "int",
        "Retries of a request on transient errors (500s, "
        "502-504, non-JSON bodies, transient 400s).",
        minimum=0,
        maximum=100,
        default=6,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_RETRY_BACKOFF_BASE",
        "float",
        "Seconds of the first retry's backoff; it doubles per retry, times a jitter in [0.5, 1.5).",
        minimum=0,
        maximum=3600,
        default=1.0,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_RETRY_BACKOFF_MAX",
        "float",
        "Longest backoff between two retries, in seconds.",
        minimum=0,
        maximum=86400,
        default=60.0,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_SEARCH_ID_RETRY_TIMES",
        "int",
        "Retries of 'Search Id ... invalid or expired' before the chain restarts without it.",
        minimum=0,
        maximum=100,
        default=3,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_WINDOW_SPLIT_FIELD",
        "choice",
        "After halving a failing window down to "
        "one day, split it by this query field; empty: give up on that day.",
        choices=("video_length", "region_code"),
        optional=True,
        default="video_length",
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_STALL_EMPTY_PAGES",
        "int",
        "End a chain incomplete (the next run continues it) after this many pages in a row "
        "that still say has_more but made no progress (no records, or the cursor unmoved).",
        minimum=1,
        maximum=10000,
        default=5,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_ADAPTIVE_PAGES_PER_CHAIN",
        "int",
        "Adaptive windows (no window_days): a window whose first page shows more pages "
        "left than this is cut into chains of about this many pages, crawled in parallel.",
        minimum=1,
        maximum=1000,
        default=5,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_OUTAGE_WINDOW",
        "int",
        "Outage breaker: how many recent data requests it looks at.",
        minimum=2,
        maximum=10000,
        default=20,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_OUTAGE_FAILURE_RATIO",
        "float",
        "Outage breaker: the share of those that failed (5xx, HTML, network) that opens it.",
        minimum=0.05,
        maximum=1,
        default=0.5,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_OUTAGE_PAUSE",
        "float",
        "Outage breaker: seconds before the first probe; doubled after each failed probe.",
        minimum=0.01,
        maximum=86400,
        default=30.0,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_OUTAGE_PAUSE_MAX",
        "float",
        "Outage breaker: the longest pause between probes, in seconds.",
        minimum=0.01,
        maximum=86400,
        default=1800.0,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_OUTAGE_ON_DETECTED",
        "choice",
        "Outage breaker: wait (hold requests, probe, go on by itself) or stop (close with "
        "reason api_outage, resumable).",
        choices=("wait", "stop"),
        default="wait",
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_OUTAGE_MAX_WAIT",
        "float",
        "Outage breaker, wait: close the crawl (api_outage, resumable) once an outage has "
        "lasted this many seconds.",
        minimum=1,
        maximum=7 * 86400,
        zero_is_off=True,
        default=21600.0,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_COMPLIANCE_BATCH_IDS",
        "int",
        "refresh: ids per batch compliance task (the API takes at most 10,000).",
        minimum=1,
        maximum=10000,
        default=10000,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_COMPLIANCE_POLL_INTERVAL",
        "float",
        "refresh: seconds before a task's first status poll; each further poll waits twice "
        "as long, up to TIKTOK_COMPLIANCE_POLL_MAX.",
        minimum=0,
        maximum=86400,
        default=10.0,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_COMPLIANCE_POLL_MAX",
        "float",
        "refresh: the longest wait between two status polls, in seconds.",
        minimum=0,
        maximum=86400,
        default=300.0,
        section=_RETRY,
    ),
    Setting(
        "TIKTOK_COMPLIANCE_TASK_RETRIES",
        "int",
        "refresh: how often a task the API reports Failed is created again.",
        minimum=0,
        maximum=100,
        default=2,
        section=_RETRY,
    ),
    # --- Output
    Setting(
        "TIKTOK_OUTPUT_DIR",
        "template",
        "Output folder of the default JSONL feeds, page "
        "records and report; {spider} and {job} (the JOBDIR's name, or a UTC timestamp) "
        "are filled in.",
        placeholders=("spider", "job"),
        default="data/{spider}/{job}",
        section=_OUTPUT,
    ),
    Setting(
        "TIKTOK_PAGE_RECORDS",
        "bool",
        "Write one page record per API response (pages.jsonl, or MongoDB pages).",
        default=True,
        section=_OUTPUT,
    ),
    Setting(
        "TIKTOK_PROGRESS_DISPLAY",
        "choice",
        "Progress: auto (a live bar on a terminal, log lines otherwise), bar or log.",
        choices=("auto", "bar", "log"),
        default="auto",
        section=_OUTPUT,
    ),
    Setting(
        "TIKTOK_PURGE_AUDIT",
        "path",
        "refresh with purge: the file the audit line is appended to (empty: "
        "<TIKTOK_OUTPUT_DIR>/purge_audit.jsonl).",
        optional=True,
        default=None,
        section=_OUTPUT,
    ),
    Setting(
        "TIKTOK_PROGRESS_INTERVAL",
        "float",
        "Seconds between progress log lines.",
        minimum=0.1,
        maximum=86400,
        zero_is_off=True,
        default=30.0,
        section=_OUTPUT,
    ),
    Setting(
        "TIKTOK_REPORT_ENABLED",
        "bool",
        "Write report.html in TIKTOK_OUTPUT_DIR at the end of each crawl.",
        default=True,
        section=_OUTPUT,
    ),
    # --- Daily mode
    Setting(
        "TIKTOK_STATE_DIR",
        "template",
        "Folder of the ledger of days crawled (videos "
        "configs with mode: daily); {query_id} is the config's name or hash.",
        placeholders=("query_id",),
        default="data/state/{query_id}",
        section=_DAILY,
    ),
    Setting(
        "TIKTOK_TODAY",
        "date",
        "Pin 'today' (UTC) for daily mode and `scrapy plan`; empty: the real date.",
        optional=True,
        default=None,
        section=_DAILY,
    ),
    # --- Validation and storage
    Setting(
        "TIKTOK_VALIDATION_ENABLED",
        "bool",
        "Check every item against the codebook and "
        "normalise it; invalid items go to invalid_items.jsonl (or collection).",
        default=True,
        section=_STORE,
    ),
    Setting(
        "TIKTOK_IDS_AS_STRINGS",
        "bool",
        "Store ids as strings instead of 64-bit integers.",
        default=False,
        section=_STORE,
    ),
    Setting(
        "TIKTOK_STORAGE_BACKEND",
        "choice",
        "Where items and page records go: auto (MongoDB when MONGODB_URI is set, else JSON "
        "Lines feeds), mongodb (MONGODB_URI required) or feeds (JSON Lines even when "
        "MONGODB_URI is set). The quota ledger follows it.",
        choices=("auto", "mongodb", "feeds"),
        default="auto",
        section=_STORE,
    ),
    Setting(
        "MONGODB_URI",
        "mongodb_uri",
        "MongoDB server; with TIKTOK_STORAGE_BACKEND=auto, storage is in MongoDB when set "
        "(setting or environment variable). Never logged.",
        optional=True,
        secret=True,
        default=None,
        section=_STORE,
    ),
    Setting(
        "MONGODB_DATABASE",
        "database",
        "MongoDB database name.",
        default="tiktok_research",
        section=_STORE,
    ),
    Setting(
        "MONGODB_BATCH_SIZE",
        "int",
        "Writes queued before a bulk_write.",
        minimum=1,
        maximum=100000,
        default=500,
        section=_STORE,
    ),
    Setting(
        "MONGODB_FLUSH_SECONDS",
        "float",
        "Longest wait of a queued write, in seconds.",
        minimum=0.01,
        maximum=3600,
        default=2.0,
        section=_STORE,
    ),
    Setting(
        "MONGODB_SNAPSHOTS",
        "bool",
        "Keep engagement counts per crawl in <collection>_snapshots.",
        default=False,
        section=_STORE,
    ),
    Setting(
        "MONGODB_CLIENT_CLASS",
        "import",
        "Client class, as an import path (tests use mongomock.MongoClient).",
        default="pymongo.MongoClient",
        section=_STORE,
    ),
    Setting(
        "MONGODB_CONNECT_TIMEOUT",
        "float",
        "Seconds to wait for the server at start.",
        minimum=0.1,
        maximum=3600,
        default=10.0,
        section=_STORE,
    ),
    Setting(
        "MONGODB_RETRY_TIMES",
        "int",
        "Retries of a failed batch write before the crawl stops with reason mongodb_unavailable.",
        minimum=0,
        maximum=100,
        default=5,
        section=_STORE,
    ),
    Setting(
        "MONGODB_RETRY_BACKOFF",
        "float",
        "Seconds of the first write retry's backoff (doubles per retry).",
        minimum=0,
        maximum=3600,
        default=1.0,
        section=_STORE,
    ),
    Setting(
        "MONGODB_RETRY_BACKOFF_MAX",
        "float",
        "Longest backoff between write retries, in seconds.",
        minimum=0,
        maximum=86400,
        default=30.0,
        section=_STORE,
    ),
    # --- Cassettes
    Setting(
        "CASSETTE_MODE",
        "choice",
        "record: write every request/response pair, secrets "
        "scrubbed; replay: answer from the cassette with no network; off. See "
        "docs/cassettes.md.",
        choices=("record", "replay", "off"),
        default="off",
        section=_CASSETTE,
    ),
    Setting(
        "CASSETTE_NAME",
        "text",
        "Cassette folder name inside CASSETTE_DIR.",
        optional=True,
        default=None,
        section=_CASSETTE,
    ),
    Setting(
        "CASSETTE_DIR",
        "path",
        "Folder of the cassettes.",
        default="fixtures/cassettes",
        section=_CASSETTE,
    ),
    # --- Scrapy's own, checked because a bad value is a traceback mid-start-up
    Setting(
        "JOBDIR",
        "jobdir",
        "Scrapy's job folder: checkpoints, queues and the crawl's "
        "config; resume with the same one.",
        optional=True,
        section=_SCRAPY,
    ),
    Setting(
        "CONCURRENT_REQUESTS",
        "int",
        "Requests in flight at once (chains run concurrently, pages of a chain in order).",
        minimum=1,
        maximum=1000,
        default=16,
        section=_SCRAPY,
    ),
    Setting(
        "DOWNLOAD_TIMEOUT",
        "float",
        "Seconds before a request times out (the API can take minutes before a 504).",
        minimum=1,
        maximum=86400,
        default=300,
        section=_SCRAPY,
    ),
    Setting(
        "LOG_LEVEL",
        "log_level",
        "Scrapy's log level.",
        choices=("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET"),
        default="INFO",
        section=_SCRAPY,
    ),
)
SPEC: dict[str, Setting] = {s.name: s for s in SETTINGS}


# --- parsing values as the components read them ------------------------------------------


def parse_int(value: Any) -> int:
    """A whole number: an int, or text of ASCII digits with an optional sign."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip() if isinstance(value, str) else ""
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 30:
        raise ValueError
    return int(text)


def parse_float(value: Any) -> float:
    """A finite number (int, float or text)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError
    if isinstance(value, str) and not value.strip().isascii():
        raise ValueError
    number = float(value)
    if not math.isfinite(number):
        raise ValueError
    return number


def parse_bool(value: Any) -> bool:
    """true/false, True/False, 1/0, or a bool: what Scrapy's getbool reads."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = value if isinstance(value, str) else ""
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError


def template_fields(template: str) -> list[str]:
    """The ``{names}`` a ``str.format`` template uses; ValueError if it is malformed."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError
        names.append(name)
    return names


def parse_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


# --- the reference page -------------------------------------------------------------------


def reference_markdown(defaults: dict[str, Any] | None = None) -> str:
    """docs/settings.md: every setting with its default, what it takes and what it does."""
    if defaults is None:
        defaults = {s.name: s.default for s in SETTINGS}
    lines = [
        "# Settings reference",
        "",
        "Generated from `tiktok_scrapy/settings_spec.py` by "
        "`python -m tiktok_scrapy.settings_spec > docs/settings.md` (a test keeps it in "
        "sync). The defaults are declared there too; the project's add-on applies them "
        "(`tiktok_scrapy/default_settings.py`) at add-on priority, so `settings.py`, a "
        "spider's `custom_settings`, `-s` and scrapyd jobs all override them. Give a value with "
        "`-s NAME=value` (or in a scrapyd job): `scrapy crawl`, `scrapy plan` and "
        "`scrapy quota` check every value below before anything starts and name the setting, "
        "the value and what is allowed in one line (exit status 2). A `TIKTOK_`, `MONGODB_` "
        "or `CASSETTE_` name that is not listed here is refused as a typo.",
    ]
    section = None
    for s in SETTINGS:
        if s.section != section:
            section = s.section
            lines += ["", f"## {section}", "", "| setting | default | allowed | what it does |"]
            lines.append("|---|---|---|---|")
        default = defaults.get(s.name)
        shown = "(hidden)" if s.secret and default else f"`{default!r}`"
        cells = (f"`{s.name}`", shown, s.allowed(), s.meaning)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
