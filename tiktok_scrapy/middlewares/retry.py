"""Error-aware retries: read the API's error body, not only the HTTP status.

Replaces Scrapy's RetryMiddleware (``RETRY_ENABLED`` is off). Each response is classified by
``api.errors.classify``: transient failures (500, 502-504, HTML/non-JSON bodies, the
transient 400 "Invalid count or cursor") are resent after an exponential backoff with
jitter, up to ``TIKTOK_RETRY_TIMES``; an "invalid or expired" search_id is retried up to
``TIKTOK_SEARCH_ID_RETRY_TIMES``. Final responses carry ``meta["tiktok_outcome"]`` so the
spider can restart a chain, split a window, record a user-level outcome or stop on FATAL.
QUOTA and REFRESH_TOKEN responses pass untouched: the quota and token middlewares own them.

Settings: TIKTOK_RETRY_TIMES, TIKTOK_SEARCH_ID_RETRY_TIMES, TIKTOK_RETRY_BACKOFF_BASE,
TIKTOK_RETRY_BACKOFF_MAX, and Scrapy's RETRY_EXCEPTIONS (which network errors to retry).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.misc import load_object
from scrapy.utils.python import global_object_name

from tiktok_scrapy import meta
from tiktok_scrapy.api.endpoints import AnswerKind, endpoint_for_url
from tiktok_scrapy.api.errors import Classified, Outcome, classify, classify_text

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]
PASS_THROUGH = frozenset({Outcome.QUOTA, Outcome.REFRESH_TOKEN})


def response_payload(response: Response) -> dict[str, Any] | None:
    """The JSON envelope of a response, or None (HTML, binary, empty, not an object).

    Uses ``TextResponse.json()``, which caches the decoded document for the spider.
    """
    decode = getattr(response, "json", None)
    if decode is None:
        return None
    try:
        payload = decode()
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return payload if isinstance(payload, dict) else None


def classify_response(response: Response) -> Classified:
    """``api.errors.classify`` applied to a Scrapy response (``classify_text`` for an
    endpoint that answers a text file)."""
    # In downloader middlewares a response has no .request (nor .meta) yet: go by its URL.
    endpoint = endpoint_for_url(response.url)
    if endpoint is not None and endpoint.answer_kind is AnswerKind.TEXT:
        return classify_text(response.status, response.body)
    payload = response_payload(response)
    return classify(response.status, payload if payload is not None else response.body)


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
        # Injection points for tests: no real waiting, deterministic jitter.
        self.sleep: Sleep = asyncio.sleep
        self.jitter: Callable[[float, float], float] = random.uniform

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    @staticmethod
    def _skip(request: Request) -> bool:
        return bool(request.meta.get(meta.TOKEN_REQUEST) or request.meta.get("dont_retry"))

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        if self._skip(request):
            return response
        result = classify_response(response)
        if result.outcome in PASS_THROUGH:
            return response
        if result.outcome is Outcome.RETRY:
            retry = await self._retry(
                request, result.code, result, meta.RETRY_TIMES, self.retry_times
            )
        elif result.outcome is Outcome.SEARCH_ID_INVALID:
            retry = await self._retry(
                request, result.code, result, meta.SEARCH_ID_RETRIES, self.search_id_retry_times
            )
        else:
            retry = None
        if retry is not None:
            return retry
        request.meta[meta.OUTCOME] = result.outcome.value
        return response

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if (
            self._skip(request)
            or isinstance(exception, IgnoreRequest)
            or not isinstance(exception, self.exceptions)
        ):
            return None
        reason = global_object_name(type(exception)).rsplit(".", 1)[-1]
        return await self._retry(
            request,
            reason,
            None,
            meta.RETRY_TIMES,
            self.retry_times,
            detail=str(exception) or reason,
        )

    async def _retry(
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
        self.stats.inc_value("tiktok/retry/count")
        self.stats.inc_value(f"tiktok/retry/reason_count/{reason}")
        await self.sleep(delay)
        retry = request.copy()
        retry.meta[counter_key] = done + 1
        retry.meta.pop(meta.OUTCOME, None)
        # A response other than 401 came back, so the token worked: a later expiry gets its
        # own resend instead of counting as "rejected twice".
        retry.meta.pop(meta.AUTH_RETRIED, None)
        retry.dont_filter = True
        # The token middleware sets a fresh one; a queued request must not carry it to JOBDIR.
        retry.headers.pop(b"Authorization", None)
        return retry
