"""A stopped sandbox crawl resumes with the same command: the built-in sandbox listens on a
new port each run, and the resumed chains (re-issued from the checkpoints, no queued
requests) reach it, not the earlier run's closed port."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from crawling import collect, env_for_subprocess

from tiktok_scrapy.sandbox.dataset import Dataset

pytestmark = pytest.mark.integration

CONFIG = {
    "hashtags": ["flood", "storm"],
    "start_date": "2024-01-01",
    "end_date": "2024-01-20",
    "window_days": 1,  # twenty chains: four requests leave most of them for the resume
}


def crawl(tmp_path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "scrapy", "crawl", "videos",
        "-a", f"config={json.dumps(CONFIG)}",
        "-s", "TIKTOK_SANDBOX=true",
        "-s", f"JOBDIR={tmp_path / 'job'}",
        "-s", f"TIKTOK_OUTPUT_DIR={tmp_path / 'out'}",
        "-s", "CONCURRENT_REQUESTS=2",
        *extra,
    ]  # fmt: skip
    env = {**env_for_subprocess(), "HOME": str(tmp_path / "home")}
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_resume_reaches_the_sandbox(tmp_path):
    first = crawl(tmp_path, "-a", "max_requests=4")
    assert first.returncode == 3, first.stderr[-3000:]  # stopped by its budget: resumable
    second = crawl(tmp_path)
    result = collect(second.returncode, second.stderr, tmp_path / "out")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Connection refused" not in second.stderr
    assert result.stats["finish_reason"] == "finished"
    query = {"and": [{"field_name": "hashtag_name", "operation": "IN",
                      "field_values": ["flood", "storm"]}]}  # fmt: skip
    from datetime import date

    truth = Dataset.generate(seed=0).truth_videos(query, date(2024, 1, 1), date(2024, 1, 20))
    assert {v["id"] for v in result.of("videos")} == {v["id"] for v in truth}
    assert "tiktok/chains/failed" not in result.stats
    assert result.stats.get("tiktok/retry/count", 0) == 0
