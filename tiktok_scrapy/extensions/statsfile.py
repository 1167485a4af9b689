"""StatsFile: the crawl's final stats as ``stats.json`` in the output folder.

Scrapy only logs its stats; a file lets a researcher (and the tests, and the crawl report)
read finish reason, requests, items and quota spend after the fact.
"""

from __future__ import annotations

import json
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured


class StatsFile:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsFile:
        if getattr(crawler.spider, "config", None) is None:
            raise NotConfigured
        ext = cls(crawler)
        # Connected late so that it runs after the stats have their final values.
        crawler.signals.connect(ext.write, signal=signals.engine_stopped)
        return ext

    def write(self) -> None:
        stats = self.crawler.stats.get_stats()
        folder = Path(self.crawler.settings["TIKTOK_OUTPUT_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "stats.json"
        path.write_text(json.dumps(stats, indent=1, sort_keys=True, default=str) + "\n")
