"""CoreStats without a per-item ``item_scraped`` receiver.

Scrapy runs every ``item_scraped`` receiver as a task of its own for every item; with
thousands of videos a second that overhead shows in the profile (docs/benchmarks.md).
Scrapy's CoreStats listens only to count ``item_scraped_count``; our spiders already
receive ``item_scraped`` (to commit checkpoints) and count it there. Everything else
(start/finish time, finish reason, dropped items, responses) is Scrapy's own code.
Replaces ``scrapy.extensions.corestats.CoreStats`` in EXTENSIONS.
"""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.extensions.corestats import CoreStats as ScrapyCoreStats


class CoreStats(ScrapyCoreStats):
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CoreStats:
        stats = cls(crawler.stats)
        crawler.signals.connect(stats.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(stats.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(stats.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(stats.response_received, signal=signals.response_received)
        return stats
