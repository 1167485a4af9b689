"""``scrapy plan``: prints chains and a request bound; the real crawl stays within it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from crawling import SANDBOX_KEY, env_for_subprocess, run_crawl
from inprocess import run_crawl_inprocess

from tiktok_scrapy.planning import estimate, network_estimate, pages_bound, total_bound

pytestmark = pytest.mark.integration


def run_plan(spider: str, config: str, tmp_path, ledger) -> tuple[int, str]:
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "plan",
        spider,
        "-a",
        f"config={config}",
        "-s",
        f"TIKTOK_CLIENT_KEY={SANDBOX_KEY}",
        "-s",
        f"TIKTOK_QUOTA_LEDGER={ledger}",
    ]
    proc = subprocess.run(
        command,
        cwd=tmp_path,
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def printed_bound(text: str) -> tuple[int, int | None]:
    found = re.search(r"^total: min (\d+), bound (\d+|none)$", text, re.M)
    assert found, text
    return int(found[1]), None if found[2] == "none" else int(found[2])


@pytest.mark.parametrize(
    "spider,config",
    [
        ("users", '{"usernames": ["user_56cfd741", "user_373e2190", "nobody_here"]}'),
        ("comments", "MANY_COMMENTS"),
        (
            "videos",
            '{"hashtags": ["fyp"], "start_date": "2024-01-01", "end_date": "2024-02-20",'
            ' "max_count": 20, "max_requests": 25}',
        ),
        (
            "network",
            '{"seeds": ["user_56cfd741"], "depth": 2, "max_users_per_level": 5,'
            ' "max_edges_per_user": 30, "max_count": 20}',
        ),
    ],
)
def test_the_real_spend_is_within_the_printed_bound(spider, config, make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    if config == "MANY_COMMENTS":
        ids = sandbox.dataset.many_comments_video_ids[:2]
        config = json.dumps({"video_ids": ids, "max_count": 100})
    ledger = tmp_path / "quota.sqlite"
    code, text = run_plan(spider, config, tmp_path, ledger)
    assert code == 0, text
    assert "left today: 1000" in text  # read from the (empty) ledger
    minimum, bound = printed_bound(text)
    assert bound is not None
    assert sandbox.requests() == []  # planning sent nothing
    result = run_crawl_inprocess(spider, config, sandbox.url, tmp_path)
    budget = "max_requests" in config  # stopped by its budget: incomplete, resumable (3)
    assert result.returncode == (3 if budget else 0), result.log[-3000:]
    spent = len(sandbox.requests())
    assert minimum <= spent <= bound, (spent, text)
    if spider == "users":
        assert spent == bound == 3
    if spider == "comments":
        assert spent == bound == 20  # over 1,000 comments each: 10 pages of 100


def test_plan_refuses_a_bad_config_in_one_line(tmp_path):
    code, text = run_plan("videos", '{"hashtags": ["x"]}', tmp_path, tmp_path / "q.sqlite")
    assert code == 2 and "start_date" in text and "Traceback" not in text


def test_unbounded_work_is_said_to_be_unbounded():
    families = estimate([("videos", None), ("videos", None)])
    assert families["main"].minimum == 2 and families["main"].bound is None
    assert total_bound(families, None) is None and total_bound(families, 40) == 40
    assert pages_bound("comments", 30) == 34 and pages_bound("users", 100) == 1
    net = network_estimate(2, 2, 2, None, 50, 100)
    assert net["main"].bound is None and net["follow"].bound is None


def test_crawl_dry_run_prints_the_plan_and_sends_nothing(make_sandbox, tmp_path):
    sandbox = make_sandbox()
    config = {"usernames": ["user_a", "user_b", "user_a"]}
    result = run_crawl("users", config, sandbox.url, tmp_path, args={"dry_run": "true"})
    assert result.returncode == 0, result.log[-2000:]
    assert "nothing is sent" in result.log
    assert "users:username=user_a" in result.log and "users:username=user_b" in result.log
    assert sandbox.requests() == [] and sandbox.stats()["tokens_issued"] == 0


def test_plan_says_how_adaptive_windows_spend(tmp_path):
    config = '{"hashtags": ["foryou"], "start_date": "2024-01-01", "end_date": "2024-03-01"}'
    code, text = run_plan("videos", config, tmp_path, tmp_path / "quota.sqlite")
    assert code == 0, text
    assert "adaptive windows: 3 of up to 30 days" in text and "total: min 3, bound none" in text
    fixed = config.replace("}", ', "window_days": 7}')
    code, text = run_plan("videos", fixed, tmp_path, tmp_path / "quota.sqlite")
    assert "adaptive" not in text.split("quota:")[0] and "total: min 9" in text
