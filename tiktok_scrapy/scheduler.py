"""MemoryScheduler: Scrapy's scheduler without the JOBDIR disk queues, with delayed requests.

Every chain's position lives in the checkpoint store (``tiktok_scrapy.chains.store``), and
``start()`` re-issues each unfinished chain from it, addressed to *this* run's API URL with
*this* run's token. A request restored from a disk queue would carry the URL (and the chain step)
of the run that queued it: after the API's address changed (the built-in sandbox listens
on a new port each run) it went to a dead or foreign host. The queue held nothing the
checkpoints do not, so it is gone: requests are kept in memory only, and a JOBDIR holds
just the checkpoints and the lock.

A request with ``meta["tiktok_not_before"]`` (a retry's backoff, a pause for an outage) is
kept aside until that time and then handed back to the engine, so waiting costs no
download slot. While any is waiting the scheduler has pending requests, so the crawl does
not close as idle.
"""

from __future__ import annotations

import asyncio
import time

from scrapy import Request, Spider
from scrapy.core.scheduler import Scheduler
from twisted.internet.defer import Deferred

from tiktok_scrapy.chains import meta


class MemoryScheduler(Scheduler):
    def open(self, spider: Spider) -> Deferred[None] | None:
        self._waiting: set[Request] = set()
        return super().open(spider)

    def _dqdir(self, jobdir: str | None) -> str | None:
        return None

    def enqueue_request(self, request: Request) -> bool:
        not_before = request.meta.get(meta.NOT_BEFORE)
        delay = (not_before - time.time()) if not_before is not None else 0.0
        if delay <= 0:
            request.meta.pop(meta.NOT_BEFORE, None)
            return super().enqueue_request(request)
        self._waiting.add(request)
        asyncio.get_running_loop().call_later(delay, self._release, request)
        assert self.stats is not None
        self.stats.inc_value("scheduler/delayed")
        return True

    def _release(self, request: Request) -> None:
        if request not in self._waiting:
            return
        self._waiting.discard(request)
        request.meta.pop(meta.NOT_BEFORE, None)
        engine = self.crawler.engine if self.crawler else None
        if engine is not None and engine.running:
            engine.crawl(request)  # enqueued again, and the engine woken to send it

    def has_pending_requests(self) -> bool:
        return bool(self._waiting) or super().has_pending_requests()

    def __len__(self) -> int:
        return super().__len__() + len(self._waiting)

    def close(self, reason: str) -> Deferred[None] | None:
        self._waiting.clear()  # their chains resume from the checkpoints
        return super().close(reason)
