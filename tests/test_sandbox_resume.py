"""A stopped sandbox crawl resumes with the same command: the JOBDIR's requests, queued for
the earlier run's sandbox, reach the new one (same port), not a closed port."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from crawling import collect, env_for_subprocess

from tiktok_scrapy.addons import SANDBOX_PORT_FILE

pytestmark = pytest.mark.integration

CONFIG = {"hashtags": ["flood", "storm"], "start_date": "2024-01-01", "end_date": "2024-01-20"}


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
    assert first.returncode == 0, first.stderr[-3000:]
    port = (tmp_path / "job" / SANDBOX_PORT_FILE).read_text()
    assert port.isdigit()
    second = crawl(tmp_path)
    result = collect(second.returncode, second.stderr, tmp_path / "out")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"Sandbox started at http://127.0.0.1:{port}" in second.stderr
    assert "Connection refused" not in second.stderr
    assert result.stats["finish_reason"] == "finished"
    assert "tiktok/chains/failed" not in result.stats
    assert result.stats.get("tiktok/retry/count", 0) == 0
