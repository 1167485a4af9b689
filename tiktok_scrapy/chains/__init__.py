"""The chain core: everything a crawl knows about its chains, owned by one object.

- ``chain.Chain``: one paginated sequence of requests (what is crawled).
- ``state.ChainState``: where a chain stands (a value; ``copy_state`` changes it).
- ``store.CheckpointStore``: the states committed to SQLite in the JOBDIR.
- ``tracker.PageTracker``: commits a page's state once its items are handed on.
- ``lock.JobdirLock``: one crawl per JOBDIR.
- ``meta``: the ``Request.meta`` keys that carry a request's chain, page and attempt.
- ``core.ChainCore``: the owner of all of the above for one crawl (``core_of(crawler)``),
  and the commit protocol (see its module docstring).
"""

from tiktok_scrapy.chains.chain import Chain
from tiktok_scrapy.chains.core import ChainCore, core_of
from tiktok_scrapy.chains.state import (
    COMPLETE_ENDS,
    DONE,
    FAILED,
    FINISHED_STATES,
    OPEN,
    SPLIT,
    ChainState,
    copy_state,
)

__all__ = [
    "COMPLETE_ENDS",
    "DONE",
    "FAILED",
    "FINISHED_STATES",
    "OPEN",
    "SPLIT",
    "Chain",
    "ChainCore",
    "ChainState",
    "copy_state",
    "core_of",
]
