"""Progress: a live bar on a terminal, log lines with %, ETA and quota elsewhere, a last word."""

from __future__ import annotations

import io
import os
import subprocess

import pytest
from crawling import crawl_command, env_for_subprocess
from inprocess import run_crawl_inprocess

from tiktok_scrapy.extensions.progress import Snapshot, hms, use_bar

QUERY = {
    "hashtags": ["flood"],
    "start_date": "2024-01-01",
    "end_date": "2024-01-06",
    "window_days": 1,  # six chains to count
}


def snapshot(**changes) -> Snapshot:
    values = dict(
        chains=8,
        done=2,
        failed=1,
        pages=10,
        items=500,
        requests=12,
        elapsed=60.0,
        quota_left={"main": (988, 1000)},
    )
    return Snapshot(**{**values, **changes})


def test_the_line_has_percent_eta_and_quota_left():
    line = snapshot().line()
    assert "2/8 chains done (25%)" in line and "1 failed" in line
    assert "quota left today: main 988/1000" in line
    assert "ETA about 3m00s" in line  # 6 chains left at 30 s a chain
    assert "ETA unknown" in snapshot(done=0).line()
    assert "all chains done" in snapshot(done=8).line()
    assert snapshot(chains=0, done=0).eta is None
    assert "quota left today: unknown" in snapshot(quota_left={}).line()
    assert hms(3725) == "1h02m" and hms(59.6) == "1m00s" and hms(4) == "4s"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_for_terminals_only():
    assert use_bar("auto", None, Tty()) is True
    assert use_bar("auto", "crawl.log", Tty()) is False  # a log file: lines, not a bar
    assert use_bar("auto", None, io.StringIO()) is False  # scrapyd, cron, a pipe
    assert use_bar("log", None, Tty()) is False and use_bar("bar", None, io.StringIO()) is True


@pytest.mark.integration
def test_log_lines_when_not_on_a_terminal(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process(latency_ms=120)
    settings = {"TIKTOK_PROGRESS_INTERVAL": "0.3", "CONCURRENT_REQUESTS": "2"}
    result = run_crawl_inprocess("videos", QUERY, sandbox.url, tmp_path, settings=settings)
    assert result.returncode == 0, result.log[-3000:]
    lines = [line for line in result.log.splitlines() if "Progress: " in line]
    assert lines, result.log[-3000:]
    assert "chains done (" in lines[0] and "%)" in lines[0]
    assert "quota left today: main " in lines[0] and "ETA" in lines[0]
    end = next(line for line in result.log.splitlines() if "Progress at the end" in line)
    assert "6/6 chains done (100%)" in end and "all chains done" in end
    assert "without a single record" not in result.log


@pytest.mark.integration
def test_a_live_bar_on_a_terminal(make_sandbox, tmp_path):
    sandbox = make_sandbox(latency_ms=150)
    command, outdir = crawl_command(
        "videos", QUERY, sandbox.url, tmp_path, settings={"CONCURRENT_REQUESTS": "2"}
    )
    tmp_path.mkdir(exist_ok=True)
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env_for_subprocess(), stdout=follower, stderr=follower
    )
    os.close(follower)
    output = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the crawl closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 0, output[-3000:]
    text = output.decode("utf-8", "replace")
    assert "━" in text and "chains" in text and "quota left today: main" in text
    assert "Spider closed (finished)" in text  # log records still reach the terminal
    assert (outdir / "videos.jsonl").exists()


@pytest.mark.integration
def test_a_query_that_matches_nothing_says_so(sandbox, tmp_path):
    config = {**QUERY, "hashtags": ["no_such_tag_anywhere"]}
    result = run_crawl_inprocess("videos", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert "The crawl finished without a single record" in result.log


def test_a_quota_wait_replaces_the_eta():
    """Requests held for the daily reset: the line says how long, not an ETA of seconds."""
    line = snapshot(quota_wait=3 * 3600 + 60).line()
    assert f"waiting {hms(3 * 3600 + 60)} for the daily quota to reset" in line
    assert "ETA" not in line
