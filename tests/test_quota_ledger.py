"""The quota ledger: atomic reservations (threads, processes, MongoDB) and the API's day."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime
from pathlib import Path

import mongomock
import pytest

from tiktok_scrapy.quota_ledger import (
    ApiClock,
    Client,
    MongoLedger,
    Spend,
    SqliteLedger,
    format_duration,
)

KEY = "aw-secret-ish-client-key-9Zq7"
CLIENT = Client.from_key(KEY)
DAY = "2024-05-01"


@pytest.fixture(params=["sqlite", "mongo"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        led = SqliteLedger(tmp_path / "deep" / "dir" / "quota.sqlite")
    else:
        led = MongoLedger(mongomock.MongoClient()["db"]["quota_ledger"])
    yield led
    led.close()


def test_client_is_fingerprinted_not_stored():
    assert CLIENT.hint == "9Zq7" and len(CLIENT.fingerprint) == 16
    assert KEY not in str(CLIENT) and Client.from_key(KEY) == CLIENT


def test_reserve_stops_at_limit_per_family_and_day(ledger):
    assert [ledger.reserve(CLIENT, "main", DAY, 3) for _ in range(5)] == [True] * 3 + [False] * 2
    assert ledger.reserve(CLIENT, "follow", DAY, 3)  # another family
    assert ledger.reserve(CLIENT, "main", "2024-05-02", 3)  # another day
    assert ledger.reserve(Client.from_key("other-key"), "main", DAY, 3)  # another client
    assert ledger.spent(CLIENT, DAY) == {"main": Spend(3, 0, False), "follow": Spend(1, 0, False)}
    assert ledger.is_exhausted(CLIENT, "main", DAY, 3)
    assert not ledger.is_exhausted(CLIENT, "main", DAY, 4)


def test_release_records_and_exhaustion(ledger):
    ledger.reserve(CLIENT, "main", DAY, 10)
    ledger.reserve(CLIENT, "main", DAY, 10)
    ledger.release(CLIENT, "main", DAY)
    ledger.add_records(CLIENT, "main", DAY, 27)
    ledger.add_records(CLIENT, "main", DAY, 3)
    assert ledger.spent(CLIENT, DAY)["main"] == Spend(1, 30, False)
    ledger.mark_exhausted(CLIENT, "main", DAY)
    assert not ledger.reserve(CLIENT, "main", DAY, 10)
    assert ledger.is_exhausted(CLIENT, "main", DAY, 10)
    assert ledger.spent(CLIENT, DAY)["main"] == Spend(1, 30, True)
    assert ledger.reserve(CLIENT, "main", "2024-05-02", 10)  # a new day is a new quota
    assert [c.hint for c in ledger.clients()] == ["9Zq7"]


def test_reserve_is_atomic_across_threads(tmp_path):
    # SQLite only: with MongoDB, atomicity is the server's (find_one_and_update on one
    # document); mongomock does not emulate it across threads.
    path = tmp_path / "quota.sqlite"
    results: list[bool] = []

    def worker(led) -> None:
        for _ in range(40):
            results.append(led.reserve(CLIENT, "main", DAY, 100))

    # One ledger object per thread (separate connections), as separate crawls would, and
    # two threads sharing one (one connection behind a lock), as the middleware does.
    shared = SqliteLedger(path)
    ledgers = [SqliteLedger(path) for _ in range(4)] + [shared, shared]
    threads = [threading.Thread(target=worker, args=(led,)) for led in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 100 and len(results) == 240
    assert shared.spent(CLIENT, DAY)["main"].requests == 100


def test_reserve_now_never_waits_for_another_writer(tmp_path):
    """The middleware's fast path: a held lock means "ask in a thread", not a stall."""
    import sqlite3
    import time

    path = tmp_path / "quota.sqlite"
    led = SqliteLedger(path)
    assert led.reserve_now(CLIENT, "main", DAY, 2) is True
    assert led.add_records_now(CLIENT, "main", DAY, 7) is True
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process mid-transaction
    started = time.monotonic()
    assert led.reserve_now(CLIENT, "main", DAY, 2) is None
    assert led.add_records_now(CLIENT, "main", DAY, 1) is False
    assert time.monotonic() - started < 5  # not the 30 s busy timeout
    other.execute("COMMIT")
    assert led.reserve_now(CLIENT, "main", DAY, 2) is True
    assert led.reserve_now(CLIENT, "main", DAY, 2) is False  # the limit still holds
    assert led.spent(CLIENT, DAY)["main"] == Spend(2, 7, False)
    other.close()
    led.close()


def test_mongo_ledger_always_defers_to_a_thread():
    led = MongoLedger(mongomock.MongoClient()["db"]["quota_ledger"])
    assert led.reserve_now(CLIENT, "main", DAY, 2) is None
    assert led.add_records_now(CLIENT, "main", DAY, 3) is False
    assert led.add_records_now(CLIENT, "main", DAY, 0) is True


def _reserve_in_process(path: str, attempts: int, out: multiprocessing.Queue) -> None:
    led = SqliteLedger(path)
    out.put(sum(led.reserve(CLIENT, "main", DAY, 50) for _ in range(attempts)))
    led.close()


def test_reserve_is_atomic_across_processes(tmp_path):
    path = str(tmp_path / "quota.sqlite")
    SqliteLedger(path).close()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_reserve_in_process, args=(path, 40, out)) for _ in range(2)]
    for p in procs:
        p.start()
    granted = [out.get(timeout=20) for _ in procs]
    for p in procs:
        p.join(timeout=20)
        assert p.exitcode == 0
    assert sum(granted) == 50
    assert SqliteLedger(path).spent(CLIENT, DAY)["main"].requests == 50


def test_sqlite_file_persists_and_holds_no_key(tmp_path):
    path = tmp_path / "q.sqlite"
    first = SqliteLedger(path)
    first.reserve(CLIENT, "main", DAY, 5)
    first.close()
    again = SqliteLedger(path)
    assert again.spent(CLIENT, DAY)["main"].requests == 1
    again.close()
    raw = b"".join(p.read_bytes() for p in Path(tmp_path).iterdir())
    assert KEY.encode() not in raw and CLIENT.fingerprint.encode() in raw


def test_api_clock_follows_date_header():
    local = datetime(2024, 5, 1, 23, 59, 0, tzinfo=UTC).timestamp()
    clock = ApiClock(now=lambda: local)
    assert clock.day() == "2024-05-01"
    clock.observe("Thu, 02 May 2024 00:10:00 GMT")  # the API is 11 minutes ahead
    assert clock.day() == "2024-05-02"
    assert clock.next_reset() == datetime(2024, 5, 3, tzinfo=UTC)
    assert clock.seconds_to_reset() == pytest.approx(24 * 3600 - 600)
    clock.observe(b"Wed, 01 May 2024 12:00:00 GMT")  # bytes, and behind local
    assert clock.day() == "2024-05-01"
    clock.observe("garbage")
    clock.observe(None)
    assert clock.day() == "2024-05-01"


def test_format_duration():
    assert format_duration(5 * 3600 + 12 * 60 + 5) == "5 h 12 min"
    assert format_duration(200) == "3 min 20 s"
    assert format_duration(-3) == "0 s"


def test_a_key_at_another_api_is_another_client():
    """A local sandbox's or a test server's quota is its own, not TikTok's."""
    real = Client.from_key("my-key-1234")
    assert real == Client.from_key("my-key-1234", "https://open.tiktokapis.com/")
    local = Client.from_key("my-key-1234", "http://127.0.0.1:8765")
    assert local.fingerprint != real.fingerprint
    assert local.hint == "1234@http://127.0.0.1:8765" and real.hint == "1234"
