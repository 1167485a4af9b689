"""Error-aware retries: read the API's error body, not only the HTTP status.

Replaces Scrapy's RetryMiddleware (``RETRY_ENABLED`` is off). Each response is classified by
``api.errors.classification`` (once per response, shared with the token and quota
middlewares and the spider): transient failures (500, 502-504, HTML/non-JSON bodies, the
transient 400 "Invalid count or cursor") are resent after an exponential backoff with
jitter, up to ``TIKTOK_RETRY_TIMES``; an "invalid or expired" search_id is retried up to
``TIKTOK_SEARCH_ID_RETRY_TIMES``. Final responses carry ``meta["tiktok_outcome"]`` so the
spider can restart a chain, split a window, record a user-level outcome or stop on FATAL.
QUOTA and REFRESH_TOKEN responses pass untouched: the quota and token middlewares own them.

A backoff never holds a download slot: the retry copy (``middlewares.resend.resend``) carries
``meta["tiktok_not_before"]`` and the scheduler (``scheduler.MemoryScheduler``) keeps it until
then; an outage hold is the same resend with the breaker's pause as its delay. A 500 to a request
marked ``tiktok_cut_on_500`` (an adaptive wide window's first page) is not retried: the
spider cuts the window instead. The middleware also owns the crawl's ``OutageBreaker``
(``outage.py``): when most recent requests fail it holds every request (one probe per
pause) or, with ``TIKTOK_OUTAGE_ON_DETECTED=stop``, closes the crawl (``api_outage``).

Settings: TIKTOK_RETRY_TIMES, TIKTOK_SEARCH_ID_RETRY_TIMES, TIKTOK_RETRY_BACKOFF_BASE,
TIKTOK_RETRY_BACKOFF_MAX, TIKTOK_OUTAGE_*, and Scrapy's RETRY_EXCEPTIONS (which network
errors to retry).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.misc import load_object
from scrapy.utils.python import global_object_name

from tiktok_scrapy.api.errors import Classified, Outcome, classification
from tiktok_scrapy.chains import meta
from tiktok_scrapy.closing import close_spider_soon
from tiktok_scrapy.middlewares.resend import resend
from tiktok_scrapy.outage import Decision, OutageBreaker
from tiktok_scrapy.settings_check import checked

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]  # the quota and token middlewares' waits
PASS_THROUGH = frozenset({Outcome.QUOTA, Outcome.REFRESH_TOKEN})


class HeldForOutage(IgnoreRequest):
    """The request was put back until the API answers again (not lost: a copy waits)."""


def _failure_key(request: Request) -> tuple:
    """What a request asked for, as the outage breaker compares failures."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = {}
    if isinstance(body, dict) and body.get("start_date") and body.get("end_date"):
        return ("window", str(body["start_date"]), str(body["end_date"]))
    return ("chain", request.meta.get(meta.CHAIN))


def backoff_delay(
    attempt: int, base: float, cap: float, jitter: Callable[[float, float], float]
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): capped exponential x jitter."""
    return min(cap, base * 2**attempt) * jitter(0.5, 1.5)


def describe(request: Request) -> str:
    """A request named for people: endpoint, chain and page when known."""
    chain = request.meta.get(meta.CHAIN)
    if chain is None:
        return f"<{request.method} {request.url}>"
    return (
        f"{request.meta.get(meta.ENDPOINT, '?')} chain {chain} "
        f"page {request.meta.get(meta.PAGE, '?')}"
    )


class ApiRetryMiddleware:
    """Resend transient failures with backoff; label final responses with their outcome."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.retry_times = settings.getint("TIKTOK_RETRY_TIMES")
        self.search_id_retry_times = settings.getint("TIKTOK_SEARCH_ID_RETRY_TIMES")
        self.backoff_base = settings.getfloat("TIKTOK_RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("TIKTOK_RETRY_BACKOFF_MAX")
        self.exceptions: tuple[type[BaseException], ...] = tuple(
            load_object(x) if isinstance(x, str) else x
            for x in settings.getlist("RETRY_EXCEPTIONS")
        )
        # Injection points for tests: the clock, deterministic jitter.
        self.clock: Callable[[], float] = time.time
        self.jitter: Callable[[float, float], float] = random.uniform
        self.breaker = OutageBreaker(
            window=settings.getint("TIKTOK_OUTAGE_WINDOW"),
            ratio=settings.getfloat("TIKTOK_OUTAGE_FAILURE_RATIO"),
            pause=settings.getfloat("TIKTOK_OUTAGE_PAUSE"),
            pause_max=settings.getfloat("TIKTOK_OUTAGE_PAUSE_MAX"),
            clock=lambda: self.clock(),
        )
        self.stop_on_outage = checked(settings, "TIKTOK_OUTAGE_ON_DETECTED") == "stop"
        self.outage_max_wait = settings.getfloat("TIKTOK_OUTAGE_MAX_WAIT")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @staticmethod
    def _skip(request: Request) -> bool:
        return bool(request.meta.get(meta.TOKEN_REQUEST) or request.meta.get("dont_retry"))

    async def process_request(self, request: Request) -> None:
        """Hold data requests while the outage breaker is open (one probe at a time)."""
        if self._skip(request) or request.meta.get(meta.CHAIN) is None:
            return
        decision, until = self.breaker.decide()
        if decision is Decision.PROBE:
            request.meta[meta.OUTAGE_PROBE] = True
            logger.info("Outage: probing the API with %s.", describe(request))
            return
        if decision is Decision.HOLD:
            if self.stop_on_outage:
                raise IgnoreRequest("the API is failing (outage): the crawl is stopping")
            if self.outage_max_wait and self.breaker.open_for() > self.outage_max_wait:
                if not self.stats.get_value("tiktok/outage/gave_up"):
                    self.stats.set_value("tiktok/outage/gave_up", 1)
                    logger.error(
                        "Outage: the API has failed for %.0f s (TIKTOK_OUTAGE_MAX_WAIT); "
                        "stopping — resume later with the same JOBDIR.",
                        self.breaker.open_for(),
                    )
                    close_spider_soon(self.crawler, "api_outage")
                raise IgnoreRequest("the API is failing (outage): the crawl is stopping")
            held = resend(
                request, reason="outage", delay=until - self.breaker.clock(), clock=self.clock
            )
            self.stats.inc_value("tiktok/outage/held")
            self.crawler.engine.crawl(held)
            raise HeldForOutage("held until the API answers again")

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if self._skip(request):
            return response
        result = classification(response)
        self._breaker_record(request, failed=result.outcome is Outcome.RETRY)
        if result.outcome in PASS_THROUGH:
            return response
        if (
            result.outcome is Outcome.RETRY
            and request.meta.get(meta.CUT_ON_500)
            and (response.status == 500 and not self.breaker.is_open)
        ):
            self.stats.inc_value("tiktok/retry/cut_on_500")
            retry = None  # "too big": the spider cuts the window instead of retrying it
        elif result.outcome is Outcome.RETRY:
            retry = self._retry(request, result.code, result, meta.RETRY_TIMES, self.retry_times)
        elif result.outcome is Outcome.SEARCH_ID_INVALID:
            retry = self._retry(
                request, result.code, result, meta.SEARCH_ID_RETRIES, self.search_id_retry_times
            )
        else:
            retry = None
        if retry is not None:
            return retry
        request.meta[meta.OUTCOME] = result.outcome.value
        return response

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if self._skip(request) or request.meta.get(meta.CHAIN) is None:
            return None
        if isinstance(exception, IgnoreRequest):
            if request.meta.pop(meta.OUTAGE_PROBE, False):
                self.breaker.probe_lost()
            return None
        if not isinstance(exception, self.exceptions):
            return None
        self._breaker_record(request, failed=True)
        reason = global_object_name(type(exception)).rsplit(".", 1)[-1]
        return self._retry(
            request,
            reason,
            None,
            meta.RETRY_TIMES,
            self.retry_times,
            detail=str(exception) or reason,
        )

    def _breaker_record(self, request: Request, failed: bool) -> None:
        if request.meta.get(meta.CHAIN) is None:
            return
        event = self.breaker.record(
            failed,
            probe=bool(request.meta.pop(meta.OUTAGE_PROBE, False)),
            key=_failure_key(request) if failed else (),  # only failures are compared
        )
        if event is None:
            return
        self.stats.inc_value(f"tiktok/outage/{event}")
        if event == "closed":
            logger.info("Outage over: the API answers again; the crawl goes on.")
            return
        pause = self.breaker.current_pause()
        if self.stop_on_outage:
            logger.error(
                "Outage: most of the last %d requests failed; stopping (resume later with the "
                "same JOBDIR).",
                self.breaker.window,
            )
            close_spider_soon(self.crawler, "api_outage")
            return
        logger.warning(
            "Outage: %s; holding every request, next probe in %.0f s.",
            f"most of the last {self.breaker.window} requests failed"
            if event == "opened"
            else "the probe failed too",
            pause,
        )

    def _retry(
        self,
        request: Request,
        reason: str,
        result: Classified | None,
        counter_key: str,
        max_times: int,
        detail: str | None = None,
    ) -> Request | None:
        """A copy of ``request`` to resend after the backoff, or None when retries are spent."""
        done = int(request.meta.get(counter_key, 0))
        if detail is None and result is not None:
            detail = f"{result.code}: {result.message or '-'} (log_id {result.log_id or '-'})"
        if done >= max_times:
            self.stats.inc_value("tiktok/retry/max_reached")
            logger.warning("Gave up on %s after %d retries: %s", describe(request), done, detail)
            return None
        delay = backoff_delay(done, self.backoff_base, self.backoff_max, self.jitter)
        logger.debug(
            "Retrying %s (retry %d/%d) in %.1f s: %s",
            describe(request),
            done + 1,
            max_times,
            delay,
            detail,
        )
        # A response other than 401 came back, so the token worked: a later expiry gets its
        # own resend instead of counting as "rejected twice".
        self.stats.inc_value("tiktok/retry/count")
        self.stats.inc_value(f"tiktok/retry/reason_count/{reason}")
        retry = resend(
            request,
            reason=reason,
            delay=delay,
            clock=self.clock,
            meta_updates={counter_key: done + 1},
        )
        retry.meta.pop(meta.AUTH_RETRIED, None)
        return retry
