"""QuotaMiddleware: reservations, stop/wait at exhaustion, 429s, the API's day, records."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import JsonRequest, Request, TextResponse
from scrapy.utils.test import get_crawler
from settings_fixture import settings_dict

from tiktok_scrapy.chains import meta
from tiktok_scrapy.middlewares.quota import (
    QuotaExhausted,
    QuotaMiddleware,
    RateLimiter,
    open_ledger,
)
from tiktok_scrapy.quota_ledger import ApiClock, Client, MongoLedger, SqliteLedger

KEY = "client-key-for-tests-AbCd"
CLIENT = Client.from_key(KEY)
API = "http://127.0.0.1:9"
# Probes run without the feeds and cassettes, but with the project's defaults (the add-on).
ONLY_DEFAULTS = '{"tiktok_scrapy.addons.TikTokAddon": 0}'
START = datetime(2024, 5, 1, 22, 0, 0, tzinfo=UTC).timestamp()  # 2 h before the reset


def settings(**overrides: Any) -> dict[str, Any]:
    values = settings_dict(
        "TIKTOK_",
        "MONGODB_",
        TIKTOK_CLIENT_KEY=KEY,
        TIKTOK_CLIENT_SECRET="secret",
        TIKTOK_MAX_REQUESTS_PER_SECOND=0,
    )
    values.update(overrides)
    return values


class FakeEngine:
    def __init__(self) -> None:
        self.closed: list[str] = []

    async def close_spider_async(self, *, reason: str = "cancelled") -> None:
        self.closed.append(reason)


class Time:
    """Local wall clock + a sleep that advances it (no real waiting)."""

    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make(tmp_path, **overrides: Any) -> tuple[QuotaMiddleware, FakeEngine, Time]:
    overrides.setdefault("TIKTOK_QUOTA_LEDGER", str(tmp_path / "quota.sqlite"))
    crawler = get_crawler(settings_dict=settings(**overrides))
    crawler.engine = FakeEngine()
    mw = QuotaMiddleware.from_crawler(crawler)
    clock = Time()
    mw.api_clock = ApiClock(now=clock)
    mw.sleep = clock.sleep
    return mw, crawler.engine, clock


def request(endpoint: str = "videos", **meta_: Any) -> JsonRequest:
    return JsonRequest(
        f"{API}/v2/research/x/",
        data={},
        meta={meta.ENDPOINT: endpoint, meta.CHAIN: "c", **meta_},
        dont_filter=True,
    )


def api(
    req: Request, status: int, code: str = "ok", data: dict | None = None, date: str | None = None
) -> TextResponse:
    body = {"data": data or {}, "error": {"code": code, "message": "", "log_id": "L"}}
    headers = {"Content-Type": "application/json"}
    if date:
        headers["Date"] = date
    return TextResponse(
        req.url, status=status, body=json.dumps(body).encode(), headers=headers, request=req
    )


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_each_request_reserved_in_its_family(tmp_path):
    mw, _, _ = make(tmp_path)
    for endpoint in ("videos", "comments", "followers"):
        req = request(endpoint)
        await mw.process_request(req)
    assert req.meta[meta.QUOTA_RESERVED] == "follow"
    assert mw.spent_this_crawl == {"main": 2, "follow": 1}
    assert mw.stats.get_value("tiktok/quota/requests/main") == 2
    spent = mw.ledger.spent(CLIENT, "2024-05-01")
    assert spent["main"].requests == 2 and spent["follow"].requests == 1


async def test_family_from_url_when_meta_lacks_endpoint(tmp_path):
    mw, _, _ = make(tmp_path)
    req = JsonRequest(f"{API}/v2/research/user/following/", data={})
    await mw.process_request(req)
    assert req.meta[meta.QUOTA_RESERVED] == "follow"


async def test_token_requests_are_free(tmp_path):
    mw, _, _ = make(tmp_path)
    req = Request(f"{API}/v2/oauth/token/", meta={meta.TOKEN_REQUEST: True})
    await mw.process_request(req)
    assert meta.QUOTA_RESERVED not in req.meta and not mw.spent_this_crawl


async def test_failed_requests_still_cost_quota(tmp_path):
    mw, _, _ = make(tmp_path)
    req = request()
    await mw.process_request(req)
    response = api(req, 500, "internal_error")
    assert await mw.process_response(req, response) is response
    retry = req.copy()
    await mw.process_request(retry)  # the resend pays again
    assert mw.ledger.spent(CLIENT, "2024-05-01")["main"].requests == 2


async def test_stop_mode_closes_once_with_quota_exhausted(tmp_path, caplog):
    mw, engine, _ = make(tmp_path, TIKTOK_QUOTA_DAILY_REQUESTS={"main": 2})
    await mw.process_request(request())
    await mw.process_request(request())
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with pytest.raises(QuotaExhausted):
                await mw.process_request(request())
    await settle()
    assert engine.closed == ["quota_exhausted"]
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert "2/2" in line and "JOBDIR" in line and "2 h 0 min" in line
    assert KEY not in line and "AbCd" in line
    assert mw.stats.get_value("tiktok/quota/exhausted") == 1
    await mw.process_request(request("followers"))  # the other family is not spent


async def test_ledger_shared_with_an_earlier_run(tmp_path):
    SqliteLedger(tmp_path / "quota.sqlite").mark_exhausted(CLIENT, "main", "2024-05-01")
    mw, _, _ = make(tmp_path)
    with pytest.raises(QuotaExhausted):
        await mw.process_request(request())
    assert isinstance(QuotaExhausted(), IgnoreRequest)


async def test_wait_mode_holds_the_request_in_the_scheduler_until_the_apis_midnight(
    tmp_path, caplog
):
    mw, engine, clock = make(
        tmp_path,
        TIKTOK_QUOTA_ON_EXHAUSTED="wait",
        TIKTOK_QUOTA_DAILY_REQUESTS={"main": 1},
        TIKTOK_QUOTA_WAIT_MARGIN=60,
    )
    mw.clock = clock
    assert await mw.process_request(request()) is None  # booked, sent
    req = request(**{meta.COUNTED: True})
    with caplog.at_level(logging.WARNING):
        held = await mw.process_request(req)
    # No sleeping in the download slot: a copy for the scheduler to hold until 00:00 + 60 s.
    assert clock.slept == [] and isinstance(held, Request) and held is not req
    assert held.meta[meta.NOT_BEFORE] == clock.now + 2 * 3600 + 60
    assert meta.QUOTA_RESERVED not in held.meta and meta.COUNTED not in held.meta
    assert mw.stats.get_value("tiktok/quota/waited_seconds") == 7260
    assert mw.stats.get_value("tiktok/quota/held") == 1 and engine.closed == []
    assert "waiting 2 h 1 min" in caplog.text
    assert mw.waiting_for_reset() == 7260  # what the progress display shows
    # After the API's midnight the held request books on the new day and goes.
    clock.now += 2 * 3600 + 60
    assert mw.waiting_for_reset() is None
    assert await mw.process_request(held) is None
    assert held.meta[meta.QUOTA_RESERVED] == "main"
    assert mw.ledger.spent(CLIENT, "2024-05-02")["main"].requests == 1
    mw.spider_closed()
    assert mw.stats.get_value("tiktok/quota/wait_cancelled") is None


async def test_closing_the_crawl_during_a_quota_wait_is_counted(tmp_path):
    mw, _, clock = make(
        tmp_path, TIKTOK_QUOTA_ON_EXHAUSTED="wait", TIKTOK_QUOTA_DAILY_REQUESTS={"main": 1}
    )
    mw.clock = clock
    await mw.process_request(request())
    held = await mw.process_request(request())
    assert isinstance(held, Request)
    assert mw.ledger.spent(CLIENT, "2024-05-01")["main"].requests == 1
    clock.now += 60  # Ctrl-C a minute later: the scheduler drops what it holds
    mw.spider_closed()
    assert mw.stats.get_value("tiktok/quota/wait_cancelled") == 1


async def test_429_marks_family_exhausted_and_requeues(tmp_path):
    mw, engine, _ = make(tmp_path)
    req = request()
    await mw.process_request(req)
    req.headers[b"Authorization"] = b"Bearer clt.x"
    retry = await mw.process_response(req, api(req, 429, "daily_quota_limit_exceeded"))
    assert isinstance(retry, Request) and retry.dont_filter
    assert meta.QUOTA_RESERVED not in retry.meta and b"Authorization" not in retry.headers
    assert mw.ledger.spent(CLIENT, "2024-05-01")["main"].exhausted
    with pytest.raises(QuotaExhausted):
        await mw.process_request(retry)
    await settle()
    assert engine.closed == ["quota_exhausted"]
    assert mw.stats.get_value("tiktok/quota/429") == 1


async def test_api_date_header_decides_the_day(tmp_path):
    mw, _, _ = make(tmp_path)  # local clock: 2024-05-01 22:00 UTC
    req = request()
    await mw.process_request(req)
    # The sandbox's clock is ahead: it is already tomorrow there, and it says 429.
    response = api(req, 429, "rate_limit_exceeded", date="Thu, 02 May 2024 00:30:00 GMT")
    await mw.process_response(req, response)
    assert mw.api_clock.day() == "2024-05-02"
    assert mw.ledger.spent(CLIENT, "2024-05-02")["main"].exhausted
    assert not mw.ledger.spent(CLIENT, "2024-05-01")["main"].exhausted
    assert mw.api_clock.seconds_to_reset() == pytest.approx(23.5 * 3600)


async def test_records_counted_per_endpoint(tmp_path):
    mw, _, _ = make(tmp_path)
    req = request("videos")
    await mw.process_request(req)
    data = {"videos": [{"id": i} for i in range(27)], "cursor": 100, "has_more": True}
    await mw.process_response(req, api(req, 200, data=data))
    req = request("followers")
    await mw.process_request(req)
    await mw.process_response(req, api(req, 200, data={"user_followers": [{"username": "a"}]}))
    spent = mw.ledger.spent(CLIENT, "2024-05-01")
    assert spent["main"].records == 27 and spent["follow"].records == 1
    assert mw.records_this_crawl == {"main": 27, "follow": 1}


async def test_reservation_given_back_when_token_middleware_refuses(tmp_path):
    mw, _, _ = make(tmp_path)
    req = request()
    await mw.process_request(req)
    assert await mw.process_exception(req, IgnoreRequest("no access token")) is None
    assert mw.ledger.spent(CLIENT, "2024-05-01")["main"].requests == 0
    assert mw.spent_this_crawl["main"] == 0


async def test_ledger_off_keeps_rate_cap_and_handles_429_in_memory(tmp_path):
    mw, _, _ = make(tmp_path, TIKTOK_QUOTA_ENABLED=False, TIKTOK_MAX_REQUESTS_PER_SECOND=5)
    assert mw.ledger is None and mw.limiter is not None
    assert not (tmp_path / "quota.sqlite").exists()
    req = request()
    await mw.process_request(req)
    assert mw.spent_this_crawl["main"] == 1
    await mw.process_response(req, api(req, 429, "rate_limit_exceeded"))
    with pytest.raises(QuotaExhausted):
        await mw.process_request(request())


def test_not_configured_when_everything_off(tmp_path):
    with pytest.raises(NotConfigured):
        make(tmp_path, TIKTOK_QUOTA_ENABLED=False, TIKTOK_MAX_REQUESTS_PER_SECOND=0)
    with pytest.raises(ValueError, match="TIKTOK_QUOTA_ON_EXHAUSTED takes one of stop, wait"):
        make(tmp_path, TIKTOK_QUOTA_ON_EXHAUSTED="pause")


async def test_rate_limiter_spaces_requests():
    clock = Time()
    limiter = RateLimiter(4.0, clock=clock)
    limiter.sleep = clock.sleep
    await asyncio.gather(*(limiter.wait() for _ in range(9)))
    assert sum(clock.slept) == pytest.approx(2.0)  # 9 requests at 4/s: 8 gaps of 0.25 s
    assert all(s == pytest.approx(0.25) for s in clock.slept)


def test_mongodb_ledger_when_mongodb_uri_set(tmp_path):
    crawler = get_crawler(
        settings_dict=settings(
            MONGODB_URI="mongodb://localhost:1",
            MONGODB_CLIENT_CLASS="mongomock.MongoClient",
            MONGODB_DATABASE="research",
            TIKTOK_QUOTA_LEDGER=None,
        )
    )
    ledger = open_ledger(crawler.settings)
    assert isinstance(ledger, MongoLedger)
    assert ledger.collection.full_name == "research.quota_ledger"
    assert ledger.reserve(CLIENT, "main", "2024-05-01", 1)
    assert not ledger.reserve(CLIENT, "main", "2024-05-01", 1)
    assert isinstance(open_ledger(crawler.settings, str(tmp_path / "x.sqlite")), SqliteLedger)


async def test_middleware_on_mongomock_ledger(tmp_path):
    mw, _, _ = make(
        tmp_path,
        MONGODB_URI="mongodb://localhost:1",
        MONGODB_CLIENT_CLASS="mongomock.MongoClient",
        TIKTOK_QUOTA_LEDGER=None,
        TIKTOK_QUOTA_DAILY_REQUESTS={"main": 1},
    )
    await mw.process_request(request())
    with pytest.raises(QuotaExhausted):
        await mw.process_request(request())
    assert mw.ledger.spent(CLIENT, "2024-05-01")["main"].requests == 1


def test_quota_command_report(tmp_path):
    from tiktok_scrapy.commands.quota import report

    ledger = SqliteLedger(tmp_path / "q.sqlite")
    clock = ApiClock(now=lambda: START)
    ledger.reserve(CLIENT, "main", "2024-05-01", 1000)
    ledger.add_records(CLIENT, "main", "2024-05-01", 99)
    ledger.mark_exhausted(Client.from_key("other-key-WXYZ"), "follow", "2024-05-01")
    crawler = get_crawler(settings_dict=settings(TIKTOK_QUOTA_DAILY_REQUESTS={"main": 500}))
    text = report(ledger, crawler.settings, clock=clock)
    assert "2024-05-01" in text and "in 2 h 0 min" in text
    assert "1/500" in text and "499 left" in text and "99 records" in text
    assert "20000" in text and "WXYZ" not in text and KEY not in text
    text = report(ledger, crawler.settings, all_clients=True, clock=clock)
    assert "WXYZ" in text and "the API reported it spent" in text


# --- against the real sandbox, in a `scrapy runspider` subprocess ---------------------------
SPIDER = """
import json
import scrapy
from scrapy.http import JsonRequest


class QuotaProbe(scrapy.Spider):
    name = "quota_probe"

    async def start(self):
        for i in range({n}):
            yield JsonRequest(
                "{url}/v2/research/user/info/?fields=display_name", data={{"username": f"u{{i}}"}},
                meta={{"tiktok_endpoint": "users", "tiktok_chain": f"c{{i}}", "tiktok_page": 0,
                      "handle_httpstatus_all": True}},
                dont_filter=True, callback=self.parse, errback=self.failed)

    def parse(self, response):
        self.crawler.stats.inc_value("probe/outcome/" + response.meta.get("tiktok_outcome", "-"))

    def failed(self, failure):
        self.crawler.stats.inc_value("probe/errback/" + failure.type.__name__)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        # Again once every component has written its last stats (as stats.json is).
        crawler.signals.connect(spider.dump, signal=scrapy.signals.engine_stopped)
        return spider

    def closed(self, reason):
        self.reason = reason
        self.dump()  # engine_stopped does not come when the spider closes as it opens

    def dump(self):
        with open({out!r}, "w") as f:
            json.dump({{"reason": self.reason, **self.crawler.stats.get_stats()}}, f, default=str)
"""


def run_probe(tmp_path, url: str, n: int, *settings_: str, env: dict | None = None):
    import os
    import subprocess
    import sys

    out = tmp_path / "stats.json"
    spider = tmp_path / "probe.py"
    spider.write_text(SPIDER.format(n=n, url=url, out=str(out)))
    overrides = {
        "ADDONS": ONLY_DEFAULTS,
        "ITEM_PIPELINES": "{}",
        "EXTENSIONS": "{}",
        "TIKTOK_API_URL": url,
        "TIKTOK_QUOTA_LEDGER": str(tmp_path / "q.sqlite"),
        "CONCURRENT_REQUESTS": "1",
        "TIKTOK_MAX_REQUESTS_PER_SECOND": "0",
        "LOG_LEVEL": "INFO",
    }
    args = [a for k, v in overrides.items() for a in ("-s", f"{k}={v}")]
    for s in settings_:
        args += ["-s", s]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "runspider", str(spider), *args],
        cwd=Path(__file__).parent.parent,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(out.read_text()), proc.stderr


@pytest.fixture
def sandbox():
    from tiktok_scrapy.sandbox import SandboxThread

    with SandboxThread({"quota_main": 4, "clock": datetime(2030, 1, 2, 23, 0, tzinfo=UTC)}) as sb:
        yield sb


@pytest.mark.integration
def test_sandbox_429_stops_crawl_once_and_ledger_uses_api_day(tmp_path, sandbox):
    stats, log = run_probe(
        tmp_path,
        sandbox.url,
        10,
        "TIKTOK_CLIENT_KEY=probe-key-0042",
        "TIKTOK_CLIENT_SECRET=sandbox-secret",
    )
    assert stats["reason"] == "quota_exhausted", log[-2000:]
    assert stats["tiktok/token/fetched"] == 1
    assert stats["tiktok/quota/429"] == 1
    assert len(sandbox.requests()) == 5  # 4 served + the one 429, then nothing more
    assert "sandbox-secret" not in log
    ledger = SqliteLedger(tmp_path / "q.sqlite")
    client = Client.from_key("probe-key-0042", sandbox.url)
    # The first request is reserved before any response (local day); the rest on the
    # sandbox's day, learnt from its Date header.
    # Every request is booked on the sandbox's day, learnt from the token response's Date
    # header before the first reservation (4 served + the one that met the 429).
    spent = ledger.spent(client, "2030-01-02")["main"]
    assert spent.requests == 5 and spent.exhausted
    assert ledger.spent(client, ApiClock().day()) == {}
    assert "Closing the crawl (quota_exhausted)" in log and "Traceback" not in log


@pytest.mark.integration
def test_two_crawls_sharing_a_ledger_keep_its_limit_on_another_api_day(tmp_path):
    """The sandbox's day is not the local one: no request may be booked on the local day."""
    from tiktok_scrapy.sandbox import SandboxThread

    with SandboxThread({"clock": datetime(2030, 1, 2, 12, 0, tzinfo=UTC)}) as sandbox:
        for crawl in ("first", "second"):
            stats, log = run_probe(
                tmp_path,
                sandbox.url,
                10,
                "TIKTOK_CLIENT_KEY=shared-key-0042",
                "TIKTOK_CLIENT_SECRET=sandbox-secret",
                'TIKTOK_QUOTA_DAILY_REQUESTS={"main": 4}',
                "CONCURRENT_REQUESTS=4",
            )
            assert stats["reason"] == "quota_exhausted", (crawl, log[-2000:])
        assert len(sandbox.requests()) == 4  # the ledger's limit, over both crawls
    client = Client.from_key("shared-key-0042", sandbox.url)
    assert SqliteLedger(tmp_path / "q.sqlite").spent(client, "2030-01-02")["main"].requests == 4


@pytest.mark.integration
def test_sandbox_missing_credentials_sends_nothing(tmp_path, sandbox):
    stats, log = run_probe(tmp_path, sandbox.url, 3)
    assert stats["reason"] == "missing_credentials"
    assert sandbox.requests() == [] and "Traceback" not in log
    assert "TIKTOK_SANDBOX=true" in log


def test_an_unwritable_ledger_falls_back_to_memory_and_says_so(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the ledger's folder should be")
    crawler = get_crawler(settings_dict=settings(TIKTOK_QUOTA_LEDGER=str(blocker / "quota.sqlite")))
    with caplog.at_level("WARNING"):
        middleware = QuotaMiddleware.from_crawler(crawler)
    assert middleware.ledger is not None
    assert "TIKTOK_QUOTA_LEDGER" in caplog.text and "in memory" in caplog.text


@pytest.mark.integration
def test_one_ctrl_c_ends_a_quota_wait(tmp_path):
    """TIKTOK_QUOTA_ON_EXHAUSTED=wait, 12 h before the API's midnight: one SIGINT closes."""
    import os
    import signal
    import subprocess
    import sys
    import threading

    from tiktok_scrapy.sandbox import SandboxThread

    with SandboxThread({"clock": datetime(2030, 1, 2, 12, 0, tzinfo=UTC)}) as sandbox:
        out = tmp_path / "stats.json"
        spider = tmp_path / "probe.py"
        spider.write_text(SPIDER.format(n=5, url=sandbox.url, out=str(out)))
        settings_ = {
            "ADDONS": ONLY_DEFAULTS,
            "ITEM_PIPELINES": "{}",
            "EXTENSIONS": "{}",
            "TIKTOK_API_URL": sandbox.url,
            "TIKTOK_CLIENT_KEY": "wait-key-0042",
            "TIKTOK_CLIENT_SECRET": "sandbox-secret",
            "TIKTOK_QUOTA_LEDGER": str(tmp_path / "q.sqlite"),
            "TIKTOK_QUOTA_DAILY_REQUESTS": '{"main": 2}',
            "TIKTOK_QUOTA_ON_EXHAUSTED": "wait",
            "TIKTOK_MAX_REQUESTS_PER_SECOND": "0",
            "LOG_LEVEL": "INFO",
        }
        args = [a for k, v in settings_.items() for a in ("-s", f"{k}={v}")]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "scrapy", "runspider", str(spider), *args],
            cwd=Path(__file__).parent.parent,
            env=environ,
            stderr=subprocess.PIPE,
            text=True,
        )
        watchdog = threading.Timer(120, proc.kill)  # a crawl that never waits fails, not hangs
        watchdog.start()
        try:
            seen = []
            for line in proc.stderr:  # until the crawl says it waits for midnight
                seen.append(line)
                if "until it resets" in line:
                    break
            else:
                pytest.fail("".join(seen[-40:]))
            proc.send_signal(signal.SIGINT)  # once: Scrapy's graceful shutdown
            _, rest = proc.communicate(timeout=60)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stats = json.loads(out.read_text())
        assert stats["reason"] == "shutdown", rest[-2000:]
        assert stats["tiktok/quota/wait_cancelled"] >= 1
        assert len(sandbox.requests()) == 2 and "Traceback" not in rest


async def test_a_retry_refused_before_it_is_sent_keeps_the_first_reservation(tmp_path):
    """The first attempt was sent and cost quota; its retry, refused before being sent (the
    gate's budget, an outage hold), gives back nothing: it reserved nothing yet."""
    from tiktok_scrapy.middlewares.retry import ApiRetryMiddleware

    mw, _, _ = make(tmp_path)
    retry_mw = ApiRetryMiddleware.from_crawler(mw.crawler)
    req = request()
    await mw.process_request(req)
    retry = await retry_mw.process_response(req, api(req, 500, "internal_error"))
    assert isinstance(retry, Request) and meta.QUOTA_RESERVED not in retry.meta
    assert await mw.process_exception(retry, IgnoreRequest("request budget reached")) is None
    assert mw.ledger.spent(CLIENT, "2024-05-01")["main"].requests == 1
    assert mw.spent_this_crawl["main"] == 1


async def test_429_resend_is_a_fresh_attempt(tmp_path):
    mw, _, _ = make(tmp_path)
    req = request(**{meta.COUNTED: True, meta.AUTH_RETRIED: True})
    await mw.process_request(req)
    retry = await mw.process_response(req, api(req, 429, "rate_limit_exceeded"))
    assert isinstance(retry, Request) and retry.dont_filter
    assert meta.COUNTED not in retry.meta and meta.QUOTA_RESERVED not in retry.meta
    assert retry.meta[meta.AUTH_RETRIED]  # kept, as before: only a retry drops it
    assert meta.NOT_BEFORE not in retry.meta  # no delay: the family is marked exhausted
