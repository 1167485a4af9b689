"""Daily mode: each run crawls the newest complete day, catches up, never enters the lag."""

from __future__ import annotations

import json
from datetime import date

import pytest
from inprocess import run_crawl_inprocess

from tiktok_scrapy.api.windows import Window
from tiktok_scrapy.continuous import DayLedger, complete_days, days_to_crawl

D = date.fromisoformat
DAILY = {"name": "daily_test", "mode": "daily", "hashtags": ["flood", "storm"]}


def _days_requested(requests: list[dict]) -> set[str]:
    bodies = [json.loads(r["body"]) if isinstance(r["body"], str) else r["body"] for r in requests]
    assert all(b["start_date"] == b["end_date"] for b in bodies)  # one-day windows
    return {b["start_date"] for b in bodies}


@pytest.mark.integration
def test_three_days_each_once_with_a_missed_day_caught_up(make_sandbox_process, tmp_path):
    sandbox = make_sandbox_process()
    state = tmp_path / "state"
    seen: list[set[str]] = []
    for today in ("2024-03-10", "2024-03-11", "2024-03-13", "2024-03-13"):  # 03-12: no run
        before = len(sandbox.requests())
        result = run_crawl_inprocess(
            "videos",
            DAILY,
            sandbox.url,
            tmp_path,
            settings={"TIKTOK_TODAY": today, "TIKTOK_STATE_DIR": str(state)},
        )
        assert result.returncode == 0, result.log[-3000:]
        assert result.stats["finish_reason"] == "finished"
        seen.append(_days_requested(sandbox.requests()[before:]))
    assert seen == [{"20240308"}, {"20240309"}, {"20240310", "20240311"}, set()]
    ledger = DayLedger(state).days
    assert sorted(ledger) == [D("2024-03-08"), D("2024-03-09"), D("2024-03-10"), D("2024-03-11")]
    assert ledger[D("2024-03-10")]["crawled"] == "2024-03-13"  # caught up by the late run


def test_new_days_start_from_the_ledger_and_stop_at_the_lag():
    ledger = {D("2024-03-05"): {"crawled": "2024-03-07"}}
    new, recrawl = days_to_crawl(D("2024-03-10"), 2, ledger)
    assert new == [D("2024-03-06"), D("2024-03-07"), D("2024-03-08")]
    assert recrawl == []
    new, _ = days_to_crawl(D("2024-03-10"), 3, {}, start=D("2024-03-01"), end=D("2024-03-03"))
    assert new == [D("2024-03-01"), D("2024-03-02"), D("2024-03-03")]
    for lag in (2, 3, 7):  # never a day inside the lag, whatever the ledger says
        new, _ = days_to_crawl(D("2024-03-10"), lag, ledger, start=D("2024-02-20"))
        assert max(new) == D("2024-03-10").fromordinal(D("2024-03-10").toordinal() - lag)


def test_recrawl_is_due_n_days_later_and_happens_once():
    ledger = {
        D("2024-03-01"): {"crawled": "2024-03-03"},
        D("2024-03-02"): {"crawled": "2024-03-04"},
        D("2024-03-03"): {"crawled": "2024-03-05", "recrawled": "2024-03-15"},
    }
    _, recrawl = days_to_crawl(D("2024-03-13"), 2, ledger, recrawl_after_days=10)
    assert recrawl == [D("2024-03-01")]  # 03-02 is due only when 03-12 is the newest day
    _, recrawl = days_to_crawl(D("2024-03-20"), 2, ledger, recrawl_after_days=10)
    assert recrawl == [D("2024-03-01"), D("2024-03-02")]  # 03-03 was re-crawled already


def test_a_day_is_complete_only_when_all_its_chains_finished(tmp_path):
    day1, day2 = Window(D("2024-03-01"), D("2024-03-01")), Window(D("2024-03-02"), D("2024-03-02"))
    chains = [(day1, "split"), (day1, "done"), (day1, "done"), (day2, "done"), (day2, "failed")]
    assert complete_days(chains) == {D("2024-03-01")}
    ledger = DayLedger(tmp_path)
    ledger.mark(D("2024-03-01"), D("2024-03-03"), recrawl=False)
    ledger.mark(D("2024-03-01"), D("2024-03-13"), recrawl=True)
    ledger.save()
    assert DayLedger(tmp_path).days == {
        D("2024-03-01"): {"crawled": "2024-03-03", "recrawled": "2024-03-13"}
    }
