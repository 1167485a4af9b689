"""Advance a chain's checkpoint only once its page's items have been handed on.

A page's items go through the pipelines asynchronously, and storage may batch them
(MongoDB). Committing the checkpoint when the page is parsed would lose those items on a
``kill -9``; committing it when each item has fired ``item_scraped`` (or ``item_dropped``)
does not. Only then is the chain's next page requested (``then``), so a kill costs at most
the one page each chain had in flight. (Without a JOBDIR there is nothing to resume, and the
spider asks for the next page as soon as a page is parsed.) Pages of one chain are
committed in order, and a page whose item failed to store (``item_error``) holds its chain
back for the next run.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tiktok_scrapy.chains.state import ChainState

logger = logging.getLogger(__name__)

PageKey = tuple[str, int, int]  # chain id, epoch, page


@dataclass
class _Pending:
    key: PageKey
    remaining: int
    state: ChainState
    then: Callable[[], None] | None = None
    failed: bool = False


class PageTracker:
    """Counts outstanding items per page and calls ``commit(state)`` in page order."""

    def __init__(
        self,
        commit: Callable[[ChainState], None],
        defer: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self._commit = commit
        # How a commit that an item's hand-over completes is run (the core: on the event
        # loop's next turn, after every receiver of that item's signal); default: at once.
        self._defer = defer or (lambda call: call())
        self._chains: dict[str, deque[_Pending]] = {}
        self._by_key: dict[PageKey, _Pending] = {}

    def page_parsed(
        self,
        key: PageKey,
        items: int,
        state: ChainState,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Register a parsed page; ``state`` is committed, then ``then()`` called, once its
        ``items`` have been handed on."""
        entry = _Pending(key, items, state, then)
        self._chains.setdefault(key[0], deque()).append(entry)
        if items:
            self._by_key[key] = entry
        else:
            self._drain(key[0])

    def item_done(self, key: PageKey, ok: bool = True) -> None:
        """One item of page ``key`` was exported/stored (ok) or failed to be (not ok)."""
        entry = self._by_key.get(key)
        if entry is None:
            return
        if not ok:
            entry.failed = True
        entry.remaining -= 1
        if entry.remaining <= 0:
            del self._by_key[key]
            self._defer(lambda: self._drain_logged(key[0]))

    def pending(self, chain_id: str) -> int:
        """Pages of ``chain_id`` parsed and not yet committed."""
        return len(self._chains.get(chain_id, ()))

    def pending_pages(self) -> int:
        return sum(len(q) for q in self._chains.values())

    def _drain_logged(self, chain_id: str) -> None:
        try:
            self._drain(chain_id)
        except Exception:  # a deferred call has no signal dispatcher to log it
            logger.exception("Committing a page of chain %s failed", chain_id)

    def _drain(self, chain_id: str) -> None:
        queue = self._chains.get(chain_id)
        done: list[_Pending] = []
        while queue and queue[0].remaining <= 0 and not queue[0].failed:
            done.append(queue.popleft())
        if queue is not None and not queue:
            del self._chains[chain_id]
        if done:
            self._commit(done[-1].state)
        for entry in done:
            if entry.then is not None:
                entry.then()
