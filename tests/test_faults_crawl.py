"""Issue 5 end to end: a videos crawl through every injected fault returns the clean result.

The sandbox fails requests at random (500s, HTML 504s, cut-off bodies, transient 400s,
invalid search_ids), and its clock moves with the crawl's progress so that search_ids and
30-second tokens really expire mid-crawl. The crawl must still return exactly the sandbox's
truth, pay for the faults only in extra requests (``tiktok/requests_per_page`` > 1), and
duplicate nothing but the pages a restarted chain had to fetch again.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from datetime import date
from typing import Any

import pytest
from crawling import ALL_VIDEOS, CrawlResult
from inprocess import run_crawl_inprocess
from scrapy.http import JsonRequest, Request, TextResponse
from scrapy.utils.test import get_crawler

from tiktok_scrapy.chains import meta
from tiktok_scrapy.middlewares.retry import ApiRetryMiddleware
from tiktok_scrapy.sandbox import SandboxThread

pytestmark = pytest.mark.integration

# Matches every video: ~40 a day, so a day is several pages of 10.
QUERY = ALL_VIDEOS
START, END = date(2024, 1, 1), date(2024, 1, 10)
CONFIG = {
    "query": QUERY,
    "start_date": START.isoformat(),
    "end_date": END.isoformat(),
    "max_count": 10,
    "window_days": 1,
}
SANDBOX_NOW = "2024-06-01T10:00:00Z"  # far from midnight: clock jumps stay on one API day
FAULTS: dict[str, Any] = {
    "error_rate": 0.10,
    "transient_400_rate": 0.05,
    "search_id_invalid_rate": 0.05,
    "search_id_ttl": 45,
    "token_ttl": 30,
    "html_504_rate": 0.02,
    "non_json_rate": 0.02,
    "fault_seed": 5,
}


def script_sandbox(
    sandbox: SandboxThread, every: int, seconds: float, forced: dict[str, int]
) -> None:
    """Move the sandbox clock ``seconds`` on after every ``every`` data requests, and force
    each fault in ``forced`` (option -> HTTP status that shows it) once, one after another.

    Tokens and search_ids then expire at a point of the crawl's progress, not of the wall
    clock, and every kind of fault surely happens at least once however the random draws
    fall, so the test needs no sleeping and does not depend on the machine's speed.
    """
    state = sandbox.state
    record = state.record
    served = itertools.count(1)
    pending = list(forced.items())
    active: list[tuple[str, int]] = []

    def record_and_act(endpoint: str, status: int, *args: Any, **kwargs: Any) -> None:
        record(endpoint, status, *args, **kwargs)
        if next(served) % every == 0:
            state.clock.advance(seconds)
        if active and status == active[0][1]:
            option, _ = active.pop()
            state.set_options(**{option: FAULTS[option]})
        if not active and pending:
            active.append(pending.pop(0))
            state.set_options(**{active[0][0]: 1.0})

    state.record = record_and_act  # type: ignore[method-assign]


def video_ids(result: CrawlResult) -> list[int]:
    return [video["id"] for video in result.of("videos")]


def requests_per_page_line(log: str) -> str:
    lines = [line for line in log.splitlines() if "requests per page" in line]
    assert len(lines) == 1, log[-3000:]
    return lines[0]


def test_clean_crawl_spends_one_request_per_page(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process(clock=SANDBOX_NOW)
    result = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    truth = {v["id"] for v in sandbox.dataset.truth_videos(QUERY, START, END)}
    assert Counter(video_ids(result)) == Counter(truth)  # everything, once
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert stats["tiktok/requests_sent"] == len(sandbox.requests()) == stats["tiktok/pages_needed"]
    assert stats["tiktok/requests_per_page"] == 1.0
    assert "(1.000 requests per page" in requests_per_page_line(result.log)
    assert "tiktok/retry/count" not in stats


def test_faulty_crawl_returns_exactly_the_fault_free_result(make_sandbox, tmp_path):
    sandbox = make_sandbox(clock=SANDBOX_NOW, **FAULTS)
    # 10 s of sandbox time every 10 requests: the 30 s token dies every ~30 requests (twice
    # or more per crawl) and a search_id after ~45, so long chains lose theirs mid-way.
    script_sandbox(
        sandbox,
        every=10,
        seconds=10,
        forced={"html_504_rate": 504, "non_json_rate": 200, "transient_400_rate": 400},
    )
    result = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    stats = result.stats
    assert stats["finish_reason"] == "finished", result.log[-3000:]
    truth = {v["id"] for v in sandbox.dataset.truth_videos(QUERY, START, END)}
    got = video_ids(result)
    assert set(got) == truth

    # Every fault happened and was handled the way it should be.
    statuses = Counter(r["status"] for r in sandbox.requests())
    reasons = {
        k.rsplit("/", 1)[1]: v
        for k, v in stats.items()
        if k.startswith("tiktok/retry/reason_count/")
    }
    assert stats["tiktok/retry/count"] > 0
    assert {"internal_error", "http_504", "non_json", "invalid_params"} <= set(reasons)
    assert statuses[500] and statuses[504] and statuses[400]
    assert statuses[401] > 0  # the token expired on the sandbox's clock ...
    assert stats["tiktok/token/refreshed"] > 0  # ... and was renewed, not fatal
    assert stats.get("tiktok/chains/restarted", 0) > 0  # expired search_ids: chains restart
    assert stats.get("tiktok/chains/failed", 0) == 0

    # Duplicates only where a restarted chain fetched its first pages again.
    restarted = {p["chain"] for p in result.pages if p["outcome"] == "search_id_invalid"}
    copies: dict[int, list[dict]] = defaultdict(list)
    for video in result.of("videos"):
        copies[video["id"]].append(video["_crawl"])
    duplicated = {i: c for i, c in copies.items() if len(c) > 1}
    for video_id, crawls in duplicated.items():
        assert len({c["chain"] for c in crawls}) == 1, video_id
        assert crawls[0]["chain"] in restarted, video_id
        assert any(c.get("epoch", 0) > 0 for c in crawls), video_id
    assert len(got) - len(truth) == sum(len(c) - 1 for c in duplicated.values())

    # The efficiency line: faults cost requests, and the crawl says how many.
    assert stats["tiktok/requests_sent"] == len(sandbox.requests())
    assert stats["tiktok/requests_per_page"] > 1.0
    ratio = stats["tiktok/requests_sent"] / stats["tiktok/pages_needed"]
    assert stats["tiktok/requests_per_page"] == round(ratio, 4)
    assert f"({ratio:.3f} requests per page" in requests_per_page_line(result.log)


async def test_a_request_retried_after_its_401_resend_may_be_resent_on_the_next_401():
    # A request resent after a 401, then retried for a 500, can meet the next token's expiry:
    # that is a new 401, not "rejected twice" (which would stop the crawl with api_error).
    crawler = get_crawler(settings_dict={"TIKTOK_RETRY_TIMES": 2, "TIKTOK_RETRY_BACKOFF_BASE": 0})
    retry_mw = ApiRetryMiddleware.from_crawler(crawler)
    request = JsonRequest(
        "http://127.0.0.1:9/v2/research/video/query/?fields=id",
        data={"cursor": 10},
        meta={meta.AUTH_RETRIED: True},
    )
    body = json.dumps({"data": {}, "error": {"code": "internal_error", "message": ""}})
    response = TextResponse(request.url, status=500, body=body.encode(), request=request)
    retry = await retry_mw.process_response(request, response)
    assert isinstance(retry, Request) and meta.AUTH_RETRIED not in retry.meta


def test_short_lived_token_is_renewed_before_it_expires(make_sandbox_process, tmp_path):
    # A 4 s token is renewed at half-life (the 300 s margin is longer than its life); one
    # sequential chain of 15 pages at 200 ms each outlives it.
    sandbox = make_sandbox_process(clock=SANDBOX_NOW, token_ttl=4, latency_ms=200)
    day = date(2024, 1, 1)
    config = {**CONFIG, "start_date": day.isoformat(), "end_date": day.isoformat(), "max_count": 5}
    result = run_crawl_inprocess("videos", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["finish_reason"] == "finished"
    truth = {v["id"] for v in sandbox.dataset.truth_videos(QUERY, day, day)}
    assert Counter(video_ids(result)) == Counter(truth)
    assert len(sandbox.requests()) >= 14
    assert result.stats["tiktok/token/refreshed"] >= 1
    assert sandbox.stats()["tokens_issued"] >= 2
    assert not [r for r in sandbox.requests() if r["status"] == 401]  # never rejected


# --- the stalled-pagination guard ---------------------------------------------------------
def clean_pages(sandbox: SandboxThread, max_count: int) -> int:
    """Pages a fault-free crawl of CONFIG needs (deleted videos keep their cursor slot)."""
    days = [date(2024, 1, d) for d in range(START.day, END.day + 1)]
    return sum(-(-len(sandbox.dataset.search(QUERY, d, d)) // max_count) for d in days)


def stall_once(sandbox: SandboxThread) -> None:
    """Make exactly one mid-chain page stall: empty, has_more, cursor not moved.

    Armed after the 15th request (every chain is past its first page by then), kept armed
    until the stalled answer went to a request that sent a cursor.
    """
    state = sandbox.state
    record = state.record
    served = itertools.count(1)
    armed = [False]

    def record_and_stall(endpoint: str, status: int, body: Any, *args: Any) -> None:
        record(endpoint, status, body, *args)
        if armed[0] and isinstance(body, dict) and body.get("cursor"):
            armed[0] = False  # this request was answered with the stall
            state.set_options(stall_cursor_rate=0.0)
        elif next(served) == 15 or armed[0]:
            armed[0] = True
            state.set_options(stall_cursor_rate=1.0)

    state.record = record_and_stall  # type: ignore[method-assign]


def stalled(pages: list[dict]) -> list[dict]:
    """Pages answered 200, empty, has_more, with the cursor they were sent."""
    return [
        p
        for p in pages
        if p["status"] == 200
        and p["has_more"]
        and not p["items"]
        and p["cursor"] == json.loads(p["request_body"]).get("cursor")
    ]


def test_a_stalled_page_is_asked_once_more_and_nothing_is_lost(make_sandbox, tmp_path):
    sandbox = make_sandbox(clock=SANDBOX_NOW)
    stall_once(sandbox)
    result = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["finish_reason"] == "finished"
    truth = {v["id"] for v in sandbox.dataset.truth_videos(QUERY, START, END)}
    assert Counter(video_ids(result)) == Counter(truth)
    [stall] = stalled(result.pages)
    assert stall["outcome"] == "ok"  # not the end of its chain: the same page is asked again
    again = [
        p for p in result.pages if p["chain"] == stall["chain"] and p["page"] == stall["page"] + 1
    ]
    assert again and again[0]["request_body"] == stall["request_body"] and again[0]["items"]
    assert len(sandbox.requests()) == clean_pages(sandbox, 10) + 1  # one request for it
    assert not [k for k in result.stats if k.startswith("tiktok/chains/ended/")]


def test_a_cursor_that_stays_stuck_ends_its_chain_incomplete_then_resume_is_exact(
    make_sandbox, tmp_path
):
    sandbox = make_sandbox(clock=SANDBOX_NOW, stall_cursor_rate=1.0)
    jobdir = {"JOBDIR": str(tmp_path / "job")}
    result = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, settings=jobdir)
    assert result.returncode == 3, result.log[-3000:]  # incomplete, resumable
    assert result.stats["finish_reason"] == "incomplete_chains"
    assert result.stats["tiktok/verdict"] == "incomplete"
    chains, limit = 10, 5  # TIKTOK_STALL_EMPTY_PAGES
    # Page 0 answers nothing; the same cursor is asked until 5 pages made no progress.
    assert len(sandbox.requests()) == limit * chains
    assert result.stats["tiktok/chains/ended/stalled_cursor"] == chains
    assert result.stats["tiktok/chains/incomplete"] == chains
    assert "Verdict: INCOMPLETE (incomplete_chains)" in result.log
    assert "Retry what is missing with: scrapy crawl videos" in result.log

    sandbox.state.set_options(stall_cursor_rate=0.0)  # the fault is gone: resume
    again = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, settings=jobdir)
    assert again.returncode == 0, again.log[-3000:]
    assert again.stats["tiktok/verdict"] == "complete"
    truth = {v["id"] for v in sandbox.dataset.truth_videos(QUERY, START, END)}
    assert Counter(video_ids(again)) == Counter(truth)
    assert len(again.stats_file["runs"]) == 2  # stats.json covers both runs


@pytest.mark.parametrize("seed", [11])
def test_random_stalls_never_end_a_crawl_as_finished_with_data_missing(
    make_sandbox, tmp_path, seed
):
    sandbox = make_sandbox(clock=SANDBOX_NOW, stall_cursor_rate=0.3, fault_seed=seed)
    jobdir = {"JOBDIR": str(tmp_path / "job")}
    truth = Counter(v["id"] for v in sandbox.dataset.truth_videos(QUERY, START, END))
    result = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, settings=jobdir)
    got = Counter(video_ids(result))
    if got == truth:
        assert result.returncode == 0 and result.stats["tiktok/verdict"] == "complete"
    else:  # honest about what is missing, and a resume gets the rest
        assert result.returncode == 3, result.log[-3000:]
        assert result.stats["finish_reason"] == "incomplete_chains"
        sandbox.state.set_options(stall_cursor_rate=0.0)
        again = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, settings=jobdir)
        assert again.returncode == 0, again.log[-3000:]
        assert Counter(video_ids(again)) == truth


@pytest.mark.parametrize("trailing", [3, 8])
def test_trailing_empty_pages_cost_at_most_the_stall_limit_and_lose_nothing(
    make_sandbox_process, tmp_path, trailing
):
    limit = 5  # TIKTOK_STALL_EMPTY_PAGES
    sandbox = make_sandbox_process(clock=SANDBOX_NOW, trailing_empty_pages=trailing)
    settings = {"TIKTOK_STALL_EMPTY_PAGES": limit, "JOBDIR": str(tmp_path / "job")}
    result = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, settings=settings)
    truth = {v["id"] for v in sandbox.dataset.truth_videos(QUERY, START, END)}
    assert Counter(video_ids(result)) == Counter(truth)
    chains = 10
    assert len(sandbox.requests()) == clean_pages(sandbox, 10) + chains * min(trailing, limit)
    ended = [p for p in result.pages if p["outcome"] == "empty_pages"]
    if trailing < limit:
        assert result.returncode == 0, result.log[-3000:]
        assert result.stats["finish_reason"] == "finished"
        assert not ended and "tiktok/chains/ended/empty_pages" not in result.stats
    else:
        # The API still says has_more: the chain cannot know it has everything. It ends
        # incomplete; the next run continues and sees the list end.
        assert result.returncode == 3, result.log[-3000:]
        assert result.stats["tiktok/chains/ended/empty_pages"] == chains == len(ended)
        assert all(p["has_more"] and p["items"] == 0 for p in ended)
        again = run_crawl_inprocess("videos", CONFIG, sandbox.url, tmp_path, settings=settings)
        assert again.returncode == 0, again.log[-3000:]
        assert again.stats["tiktok/verdict"] == "complete"
        assert Counter(video_ids(again)) == Counter(truth)
