"""MongoDBPipeline: items upserted into one collection per item type, page records into
``pages``, one document per crawl in ``crawls``.

On when the storage backend is MongoDB (``tiktok_scrapy.storage.backend``: by default,
when MONGODB_URI is set as a setting or environment variable). Writes are batched and run in
a worker thread (``tiktok_scrapy.storage.mongo.MongoStore``); ``process_item`` returns only
once its item is written, because the chain core advances its resume checkpoint on
``item_scraped``. If MongoDB is unreachable at start the spider closes with reason
``mongodb_unavailable`` after one error line; if it goes away during the crawl, writes are
retried with backoff, then the crawl stops with that reason and the unwritten items error
(resume with the same JOBDIR picks them up again).

Settings: MONGODB_URI, MONGODB_DATABASE, MONGODB_CLIENT_CLASS, MONGODB_BATCH_SIZE,
MONGODB_FLUSH_SECONDS, MONGODB_SNAPSHOTS, MONGODB_CONNECT_TIMEOUT, MONGODB_RETRY_*.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Self

from scrapy import signals
from scrapy.exceptions import CloseSpider, NotConfigured

from tiktok_scrapy import signals as tiktok_signals
from tiktok_scrapy.chains import core_of
from tiktok_scrapy.compliance import COLLECTIONS
from tiktok_scrapy.items import ApiItem, Unavailable
from tiktok_scrapy.storage import documents
from tiktok_scrapy.storage.indexes import NATURAL_KEYS
from tiktok_scrapy.storage.mongo import MongoStore, MongoUnavailable, register, unregister

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

UNAVAILABLE = "mongodb_unavailable"


class MongoDBPipeline:
    def __init__(self, crawler: Crawler, store: MongoStore) -> None:
        self.crawler = crawler
        self.store = store
        self.page_records = crawler.settings.getbool("TIKTOK_PAGE_RECORDS", True)
        self._crawl_doc_for: str | None = None  # crawl id whose crawls document exists
        self._closing: asyncio.Future[Any] | None = None
        self._page_futures: set[asyncio.Future[None]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        store = MongoStore.from_settings(crawler.settings)
        if store is None:
            raise NotConfigured  # backend feeds: items go to the JSONL feeds
        pipeline = cls(crawler, store)
        crawler.signals.connect(pipeline.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(pipeline.page_recorded, signal=tiktok_signals.page_recorded)
        return pipeline

    # --- crawl identity (from the crawl's chain core) ----------------------------------

    @property
    def crawl_id(self) -> str | None:
        core = core_of(self.crawler)
        return core.crawl_id if core else None

    def _config(self) -> Any:
        core = core_of(self.crawler)
        return core.config if core else None

    def _query_id(self) -> str | None:
        query_id = getattr(self._config(), "query_id", None)
        return query_id() if callable(query_id) else None

    def _crawl_start_writes(self) -> list[documents.Write]:
        crawl_id = self.crawl_id
        if crawl_id is None or crawl_id == self._crawl_doc_for:
            return []
        self._crawl_doc_for = crawl_id
        config = self._config()
        to_jsonable = getattr(config, "to_jsonable", None)
        core = core_of(self.crawler)
        spider = core.spider_name if core else None
        return [
            documents.crawl_start_write(
                crawl_id,
                spider,
                to_jsonable() if callable(to_jsonable) else None,
                self._query_id(),
                documents.utcnow(),
            )
        ]

    # --- lifecycle -----------------------------------------------------------------------

    async def open_spider(self) -> None:
        try:
            await self.store.open()
        except MongoUnavailable as exc:
            logger.error(
                "%s. Start MongoDB or fix MONGODB_URI (or unset it to write JSONL "
                "feeds); closing the spider.",
                exc,
            )
            await self.store.close()
            raise CloseSpider(UNAVAILABLE) from None
        register(self.crawler, self.store)
        logger.info(
            "storing items in MongoDB %s, database %r",
            self.store.safe_uri,
            self.store.database_name,
        )

    async def spider_opened(self) -> None:
        writes = self._crawl_start_writes()
        if writes and self.store.db is not None:
            await self._write_or_stop(writes, now=True)

    async def close_spider(self) -> None:
        await self.store.drain()
        if self._page_futures:
            await asyncio.gather(*self._page_futures, return_exceptions=True)

    async def spider_closed(self, reason: str | None = None) -> None:
        """Complete the crawls document (the finish reason is known only now), close."""
        unregister(self.crawler)
        if self.store.db is None:
            return
        crawl_id = self.crawl_id
        if crawl_id is not None and not self.store.down:
            writes = self._crawl_start_writes()
            stats = dict(self.crawler.stats.get_stats())
            writes.append(documents.crawl_end_write(crawl_id, reason, stats, documents.utcnow()))
            try:
                await self.store.write(writes, now=True)
            except Exception as exc:
                logger.warning("could not record the end of crawl %s in MongoDB: %s", crawl_id, exc)
        await self.store.close()

    # --- items and pages -----------------------------------------------------------------

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, Unavailable):  # refresh: the stored record is gone from TikTok
            writes = [*self._crawl_start_writes(), documents.unavailable_write(item, COLLECTIONS)]
            await self._write_or_stop(writes)
            return item
        if not isinstance(item, ApiItem) or item.collection not in NATURAL_KEYS:
            return item
        provenance = item.get("_crawl") or {}
        crawl_id = provenance.get("crawl_id") or self.crawl_id
        query_id = provenance.get("query_id") or self._query_id()
        writes = self._crawl_start_writes()
        writes += documents.item_writes(
            item.collection,
            item,
            crawl_id=crawl_id,
            query_id=query_id,
            now=documents.utcnow(),
            snapshots=self.store.snapshots,
        )
        await self._write_or_stop(writes)
        return item

    def page_recorded(self, record: dict[str, Any]) -> None:
        """Queue a page record (handler of a sync signal: it does not wait for the write)."""
        if not self.page_records or self.store.db is None:
            return
        writes = [*self._crawl_start_writes(), documents.page_write(record, self.crawl_id)]
        for future in self.store.submit(writes):
            self._page_futures.add(future)
            future.add_done_callback(self._page_written)

    def _page_written(self, future: asyncio.Future[None]) -> None:
        self._page_futures.discard(future)
        if future.exception() is not None:
            self.crawler.stats.inc_value("tiktok/mongodb/page_records_lost")

    async def _write_or_stop(self, writes: list[documents.Write], now: bool = False) -> None:
        try:
            await self.store.write(writes, now=now)
        except MongoUnavailable:
            self._stop_crawl()
            raise

    def _stop_crawl(self) -> None:
        """Close the spider once (not awaited here: closing waits for items in flight)."""
        if self._closing is not None:
            return
        self.crawler.stats.set_value("tiktok/mongodb/unavailable", True)
        logger.error(
            "MongoDB at %s is unavailable: stopping the crawl (reason %s); resume "
            "with the same JOBDIR once it is back.",
            self.store.safe_uri,
            UNAVAILABLE,
        )
        engine = self.crawler.engine
        self._closing = asyncio.ensure_future(engine.close_spider_async(reason=UNAVAILABLE))
