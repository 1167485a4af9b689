"""Client-credentials access token: fetched once, shared, renewed before expiry and on 401.

Every data request gets ``Authorization: Bearer <token>``. Concurrent requests share ONE
token fetch (an asyncio lock), made with ``engine.download_async`` so it passes the other
middlewares (which leave ``tiktok_token_request`` alone). The token is renewed when less
than ``TIKTOK_TOKEN_REFRESH_MARGIN`` seconds remain (at most half its lifetime), and after a
401 ``access_token_invalid`` the request is resent once with a new token. Rejected
credentials close the crawl (``invalid_credentials``); missing ones close it when the first
request asks for a token (``missing_credentials``), before anything is sent; an
unreachable token endpoint is retried ``TIKTOK_TOKEN_RETRY_TIMES`` times with backoff, then
closes it (``token_unavailable``).
The key, the secret and the token are never logged, put in stats or left on queued
requests.

The 401 resend is ``middlewares.resend.resend`` without a delay: a new token is all it
needs. The backoff between token *fetches* does wait in place (``self.sleep``): the token
request is sent with ``engine.download_async``, not through the scheduler, so it cannot be
held there, and the data request that asked (like every other one, queued on the lock)
cannot be sent without the token anyway; it is bounded by ``TIKTOK_TOKEN_RETRY_TIMES``.

Settings: TIKTOK_CLIENT_KEY, TIKTOK_CLIENT_SECRET (else the environment variables of the
same names), TIKTOK_API_URL, TIKTOK_TOKEN_REFRESH_MARGIN, TIKTOK_TOKEN_RETRY_TIMES,
TIKTOK_RETRY_BACKOFF_BASE / _MAX.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from scrapy.http import FormRequest, Request, Response

from tiktok_scrapy.api.endpoints import TOKEN_PATH
from tiktok_scrapy.api.errors import Outcome, classification, response_payload
from tiktok_scrapy.chains import meta
from tiktok_scrapy.closing import close_spider_soon
from tiktok_scrapy.middlewares.resend import resend
from tiktok_scrapy.middlewares.retry import Sleep, backoff_delay

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

DEFAULT_EXPIRES_IN = 7200.0
# Token endpoint errors worth retrying; any other ``error`` means the credentials are wrong.
TRANSIENT_TOKEN_ERRORS = frozenset({"server_error", "temporarily_unavailable"})
AUTHORIZATION = b"Authorization"
MIN_KEY_TO_HIDE = 6


def read_credentials(settings: BaseSettings) -> tuple[str | None, str | None]:
    """(client key, client secret) from settings, else from the environment; None if unset."""

    def read(name: str) -> str | None:
        value = str(settings.get(name) or os.environ.get(name) or "").strip()
        return value or None

    return read("TIKTOK_CLIENT_KEY"), read("TIKTOK_CLIENT_SECRET")


class TokenMiddleware:
    """Authorise data requests with a shared, self-renewing client access token."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.client_key, self._secret = read_credentials(settings)
        self.token_url = str(settings.get("TIKTOK_API_URL")).rstrip("/") + TOKEN_PATH
        self.margin = settings.getfloat("TIKTOK_TOKEN_REFRESH_MARGIN")
        self.retry_times = max(1, settings.getint("TIKTOK_TOKEN_RETRY_TIMES"))
        self.backoff_base = settings.getfloat("TIKTOK_RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("TIKTOK_RETRY_BACKOFF_MAX")
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self._failed: str | None = None  # close reason once no token can be had
        # Injection points for tests.
        self.clock: Callable[[], float] = time.monotonic
        self.sleep: Sleep = asyncio.sleep
        self.jitter: Callable[[float, float], float] = random.uniform

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def _refuse_without_credentials(self) -> None:
        """No key or secret: one line saying how to give them, and the crawl closes.

        Checked when the first data request asks for a token (nothing is ever sent), not
        when the spider opens: a close asked for while the engine is still opening finishes
        before the engine starts, and leaves its heartbeat running."""
        if self._failed:
            return
        logger.error(
            "No TikTok Research API credentials: set the TIKTOK_CLIENT_KEY and "
            "TIKTOK_CLIENT_SECRET environment variables (or settings), or crawl the local "
            "sandbox without credentials with -s TIKTOK_SANDBOX=true."
        )
        self._fail("missing_credentials")

    # --- requests ---------------------------------------------------------------------
    async def process_request(self, request: Request) -> None:
        if request.meta.get(meta.TOKEN_REQUEST):
            return
        token = await self.token()
        request.headers[AUTHORIZATION] = f"Bearer {token}"

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        used = self._take_authorization(request)
        if request.meta.get(meta.TOKEN_REQUEST):
            return response
        if classification(response).outcome is not Outcome.REFRESH_TOKEN:
            return response
        self.stats.inc_value("tiktok/token/401")
        if used is not None and used == self._token:
            self._token = None
        if request.meta.get(meta.AUTH_RETRIED):
            logger.warning(
                "Access token rejected twice for <%s %s>; passing the 401 on.",
                request.method,
                request.url,
            )
            return response
        logger.info(
            "Access token rejected (HTTP %d); resending <%s %s> with a new token.",
            response.status,
            request.method,
            request.url,
        )
        # The retry middleware (next in the response chain) never sees this answer, so
        # an outage probe's mark stays on the copy: its answer is the probe's.
        return resend(
            request,
            reason="access_token_invalid",
            meta_updates={meta.AUTH_RETRIED: True},
            keep=(meta.OUTAGE_PROBE,),
        )

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._take_authorization(request)

    @staticmethod
    def _take_authorization(request: Request) -> str | None:
        """Remove the token from a finished request (retries are queued, maybe in JOBDIR)."""
        value = request.headers.get(AUTHORIZATION)
        request.headers.pop(AUTHORIZATION, None)
        if not value:
            return None
        return value.decode("latin-1").removeprefix("Bearer ")

    # --- the token --------------------------------------------------------------------
    def _valid(self) -> bool:
        return self._token is not None and self.clock() < self._refresh_at

    async def token(self) -> str:
        """A valid token; concurrent callers share one fetch. IgnoreRequest if none can be had."""
        if not (self.client_key and self._secret):
            self._refuse_without_credentials()
        if not self._valid():
            async with self._lock:
                if not self._valid() and not self._failed:
                    await self._fetch()
        if self._failed or self._token is None:
            raise IgnoreRequest(f"no access token ({self._failed or 'unavailable'})")
        return self._token

    def _token_request(self) -> FormRequest:
        return FormRequest(
            self.token_url,
            formdata={
                "client_key": self.client_key or "",
                "client_secret": self._secret or "",
                "grant_type": "client_credentials",
            },
            meta={meta.TOKEN_REQUEST: True, "dont_retry": True, "handle_httpstatus_all": True},
            dont_filter=True,
        )

    async def _fetch(self) -> None:
        problem = ""
        for attempt in range(self.retry_times):
            if attempt:
                await self.sleep(
                    backoff_delay(attempt - 1, self.backoff_base, self.backoff_max, self.jitter)
                )
            try:
                response = await self.crawler.engine.download_async(self._token_request())
            except IgnoreRequest:
                raise
            except Exception as exc:
                problem = f"{type(exc).__name__}: {self._scrub(str(exc))}"
                logger.debug("Token request failed (%s); will retry.", problem)
                continue
            problem = self._accept(response)
            if not problem or self._failed:
                return
            logger.debug("Token endpoint answered %s; will retry.", problem)
        logger.error(
            "Could not get an access token from %s after %d attempts (last: %s); the crawl "
            "stops. Run it again later with the same JOBDIR to resume.",
            self.token_url,
            self.retry_times,
            problem,
        )
        self._fail("token_unavailable")

    def _accept(self, response: Response) -> str:
        """Store the token from a token response; '' on success, else what went wrong."""
        payload = response_payload(response) or {}
        token = payload.get("access_token")
        if response.status == 200 and isinstance(token, str) and token:
            expires_in = float(payload.get("expires_in") or DEFAULT_EXPIRES_IN)
            margin = min(self.margin, expires_in / 2)
            renewing = self._token is not None or self.stats.get_value("tiktok/token/fetched")
            self._token = token
            self._refresh_at = self.clock() + expires_in - margin
            self.stats.inc_value("tiktok/token/fetched")
            if renewing:
                self.stats.inc_value("tiktok/token/refreshed")
            logger.debug("Got an access token valid for %.0f s.", expires_in)
            return ""
        code, description, log_id = _token_error(payload)
        problem = self._scrub(
            f"HTTP {response.status} {code or 'no error code'}"
            f"{': ' + description if description else ''} (log_id {log_id or '-'})"
        )
        transient = (
            code in TRANSIENT_TOKEN_ERRORS
            or response.status >= 500
            or response.status in {408, 429}
            or (not code and response.status == 200)
        )
        if transient:
            return problem
        if code:
            logger.error(
                "TikTok rejected the client credentials (%s): check TIKTOK_CLIENT_KEY and "
                "TIKTOK_CLIENT_SECRET.",
                problem,
            )
            self._fail("invalid_credentials")
        else:
            logger.error(
                "The token endpoint %s answered %s: check TIKTOK_API_URL.",
                self.token_url,
                problem,
            )
            self._fail("token_unavailable")
        return problem

    def _scrub(self, text: str) -> str:
        """``text`` without the client key, the secret or the token (an error description
        or an exception may echo the form we sent)."""
        for secret in (self._secret, self._token, self._key_to_hide()):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _key_to_hide(self) -> str | None:
        # A very short key (the sandbox takes any, say "me") would blank out parts of words
        # and hide nothing worth hiding.
        key = self.client_key
        return key if key and len(key) >= MIN_KEY_TO_HIDE else None

    def _fail(self, reason: str) -> None:
        if self._failed:
            return
        self._failed = reason
        self._token = None
        close_spider_soon(self.crawler, reason)


def _token_error(payload: dict[str, Any]) -> tuple[str, str, str | None]:
    """(error code, description, log_id) of a token error, flat or enveloped."""
    error = payload.get("error")
    if isinstance(error, dict):
        return (str(error.get("code") or ""), str(error.get("message") or ""), error.get("log_id"))
    return (str(error or ""), str(payload.get("error_description") or ""), payload.get("log_id"))
