"""Quota ledger + throttle: reserve each request in the daily ledger before it is sent.

Every request sent costs quota whatever its outcome (500s included), so each one is
reserved in the ledger (``tiktok_scrapy.quota_ledger``) for its endpoint's quota family on
the API's UTC day, learnt from responses' ``Date`` headers: nothing is booked before that
day is known (the first request waits for the access token, whose response carries one), so
two crawls sharing a ledger never book on different days. When a family is spent (by the
ledger's count or by the API's 429) the crawl either stops (``quota_exhausted``; resuming
with the same JOBDIR continues) or waits until the API's next 00:00 UTC: the request goes
back to the scheduler, held until then (``resend`` with a delay), so its download slot
serves other quota families meanwhile; the crawl closing (a first Ctrl-C, a limit) drops
what is held, and the chains resume from their checkpoints next run. A 429 marks the family
exhausted and requeues its request, so nothing is sent after a family's first 429
(requests already in flight may meet one too).
Records returned are counted too. A requests-per-second cap applies in any case.

One wait happens in ``process_request``, in the download slot, on purpose: the rate cap
spaces requests ``1/TIKTOK_MAX_REQUESTS_PER_SECOND`` apart, first come first served; a slot
held while waiting is the throttle itself, like Scrapy's ``DOWNLOAD_DELAY``, and a request
put back in the scheduler would lose its turn. The quota wait is no such throttle: it can
last hours, so it is a hold in the scheduler, as retry backoffs are.

Settings: TIKTOK_QUOTA_ENABLED, TIKTOK_QUOTA_LEDGER, TIKTOK_QUOTA_DAILY_REQUESTS,
TIKTOK_QUOTA_ON_EXHAUSTED, TIKTOK_QUOTA_WAIT_MARGIN, TIKTOK_MAX_REQUESTS_PER_SECOND,
MONGODB_URI / MONGODB_DATABASE / MONGODB_CLIENT_CLASS (MongoDB ledger).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.misc import load_object

from tiktok_scrapy.api.endpoints import ENDPOINTS, Endpoint, QuotaFamily, endpoint_for_url
from tiktok_scrapy.api.errors import Outcome, classification
from tiktok_scrapy.chains import core_of, meta
from tiktok_scrapy.closing import close_spider_soon
from tiktok_scrapy.middlewares.resend import resend
from tiktok_scrapy.middlewares.retry import Sleep
from tiktok_scrapy.middlewares.token import TokenMiddleware, read_credentials
from tiktok_scrapy.quota_ledger import (
    DEFAULT_COLLECTION,
    DEFAULT_LEDGER_PATH,
    ApiClock,
    Client,
    MongoLedger,
    QuotaLedger,
    SqliteLedger,
    format_duration,
)
from tiktok_scrapy.settings_check import checked
from tiktok_scrapy.storage.backend import mongodb_uri

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

# The ad library documents no daily limit: 1,000 (the Research API's) until TikTok says.
DOCUMENTED_LIMITS = {
    QuotaFamily.MAIN.value: 1000,
    QuotaFamily.FOLLOW.value: 20000,
    QuotaFamily.ADLIB.value: 1000,
}


class QuotaExhausted(IgnoreRequest):
    """The request's quota family is spent for today; its chain resumes from the checkpoint."""


def open_ledger(settings: BaseSettings, path: str | None = None) -> QuotaLedger:
    """The ledger the settings name: a MongoDB collection when MONGODB_URI is set (and no
    explicit ``path``), else a SQLite file."""
    uri = mongodb_uri(settings)
    name = path or settings.get("TIKTOK_QUOTA_LEDGER")
    if uri and not path:
        client_class = load_object(settings.get("MONGODB_CLIENT_CLASS") or "pymongo.MongoClient")
        client = client_class(uri)
        database = client[settings.get("MONGODB_DATABASE") or "tiktok_research"]
        return MongoLedger(database[name or DEFAULT_COLLECTION], client=client)
    return SqliteLedger(name or DEFAULT_LEDGER_PATH)


def _open_or_fall_back(settings: BaseSettings) -> QuotaLedger:
    """The configured ledger; if it cannot be opened (a read-only home, say), an in-memory
    one for this crawl, said loudly: the crawl still stops at the API's 429."""
    try:
        return open_ledger(settings)
    except (OSError, sqlite3.Error) as error:
        logger.warning(
            "The quota ledger cannot be opened (%s): counting this crawl's quota in memory "
            "only. Set TIKTOK_QUOTA_LEDGER to a writable file to keep it across crawls.",
            error,
        )
        return SqliteLedger(":memory:")


def daily_limits(settings: BaseSettings) -> dict[str, int]:
    """TIKTOK_QUOTA_DAILY_REQUESTS over the documented limits (a partial dict keeps the rest)."""
    return {
        **DOCUMENTED_LIMITS,
        **{k: int(v) for k, v in settings.getdict("TIKTOK_QUOTA_DAILY_REQUESTS").items()},
    }


def request_endpoint(request: Request) -> Endpoint | None:
    name = request.meta.get(meta.ENDPOINT)
    return ENDPOINTS.get(name) if name else endpoint_for_url(request.url)


def _find_middleware(crawler: Crawler, kind: type) -> Any:
    engine = getattr(crawler, "engine", None)
    manager = getattr(getattr(engine, "downloader", None), "middleware", None)
    for mw in getattr(manager, "middlewares", ()):
        if isinstance(mw, kind):
            return mw
    return None


def find_quota_middleware(crawler: Crawler) -> QuotaMiddleware | None:
    """The running crawl's QuotaMiddleware (for ``spent_this_crawl``), if enabled."""
    return _find_middleware(crawler, QuotaMiddleware)


class RateLimiter:
    """At most ``rate`` requests a second, evenly spaced; waiters go first come, first served."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep: Sleep = asyncio.sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            delay = self._next - self.clock()
            if delay > 0:
                await self.sleep(delay)
            self._next = max(self.clock(), self._next) + self.interval


class QuotaMiddleware:
    """Charge each data request to the ledger, throttle, and stop or wait when spent."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        enabled = settings.getbool("TIKTOK_QUOTA_ENABLED")
        rate = settings.getfloat("TIKTOK_MAX_REQUESTS_PER_SECOND")
        if not enabled and rate <= 0:
            raise NotConfigured("TIKTOK_QUOTA_ENABLED is off and there is no rate cap")
        self.on_exhausted = checked(settings, "TIKTOK_QUOTA_ON_EXHAUSTED", str.lower)
        self.limits = daily_limits(settings)
        self.wait_margin = settings.getfloat("TIKTOK_QUOTA_WAIT_MARGIN")
        self.limiter = RateLimiter(rate) if rate > 0 else None
        key, _ = read_credentials(settings)
        self.client = Client.from_key(key, settings.get("TIKTOK_API_URL")) if key else None
        self.ledger: QuotaLedger | None = (
            _open_or_fall_back(settings) if enabled and self.client else None
        )
        self.api_clock = ApiClock()
        self.spent_this_crawl: Counter[str] = Counter()  # requests sent per family
        self.records_this_crawl: Counter[str] = Counter()
        # 429s seen when the ledger is off: (family, day).
        self._exhausted_here: set[tuple[str, str]] = set()
        self._announced: set[tuple[str, str]] = set()
        self._stopping = False
        self._day_lock = asyncio.Lock()
        self._day_asked = False
        self.clock: Callable[[], float] = time.time  # when a held request goes again (tests)
        self._held_until: float | None = None  # the latest quota hold's end
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def spider_closed(self) -> None:
        if self._held_until is not None and self.clock() < self._held_until:
            self.stats.inc_value("tiktok/quota/wait_cancelled")  # closed while waiting
        if self.ledger is not None:
            self.ledger.close()

    def waiting_for_reset(self) -> float | None:
        """Seconds until the requests held for the daily reset go again (None: none held)."""
        if self._held_until is None:
            return None
        left = self._held_until - self.clock()
        return left if left > 0 else None

    def family_of(self, request: Request) -> str:
        endpoint = request_endpoint(request)
        return (endpoint.family if endpoint else QuotaFamily.MAIN).value

    # --- requests ---------------------------------------------------------------------
    async def process_request(self, request: Request) -> Request | None:
        if request.meta.get(meta.TOKEN_REQUEST):
            return None
        request.meta.pop(meta.QUOTA_RESERVED, None)  # a resent request pays again
        family = self.family_of(request)
        await self._learn_api_day()
        if not await self._reserve(family):
            return await self._hold_until_reset(request, family)
        request.meta[meta.QUOTA_RESERVED] = family
        self.spent_this_crawl[family] += 1
        self.stats.inc_value(f"tiktok/quota/requests/{family}")
        if self.limiter is not None:
            await self.limiter.wait()
        return None

    async def _learn_api_day(self) -> None:
        """Know the API's day before booking on it: the token response's ``Date`` says it.

        The token is fetched anyway before the first data request; fetching it here, before
        the first reservation, costs nothing and keeps the first requests off the local
        day, which may not be the API's (two crawls would then share a limit twice). Without
        a token middleware, or a ``Date`` header, the local UTC day stands in.
        """
        if self.api_clock.known or self._day_asked or self.ledger is None:
            return
        async with self._day_lock:
            if self.api_clock.known or self._day_asked:
                return
            token_middleware = _find_middleware(self.crawler, TokenMiddleware)
            if token_middleware is not None:
                with contextlib.suppress(IgnoreRequest):  # the token middleware says why
                    await token_middleware.token()
            self._day_asked = True  # once: later responses still correct the day
            if not self.api_clock.known:
                logger.debug("No Date header from the API yet: booking on the local UTC day.")

    def _limit(self, family: str) -> int:
        return self.limits.get(family, DOCUMENTED_LIMITS[QuotaFamily.MAIN.value])

    async def _reserve(self, family: str) -> bool:
        """Book one request of ``family`` on the API's day: True, or False in ``wait`` mode
        when the family is spent (``stop`` mode raises QuotaExhausted)."""
        day, limit = self.api_clock.day(), self._limit(family)
        if await self._try_reserve(family, day, limit):
            return True
        if self.on_exhausted == "stop":
            await self._stop(family, day, limit)  # raises QuotaExhausted
        return False

    async def _try_reserve(self, family: str, day: str, limit: int) -> bool:
        if self.ledger is None or self.client is None:
            return (family, day) not in self._exhausted_here
        # A local ledger answers at once (~0.1 ms) unless another process holds it; a
        # thread hop per request would wait for the GIL behind item processing.
        counted = self.ledger.reserve_now(self.client, family, day, limit)
        if counted is not None:
            return counted
        return await asyncio.to_thread(self.ledger.reserve, self.client, family, day, limit)

    async def _spend_text(self, family: str, day: str, limit: int) -> str:
        if self.ledger is None or self.client is None:
            return "the API answered 429"
        spend = (await asyncio.to_thread(self.ledger.spent, self.client, day)).get(family)
        used = spend.requests if spend else 0
        return f"{used}/{limit} requests spent by client {self.client}"

    async def _stop(self, family: str, day: str, limit: int) -> None:
        if not self._stopping:
            self._stopping = True
            self.stats.inc_value("tiktok/quota/exhausted")
            logger.warning(
                "Daily %r quota spent (%s on %s, API UTC day); it resets at 00:00 UTC, in %s. "
                "Closing the crawl (quota_exhausted): run it again with the same JOBDIR to "
                "continue, or set TIKTOK_QUOTA_ON_EXHAUSTED=wait.",
                family,
                await self._spend_text(family, day, limit),
                day,
                format_duration(self.api_clock.seconds_to_reset()),
            )
            close_spider_soon(self.crawler, "quota_exhausted")
        raise QuotaExhausted(f"daily {family!r} quota exhausted on {day}")

    async def _hold_until_reset(self, request: Request, family: str) -> Request:
        """``wait`` mode, family spent: the request goes back to the scheduler, held until
        the API's next day (+ ``TIKTOK_QUOTA_WAIT_MARGIN``); its slot serves others."""
        day, limit = self.api_clock.day(), self._limit(family)
        seconds = self.api_clock.seconds_to_reset() + self.wait_margin
        if (family, day) not in self._announced:
            self._announced.add((family, day))
            self.stats.inc_value("tiktok/quota/exhausted")
            self.stats.inc_value("tiktok/quota/waited_seconds", round(seconds))
            logger.warning(
                "Daily %r quota spent (%s on %s, API UTC day); waiting %s until it resets "
                "(00:00 UTC + %.0f s).",
                family,
                await self._spend_text(family, day, limit),
                day,
                format_duration(seconds),
                self.wait_margin,
            )
        self.stats.inc_value("tiktok/quota/held")
        until = self.clock() + seconds
        self._held_until = max(self._held_until or until, until)
        core = core_of(self.crawler)
        if core is not None:
            core.uncount(request)  # not sent: the gate counts it when it goes again
        return resend(request, reason=f"{family} quota spent", delay=seconds, clock=self.clock)

    # --- responses --------------------------------------------------------------------
    async def process_response(self, request: Request, response: Response) -> Request | Response:
        self.api_clock.observe(response.headers.get(b"Date"))
        if request.meta.get(meta.TOKEN_REQUEST):
            return response
        family = request.meta.get(meta.QUOTA_RESERVED) or self.family_of(request)
        result = classification(response)
        if result.outcome is Outcome.QUOTA:
            return await self._on_quota_error(request, family, result.code, result.log_id)
        if result.outcome is Outcome.OK and result.payload is not None:
            await self._count_records(request, family, result.payload)
        return response

    async def _on_quota_error(
        self, request: Request, family: str, code: str, log_id: str | None
    ) -> Request:
        day = self.api_clock.day()
        self.stats.inc_value("tiktok/quota/429")
        if self.ledger is not None and self.client is not None:
            await asyncio.to_thread(self.ledger.mark_exhausted, self.client, family, day)
        else:
            self._exhausted_here.add((family, day))
        logger.info(
            "The API reports the %r quota spent (%s, log_id %s); marking %s exhausted.",
            family,
            code,
            log_id or "-",
            day,
        )
        return resend(request, reason=code)

    async def _count_records(self, request: Request, family: str, payload: dict[str, Any]) -> None:
        endpoint = request_endpoint(request)
        data = payload.get("data")
        if endpoint is None or not isinstance(data, dict):
            return
        count = len(endpoint.records(data))
        if not count:
            return
        self.records_this_crawl[family] += count
        self.stats.inc_value(f"tiktok/quota/records/{family}", count)
        if self.ledger is not None and self.client is not None:
            day = self.api_clock.day()
            if not self.ledger.add_records_now(self.client, family, day, count):
                await asyncio.to_thread(self.ledger.add_records, self.client, family, day, count)

    async def process_exception(self, request: Request, exception: Exception) -> None:
        """Give back the reservation of a request a later middleware refused to send."""
        family = request.meta.get(meta.QUOTA_RESERVED)
        if family is None or not isinstance(exception, IgnoreRequest):
            return
        request.meta.pop(meta.QUOTA_RESERVED, None)
        self.spent_this_crawl[family] -= 1
        self.stats.inc_value(f"tiktok/quota/requests/{family}", -1)
        if self.ledger is not None and self.client is not None:
            await asyncio.to_thread(self.ledger.release, self.client, family, self.api_clock.day())
