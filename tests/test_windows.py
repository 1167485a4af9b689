"""Date windows: every day crawled exactly once, never more than 30 days per request."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from tiktok_scrapy.api import windows as windows_module
from tiktok_scrapy.api.endpoints import MAX_WINDOW_DAYS
from tiktok_scrapy.api.windows import Window, latest_settled_day, plan_windows

D = date.fromisoformat


def spans(windows: list[Window]) -> list[str]:
    return [str(w) for w in windows]


def test_thirty_day_windows_over_a_leap_quarter() -> None:
    planned = plan_windows(D("2024-01-01"), D("2024-03-31"), 30)
    assert spans(planned) == [
        "2024-01-01..2024-01-30",
        "2024-01-31..2024-02-29",
        "2024-03-01..2024-03-30",
        "2024-03-31..2024-03-31",
    ]


def test_daily_windows_include_the_leap_day() -> None:
    planned = plan_windows(D("2024-02-27"), D("2024-03-01"), 1)
    assert [w.start.isoformat() for w in planned] == [
        "2024-02-27",
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]
    assert plan_windows(D("2023-02-27"), D("2023-03-01"), 1)[2].start == D("2023-03-01")


def test_windows_cross_the_year_end() -> None:
    planned = plan_windows(D("2023-12-20"), D("2024-01-10"), 7)
    assert spans(planned) == [
        "2023-12-20..2023-12-26",
        "2023-12-27..2024-01-02",
        "2024-01-03..2024-01-09",
        "2024-01-10..2024-01-10",
    ]


def test_single_day_range() -> None:
    assert spans(plan_windows(D("2024-12-31"), D("2024-12-31"), 30)) == ["2024-12-31..2024-12-31"]


def test_no_day_twice_no_day_missed_over_many_ranges() -> None:
    rng = random.Random(20240229)
    for _ in range(400):
        start = D("2019-12-01") + timedelta(days=rng.randrange(2000))
        end = start + timedelta(days=rng.randrange(400))
        window_days = rng.randint(1, MAX_WINDOW_DAYS)
        planned = plan_windows(start, end, window_days)
        days = [w.start + timedelta(days=i) for w in planned for i in range(w.days)]
        expected = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        assert days == expected  # oldest first, contiguous, each once
        assert all(w.days <= window_days for w in planned)
        assert all(w.days == window_days for w in planned[:-1])


def test_split_halves_until_single_days() -> None:
    window = Window(D("2024-02-25"), D("2024-03-03"))  # 8 days over the leap day
    first, second = window.split()
    assert (str(first), str(second)) == ("2024-02-25..2024-02-28", "2024-02-29..2024-03-03")
    odd = Window(D("2024-01-01"), D("2024-01-07")).split()
    assert [w.days for w in odd] == [4, 3]
    pending, leaves = [Window(D("2023-12-15"), D("2024-01-13"))], []
    while pending:
        w = pending.pop()
        halves = w.split()
        if halves is None:
            leaves.append(w.start)
        else:
            pending.extend(halves)
    assert sorted(leaves) == [D("2023-12-15") + timedelta(days=i) for i in range(30)]


def test_one_day_window_does_not_split() -> None:
    assert Window(D("2024-01-01"), D("2024-01-01")).split() is None


def test_api_dates_str_and_json_round_trip() -> None:
    window = Window(D("2024-01-31"), D("2024-02-06"))
    assert window.api_dates() == ("20240131", "20240206")
    assert window.days == 7
    assert str(window) == "2024-01-31..2024-02-06"
    assert window.to_json() == {"start": "2024-01-31", "end": "2024-02-06"}
    assert Window.from_json(window.to_json()) == window
    assert Window.from_json(str(window)) == window


def test_invalid_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="after"):
        Window(D("2024-01-02"), D("2024-01-01"))
    with pytest.raises(ValueError, match="at most 30"):
        Window(D("2024-01-01"), D("2024-01-31"))
    with pytest.raises(ValueError, match="after"):
        plan_windows(D("2024-01-02"), D("2024-01-01"), 1)
    with pytest.raises(ValueError, match="1 to 30"):
        plan_windows(D("2024-01-01"), D("2024-03-01"), 31)


def test_latest_settled_day_is_two_days_back(monkeypatch: pytest.MonkeyPatch) -> None:
    assert latest_settled_day(D("2024-03-01")) == D("2024-02-28")
    monkeypatch.setattr(windows_module, "utc_today", lambda: D("2025-01-01"))
    assert latest_settled_day() == D("2024-12-30")
