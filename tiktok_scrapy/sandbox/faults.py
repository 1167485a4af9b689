"""Injectable faults: the failures the real Research API is known for, on demand.

Each fault is a sandbox option (see ``options.py``) drawn from the state's seeded RNG, and
applies to data endpoints only (``token_error_rate`` aside). Faults that need a page's
context (stalled cursor, trailing empty pages, search_id answers) are applied by the
handlers through the helpers here, so every rule about a fault lives in this module.
"""

from __future__ import annotations

import asyncio
import math
from datetime import date

from tiktok_scrapy.sandbox.state import SandboxState, Search

HTML_504 = (
    b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n"
)
INTERNAL_ERROR_MESSAGE = "Something went wrong. Please try again later."
TRANSIENT_400_MESSAGE = "Invalid count or cursor"


def search_id_message(search_id: str) -> str:
    return f"Search Id {search_id} is invalid or expired"


async def delay(state: SandboxState) -> None:
    """Answer after ``latency_ms`` (+ up to ``latency_jitter_ms``), like a slow API."""
    options = state.options
    ms = options.latency_ms
    if options.latency_jitter_ms:
        ms += options.latency_jitter_ms * state.rng.random()
    if ms > 0:
        await asyncio.sleep(ms / 1000)


def server_fault(state: SandboxState) -> int | None:
    """500 (``error_rate``) or 504 with HTML (``html_504_rate``), else None."""
    if state.chance(state.options.error_rate):
        return 500
    if state.chance(state.options.html_504_rate):
        return 504
    return None


def transient_400(state: SandboxState) -> bool:
    """A spurious "Invalid count or cursor" on a paged request."""
    return state.chance(state.options.transient_400_rate)


def stall(state: SandboxState) -> bool:
    """An empty page saying has_more with the cursor left where it was."""
    return state.chance(state.options.stall_cursor_rate)


def non_json(state: SandboxState, body: bytes) -> bytes:
    """The body cut in half (a 200 that does not parse) with ``non_json_rate``."""
    if state.chance(state.options.non_json_rate):
        return body[: max(1, len(body) // 2)]
    return body


def index_has_more(state: SandboxState, cursor: int, max_count: int, end: int) -> bool:
    """has_more for an index-cursor page [cursor, cursor + max_count) of ``end`` items.

    With ``trailing_empty_pages = N`` a chain gets N empty pages after its last real page;
    every page says has_more except the N-th empty one. Stateless: the number of empty
    pages served so far follows from how far the cursor is past the end.
    """
    if cursor + max_count < end:
        return True
    trailing = state.options.trailing_empty_pages
    if not trailing or end == 0:
        return False
    served = 0 if cursor < end else math.ceil((cursor - end + 1) / max_count)
    return served < trailing


def time_has_more(state: SandboxState, cursor: int, oldest: int | None) -> bool:
    """has_more for an empty time-cursor page asked at ``cursor`` (past every record).

    The last real page returns cursor ``oldest - 1``; each trailing empty page moves it one
    second further back, so ``oldest - cursor`` counts the empty pages served.
    """
    trailing = state.options.trailing_empty_pages
    if not trailing or oldest is None:
        return False
    return oldest - cursor < trailing


def outage(state: SandboxState, start: date, end: date) -> bool:
    """A video query whose window covers ``outage_day``: 500, every time (an outage of
    the part of the archive that serves that day, as users of the real API report)."""
    day = state.options.outage_day
    return day is not None and start <= day <= end


def heavy_search(state: SandboxState, matches: int) -> bool:
    """A video query matching more than ``fail_results_over`` videos: 500, every time.

    The real API's internal errors are frequent on large windows; this makes one that
    never succeeds, deterministically, so a crawler's window splitting can be tested.
    """
    limit = state.options.fail_results_over
    return limit > 0 and matches > limit


def search_id_fails(state: SandboxState, search: Search) -> bool:
    """An "invalid or expired" answer for a live search_id; the next request with it works."""
    if search.just_failed:
        search.just_failed = False
        return False
    if state.chance(state.options.search_id_invalid_rate):
        search.just_failed = True
        return True
    return False
