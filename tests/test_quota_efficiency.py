"""Adaptive windows spend the quota like an oracle: requests against the fewest possible.

With default settings (no ``window_days``), each query of a suite — sparse, one account,
medium, dense and bursty — must return exactly the sandbox's truth and spend at most
1.10 x + 2 the fewest video-query requests any crawler could (``sandbox/oracle.py``:
windows of at most 30 days, each costing ``max(1, ceil(slots / 100))``).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import pytest
from inprocess import run_crawl_inprocess

from tiktok_scrapy.sandbox.oracle import fewest_requests

pytestmark = pytest.mark.integration


def _eq(field: str, *values: str) -> dict:
    return {
        "field_name": field,
        "operation": "EQ" if len(values) == 1 else "IN",
        "field_values": list(values),
    }


ALL = _eq("video_length", "SHORT", "MID", "LONG", "EXTRA_LONG")
SUITE = {
    # name: (query, start, end, sandbox scale)
    "sparse hashtag, 61 days": (
        {"and": [_eq("hashtag_name", "foryou")]},
        "2024-01-01",
        "2024-03-01",
        1,
    ),
    "one account, 61 days": (
        {"and": [_eq("username", "user_758edea2")]},
        "2024-01-01",
        "2024-03-01",
        1,
    ),
    "two regions, 45 days": (
        {"and": [_eq("region_code", "BR", "ID")]},
        "2024-01-01",
        "2024-02-14",
        1,
    ),
    "bursty event hashtag, 61 days": (
        {"and": [_eq("hashtag_name", "flood")]},
        "2024-01-01",
        "2024-03-01",
        1,
    ),
    "dense, 10 days at 400 a day": ({"and": [ALL]}, "2024-01-01", "2024-01-10", 10),
}


@pytest.mark.parametrize("name", list(SUITE))
def test_default_crawl_spends_near_the_fewest_requests_and_returns_the_truth(
    name, make_sandbox_process, tmp_path
):
    query, start, end, scale = SUITE[name]
    sandbox = make_sandbox_process(scale=scale, clock="2024-06-01T10:00:00Z")
    config = {"query": query, "start_date": start, "end_date": end}
    result = run_crawl_inprocess("videos", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    truth = Counter(v["id"] for v in sandbox.dataset.truth_videos(query, first, last))
    assert Counter(v["id"] for v in result.of("videos")) == truth
    sent = len(sandbox.requests())
    fewest = fewest_requests(sandbox.dataset, query, first, last)
    assert sent <= math.floor(1.10 * fewest + 2), (name, sent, fewest)
    assert result.stats["tiktok/records_per_request"] == round(sum(truth.values()) / sent, 2)


def test_a_dense_window_is_cut_into_parallel_chains_of_few_pages(make_sandbox_process, tmp_path):
    """What makes a dense query fast: the window's pages are spread over many chains."""
    sandbox = make_sandbox_process(scale=10, clock="2024-06-01T10:00:00Z")
    config = {"query": {"and": [ALL]}, "start_date": "2024-01-01", "end_date": "2024-01-15"}
    result = run_crawl_inprocess("videos", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    pages = Counter(p["chain"] for p in result.pages)
    parent = {child: p["chain"] for p in result.pages for child in p.get("split_into") or ()}

    def path(chain: str) -> int:  # pages in a row before this chain's last page comes back
        return pages[chain] + (path(parent[chain]) if chain in parent else 0)

    total, longest = sum(pages.values()), max(path(c) for c in pages)
    assert result.stats["tiktok/chains/split_dense"] >= 1
    # TikTok's own client pages one 30-day window serially: `total` pages in a row. Here
    # the longest run of pages one after another (through the cuts) is the wall time.
    assert total / longest >= 8, (total, longest)
    fewest = fewest_requests(sandbox.dataset, {"and": [ALL]}, date(2024, 1, 1), date(2024, 1, 15))
    assert total <= 1.10 * fewest + 2, (total, fewest)


def test_searches_over_1500_results_fail_and_a_dense_query_is_still_exact(
    make_sandbox_process, tmp_path
):
    sandbox = make_sandbox_process(scale=10, clock="2024-06-01T10:00:00Z", fail_results_over=1500)
    query = {"and": [ALL]}
    config = {"query": query, "start_date": "2024-01-01", "end_date": "2024-01-20"}
    result = run_crawl_inprocess("videos", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    first, last = date(2024, 1, 1), date(2024, 1, 20)
    truth = Counter(v["id"] for v in sandbox.dataset.truth_videos(query, first, last))
    assert Counter(v["id"] for v in result.of("videos")) == truth
    fewest = fewest_requests(sandbox.dataset, query, first, last, max_slots=1500)
    sent = len(sandbox.requests())
    assert sent <= 1.25 * fewest + 5, (sent, fewest)
    assert result.stats["tiktok/retry/cut_on_500"] >= 1  # cut at once, not retried at width


def test_an_outage_of_half_failures_costs_bounded_quota_then_completes(make_sandbox, tmp_path):
    sandbox = make_sandbox(clock="2024-06-01T10:00:00Z", error_rate=0.5, fault_seed=3)
    state, record = sandbox.state, sandbox.state.record
    outage = {"requests": 0}
    during = 60  # requests the outage lasts (then the API is healthy again)

    def count_and_heal(*args, **kwargs):
        record(*args, **kwargs)
        outage["requests"] += 1
        if outage["requests"] == during:
            state.set_options(error_rate=0.0)

    state.record = count_and_heal
    config = {
        "query": {"and": [ALL]},
        "start_date": "2024-01-01",
        "end_date": "2024-01-06",
        "window_days": 1,
        "max_count": 20,
    }
    result = run_crawl_inprocess(
        "videos",
        config,
        sandbox.url,
        tmp_path,
        {"TIKTOK_OUTAGE_PAUSE": 0.05, "TIKTOK_OUTAGE_PAUSE_MAX": 0.4, "TIKTOK_OUTAGE_WINDOW": 10},
    )
    assert result.returncode == 0, result.log[-3000:]
    truth = Counter(
        v["id"]
        for v in sandbox.dataset.truth_videos(config["query"], date(2024, 1, 1), date(2024, 1, 6))
    )
    assert Counter(v["id"] for v in result.of("videos")) == truth
    assert result.stats["tiktok/outage/opened"] >= 1
    assert result.stats.get("tiktok/outage/held", 0) >= 1
