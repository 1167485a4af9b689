"""OutageBreaker: stop spending quota while the API is mostly failing.

Users of the Research API report hours in which most requests answer 500 — and each 500
still costs quota. Per-request retries cannot see that; this breaker watches the outcomes
of the last ``window`` data requests. When at least ``ratio`` of them failed it *opens*:
no request is sent until ``pause`` seconds have passed, then one probe. A probe that
succeeds closes it; one that fails reopens it with the pause doubled (up to ``pause_max``).
A relapse soon after closing (another full window of failures before a healthy one)
continues the doubling, so an outage of any length costs a bounded number of requests:
about ``window * ratio`` to detect it, then one probe per pause (log₂(pause_max / pause)
+ duration / pause_max probes). Plain Python, no Scrapy: the retry middleware owns one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum


class Decision(Enum):
    SEND = "send"
    PROBE = "probe"  # the one request sent to see whether the API is back
    HOLD = "hold"


class OutageBreaker:
    def __init__(
        self,
        window: int = 20,
        ratio: float = 0.5,
        pause: float = 30.0,
        pause_max: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = max(1, window)
        self.ratio = ratio
        self.pause = pause
        self.pause_max = max(pause, pause_max)
        self.clock = clock
        # (failed, what failed: ("window", first day, last day) or ("chain", id))
        self.recent: deque[tuple[bool, tuple]] = deque(maxlen=self.window)
        self.open_until: float | None = None
        self.open_since: float | None = None  # when this outage began (None: closed)
        self.level = 0  # openings in a row without a healthy window between them
        self.probe_sent_at: float | None = None
        self.openings = 0

    @property
    def is_open(self) -> bool:
        return self.open_until is not None

    def current_pause(self) -> float:
        return min(self.pause_max, self.pause * 2 ** max(0, self.level - 1))

    def decide(self) -> tuple[Decision, float]:
        """Send, probe, or hold until the returned clock time."""
        now = self.clock()
        if self.open_until is None:
            return Decision.SEND, now
        if self.probe_sent_at is not None and now - self.probe_sent_at > self.pause_max:
            self.probe_sent_at = None  # a probe that never came back: send another
        if now >= self.open_until and self.probe_sent_at is None:
            self.probe_sent_at = now
            return Decision.PROBE, now
        return Decision.HOLD, max(self.open_until, now + min(self.pause, 1.0))

    def record(self, failed: bool, probe: bool = False, key: tuple = ()) -> str | None:
        """Note a data request's outcome; "opened"/"reopened"/"closed" when the state moves.

        ``key`` says what the request asked for: ``("window", "YYYYMMDD", "YYYYMMDD")`` for a
        video window, else ``("chain", chain_id)``.
        """
        now = self.clock()
        if probe:
            self.probe_sent_at = None
            if failed:
                self.level += 1
                self.open_until = now + self.current_pause()
                return "reopened"
            self.open_until = None
            self.open_since = None
            self.recent.clear()
            return "closed"
        if self.open_until is not None:
            return None  # answers to requests sent before it opened
        self.recent.append((failed, key))
        if len(self.recent) < self.window:
            return None
        failed_keys = [k for f, k in self.recent if f]
        failures = len(failed_keys)
        if failures >= self.ratio * self.window and not _one_cause(failed_keys):
            self.level += 1
            self.openings += 1
            self.open_since = now
            self.open_until = now + self.current_pause()
            self.recent.clear()
            return "opened"
        if failures <= self.ratio * self.window / 2:
            self.level = 0  # a healthy window: the next outage starts with a short pause
        return None

    def open_for(self) -> float:
        """Seconds this outage has lasted (0 when closed)."""
        return 0.0 if self.open_since is None else self.clock() - self.open_since

    def probe_lost(self) -> None:
        """The probe was never answered (dropped, refused): the next request probes."""
        self.probe_sent_at = None


def _one_cause(keys: list[tuple]) -> bool:
    """Whether one chain, or one day that every failing window contains, explains them."""
    if not keys:
        return True
    if all(k and k[0] == "window" for k in keys):
        return max(k[1] for k in keys) <= min(k[2] for k in keys)  # a day they all hold
    return len(set(keys)) == 1
