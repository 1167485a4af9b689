"""MemoryScheduler: Scrapy's scheduler without the JOBDIR disk queues.

Every chain's position lives in the checkpoint store (``checkpoints.py``) and ``start()``
re-issues each unfinished chain from it, addressed to *this* run's API URL with *this*
run's token. A request restored from a disk queue would carry the URL (and the chain step)
of the run that queued it: after the API's address changed (the built-in sandbox listens
on a new port each run) it went to a dead or foreign host. The queue held nothing the
checkpoints do not, so it is gone: requests are kept in memory only, and a JOBDIR holds
just the checkpoints, the lock and Scrapy's spider state.
"""

from __future__ import annotations

from scrapy.core.scheduler import Scheduler


class MemoryScheduler(Scheduler):
    def _dqdir(self, jobdir: str | None) -> str | None:
        return None
