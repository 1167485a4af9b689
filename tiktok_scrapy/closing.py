"""Ask the engine to close the spider from inside a component, without awaiting it.

Awaiting ``close_spider_async`` from a downloader middleware would wait for the very
download it is part of; Scrapy's own CloseSpider extension schedules the close instead.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

_pending: set[Any] = set()


def request_close(crawler: Crawler, reason: str) -> None:
    """Schedule closing the spider with ``reason`` (once; later calls are no-ops)."""
    engine = crawler.engine
    if engine is None or getattr(crawler, "_tiktok_close_reason", None):
        return
    crawler._tiktok_close_reason = reason  # type: ignore[attr-defined]
    deferred = deferred_from_coro(engine.close_spider_async(reason=reason))
    _pending.add(deferred)
    deferred.addBoth(lambda result: _pending.discard(deferred) or result)
