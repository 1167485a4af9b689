"""Ask the engine to close the spider from inside a component, without awaiting it.

Awaiting ``close_spider_async`` from a downloader middleware would deadlock: it waits for
the in-progress requests, the calling one included. Scrapy's own CloseSpider extension
schedules the close instead; so do we. The first reason given wins.
"""

from __future__ import annotations

import asyncio
import contextlib

from scrapy.crawler import Crawler

_CLOSE_TASKS: set[asyncio.Task[None]] = set()


def close_spider_soon(crawler: Crawler, reason: str) -> None:
    """Schedule closing the spider with ``reason``."""

    async def close() -> None:
        with contextlib.suppress(RuntimeError):  # already closed, or never opened
            await crawler.engine.close_spider_async(reason=reason)

    task = asyncio.get_running_loop().create_task(close())
    _CLOSE_TASKS.add(task)
    task.add_done_callback(_CLOSE_TASKS.discard)
