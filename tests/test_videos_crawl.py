"""The videos spider end to end: a real ``scrapy crawl`` against the sandbox."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import pytest
from crawling import SANDBOX_KEY, run_crawl
from inprocess import run_crawl_inprocess

pytestmark = pytest.mark.integration

QUERY = {
    "and": [
        {
            "field_name": "hashtag_name",
            "operation": "IN",
            "field_values": ["flood", "storm", "earthquake"],
        }
    ]
}


def _page_keys(requests: list[dict]) -> Counter:
    """(window, search_id, cursor) of every data request, to spot a page asked twice."""
    keys: Counter = Counter()
    for request in requests:
        body = request["body"]
        body = json.loads(body) if isinstance(body, str) else body
        keys[(body.get("start_date"), body.get("search_id"), body.get("cursor"))] += 1
    return keys


def test_45_day_crawl_returns_exactly_the_sandbox_truth(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    config = {
        "query": QUERY,
        "start_date": "2024-01-10",
        "end_date": "2024-02-23",
        "max_count": 20,
        "window_days": 1,
    }
    result = run_crawl_inprocess("videos", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]

    truth = sandbox.dataset.truth_videos(QUERY, date(2024, 1, 10), date(2024, 2, 23))
    got = [v["id"] for v in result.of("videos")]
    assert len(truth) > 200  # the query spans many pages
    assert Counter(got) == Counter(v["id"] for v in truth)  # same set, nobody twice
    assert all(isinstance(i, int) and i > 2**53 for i in got)  # 64-bit ids, lossless

    requests = sandbox.requests()
    assert requests, "the sandbox saw no data request"
    assert max(_page_keys(requests).values()) == 1  # no page requested twice
    windows = {
        json.loads(r["body"])["start_date"]
        if isinstance(r["body"], str)
        else r["body"]["start_date"]
        for r in requests
    }
    assert len(windows) == 45  # one chain per day, no day missed
    assert result.stats["tiktok/requests_sent"] == len(requests)
    assert result.stats["tiktok/requests_per_page"] == 1.0
    assert result.stats["finish_reason"] == "finished"


def test_items_carry_every_field_and_provenance_and_pages_are_recorded(
    make_sandbox_process, tmp_path
):
    sandbox = make_sandbox_process()
    config = {
        "hashtags": ["flood"],
        "start_date": "20240105",
        "end_date": "20240106",
        "max_count": 5,
        "window_days": 1,
    }
    result = run_crawl_inprocess("videos", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    videos = result.of("videos")
    assert videos
    served = {
        v["id"]: v
        for v in sandbox.dataset.truth_videos(
            {"and": [{"field_name": "hashtag_name", "operation": "EQ", "field_values": ["flood"]}]},
            date(2024, 1, 5),
            date(2024, 1, 6),
        )
    }
    for video in videos:
        original = served[video["id"]]
        for key, value in original.items():
            if not key.startswith("_") and "\x00" not in str(value):
                assert video[key] == value, key
        crawl = video["_crawl"]
        assert crawl["endpoint"] == "videos"
        assert crawl["window"] in {"2024-01-05..2024-01-05", "2024-01-06..2024-01-06"}
        assert crawl["search_id"]
        assert crawl["crawled_at"].endswith("+00:00")
    # one page record per API response, with the response's metadata
    assert len(result.pages) == len(sandbox.requests())
    assert {p["status"] for p in result.pages} == {200}
    assert sum(p["items"] for p in result.pages) == len(videos)
    assert all(
        "secret" not in json.dumps(p) and SANDBOX_KEY not in json.dumps(p) for p in result.pages
    )
    last = [p for p in result.pages if p["has_more"] is False]
    assert len(last) == 2  # each window ends once


def test_output_flag_yields_videos_only(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    config = {"hashtags": ["storm"], "start_date": "2024-01-05", "end_date": "2024-01-05"}
    result = run_crawl_inprocess(
        "videos",
        config,
        sandbox.url,
        tmp_path,
        args=None,
        settings={"FEEDS": json.dumps({str(tmp_path / "mine.jsonl"): {"format": "jsonlines"}})},
    )
    assert result.returncode == 0, result.log[-3000:]
    lines = (tmp_path / "mine.jsonl").read_text().splitlines()
    assert lines and all(
        "id" in json.loads(line) and "video_description" in json.loads(line) for line in lines
    )
    assert (result.outdir / "pages.jsonl").exists()  # page records still go aside


def test_bad_config_is_one_line_without_traceback(tmp_path):
    config = {"hashtags": ["flood"], "start_date": "2024-02-10", "end_date": "2024-02-01"}
    result = run_crawl("videos", config, "http://127.0.0.1:9", tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.log
    assert "end_date" in result.log


def test_missing_credentials_stop_before_sending(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    config = {"hashtags": ["flood"], "start_date": "2024-01-05", "end_date": "2024-01-05"}
    result = run_crawl_inprocess(
        "videos",
        config,
        sandbox.url,
        tmp_path,
        settings={"TIKTOK_CLIENT_KEY": "", "TIKTOK_CLIENT_SECRET": ""},
    )
    assert "TIKTOK_CLIENT_KEY" in result.log
    assert result.stats.get("finish_reason") == "missing_credentials"
    assert sandbox.requests() == []
    assert sandbox.stats()["tokens_issued"] == 0


def test_a_missing_input_file_is_one_line_before_anything_is_sent(make_sandbox, tmp_path):
    sandbox = make_sandbox()
    result = run_crawl("users", {"usernames_file": "no_such_list.txt"}, sandbox.url, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.log
    assert "usernames_file" in result.log and "no_such_list.txt" in result.log
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("TIKTOK_QUOTA_ON_EXHAUSTED", "sleep", "stop, wait"),
        ("TIKTOK_TODAY", "10/03/2024", "YYYY-MM-DD"),
        ("CASSETTE_MODE", "replay-all", "record, replay, off"),
    ],
)
def test_a_bad_setting_is_one_line_before_anything_is_sent(tmp_path, setting, value, named):
    config = {"hashtags": ["flood"], "start_date": "2024-01-05", "end_date": "2024-01-05"}
    result = run_crawl("videos", config, "http://127.0.0.1:9", tmp_path, settings={setting: value})
    assert result.returncode == 2
    assert "Traceback" not in result.log
    assert setting in result.log and named in result.log
