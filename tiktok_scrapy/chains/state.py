"""A chain's state: where it stands and what it has produced (a value, copied on change).

States are what the checkpoint store (``store.py``) commits and what ``start()`` resumes
from. ``OPEN`` chains have pages to fetch; ``DONE`` and ``SPLIT`` ones ended with all their
data; ``FAILED`` ones ended incomplete and are reopened by the next run of the JOBDIR.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OPEN = "open"
DONE = "done"  # the API said there is no more (has_more false), or an expected end
FAILED = "failed"  # ended incomplete (failure, stall, dead search_id): retried next run
SPLIT = "split"  # replaced by smaller chains that cover the same ground
FINISHED_STATES = frozenset({DONE, SPLIT})

# Reasons a chain ends with all its data: the API said has_more false, hit a documented cap
# (comments), or the config's own cap. Every other end is incomplete (state FAILED) and the
# next run of the same JOBDIR retries the chain from where it stopped.
COMPLETE_ENDS = frozenset({"complete", "cap_reached", "edge_cap"})


@dataclass
class ChainState:
    """Where a chain stands: the next page to request and what it has produced so far."""

    id: str
    state: str = OPEN
    epoch: int = 0  # bumped when the chain restarts from its first page (dead search_id)
    page: int = 0  # number of the next page to request
    cursor: Any = None  # cursor to send with that page (None: the first page)
    search_id: str | None = None
    pages: int = 0
    items: int = 0
    empty_pages: int = 0  # consecutive empty pages that still said has_more
    reason: str | None = None  # why the chain ended (done/failed/split)
    spec: dict | None = None  # how to rebuild a chain not derived from the config (splits)
    extra: dict = field(default_factory=dict)  # per-endpoint accumulation (playlist ids)
    # Where a video chain continues after its search_id died (see VideosSpider.continuation):
    # {"window": {...}, "below": id}: the narrowed window and the id newer ones are dropped
    # at; and what the chain has seen so far: {"oldest_id", "oldest_day", "on_oldest_day"}.
    continuation: dict = field(default_factory=dict)
    idle_restarts: int = 0  # restarts in this run that have not yielded a new item yet

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


def copy_state(original: ChainState, /, **changes: Any) -> ChainState:
    """A new state with some fields changed (states are treated as values)."""
    values = asdict(original)
    values.update(changes)
    return ChainState(**values)
