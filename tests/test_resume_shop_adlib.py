"""kill -9 and resume for the new pagination kinds: Shop page numbers, ad-library search_ids.

``products`` (one chain per shop, numbered pages) and ``ads`` (one chain per search term,
each page asked for with the search_id the previous page returned) are killed twice at
random points and resumed with the same JOBDIR until they finish. The union of their JSON
Lines equals the sandbox's truth; repeats come only from pages in flight at a kill.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from crawling import collect, crawl_command, env_for_subprocess, read_jsonl

from tiktok_scrapy.sandbox import adlib, shop

pytestmark = pytest.mark.integration

SETTINGS = {"CONCURRENT_REQUESTS": 4, "CONCURRENT_REQUESTS_PER_DOMAIN": 4}
KILLS = 2


def _crawl_killed_and_resumed(sandbox, tmp_path: Path, spider: str, config: dict, seed: int):
    """Run, kill -9 after a random number of requests, resume; return (result, kills)."""
    rng = random.Random(seed)
    jobdir = tmp_path / "job"
    settings = {**SETTINGS, "JOBDIR": str(jobdir)}
    kills = 0
    for run in range(1, KILLS + 5):
        command, outdir = crawl_command(spider, config, sandbox.url, tmp_path, settings)
        log_path = tmp_path / f"run{run}.log"
        with log_path.open("w") as log_file:
            proc = subprocess.Popen(
                command, cwd=tmp_path, env=env_for_subprocess(), stdout=log_file, stderr=log_file
            )
        killed = False
        if kills < KILLS:
            target = len(sandbox.requests()) + rng.randint(2, 6)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if len(sandbox.requests()) >= target:
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
                time.sleep(0.005)
        proc.wait(timeout=120)
        log = log_path.read_text()
        if killed:
            kills += 1
            continue
        assert proc.returncode == 0, log[-3000:]
        return collect(proc.returncode, log, outdir), kills
    raise AssertionError("the crawl did not finish")


def test_products_resume_after_kill_9(make_sandbox, tmp_path: Path) -> None:
    sandbox = make_sandbox(latency_ms=40)
    data = shop.of(sandbox.dataset)
    shop_ids = [s["shop_id"] for s in data.shops]
    result, kills = _crawl_killed_and_resumed(
        sandbox, tmp_path, "products", {"shop_ids": shop_ids, "max_count": 5}, seed=3
    )
    assert kills == KILLS
    products = read_jsonl(result.outdir / "products.jsonl")
    counts = Counter(p["product_id"] for p in products)
    truth = {p["product_id"] for s in shop_ids for p in data.products(s)}
    assert set(counts) == truth  # nothing lost, nothing foreign
    assert sum(n - 1 for n in counts.values()) <= KILLS * SETTINGS["CONCURRENT_REQUESTS"] * 5
    assert result.stats["finish_reason"] == "finished"


def test_ads_resume_after_kill_9_with_their_search_ids(make_sandbox, tmp_path: Path) -> None:
    sandbox = make_sandbox(latency_ms=40)
    library = adlib.of(sandbox.dataset)
    terms = ["sale", "coffee", "mobile"]
    config = {
        "start_date": "2022-10-01",
        "end_date": "2024-03-31",
        "search_terms": terms,
        "max_count": 10,
    }
    result, kills = _crawl_killed_and_resumed(sandbox, tmp_path, "ads", config, seed=11)
    assert kills == KILLS
    ads = read_jsonl(result.outdir / "ads.jsonl")
    counts = Counter(a["ad_id"] for a in ads)
    truth = {a["ad"]["id"] for t in terms for a in library.query_ads(20221001, 20240331, "ALL", t)}
    assert set(counts) == truth
    assert sum(n - 1 for n in counts.values()) <= KILLS * SETTINGS["CONCURRENT_REQUESTS"] * 10
    resumed = [r["body"] for r in sandbox.requests("ads")]
    assert sum("search_id" in (b if isinstance(b, dict) else {}) for b in resumed) > len(terms)
    assert result.stats["finish_reason"] == "finished"
