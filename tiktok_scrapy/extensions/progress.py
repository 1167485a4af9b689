"""Progress: a log line every ``TIKTOK_PROGRESS_INTERVAL`` seconds (default 30).

Long crawls run for hours; researchers want to see chains (windows) done of total,
pages, items and requests spent without reading stats dumps. 0 turns it off.
"""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet import task

logger = logging.getLogger(__name__)


class Progress:
    def __init__(self, crawler: Crawler, interval: float) -> None:
        self.crawler = crawler
        self.interval = interval
        self._loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        interval = crawler.settings.getfloat("TIKTOK_PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured
        ext = cls(crawler, interval)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self) -> None:
        if not hasattr(self.crawler.spider, "progress"):
            return
        self._loop = task.LoopingCall(self.log)
        self._loop.start(self.interval, now=False)

    def log(self) -> None:
        p = self.crawler.spider.progress()
        logger.info(
            "Progress: %d/%d chains done (%d failed), %d pages, %d items, %d requests sent.",
            p["done"],
            p["chains"],
            p["failed"],
            p["pages"],
            p["items"],
            p["requests"],
        )

    def spider_closed(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
