"""A crawl that is incomplete says so: reason, exit status, stats; resumed, it is exact.

Each scenario is a real ``scrapy crawl`` subprocess against the sandbox: faults that used
to end a crawl as ``finished`` with data missing, resumes that used to go astray, and the
JOBDIR misuses that used to hang or lose a feed.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from crawling import ALL_VIDEOS, crawl_command, env_for_subprocess, run_crawl
from inprocess import run_crawl_inprocess

from tiktok_scrapy.chains.lock import JobdirLock
from tiktok_scrapy.chains.store import CheckpointStore
from tiktok_scrapy.verdict import (
    EXIT_AUTH,
    EXIT_INCOMPLETE,
    EXIT_QUOTA,
    EXIT_USAGE,
    REASONS,
    exit_status,
)

pytestmark = pytest.mark.integration

START, END = date(2024, 1, 1), date(2024, 1, 5)
CONFIG = {
    "query": ALL_VIDEOS,
    "start_date": START.isoformat(),
    "end_date": END.isoformat(),
    "max_count": 10,
    "window_days": 1,
}
SANDBOX_NOW = "2024-06-01T10:00:00Z"


def truth(sandbox, start=START, end=END) -> Counter:
    return Counter(v["id"] for v in sandbox.dataset.truth_videos(ALL_VIDEOS, start, end))


def ids(result) -> Counter:
    return Counter(v["id"] for v in result.of("videos"))


def error_lines(text: str) -> list[str]:
    """The lines a refused command printed for the user (Scrapy's start-up log aside)."""
    assert "Traceback" not in text, text[-3000:]
    return [line for line in text.splitlines() if line.startswith("error: ")]


def run_raw(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        command,
        cwd=cwd,
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_exit_status_table_covers_every_documented_reason():
    assert exit_status("finished", "complete") == 0
    assert exit_status("finished", "incomplete") == EXIT_INCOMPLETE  # never 0 with data missing
    assert exit_status("quota_exhausted", "incomplete") == EXIT_QUOTA
    assert exit_status("invalid_credentials", "incomplete") == EXIT_AUTH
    assert exit_status("something_new", None) == EXIT_INCOMPLETE
    docs = (Path(__file__).parents[1] / "docs" / "resume.md").read_text()
    for reason in REASONS:
        assert f"`{reason}`" in docs, f"docs/resume.md does not document {reason}"


def test_resume_goes_to_this_runs_api_after_its_address_changed(make_sandbox_process, tmp_path):
    first = make_sandbox_process(clock=SANDBOX_NOW)
    jobdir = {"JOBDIR": str(tmp_path / "job")}
    stopped = run_crawl_inprocess(
        "videos", {**CONFIG, "max_requests": 8}, first.url, tmp_path, jobdir
    )
    assert stopped.returncode == EXIT_INCOMPLETE, stopped.log[-3000:]
    assert stopped.stats["finish_reason"] == "max_requests"
    assert stopped.stats["tiktok/verdict"] == "incomplete"
    first.stop()  # the old address is gone; the new sandbox listens elsewhere
    second = make_sandbox_process(clock=SANDBOX_NOW)
    assert second.url != first.url
    resumed = run_crawl_inprocess("videos", CONFIG, second.url, tmp_path, jobdir)
    assert resumed.returncode == 0, resumed.log[-3000:]
    # A search_id of the old server is refused once per chain, not retried.
    refused = Counter(
        (r["body"]["start_date"], r["body"]["end_date"])
        for r in second.requests()
        if r["status"] == 400
    )
    assert refused and max(refused.values()) == 1, refused
    assert "Connection refused" not in resumed.log
    assert ids(resumed) == truth(second)
    assert resumed.stats["tiktok/verdict"] == "complete"
    assert len(resumed.stats_file["runs"]) == 2  # stats.json covers both runs
    assert resumed.stats_file["item_scraped_count"] == sum(truth(second).values())


def test_a_second_crawl_on_a_jobdir_in_use_gets_one_line(make_sandbox, tmp_path):
    sandbox = make_sandbox(clock=SANDBOX_NOW)
    jobdir = tmp_path / "job"
    lock = JobdirLock(jobdir).acquire()  # another crawl holds it
    try:
        result = run_crawl("videos", CONFIG, sandbox.url, tmp_path, {"JOBDIR": str(jobdir)})
    finally:
        lock.release()
    assert result.returncode == EXIT_USAGE
    [line] = error_lines(result.log)
    assert "is in use by another crawl" in line
    assert not sandbox.requests()


def test_minus_O_on_a_started_jobdir_is_refused(make_sandbox, tmp_path):
    sandbox = make_sandbox(clock=SANDBOX_NOW)
    jobdir = {"JOBDIR": str(tmp_path / "job")}
    run_crawl("videos", {**CONFIG, "max_requests": 5}, sandbox.url, tmp_path, jobdir)
    sent = len(sandbox.requests())
    command, _ = crawl_command("videos", CONFIG, sandbox.url, tmp_path, jobdir)
    proc = run_raw([*command, "-O", str(tmp_path / "all.jsonl")], tmp_path)
    assert proc.returncode == EXIT_USAGE
    [line] = error_lines(proc.stderr)
    assert "use -o to append" in line
    assert len(sandbox.requests()) == sent


def test_a_damaged_checkpoint_file_is_one_line(make_sandbox, tmp_path):
    sandbox = make_sandbox(clock=SANDBOX_NOW)
    jobdir = tmp_path / "job"
    jobdir.mkdir()
    (jobdir / CheckpointStore.FILENAME).write_bytes(b"not a database" * 100)
    result = run_crawl("videos", CONFIG, sandbox.url, tmp_path, {"JOBDIR": str(jobdir)})
    assert result.returncode == EXIT_USAGE
    [line] = error_lines(result.log)
    assert "damaged" in line
    assert not sandbox.requests()


def test_csv_feed_appended_on_resume_keeps_one_header_and_every_field(make_sandbox, tmp_path):
    sandbox = make_sandbox(clock=SANDBOX_NOW)
    jobdir = {"JOBDIR": str(tmp_path / "job")}
    feed = tmp_path / "videos.csv"
    for config in ({**CONFIG, "max_requests": 6}, CONFIG):
        command, _ = crawl_command("videos", config, sandbox.url, tmp_path, jobdir)
        run_raw([*command, "-o", f"{feed}:csv"], tmp_path)
    lines = feed.read_text().splitlines()
    header = lines[0].split(",")
    assert sum(1 for line in lines if line.startswith(lines[0])) == 1
    assert "id" in header and "create_time" in header and "_crawl" not in header[:1]
    import csv

    rows = list(csv.DictReader(feed.open()))
    assert Counter(int(r["id"]) for r in rows) == truth(sandbox)


def test_a_search_id_that_expires_fast_costs_bounded_requests_and_loses_nothing(
    make_sandbox, tmp_path
):
    sandbox = make_sandbox(clock=SANDBOX_NOW, search_id_ttl=25)
    state = sandbox.state
    record = state.record

    def advance(*args, **kwargs):  # 10 s of sandbox time a request: ~3 pages a search_id
        record(*args, **kwargs)
        state.clock.advance(10)

    state.record = advance
    config = {**CONFIG, "end_date": "2024-01-03", "window_days": 3}  # one chain, ~12 pages
    result = run_crawl_inprocess(
        "videos", config, sandbox.url, tmp_path, {"JOBDIR": str(tmp_path / "j")}
    )
    expected = truth(sandbox, START, date(2024, 1, 3))
    pages = -(-sum(expected.values()) // 10)
    sent = len(sandbox.requests())
    assert sent <= 3 * pages, (sent, pages)  # bounded: never restarted from the top
    if result.returncode == 0:
        assert ids(result) == expected
    else:  # honest, and a resume once search_ids live longer completes it
        assert result.returncode == EXIT_INCOMPLETE
        state.record = record
        state.set_options(search_id_ttl=0)
        again = run_crawl_inprocess(
            "videos", config, sandbox.url, tmp_path, {"JOBDIR": str(tmp_path / "j")}
        )
        assert again.returncode == 0, again.log[-3000:]
        result = again
    assert ids(result) == expected
    assert result.stats_file.get("tiktok/chains/restarted", 0) > 0  # over both runs


def test_an_outage_of_one_day_is_incomplete_bounded_and_exact_after_it(make_sandbox, tmp_path):
    sandbox = make_sandbox(clock=SANDBOX_NOW, outage_day="2024-01-03")
    jobdir = {"JOBDIR": str(tmp_path / "job"), "TIKTOK_RETRY_TIMES": 2}
    result = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, jobdir)
    assert result.returncode == EXIT_INCOMPLETE, result.log[-3000:]
    assert result.stats["finish_reason"] == "incomplete_chains"
    assert result.stats["finish_reason"] != "finished"
    failed = [r for r in sandbox.requests() if r["status"] == 500]
    # the day, then its four video_length parts, each tried 1 + 2 times
    assert len(failed) <= 5 * 3, len(failed)
    assert "Retry what is missing with: scrapy crawl videos" in result.log
    sandbox.state.set_options(outage_day=None)
    again = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, jobdir)
    assert again.returncode == 0, again.log[-3000:]
    assert ids(again) == truth(sandbox)
    stats = json.loads((again.outdir / "stats.json").read_text())
    assert stats["tiktok/verdict"] == "complete" and len(stats["runs"]) == 2


def test_quota_and_credentials_end_with_their_own_exit_status(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process(clock=SANDBOX_NOW)
    spent = run_crawl_inprocess(
        "videos",
        CONFIG,
        sandbox.url,
        tmp_path / "quota",
        {"TIKTOK_QUOTA_DAILY_REQUESTS": json.dumps({"main": 3, "follow": 10})},
    )
    assert spent.returncode == EXIT_QUOTA, spent.log[-3000:]
    assert spent.stats["tiktok/verdict"] == "incomplete"
    wrong = run_crawl_inprocess(
        "videos", CONFIG, sandbox.url, tmp_path / "auth", {"TIKTOK_CLIENT_SECRET": "wrong"}
    )
    assert wrong.returncode == EXIT_AUTH, wrong.log[-3000:]
    assert "wrong" not in wrong.log


def test_nothing_to_do_is_complete_and_keeps_the_totals(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process(clock=SANDBOX_NOW)
    jobdir = {"JOBDIR": str(tmp_path / "job")}
    first = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, jobdir)
    assert first.returncode == 0, first.log[-3000:]
    again = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, jobdir)
    assert again.returncode == 0, again.log[-3000:]
    assert again.stats["finish_reason"] == "already_finished"
    assert again.stats["tiktok/verdict"] == "complete"
    assert again.stats_file["item_scraped_count"] == sum(truth(sandbox).values())  # both runs
    assert "Resume with" not in again.log and "Retry what is missing" not in again.log
    # The report too covers every run: the second run found nothing, it shows the first's.
    carried = json.loads((again.outdir / "report_data.json").read_text())
    assert sum(n for _, n in carried["items_by_type"]) == sum(truth(sandbox).values())
    assert (
        "Verdict" in (again.outdir / "report.html").read_text()
        or "verdict" in (again.outdir / "report.html").read_text()
    )


def test_videos_outside_the_window_asked_for_are_an_error_not_data():
    from scrapy.utils.test import get_crawler

    from tiktok_scrapy.chains import ChainState
    from tiktok_scrapy.spiders.videos import VideosSpider

    config = json.dumps({**CONFIG, "end_date": "2024-01-01"})
    spider = VideosSpider.from_crawler(get_crawler(VideosSpider), config=config)
    [chain] = spider.plan()
    state = ChainState(chain.id)
    inside = {"id": 2**60, "create_time": 1704067200 + 3600}  # 2024-01-01 01:00 UTC
    outside = {"id": 2**60 - 1, "create_time": 1704067200 + 86400}  # 2024-01-02 00:00
    kept, problem = spider.accept_records(chain, state, ChainState(chain.id), [inside])
    assert kept == [inside] and problem is None
    kept, problem = spider.accept_records(chain, state, ChainState(chain.id), [inside, outside])
    assert kept == [] and "outside the window 2024-01-01..2024-01-01" in problem


def test_a_page_not_newest_first_is_never_cut_or_skipped_past():
    from scrapy.utils.test import get_crawler

    from tiktok_scrapy.chains import ChainState
    from tiktok_scrapy.spiders.videos import VideosSpider

    config = json.dumps({**CONFIG, "window_days": None})
    spider = VideosSpider.from_crawler(get_crawler(VideosSpider), config=config)
    [chain] = spider.plan()
    day = 1704067200
    shuffled = [{"id": 2**60 + i, "create_time": day + 60 * i} for i in range(50)]  # oldest first
    state, after = ChainState(chain.id), ChainState(chain.id)
    kept, problem = spider.accept_records(chain, state, after, shuffled)
    assert problem is None and len(kept) == 50 and after.continuation["unsorted"]
    assert not list(spider.cut(chain, state, after, shuffled, {"cursor": 100}))
    restart = spider.continuation(chain, after)
    assert restart.cursor is None and "below" not in restart.continuation  # from the top
