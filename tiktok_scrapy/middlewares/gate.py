"""ChainGateMiddleware: one request in flight per chain, and the request budget.

Pages of a chain must go strictly one after another. After a resume, the same page can
reach the downloader twice: once from the persisted JOBDIR queue and once re-issued from
the chain's checkpoint. The spider knows which (epoch, page) each chain expects next and
lets exactly one request claim it; stale and duplicate requests are dropped here, before
they cost quota. It also enforces the config's ``max_requests`` budget (data requests sent,
retries included) by closing the spider with reason ``max_requests``.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from tiktok_scrapy import meta
from tiktok_scrapy.closing import close_spider_soon

logger = logging.getLogger(__name__)


class ChainGateMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ChainGateMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        if request.meta.get(meta.CHAIN) is None:
            return
        spider = self.crawler.spider
        admit = getattr(spider, "admit", None)
        if admit is None:
            return
        stats = self.crawler.stats
        if not admit(request):
            stats.inc_value("tiktok/gate/dropped")
            logger.debug(
                "Dropped a request of chain %s page %s: not the page the chain expects next.",
                request.meta.get(meta.CHAIN),
                request.meta.get(meta.PAGE),
            )
            raise IgnoreRequest("not the page its chain expects next (stale or duplicate)")
        budget = getattr(getattr(spider, "config", None), "max_requests", None)
        if budget is not None and spider.requests_sent >= budget:
            if not self._closing:
                self._closing = True
                logger.info("Request budget reached (max_requests=%d): stopping.", budget)
                close_spider_soon(self.crawler, "max_requests")
            raise IgnoreRequest("request budget reached")
        spider.requests_sent += 1
        stats.inc_value("tiktok/requests_sent")
        request.meta[meta.COUNTED] = True

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A later middleware refused the request (quota spent, no token): it was not sent."""
        if isinstance(exception, IgnoreRequest) and request.meta.pop(meta.COUNTED, False):
            self.crawler.spider.requests_sent -= 1
            self.crawler.stats.inc_value("tiktok/requests_sent", -1)

    def process_response(self, request: Request, response: Response) -> Response:
        request.meta.pop(meta.COUNTED, None)  # a retry of it counts again
        return response
