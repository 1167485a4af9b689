"""Pause and resume: kill -9 and Ctrl-C mid-crawl, resume with the same JOBDIR, lose nothing.

Each test crawls a sandbox with latency in a subprocess, interrupts it when the sandbox
has seen a random number of requests, and resumes until the crawl finishes. Then:
- the union of the JSON Lines output equals the sandbox's truth;
- duplicates come only from pages in flight at an interruption (at most one page per
  chain in flight, each of at most ``max_count`` videos);
- requests sent exceed a clean run's by at most the chains in flight at each interruption,
  measured per chain (sandbox requests minus committed pages) after each kill: no chain
  loses more than the one page it had in flight. That can be more chains than
  CONCURRENT_REQUESTS: a page received and still handing on its items holds no download slot.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from crawling import ALL_VIDEOS, collect, crawl_command, env_for_subprocess, read_jsonl
from inprocess import run_crawl_inprocess

pytestmark = pytest.mark.integration

QUERY = ALL_VIDEOS
START, END = date(2024, 2, 1), date(2024, 2, 10)
MAX_COUNT = 10
CONCURRENCY = 4
CONFIG = {
    "query": QUERY,
    "start_date": START.isoformat(),
    "end_date": END.isoformat(),
    "max_count": MAX_COUNT,
}
SETTINGS = {"CONCURRENT_REQUESTS": CONCURRENCY, "CONCURRENT_REQUESTS_PER_DOMAIN": CONCURRENCY}


def _chain_of(body: dict) -> str:
    """The chain a video request belongs to: its window, and the part of a busy day an
    adaptive cut gave it (``:video_length=X``, an EQ condition the spider appended)."""
    chain = f"videos:{body['start_date']}-{body['end_date']}"
    for condition in body["query"].get("and", []):
        if condition.get("field_name") == "video_length" and condition.get("operation") == "EQ":
            chain += f":video_length={condition['field_values'][0]}"
    return chain


def _waste_by_chain(sandbox, jobdir: Path) -> Counter[str]:
    """Per chain: requests the sandbox answered minus pages its checkpoint committed.

    Run once the crawl process is gone and the sandbox has answered what it received, so
    that both sides are final; what a kill costs a chain is the growth of this number.
    """
    deadline = time.monotonic() + 30
    while sandbox.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.01)
    sent = Counter(_chain_of(r["body"]) for r in sandbox.requests("videos"))
    committed: dict[str, int] = {}
    path = jobdir / "tiktok_checkpoints.sqlite"
    if path.exists():
        with sqlite3.connect(path) as db:
            committed = dict(db.execute("SELECT id, page FROM chains"))
    return Counter({chain: n - committed.get(chain, 0) for chain, n in sent.items()})


def _interrupt_when(sandbox, proc: subprocess.Popen, target: int, sig: int) -> bool:
    """Send ``sig`` once the sandbox has seen ``target`` data requests; False if it ended."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if len(sandbox.requests()) >= target:
            proc.send_signal(sig)
            return True
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("the crawl neither progressed nor ended within 60 s")


def _crawl_with_interruptions(make_sandbox, tmp_path: Path, sig: int, times: int, seed: int):
    clean = make_sandbox(latency_ms=0)
    baseline = run_crawl_inprocess(
        "videos", CONFIG, clean.url, tmp_path / "clean", settings=SETTINGS
    )
    assert baseline.returncode == 0, baseline.log[-2000:]
    minimum = len(clean.requests())

    sandbox = make_sandbox(latency_ms=60)
    work = tmp_path / "resumed"
    work.mkdir()
    jobdir = work / "crawls" / "job"
    settings = {**SETTINGS, "JOBDIR": str(jobdir)}
    rng = random.Random(seed)
    in_flight: list[int] = []  # chains in flight at each interruption
    wasted: Counter[str] = Counter()
    runs = 0
    while True:
        runs += 1
        command, outdir = crawl_command("videos", CONFIG, sandbox.url, work, settings)
        log_path = work / f"run{runs}.log"  # a file, not a pipe: a full pipe blocks the crawl
        with log_path.open("w") as log_file:
            proc = subprocess.Popen(
                command,
                cwd=work,
                env=env_for_subprocess(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        seen = len(sandbox.requests())
        interrupted = False
        if len(in_flight) < times:
            target = seen + rng.randint(1, max(1, (minimum - seen) // 2))
            interrupted = _interrupt_when(sandbox, proc, target, sig)
        proc.wait(timeout=120)
        if interrupted:
            # The pages a kill cost: at most the one page each chain had in flight (sent,
            # or received with its items not all handed on), never more.
            waste = _waste_by_chain(sandbox, jobdir)
            grown = {chain: n - wasted[chain] for chain, n in waste.items() if n > wasted[chain]}
            assert all(n == 1 for n in grown.values()), grown
            in_flight.append(len(grown))
            wasted = waste
        log = log_path.read_text()
        if not interrupted:
            assert proc.returncode == 0, log[-3000:]
            break
        assert runs < times + 5, "too many runs"
    result = collect(proc.returncode, log, outdir)
    return sandbox, result, minimum, in_flight, jobdir, work


def _assert_nothing_lost_nothing_twice(sandbox, result, minimum, in_flight):
    truth = {v["id"] for v in sandbox.dataset.truth_videos(QUERY, START, END)}
    videos = read_jsonl(result.outdir / "videos.jsonl")
    counts = Counter(v["id"] for v in videos)
    assert set(counts) == truth  # every video present, nothing foreign
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= sum(in_flight) * MAX_COUNT
    sent = len(sandbox.requests())
    assert sent - minimum <= sum(in_flight), (sent, minimum, in_flight)
    assert result.stats["finish_reason"] == "finished"
    return duplicates


def test_kill_9_five_times_then_resume(make_sandbox, tmp_path):
    sandbox, result, minimum, in_flight, jobdir, work = _crawl_with_interruptions(
        make_sandbox, tmp_path, signal.SIGKILL, times=5, seed=20241123
    )
    assert len(in_flight) == 5
    duplicates = _assert_nothing_lost_nothing_twice(sandbox, result, minimum, in_flight)
    print(
        f"kill -9 x5: {len(sandbox.requests())} requests for {minimum} pages, "
        f"{duplicates} duplicate lines, in flight {in_flight}"
    )

    # Once finished, the same command says so and sends nothing.
    before = len(sandbox.requests())
    again = run_crawl_inprocess(
        "videos", CONFIG, sandbox.url, work, settings={**SETTINGS, "JOBDIR": str(jobdir)}
    )
    assert again.returncode == 0
    assert "is complete: nothing to do" in again.log
    assert len(sandbox.requests()) == before
    assert sandbox.stats()["tokens_issued"] >= 1


def test_ctrl_c_once_is_graceful_and_resumes(make_sandbox, tmp_path):
    sandbox, result, minimum, in_flight, _, _ = _crawl_with_interruptions(
        make_sandbox, tmp_path, signal.SIGINT, times=2, seed=7
    )
    assert len(in_flight) == 2
    _assert_nothing_lost_nothing_twice(sandbox, result, minimum, in_flight)
    pages = read_jsonl(result.outdir / "pages.jsonl")
    assert pages and all(p["status"] == 200 for p in pages)


def test_resume_with_another_config_is_refused(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    jobdir = tmp_path / "job"
    small = {**CONFIG, "end_date": START.isoformat()}
    first = run_crawl_inprocess(
        "videos", small, sandbox.url, tmp_path, settings={"JOBDIR": str(jobdir)}
    )
    assert first.stats["finish_reason"] == "finished"
    stored = json.loads(
        sqlite3.connect(jobdir / "tiktok_checkpoints.sqlite")
        .execute("SELECT value FROM job WHERE key = 'config'")
        .fetchone()[0]
    )
    assert stored["start_date"] == START.isoformat()
    other = {**small, "max_count": 5}
    refused = run_crawl_inprocess(
        "videos", other, sandbox.url, tmp_path, settings={"JOBDIR": str(jobdir)}
    )
    assert refused.stats["finish_reason"] == "config_mismatch"
    assert "different config" in refused.log and "force=true" in refused.log
    assert "Traceback" not in refused.log
