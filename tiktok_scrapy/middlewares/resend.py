"""resend(): the one way the middlewares send a request again (retry, 401, 429, outage hold).

Modelled on Scrapy's ``scrapy.downloadermiddlewares.retry.get_retry_request()``: a copy of
the request, ``dont_filter`` so no duplicate filter drops it, an optional priority
adjustment. It differs in four ways:

- The caller decides *whether* to resend: the budgets differ (``TIKTOK_RETRY_TIMES``, once
  after a 401, as often as the quota allows after a 429), so ``resend`` always returns a
  copy and never gives up by itself.
- The copy is a fresh attempt: what a middleware noted about the *last* attempt is dropped
  (``PER_ATTEMPT_META``: the gate's "counted", the quota family charged, the outcome, the
  outage probe mark, an old hold) along with the ``Authorization`` header (the token
  middleware sets a current one on the way out; a queued request never carries a token).
  A flag left on the copy would be undone a second time if a middleware refused it (the
  gate's count, the ledger's reservation), as the original's already were.
- Stats are the caller's (``tiktok/retry/*`` for retries), written where their keys can be
  read (and checked against docs/stats.md).
- A delay is not slept: the copy carries ``meta["tiktok_not_before"]`` and
  ``scheduler.MemoryScheduler`` keeps it aside until then, so a backoff holds no download
  slot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tiktok_scrapy.chains import meta

if TYPE_CHECKING:
    from scrapy.http import Request

logger = logging.getLogger(__name__)

AUTHORIZATION = b"Authorization"
# Request.meta keys that describe one attempt, not the request: a resend starts without them.
PER_ATTEMPT_META = (
    meta.COUNTED,
    meta.QUOTA_RESERVED,
    meta.OUTCOME,
    meta.OUTAGE_PROBE,
    meta.NOT_BEFORE,
)


def resend(
    request: Request,
    *,
    reason: str,
    delay: float = 0.0,
    clock: Callable[[], float] = time.time,
    priority_adjust: int = 0,
    meta_updates: Mapping[str, Any] | None = None,
    keep: Iterable[str] = (),
) -> Request:
    """A copy of ``request`` to send again, ``delay`` seconds from now (``clock()``).

    ``reason`` names the resend in the debug log.
    ``meta_updates`` are set on the copy (a retry counter, the 401 flag); ``keep`` names
    per-attempt keys the copy keeps. ``priority_adjust`` is 0 by default, unlike Scrapy's
    ``RETRY_PRIORITY_ADJUST`` (-1): a request's priority here is its chain's place in the
    crawl order, which a resend of the same page should keep.
    """
    again = request.copy()
    kept = set(keep)
    for key in PER_ATTEMPT_META:
        if key not in kept:
            again.meta.pop(key, None)
    again.headers.pop(AUTHORIZATION, None)
    again.dont_filter = True
    again.priority = request.priority + priority_adjust
    if meta_updates:
        again.meta.update(meta_updates)
    if delay > 0:
        again.meta[meta.NOT_BEFORE] = clock() + delay
    logger.debug("Resending %s (%s)%s", request, reason, f" in {delay:.1f} s" if delay > 0 else "")
    return again
