"""ChainGateMiddleware: one request in flight per chain, and the request budget.

Pages of a chain must go strictly one after another. The same page can reach the downloader
twice (a retry racing a resend, a duplicate from a callback); the chain core knows which
(epoch, page) each chain expects next and lets exactly one request claim it, so stale and
duplicate requests are dropped here, before they cost quota. The gate also enforces the
config's ``max_requests`` budget (data requests sent, retries included) by closing the
spider with reason ``max_requests``.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response

from tiktok_scrapy.chains import ChainCore, core_of, meta
from tiktok_scrapy.closing import close_spider_soon

logger = logging.getLogger(__name__)


class ChainGateMiddleware:
    def __init__(self, crawler: Crawler, core: ChainCore) -> None:
        self.crawler = crawler
        self.core = core
        self._closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChainGateMiddleware:
        core = core_of(crawler)
        if core is None:
            raise NotConfigured("not a Research API spider: no chains to gate")
        return cls(crawler, core)

    async def process_request(self, request: Request) -> None:
        if request.meta.get(meta.CHAIN) is None:
            return
        if not self.core.admit(request):
            self.crawler.stats.inc_value("tiktok/gate/dropped")
            logger.debug(
                "Dropped a request of chain %s page %s: not the page the chain expects next.",
                request.meta.get(meta.CHAIN),
                request.meta.get(meta.PAGE),
            )
            raise IgnoreRequest("not the page its chain expects next (stale or duplicate)")
        if self.core.budget_spent():
            if not self._closing:
                self._closing = True
                logger.info("Request budget reached (max_requests=%d): stopping.", self.core.budget)
                close_spider_soon(self.crawler, "max_requests")
            raise IgnoreRequest("request budget reached")
        self.core.count_sent(request)

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A later middleware refused the request (quota spent, no token): it was not sent."""
        if isinstance(exception, IgnoreRequest):
            self.core.uncount(request)

    def process_response(self, request: Request, response: Response) -> Response:
        request.meta.pop(meta.COUNTED, None)  # a retry of it counts again
        return response
