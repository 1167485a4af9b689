"""``scrapy plan`` says what a daily ledger and a JOBDIR already hold, and what
``max_requests`` cannot cover; the built-in sandbox has a ledger and client of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from crawling import SANDBOX_KEY, env_for_subprocess
from inprocess import run_crawl_inprocess

from tiktok_scrapy.planning import budget_warning
from tiktok_scrapy.quota_ledger import SANDBOX_CLIENT_KEY, Client

QUICK = (
    '{"hashtags": ["flood"], "start_date": "2024-01-01", "end_date": "2024-01-04",'
    ' "window_days": 1}'
)


def scrapy(tmp_path: Path, *argv: str, env: dict | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", *argv],
        cwd=tmp_path,
        env=env or env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_budget_warnings():
    assert "below the minimum of 5" in budget_warning(5, None, 3)
    assert "below the bound of 40" in budget_warning(5, 40, 30)
    assert "no upper bound" in budget_warning(5, None, 30)
    assert budget_warning(5, 40, 50) is None and budget_warning(5, None, None) is None


def test_the_sandbox_is_one_client_whatever_its_port():
    a = Client.from_key(SANDBOX_CLIENT_KEY, "http://127.0.0.1:41001")
    b = Client.from_key(SANDBOX_CLIENT_KEY, "http://127.0.0.1:41002/")
    assert a == b and str(a).startswith("built-in sandbox (")
    assert Client.from_key("k", "http://127.0.0.1:1") != Client.from_key("k", "http://127.0.0.1:2")


@pytest.mark.integration
def test_sandbox_runs_book_to_one_ledger_shown_by_scrapy_quota(tmp_path):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    tmp.mkdir()
    env = {**env_for_subprocess(), "HOME": str(home), "TMPDIR": str(tmp)}
    sandbox = ("-s", "TIKTOK_SANDBOX=true")
    for _ in range(2):
        status, log = scrapy(
            tmp_path, "crawl", "videos", "-a", f"config={QUICK}", *sandbox, env=env
        )
        assert status == 0, log[-3000:]
    status, text = scrapy(tmp_path, "quota", *sandbox, env=env)
    assert status == 0, text
    assert "built-in sandbox" in text and "No client key" not in text
    assert "main         8/1000" in text  # 4 windows, twice: one client, one ledger
    assert (home / ".local/share/tiktok-scrapy/sandbox-quota.sqlite").exists()
    assert not (home / ".local/share/tiktok-scrapy/quota.sqlite").exists()  # real one untouched
    assert list(tmp.iterdir()) == []  # no tiktok-sandbox-* folder left behind
    status, text = scrapy(tmp_path, "quota", "--all", *sandbox, env=env)
    assert text.count("client ") == 1
    status, text = scrapy(tmp_path, "plan", "videos", "-a", f"config={QUICK}", *sandbox, env=env)
    assert "left today: 992" in text


@pytest.mark.integration
def test_plan_skips_what_a_jobdir_finished(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    ledger = tmp_path / "quota.sqlite"
    jobdir = tmp_path / "job"
    config = json.loads(QUICK)
    result = run_crawl_inprocess(
        "videos", {**config, "max_requests": 2}, sandbox.url, tmp_path, {"JOBDIR": jobdir}
    )
    assert result.stats["finish_reason"] == "max_requests", result.log[-2000:]
    status, text = scrapy(
        tmp_path,
        "plan",
        "videos",
        "-a",
        f"config={QUICK}",
        "-s",
        f"JOBDIR={jobdir}",
        "-s",
        f"TIKTOK_CLIENT_KEY={SANDBOX_KEY}",
        "-s",
        f"TIKTOK_QUOTA_LEDGER={ledger}",
        "-s",
        f"TIKTOK_API_URL={sandbox.url}",
    )
    assert status == 0, text
    assert "2 of 4 chains already finished there" in text and "chains: 2" in text


@pytest.mark.integration
def test_plan_shows_the_days_daily_mode_already_crawled(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    config = {
        "hashtags": ["flood"],
        "mode": "daily",
        "start_date": "2024-01-01",
        "lag_days": 2,
    }
    today = {"TIKTOK_TODAY": "2024-01-05", "TIKTOK_STATE_DIR": str(tmp_path / "state")}
    result = run_crawl_inprocess("videos", config, sandbox.url, tmp_path, today)
    assert result.returncode == 0, result.log[-2000:]

    settings = [("-s", f"{k}={v}") for k, v in {**today, "TIKTOK_TODAY": "2024-01-06"}.items()]
    status, text = scrapy(
        tmp_path,
        "plan",
        "videos",
        "-a",
        f"config={json.dumps(config)}",
        *[a for pair in settings for a in pair],
    )
    assert status == 0, text
    assert "3 day(s) already crawled" in text and "new days: 2024-01-04;" in text
    assert "chains: 1 " in text
