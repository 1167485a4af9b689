"""Scrapy's own cost per item on this machine: the floor under our throughput row.

    python -m benchmarks.floor PAGE.json PAGES OUT_DIR

A spider with nothing of ours reads the same API page ``PAGES`` times from a local file
(``file://``, no network), yields its videos as plain dicts, and Scrapy's JSON Lines feed
exporter writes them: no pipelines, no middlewares of ours, Scrapy's default settings
otherwise (asyncio reactor, CONCURRENT_ITEMS=100, CONCURRENT_REQUESTS=16). Prints one JSON
line: items and the CPU seconds of the main thread between spider_opened and spider_closed.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess


class FloorSpider(scrapy.Spider):
    name = "floor"

    def __init__(self, page: str, pages: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = Path(page).resolve().as_uri()
        self.pages = pages

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for _ in range(self.pages):
            yield scrapy.Request(self.url, dont_filter=True)

    def parse(self, response: Any) -> Iterator[dict]:
        yield from json.loads(response.body)["data"]["videos"]


def main(argv: list[str]) -> None:
    page, pages, out = argv[0], int(argv[1]), Path(argv[2])
    cpu: dict[str, float] = {}
    process = CrawlerProcess(
        {
            "LOG_LEVEL": "WARNING",
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
            "TELNETCONSOLE_ENABLED": False,
            "FEEDS": {str(out / "floor.jsonl"): {"format": "jsonlines", "overwrite": True}},
        }
    )
    crawler = process.create_crawler(FloorSpider)
    crawler.signals.connect(
        lambda: cpu.setdefault("start", time.thread_time()),
        signal=signals.spider_opened,
        weak=False,
    )
    crawler.signals.connect(
        lambda: cpu.setdefault("end", time.thread_time()),
        signal=signals.spider_closed,
        weak=False,
    )
    process.crawl(crawler, page=page, pages=pages)
    process.start()
    items = crawler.stats.get_value("item_scraped_count", 0)
    print(json.dumps({"items": items, "cpu": cpu["end"] - cpu["start"]}))


if __name__ == "__main__":
    main(sys.argv[1:])
