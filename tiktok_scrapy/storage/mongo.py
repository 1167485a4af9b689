"""The MongoDB client and a batched writer that runs off the event loop.

``MongoStore.write(writes)`` queues operations and returns only once they are in MongoDB:
that is what lets the spider advance its resume checkpoint safely. Queued operations are
sent in one ``bulk_write(ordered=False)`` per collection when the batch is full
(``batch_size``), right away when no write is running (what one turn of the event loop
queued goes together), when the previous write has finished (so a busy crawl writes back to
back), when the oldest has waited ``flush_seconds``, or on ``drain()``. Writes run in a single
worker thread with synchronous pymongo, in order. A connection failure is retried with
backoff; if the server stays down every waiting write fails with ``MongoUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pymongo import InsertOne, UpdateOne
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError
from scrapy.utils.misc import load_object

# MONGODB_URI when the storage backend is MongoDB (kept here for its older importers).
from tiktok_scrapy.storage.backend import mongodb_uri
from tiktok_scrapy.storage.documents import Write
from tiktok_scrapy.storage.indexes import ensure_indexes

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

DUPLICATE_KEY = 11000


class MongoUnavailable(Exception):
    """MongoDB could not be reached (at start, or for longer than the retries allow)."""


def redact_uri(uri: str) -> str:
    """``mongodb://user:secret@host`` -> ``mongodb://user:***@host`` (for logs and errors)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", uri)


def make_client(settings: BaseSettings, uri: str) -> Any:
    """A client of MONGODB_CLIENT_CLASS (pymongo.MongoClient; mongomock in tests)."""
    client_class = load_object(settings.get("MONGODB_CLIENT_CLASS") or "pymongo.MongoClient")
    timeout_ms = int(settings.getfloat("MONGODB_CONNECT_TIMEOUT", 10.0) * 1000)
    return client_class(uri, serverSelectionTimeoutMS=timeout_ms, tz_aware=True)


class _MockCompatUpdateOne(UpdateOne):
    """UpdateOne that mongomock 4.3 understands (it predates pymongo's ``sort`` argument)."""

    def _add_to_bulk(self, bulkobj: Any) -> None:
        if not type(bulkobj).__module__.startswith("mongomock"):
            super()._add_to_bulk(bulkobj)
            return
        bulkobj.add_update(self._filter, self._doc, False, bool(self._upsert))


def to_pymongo(write: Write) -> InsertOne | UpdateOne:
    if write.kind == "insert":
        return InsertOne(write.doc)
    return _MockCompatUpdateOne(write.filter, write.doc, upsert=True)


class MongoStore:
    """One client, one database, one writer thread per crawl."""

    def __init__(
        self,
        client_factory: Any,
        database: str,
        *,
        uri: str = "",
        batch_size: int = 500,
        flush_seconds: float = 2.0,
        retry_times: int = 5,
        retry_backoff: float = 1.0,
        retry_backoff_max: float = 30.0,
        snapshots: bool = False,
    ) -> None:
        self._client_factory = client_factory
        self.database_name = database
        self.safe_uri = redact_uri(uri)
        self.batch_size = max(1, batch_size)
        self.flush_seconds = flush_seconds
        self.retry_times = retry_times
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self.snapshots = snapshots
        self.client: Any = None
        self.db: Any = None
        self.down = False  # retries exhausted: fail fast from now on
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[tuple[Write, asyncio.Future[None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._soon = False  # a flush is scheduled for the loop's next turn
        self._inflight: set[asyncio.Future[None]] = set()
        self.batches_written = 0

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> MongoStore | None:
        uri = mongodb_uri(settings)
        if not uri:
            return None
        return cls(
            lambda: make_client(settings, uri),
            settings.get("MONGODB_DATABASE") or "tiktok_research",
            uri=uri,
            batch_size=settings.getint("MONGODB_BATCH_SIZE", 500),
            flush_seconds=settings.getfloat("MONGODB_FLUSH_SECONDS", 2.0),
            retry_times=settings.getint("MONGODB_RETRY_TIMES", 5),
            retry_backoff=settings.getfloat("MONGODB_RETRY_BACKOFF", 1.0),
            retry_backoff_max=settings.getfloat("MONGODB_RETRY_BACKOFF_MAX", 30.0),
            snapshots=settings.getbool("MONGODB_SNAPSHOTS"),
        )

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, check the server answers, create indexes; MongoUnavailable if it cannot."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mongodb")
        try:
            await self._run(self._open_sync)
        except PyMongoError as exc:
            raise MongoUnavailable(
                f"cannot reach MongoDB at {self.safe_uri}: {short_error(exc)}"
            ) from None

    def _open_sync(self) -> None:
        self.client = self._client_factory()
        self.client.admin.command("ping")
        self.db = self.client[self.database_name]
        ensure_indexes(self.db, self.snapshots)

    async def drain(self) -> None:
        """Write everything queued and wait for writes in flight."""
        if self._pending:
            self._flush()
        while self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        if self._executor is not None:
            with contextlib.suppress(Exception):
                await self._run(self._close_sync)
            self._executor.shutdown(wait=False)
            self._executor = None

    def _close_sync(self) -> None:
        if self.client is not None:
            self.client.close()

    # --- writing --------------------------------------------------------------------------

    async def write(self, writes: list[Write], *, now: bool = False) -> None:
        """Queue ``writes`` and return once all are in MongoDB (MongoUnavailable otherwise).

        ``now``: send the batch at once instead of waiting for it to fill (one-off writes).
        """
        await asyncio.gather(*self.submit(writes, now=now))

    def submit(self, writes: list[Write], *, now: bool = False) -> list[asyncio.Future[None]]:
        """Queue ``writes``; one future per write, done when it is stored."""
        loop = asyncio.get_running_loop()
        futures = []
        for write in writes:
            future: asyncio.Future[None] = loop.create_future()
            if self.down:
                future.set_exception(MongoUnavailable(f"MongoDB at {self.safe_uri} is down"))
            else:
                self._pending.append((write, future))
            futures.append(future)
        if self._pending and (
            now or len(self._pending) >= self.batch_size or self.flush_seconds <= 0
        ):
            self._flush()
        elif self._pending and not self._inflight and not self._soon:
            # Nothing being written: what this turn of the loop queues (a page's items) goes
            # out together right after it, instead of waiting for the batch to fill; writes
            # queued while that one runs go out as the next batch (group commit).
            self._soon = True
            loop.call_soon(self._flush)
        elif self._pending and self._timer is None:
            self._timer = loop.call_later(self.flush_seconds, self._flush)
        return futures

    def _flush(self) -> None:
        self._soon = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        task = asyncio.ensure_future(self._write_batch(batch))
        self._inflight.add(task)
        task.add_done_callback(self._batch_done)

    def _batch_done(self, task: asyncio.Future[None]) -> None:
        self._inflight.discard(task)
        # Group commit: what queued up during that write goes out now, not after a timer.
        if self._pending and not self._inflight and not self.down:
            self._flush()

    async def _write_batch(self, batch: list[tuple[Write, asyncio.Future[None]]]) -> None:
        if self.down:
            failures: dict[int, BaseException] = {
                i: MongoUnavailable(f"MongoDB at {self.safe_uri} is down")
                for i in range(len(batch))
            }
        else:
            try:
                failures = await self._run(self._write_sync, [w for w, _ in batch])
            except MongoUnavailable as exc:
                self.down = True
                logger.error("%s", exc)
                failures = dict.fromkeys(range(len(batch)), exc)
            except Exception as exc:  # a bug or an unexpected server answer: fail the batch
                failures = dict.fromkeys(range(len(batch)), exc)
            else:
                self.batches_written += 1
        for i, (_, future) in enumerate(batch):
            if future.done():
                continue
            if i in failures:
                future.set_exception(failures[i])
            else:
                future.set_result(None)

    def _write_sync(self, writes: list[Write]) -> dict[int, BaseException]:
        """Write a batch, one bulk_write per collection; failed positions -> their error."""
        by_collection: dict[str, list[int]] = defaultdict(list)
        for i, write in enumerate(writes):
            by_collection[write.collection].append(i)
        failures: dict[int, BaseException] = {}
        for collection, positions in by_collection.items():
            errors = self._bulk_with_retries(collection, [writes[i] for i in positions])
            for local, error in errors.items():
                failures[positions[local]] = error
        return failures

    def _bulk_with_retries(self, collection: str, writes: list[Write]) -> dict[int, Exception]:
        todo = list(range(len(writes)))
        failures: dict[int, Exception] = {}
        dup_retried = False
        attempt = 0
        while todo:
            try:
                self.db[collection].bulk_write([to_pymongo(writes[i]) for i in todo], ordered=False)
                return failures
            except BulkWriteError as exc:
                retry: list[int] = []
                for error in exc.details.get("writeErrors", []):
                    position = todo[error["index"]]
                    if error.get("code") == DUPLICATE_KEY:
                        if writes[position].kind == "insert":
                            continue  # already stored by an earlier attempt
                        if not dup_retried:
                            retry.append(position)  # two upserts raced to insert: redo once
                            continue
                    failures[position] = RuntimeError(
                        f"MongoDB refused a write to {collection}: {error.get('errmsg')}"
                    )
                todo, dup_retried = retry, True
            except (ConnectionFailure, PyMongoError) as exc:
                if not _retryable(exc):
                    raise
                if attempt >= self.retry_times:
                    raise MongoUnavailable(
                        f"MongoDB at {self.safe_uri} still unreachable after {attempt} "
                        f"retries: {short_error(exc)}"
                    ) from None
                delay = min(self.retry_backoff_max, self.retry_backoff * 2**attempt)
                attempt += 1
                logger.warning(
                    "MongoDB write to %s failed (%s); retry %d/%d in %.1fs",
                    collection,
                    short_error(exc),
                    attempt,
                    self.retry_times,
                    delay,
                )
                if delay > 0:
                    time.sleep(delay)  # in the writer thread, not on the event loop
        return failures

    async def _run(self, func: Any, *args: Any) -> Any:
        if self._executor is None:
            raise MongoUnavailable("the MongoDB store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionFailure):
        return True
    has_label = getattr(exc, "has_error_label", None)
    return bool(has_label and has_label("RetryableWriteError"))


def short_error(exc: BaseException) -> str:
    """pymongo's error, first line, without its topology dump; passwords redacted."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    text = re.split(r" \(configured timeouts|, Timeout: ", text)[0]
    return redact_uri(text)[:300]


# --- one store per crawl, shared by the pipelines ------------------------------------------
# The crawler carries its store (as it carries its chain core), so nothing outlives the
# crawl and two crawls in one process never see each other's store.
_ATTRIBUTE = "tiktok_mongo_store"


def register(crawler: Crawler, store: MongoStore) -> None:
    """Make ``store`` the crawl's store: the validation pipeline quarantines into it."""
    setattr(crawler, _ATTRIBUTE, store)


def unregister(crawler: Crawler) -> None:
    if hasattr(crawler, _ATTRIBUTE):
        delattr(crawler, _ATTRIBUTE)


def active_store(crawler: Crawler) -> MongoStore | None:
    """The crawl's open store, or None when MongoDB storage is off."""
    return getattr(crawler, _ATTRIBUTE, None)
