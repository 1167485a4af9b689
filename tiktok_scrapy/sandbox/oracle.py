"""The fewest video-query requests any crawler could spend on a query, from the truth.

A crawler that knew every day's result count in advance would cut the date range into
windows of at most 30 days (the API's limit) so that the pages add up to the fewest:
each window costs ``max(1, ceil(slots / max_count))`` requests, where slots are the
results the API pages through (deleted videos included: they take cursor slots). A small
dynamic programme over days finds that minimum. Tests and ``make bench`` compare what
the crawler sent against it (records per request, "quota efficiency").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from tiktok_scrapy.api.endpoints import MAX_WINDOW_DAYS
from tiktok_scrapy.sandbox.dataset import Dataset


def slots_per_day(dataset: Dataset, query: Mapping[str, Any], start: date, end: date) -> list[int]:
    """Result slots of ``query`` on each day from ``start`` to ``end`` (inclusive)."""
    days = (end - start).days + 1
    counts = [0] * days
    for video in dataset.search(query, start, end):
        counts[(datetime.fromtimestamp(video["create_time"], UTC).date() - start).days] += 1
    return counts


def fewest_requests(
    dataset: Dataset,
    query: Mapping[str, Any],
    start: date,
    end: date,
    max_count: int = 100,
    max_window_days: int = MAX_WINDOW_DAYS,
    max_slots: int | None = None,
) -> int:
    """The fewest requests covering ``start``..``end``: windows of at most
    ``max_window_days`` days (and, with ``max_slots``, at most that many results, as when
    the API answers 500 to larger searches)."""
    counts = slots_per_day(dataset, query, start, end)
    best = [0] + [math.inf] * len(counts)
    for i in range(1, len(counts) + 1):
        slots = 0
        for j in range(i - 1, max(-1, i - 1 - max_window_days), -1):  # window = days j..i-1
            slots += counts[j]
            if max_slots is not None and slots > max_slots and i - j > 1:
                break
            cost = best[j] + max(1, math.ceil(slots / max_count))
            best[i] = min(best[i], cost)
    return int(best[-1])
