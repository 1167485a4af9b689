"""Issue 5 end to end: a crawl bigger than the daily quota finishes over two API days.

The sandbox grants 50 main-family requests a day; the crawl needs about 90. With
``TIKTOK_QUOTA_ON_EXHAUSTED=stop`` the first run stops with ``quota_exhausted`` (after the
sandbox's one 429, or before any when the crawler's own limit is 50) and the next run, on
the sandbox's next day with the same JOBDIR, finishes it; with ``wait`` one run sleeps
through the sandbox's midnight. Either way no video is missing.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from crawling import ALL_VIDEOS, CrawlResult
from inprocess import run_crawl_inprocess

from tiktok_scrapy.sandbox import SandboxThread

pytestmark = pytest.mark.integration

QUERY = ALL_VIDEOS
START, END = date(2024, 1, 1), date(2024, 1, 10)
# ~410 videos in pages of 5: ~85 requests, well over a day's 50.
CONFIG = {
    "query": QUERY,
    "start_date": START.isoformat(),
    "end_date": END.isoformat(),
    "max_count": 5,
    "window_days": 1,
}
QUOTA = 50
SANDBOX_NOW = datetime.fromisoformat("2024-06-01T10:00:00+00:00")


def crawl(sandbox: SandboxThread, tmp: Path, run: str, **settings: Any) -> CrawlResult:
    """One run of the videos crawl; runs share the JOBDIR and the quota ledger."""
    return run_crawl_inprocess(
        "videos",
        CONFIG,
        sandbox.url,
        tmp / run,
        settings={
            "JOBDIR": str(tmp / "job"),
            "TIKTOK_QUOTA_LEDGER": str(tmp / "quota.sqlite"),
            **settings,
        },
    )


def statuses(sandbox: SandboxThread) -> list[int]:
    return [r["status"] for r in sandbox.requests("videos")]


def truth_ids(sandbox: SandboxThread) -> set[int]:
    return {v["id"] for v in sandbox.dataset.truth_videos(QUERY, START, END)}


def ids(*results: CrawlResult) -> set[int]:
    return {video["id"] for result in results for video in result.of("videos")}


def resume_next_day(sandbox: SandboxThread, tmp: Path, first: CrawlResult) -> CrawlResult:
    """Move the sandbox to its next day and resume; the union must be the truth."""
    assert first.stats["finish_reason"] == "quota_exhausted", first.log[-3000:]
    assert first.returncode == 4, first.log[-3000:]  # quota spent: resume after 00:00 UTC
    assert "Retry what is missing with: scrapy crawl videos" in first.log
    assert "-s JOBDIR=" in first.log
    assert ids(first) < truth_ids(sandbox)  # something is left for tomorrow
    before = len(sandbox.requests())
    sandbox.advance_clock(86400)
    second = crawl(sandbox, tmp, "run2")
    assert second.returncode == 0, second.log[-3000:]
    assert second.stats["finish_reason"] == "finished", second.log[-3000:]
    assert ids(first, second) == truth_ids(sandbox)  # nothing lost between the two days
    assert 429 not in statuses(sandbox)[before:]
    assert len(sandbox.requests()) - before == second.stats["tiktok/quota/requests/main"]
    assert len(sandbox.requests()) > QUOTA + 20  # the crawl needed well over a day's quota
    return second


@pytest.mark.parametrize("concurrency", [1, 16])
def test_stop_at_the_apis_429_then_resume_the_next_day(make_sandbox_process, tmp_path, concurrency):
    sandbox = make_sandbox_process(clock=SANDBOX_NOW.isoformat(), quota_main=QUOTA)
    first = crawl(
        sandbox, tmp_path, "run1", TIKTOK_QUOTA_ON_EXHAUSTED="stop", CONCURRENT_REQUESTS=concurrency
    )
    served = sandbox.requests("videos")
    refused = [r for r in served if r["status"] == 429]
    assert [r["status"] for r in served[:QUOTA]] == [200] * QUOTA
    assert served[QUOTA:] == refused  # after the quota, only 429s, then nothing
    if concurrency == 1:
        assert len(refused) == 1
    else:
        # Requests already in flight when the quota ran out meet their 429 too, but none is
        # resent: each 429 is a different chain's one request in flight.
        chains = {(r["body"]["start_date"], r["body"].get("cursor")) for r in refused}
        assert 1 <= len(refused) == len(chains) <= 10
    assert first.stats["tiktok/quota/429"] == len(refused)
    assert first.stats["tiktok/quota/requests/main"] == len(served)
    resume_next_day(sandbox, tmp_path, first)


def test_stop_at_own_limit_before_any_429_then_resume_the_next_day(make_sandbox_process, tmp_path):
    # Real time on the sandbox: before its first response the crawler books requests on its
    # own UTC day, which must be the sandbox's for the limit to be met exactly.
    sandbox = make_sandbox_process(quota_main=QUOTA)
    limits = json.dumps({"main": QUOTA, "follow": 20000})
    first = crawl(
        sandbox,
        tmp_path,
        "run1",
        TIKTOK_QUOTA_ON_EXHAUSTED="stop",
        TIKTOK_QUOTA_DAILY_REQUESTS=limits,
    )
    assert 429 not in statuses(sandbox)
    assert len(sandbox.requests()) == first.stats["tiktok/quota/requests/main"] == QUOTA
    assert "tiktok/quota/429" not in first.stats
    assert first.stats["tiktok/quota/exhausted"] == 1
    resume_next_day(sandbox, tmp_path, first)


def jump_to_midnight_after(sandbox: SandboxThread, requests: int, seconds_left: float) -> None:
    """After ``requests`` data requests, set the sandbox clock ``seconds_left`` before its
    next midnight, so the quota runs out just before the day ends.

    Done well before the 50th request, so every 429 already carries the late Date header
    the crawler computes its wait from.
    """
    state = sandbox.state
    record = state.record
    served = itertools.count(1)

    def record_and_jump(*args: Any, **kwargs: Any) -> None:
        record(*args, **kwargs)
        if next(served) == requests:
            now = state.clock.datetime()
            midnight = datetime(now.year, now.month, now.day, tzinfo=now.tzinfo)
            state.clock.set(midnight + timedelta(days=1, seconds=-seconds_left))

    state.record = record_and_jump  # type: ignore[method-assign]


def test_wait_sleeps_through_the_apis_midnight_and_finishes(make_sandbox, tmp_path):
    sandbox = make_sandbox(clock=SANDBOX_NOW.isoformat(), quota_main=QUOTA)
    jump_to_midnight_after(sandbox, requests=25, seconds_left=3)
    result = crawl(
        sandbox, tmp_path, "run1", TIKTOK_QUOTA_ON_EXHAUSTED="wait", TIKTOK_QUOTA_WAIT_MARGIN=0
    )
    assert result.returncode == 0, result.log[-3000:]
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert ids(result) == truth_ids(sandbox)
    served = sandbox.requests("videos")
    first_429 = statuses(sandbox).index(429)
    # The sandbox's day 1 granted exactly its quota (the 401s: the 2 h token died in the jump).
    assert [r["status"] for r in served[:first_429]].count(200) == QUOTA
    assert all(r["at"].startswith("2024-06-01T23:59:") for r in served[25 : first_429 + 1])
    after = [r for r in served[first_429:] if r["status"] != 429]
    assert after and all(r["at"] >= "2024-06-02" for r in after)  # resumed on the new day
    assert stats["tiktok/quota/exhausted"] == 1
    assert 0 < stats["tiktok/quota/waited_seconds"] <= 3
    assert "waiting" in result.log and "until it resets" in result.log
