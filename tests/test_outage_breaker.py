"""OutageBreaker: opens on widespread failures, probes, backs off, and ignores one bad day."""

from __future__ import annotations

from tiktok_scrapy.outage import Decision, OutageBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def day(n: int) -> tuple:
    return ("window", f"202401{n:02d}", f"202401{n:02d}")


def test_opens_on_widespread_failures_then_probes_with_growing_pauses():
    clock = Clock()
    breaker = OutageBreaker(window=10, ratio=0.5, pause=30, pause_max=120, clock=clock)
    events = [breaker.record(i % 2 == 0, key=day(i % 7 + 1)) for i in range(10)]
    assert events[-1] == "opened" and breaker.is_open
    assert breaker.decide()[0] is Decision.HOLD
    clock.now = 30
    assert breaker.decide()[0] is Decision.PROBE
    assert breaker.decide()[0] is Decision.HOLD  # one probe at a time
    assert breaker.record(True, probe=True) == "reopened"
    assert breaker.current_pause() == 60  # doubled
    clock.now = 90
    assert breaker.decide()[0] is Decision.PROBE
    assert breaker.record(False, probe=True) == "closed"
    assert breaker.decide()[0] is Decision.SEND


def test_quota_spent_on_a_long_outage_is_logarithmic_in_its_length():
    clock = Clock()
    breaker = OutageBreaker(window=20, ratio=0.5, pause=30, pause_max=1800, clock=clock)
    sent = 0
    while clock.now < 3 * 3600:  # three hours in which every request fails
        decision, until = breaker.decide()
        if decision is Decision.HOLD:
            clock.now = until
            continue
        sent += 1
        breaker.record(True, probe=decision is Decision.PROBE, key=day(sent % 5 + 1))
    assert sent <= 20 + 6 + 6, sent  # detection + doubling to 30 min + one per 30 min


def test_one_failing_day_or_chain_is_not_an_outage():
    breaker = OutageBreaker(window=10, ratio=0.5, pause=30, clock=Clock())
    nested = [("window", "20240101", "20240130"), ("window", "20240103", "20240104"), day(3)]
    for i in range(30):
        breaker.record(True, key=nested[i % 3])
    assert not breaker.is_open  # every failing window holds 2024-01-03
    breaker = OutageBreaker(window=10, ratio=0.5, pause=30, clock=Clock())
    for _ in range(30):
        breaker.record(True, key=("chain", "users:somebody"))
    assert not breaker.is_open
