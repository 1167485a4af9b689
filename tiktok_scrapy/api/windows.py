"""Date windows for the video query: inclusive UTC days, at most 30 per request.

TikTok answers ``start_date``..``end_date`` spans of at most 30 days and does not document
whether ``end_date`` is inclusive, so a window is a closed range of whole days and planning
cuts a range into windows that never share or skip a day. Large windows fail more often
(500s), so a window can split itself in halves down to one day.
No Scrapy imports: the config, the spiders and the sandbox all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tiktok_scrapy.api.endpoints import DATA_LAG_HOURS, MAX_WINDOW_DAYS

ONE_DAY = timedelta(days=1)
# The days a query may name. The Research API's archive starts around 2016 (TikTok launched
# internationally in 2017; musical.ly data merged in 2018); a date more than a year ahead is
# a typo (2204 for 2024, 9999 as "open end") and would only spend quota on empty windows.
FIRST_DAY = date(2016, 1, 1)
DAYS_AHEAD = 366


def utc_today() -> date:
    """Today in UTC (a function so tests can pin the clock)."""
    return datetime.now(UTC).date()


def latest_settled_day(today: date | None = None) -> date:
    """The last day whose videos should be queryable, given TikTok's ~48 h lag."""
    return (today or utc_today()) - timedelta(hours=DATA_LAG_HOURS) // ONE_DAY * ONE_DAY


def last_day(today: date | None = None) -> date:
    """The latest day a query may name: a year from today (UTC)."""
    return (today or utc_today()) + timedelta(days=DAYS_AHEAD)


def check_day(day: date, today: date | None = None) -> date:
    """``day`` if it is within FIRST_DAY..last_day(), else ValueError saying the range."""
    latest = last_day(today)
    if day < FIRST_DAY:
        raise ValueError(
            f"{day} is before {FIRST_DAY}: the Research API has no videos that old — use a "
            f"date from {FIRST_DAY} on"
        )
    if day > latest:
        raise ValueError(
            f"{day} is more than a year ahead (after {latest}): there are no videos yet — "
            f"use a date up to today"
        )
    return day


@dataclass(frozen=True, slots=True)
class Window:
    """A closed range of UTC days, ``start`` and ``end`` included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"window starts {self.start} after it ends {self.end}")
        if self.days > MAX_WINDOW_DAYS:
            raise ValueError(
                f"window {self} spans {self.days} days; the API allows at most {MAX_WINDOW_DAYS}"
            )

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def api_dates(self) -> tuple[str, str]:
        """``(start_date, end_date)`` as the API wants them: ``YYYYMMDD``."""
        return self.start.strftime("%Y%m%d"), self.end.strftime("%Y%m%d")

    def split(self) -> tuple[Window, Window] | None:
        """Two halves (the older one gets the odd day), or None for a one-day window."""
        if self.days == 1:
            return None
        first_end = self.start + timedelta(days=(self.days + 1) // 2 - 1)
        return Window(self.start, first_end), Window(first_end + ONE_DAY, self.end)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_json(cls, value: dict[str, Any] | str) -> Window:
        """Inverse of ``to_json``; also accepts the ``str()`` form "2024-01-01..2024-01-07"."""
        if isinstance(value, str):
            start, _, end = value.partition("..")
        else:
            start, end = value["start"], value["end"]
        return cls(date.fromisoformat(str(start)), date.fromisoformat(str(end)))


def plan_windows(start: date, end: date, window_days: int) -> list[Window]:
    """Cut ``start``..``end`` (inclusive) into consecutive windows, oldest first.

    Every day lands in exactly one window; each window has ``window_days`` days except the
    last, which may be shorter.
    """
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be 1 to {MAX_WINDOW_DAYS}, got {window_days}")
    windows: list[Window] = []
    step = timedelta(days=window_days)
    cursor = start
    while cursor <= end:
        # end - cursor, not cursor + step: no overflow on the last day datetime knows.
        window_end = end if (end - cursor).days < window_days else cursor + step - ONE_DAY
        windows.append(Window(cursor, window_end))
        if window_end == end:
            break
        cursor = window_end + ONE_DAY
    return windows
