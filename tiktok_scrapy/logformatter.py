"""QuietLogFormatter: no per-item "Scraped from" record unless LOG_LEVEL is DEBUG.

Scrapy logs every scraped item at DEBUG. Its root logger lets every level through and the
handler filters by LOG_LEVEL, so at INFO each item still builds a ``LogRecord`` that is then
thrown away — a few percent of the crawl's CPU per video (docs/benchmarks.md). Below DEBUG
this formatter returns None for scraped items, which tells Scrapy not to log at all; with
``LOG_LEVEL=DEBUG`` it logs them as Scrapy does. Setting: LOG_FORMATTER.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.logformatter import LogFormatter

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure


class QuietLogFormatter(LogFormatter):
    def __init__(self, log_items: bool = True) -> None:
        self.log_items = log_items

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        level = crawler.settings.get("LOG_LEVEL") or "DEBUG"
        numeric = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
        return cls(log_items=not isinstance(numeric, int) or numeric <= logging.DEBUG)

    def scraped(self, item: Any, response: Response | Failure | None, spider: Spider) -> Any:
        return super().scraped(item, response, spider) if self.log_items else None
