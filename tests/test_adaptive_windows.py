"""Adaptive windows: a window that keeps failing is split until its parts succeed.

The sandbox's ``fail_results_over`` makes every video query matching more than N videos
answer 500, deterministically, like the real API on large windows. A 4-day window then
fails, and so do its 2-day halves and its busiest day, which only succeeds once split by
``TIKTOK_WINDOW_SPLIT_FIELD`` (video_length). The crawl still returns exactly the truth, and
each split shows in the stats, the page records and the checkpoint store.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from collections import Counter
from datetime import date
from typing import Any

import pytest
from crawling import SANDBOX_KEY, SANDBOX_SECRET
from inprocess import run_crawl_inprocess

from tiktok_scrapy.api.endpoints import VIDEO_LENGTHS
from tiktok_scrapy.chains.store import CheckpointStore
from tiktok_scrapy.sandbox import SandboxThread

QUERY = {
    "and": [{"field_name": "video_length", "operation": "IN", "field_values": list(VIDEO_LENGTHS)}]
}
START, END = date(2024, 1, 1), date(2024, 1, 4)
# Videos a day (sandbox seed 0): Jan 1: 72 (SHORT 35, MID 24, LONG 11, EXTRA_LONG 2);
# Jan 2-4: 38, 35, 38. Queries over 40 fail: the 4-day window, both halves and Jan 1.
LIMIT = 40
CONFIG = {
    "query": QUERY,
    "start_date": START.isoformat(),
    "end_date": END.isoformat(),
    "max_count": 20,
    "window_days": 4,
}
RETRIES = 2


def post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def video_query(sandbox: SandboxThread, start: str, end: str, **body: Any) -> tuple[int, dict]:
    form = f"client_key={SANDBOX_KEY}&client_secret={SANDBOX_SECRET}"
    _, token = post(
        sandbox.url + "/v2/oauth/token/",
        (form + "&grant_type=client_credentials").encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    payload = {"query": QUERY, "start_date": start, "end_date": end, "max_count": 20, **body}
    return post(
        sandbox.url + "/v2/research/video/query/?fields=id",
        json.dumps(payload).encode(),
        {"Authorization": f"Bearer {token['access_token']}", "Content-Type": "application/json"},
    )


def test_sandbox_fails_heavy_queries_every_time_and_serves_light_ones(make_sandbox_process):
    sandbox = make_sandbox_process(fail_results_over=LIMIT)
    for _ in range(3):  # not random: the same heavy query fails every time
        status, body = video_query(sandbox, "20240101", "20240101")
        assert (status, body["error"]["code"]) == (500, "internal_error")
    status, body = video_query(sandbox, "20240102", "20240102")
    assert status == 200 and len(body["data"]["videos"]) == 20 and body["data"]["has_more"]
    status, body = video_query(
        sandbox, "20240102", "20240102", search_id=body["data"]["search_id"], cursor=20
    )
    assert status == 200 and not body["data"]["has_more"]
    assert sandbox.stats()["quota"]["main"] == 5  # failures cost quota, as on TikTok
    sandbox.set_options(fail_results_over=0)
    assert video_query(sandbox, "20240101", "20240104")[0] == 200


@pytest.mark.integration
def test_failing_window_splits_to_days_then_by_video_length(make_sandbox, tmp_path):
    sandbox = make_sandbox(fail_results_over=LIMIT)
    jobdir = tmp_path / "job"
    result = run_crawl_inprocess(
        "videos",
        CONFIG,
        sandbox.url,
        tmp_path,
        settings={
            "JOBDIR": str(jobdir),
            "TIKTOK_RETRY_TIMES": RETRIES,
            "TIKTOK_WINDOW_SPLIT_FIELD": "video_length",
        },
    )
    assert result.returncode == 0, result.log[-3000:]
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    truth = [v["id"] for v in sandbox.dataset.truth_videos(QUERY, START, END)]
    assert Counter(v["id"] for v in result.of("videos")) == Counter(truth)  # all, once

    whole, first, second, day1 = (
        "videos:20240101-20240104",
        "videos:20240101-20240102",
        "videos:20240103-20240104",
        "videos:20240101-20240101",
    )
    split = {whole, first, second, day1}
    parts = {f"{day1}:video_length={value}" for value in VIDEO_LENGTHS}
    days = {"videos:20240102-20240102", "videos:20240103-20240103", "videos:20240104-20240104"}
    assert stats["tiktok/chains/split"] == len(split)
    assert stats.get("tiktok/chains/failed", 0) == 0

    # Page records: each split chain's last try is recorded with its error, after retries.
    failed = [p for p in result.pages if p["outcome"] == "retry"]
    assert {p["chain"] for p in failed} == split
    assert all(p["status"] == 500 and p["error"]["code"] == "internal_error" for p in failed)
    assert {p["chain"] for p in result.pages if p["outcome"] == "ok"} == days | parts
    assert {p["window"] for p in result.pages if p["chain"] in parts} == {"2024-01-01..2024-01-01"}
    served = sandbox.requests("videos")
    assert [r["status"] for r in served].count(500) == len(split) * (1 + RETRIES)
    assert stats["tiktok/retry/count"] == len(split) * RETRIES

    # Checkpoints: the split chains say so; their children can be rebuilt from their spec.
    store = CheckpointStore(jobdir)
    try:
        states = store.load()
    finally:
        store.close()
    assert {c for c, s in states.items() if s.state == "split"} == split
    assert all(states[c].reason.startswith("split: internal_error") for c in split)
    assert {c for c, s in states.items() if s.state == "done"} == days | parts
    parents = {c: states[c].spec["parent"] for c in states if states[c].spec}
    assert parents == {
        first: whole,
        second: whole,
        day1: first,
        "videos:20240102-20240102": first,
        "videos:20240103-20240103": second,
        "videos:20240104-20240104": second,
    } | {p: day1 for p in parts}
    for part in parts:
        value = part.rsplit("=", 1)[1]
        spec = states[part].spec
        assert spec["window"] == {"start": "2024-01-01", "end": "2024-01-01"}
        assert {"field_name": "video_length", "operation": "EQ", "field_values": [value]} in spec[
            "body"
        ]["query"]["and"]
    with sqlite3.connect(jobdir / CheckpointStore.FILENAME) as db:
        assert db.execute("SELECT value FROM job WHERE key = 'finished'").fetchone() == ("true",)


@pytest.mark.integration
def test_without_a_split_field_a_failing_day_is_recorded_as_failed(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process(fail_results_over=LIMIT)
    config = {**CONFIG, "start_date": "2024-01-01", "end_date": "2024-01-02", "window_days": 1}
    result = run_crawl_inprocess(
        "videos",
        config,
        sandbox.url,
        tmp_path,
        settings={
            "TIKTOK_RETRY_TIMES": RETRIES,
            "TIKTOK_WINDOW_SPLIT_FIELD": "",
        },
    )
    assert result.returncode == 3, result.log[-3000:]  # incomplete: a day is missing
    assert result.stats["finish_reason"] == "incomplete_chains"
    assert result.stats["tiktok/chains/incomplete_ids"] == ["videos:20240101-20240101"]
    assert result.stats["tiktok/chains/failed"] == 1
    assert "tiktok/chains/split" not in result.stats
    day2 = sandbox.dataset.truth_videos(QUERY, date(2024, 1, 2), date(2024, 1, 2))
    assert {v["id"] for v in result.of("videos")} == {v["id"] for v in day2}
    assert "Chain videos:20240101-20240101 failed after retries: internal_error" in result.log
