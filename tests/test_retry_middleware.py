"""ApiRetryMiddleware: classification-driven retries, backoff bounds, outcomes for the spider."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.http import HtmlResponse, JsonRequest, Request, Response, TextResponse
from scrapy.utils.test import get_crawler
from settings_fixture import settings_dict

from tiktok_scrapy.chains import meta
from tiktok_scrapy.middlewares.retry import ApiRetryMiddleware, backoff_delay

URL = "http://127.0.0.1:9/v2/research/video/query/?fields=id"


def settings(**overrides: Any) -> dict[str, Any]:
    return settings_dict("TIKTOK_", **overrides)


NOW = 1_000_000.0  # the middleware's clock in these tests


def make(**overrides: Any) -> ApiRetryMiddleware:
    """The middleware, with ``mw.slept``: the backoff of each resend, as the scheduler will
    hold it (``meta["tiktok_not_before"]`` minus the clock; nothing sleeps)."""
    mw = ApiRetryMiddleware.from_crawler(get_crawler(settings_dict=settings(**overrides)))
    mw.clock = lambda: NOW
    mw.slept = []  # type: ignore[attr-defined]

    def recording(method: Any) -> Any:
        async def call(*args: Any) -> Any:
            result = await method(*args)
            if isinstance(result, Request) and meta.NOT_BEFORE in result.meta:
                mw.slept.append(result.meta[meta.NOT_BEFORE] - NOW)  # type: ignore[attr-defined]
            return result

        return call

    mw.process_response = recording(mw.process_response)  # type: ignore[method-assign]
    mw.process_exception = recording(mw.process_exception)  # type: ignore[method-assign]
    return mw


def request(**meta_: Any) -> JsonRequest:
    return JsonRequest(
        URL,
        data={"query": {}, "cursor": 100, "search_id": "s1"},
        meta={
            meta.CHAIN: "c1",
            meta.ENDPOINT: "videos",
            meta.PAGE: 1,
            "handle_httpstatus_all": True,
            **meta_,
        },
        dont_filter=False,
    )


def api(
    req: Request, status: int, code: str = "ok", message: str = "", data: dict | None = None
) -> TextResponse:
    body = {"data": data or {}, "error": {"code": code, "message": message, "log_id": "L1"}}
    return TextResponse(
        req.url,
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        request=req,
    )


async def retry_until_final(mw: ApiRetryMiddleware, make_response: Any) -> tuple[Response, int]:
    """Feed the same failure until the middleware passes it on; return it and the resends."""
    req, resends = request(), 0
    while True:
        result = await mw.process_response(req, make_response(req))
        if not isinstance(result, Request):
            return result, resends
        assert result.dont_filter and result.meta[meta.CHAIN] == "c1"
        assert json.loads(result.body) == json.loads(req.body)  # same search_id + cursor
        req, resends = result, resends + 1


@pytest.mark.parametrize(
    "make_response",
    [
        lambda r: api(r, 500, "internal_error", "Something went wrong"),
        lambda r: api(r, 502, "http_502"),
        lambda r: HtmlResponse(r.url, status=504, body=b"<html>Gateway Timeout</html>", request=r),
        lambda r: TextResponse(r.url, status=200, body=b"not json at all", request=r),
        lambda r: Response(r.url, status=503, body=b"\x00\x01", request=r),
        lambda r: api(r, 400, "invalid_params", "Invalid count or cursor"),
    ],
)
async def test_transient_failures_retried_up_to_retry_times(make_response):
    mw = make(TIKTOK_RETRY_TIMES=4)
    final, resends = await retry_until_final(mw, make_response)
    assert resends == 4
    assert final.request.meta[meta.OUTCOME] == "retry"
    assert final.request.meta[meta.RETRY_TIMES] == 4
    assert mw.stats.get_value("tiktok/retry/count") == 4
    assert mw.stats.get_value("tiktok/retry/max_reached") == 1


async def test_search_id_invalid_has_its_own_budget_then_goes_to_spider():
    mw = make(TIKTOK_RETRY_TIMES=6, TIKTOK_SEARCH_ID_RETRY_TIMES=2)
    final, resends = await retry_until_final(
        mw, lambda r: api(r, 400, "invalid_params", "Search Id 123 is invalid or expired")
    )
    assert resends == 2 and final.request.meta[meta.OUTCOME] == "search_id_invalid"
    assert mw.stats.get_value("tiktok/retry/reason_count/invalid_params") == 2


@pytest.mark.parametrize(
    ("status", "code", "message", "outcome"),
    [
        (200, "ok", "", "ok"),
        (400, "invalid_params", "cannot find the user", "user_level"),
        (403, "invalid_params", "is private", "user_level"),
        (401, "scope_not_authorized", "", "fatal"),
        (400, "invalid_params", "Invalid field: foo", "fatal"),
    ],
)
async def test_final_outcomes_labelled_without_retry(status, code, message, outcome):
    mw = make()
    req = request()
    response = api(req, status, code, message)
    assert await mw.process_response(req, response) is response
    assert req.meta[meta.OUTCOME] == outcome and mw.slept == []


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "rate_limit_exceeded"),
        (429, "daily_quota_limit_exceeded"),
        (401, "access_token_invalid"),
    ],
)
async def test_quota_and_token_failures_pass_untouched(status, code):
    mw = make()
    req = request()
    response = api(req, status, code)
    assert await mw.process_response(req, response) is response
    assert meta.OUTCOME not in req.meta and mw.slept == []


async def test_dont_retry_and_token_requests_skipped():
    mw = make()
    for req in (request(dont_retry=True), request(**{meta.TOKEN_REQUEST: True})):
        response = api(req, 500, "internal_error")
        assert await mw.process_response(req, response) is response
        assert await mw.process_exception(req, DownloadTimeoutError()) is None


async def test_backoff_exponential_capped_and_jittered():
    mw = make(TIKTOK_RETRY_TIMES=8, TIKTOK_RETRY_BACKOFF_BASE=1.0, TIKTOK_RETRY_BACKOFF_MAX=10.0)
    await retry_until_final(mw, lambda r: api(r, 500, "internal_error"))
    assert len(mw.slept) == 8
    for attempt, delay in enumerate(mw.slept):
        nominal = min(10.0, 2**attempt)
        assert 0.5 * nominal <= delay <= 1.5 * nominal
    assert max(mw.slept) <= 15.0


def test_backoff_delay_formula():
    assert backoff_delay(0, 2.0, 60.0, lambda a, b: 1.0) == 2.0
    assert backoff_delay(3, 2.0, 60.0, lambda a, b: 1.0) == 16.0
    assert backoff_delay(9, 2.0, 60.0, lambda a, b: b) == 90.0  # cap 60 x 1.5


async def test_exceptions_retried_then_left_to_errback(caplog):
    mw = make(TIKTOK_RETRY_TIMES=2)
    req = request()
    for _ in range(2):
        req = await mw.process_exception(req, DownloadTimeoutError("took too long"))
        assert isinstance(req, Request)
    with caplog.at_level(logging.WARNING):
        assert await mw.process_exception(req, DownloadTimeoutError("took too long")) is None
    assert "Gave up" in caplog.text and "videos chain c1 page 1" in caplog.text
    assert mw.stats.get_value("tiktok/retry/reason_count/DownloadTimeoutError") == 2
    assert await mw.process_exception(request(), IgnoreRequest()) is None
    assert await mw.process_exception(request(), ValueError("a bug")) is None


async def test_give_up_warning_names_code_message_and_log_id(caplog):
    mw = make(TIKTOK_RETRY_TIMES=0)
    req = request()
    with caplog.at_level(logging.WARNING):
        await mw.process_response(req, api(req, 500, "internal_error", "Something broke"))
    assert "internal_error" in caplog.text and "Something broke" in caplog.text
    assert "L1" in caplog.text


async def test_retry_copy_drops_authorization_and_old_outcome():
    mw = make()
    req = request(**{meta.OUTCOME: "retry"})
    req.headers[b"Authorization"] = b"Bearer clt.x"
    retry = await mw.process_response(req, api(req, 500, "internal_error"))
    assert isinstance(retry, Request)
    assert b"Authorization" not in retry.headers and meta.OUTCOME not in retry.meta


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (200, "ok", ""),
        (500, "internal_error", "Something broke"),
        (429, "daily_quota_limit_exceeded", ""),
        (401, "access_token_invalid", "expired"),
        (400, "invalid_params", "cannot find the user"),
    ],
)
async def test_a_response_is_classified_once_across_the_middleware_chain(
    tmp_path, monkeypatch, status, code, message
):
    """token 560 → retry 550 → quota 540 → the spider: one classification per response."""
    from tiktok_scrapy.api import errors
    from tiktok_scrapy.middlewares.quota import QuotaMiddleware
    from tiktok_scrapy.middlewares.token import TokenMiddleware

    calls: list[int] = []
    real = errors.classify_response

    def counting(response: Response) -> Any:
        calls.append(response.status)
        return real(response)

    monkeypatch.setattr(errors, "classify_response", counting)
    crawler = get_crawler(
        settings_dict=settings(
            TIKTOK_CLIENT_KEY="key-for-tests",
            TIKTOK_CLIENT_SECRET="secret",
            TIKTOK_QUOTA_LEDGER=str(tmp_path / "q.sqlite"),
            TIKTOK_MAX_REQUESTS_PER_SECOND=0,
        )
    )
    chain = [
        TokenMiddleware.from_crawler(crawler),
        ApiRetryMiddleware.from_crawler(crawler),
        QuotaMiddleware.from_crawler(crawler),
    ]
    req = request()
    response = api(req, status, code, message)
    for middleware in chain:  # each asks, as if the previous one passed the response on
        await middleware.process_response(req, response)
    assert errors.classification(response).code == code  # the spider asks too
    assert calls == [status]
    second = api(req, status, code, message)  # the next attempt's answer is new
    assert errors.classification(second) is not errors.classification(response)
    assert calls == [status, status]


async def test_backoff_never_sleeps_in_the_middleware(monkeypatch):
    """Retries and outage holds return at once: the scheduler keeps the copy."""
    import asyncio

    async def no_sleeping(*args: Any) -> None:
        raise AssertionError("a retry backoff slept in a download slot")

    monkeypatch.setattr(asyncio, "sleep", no_sleeping)
    mw = make(TIKTOK_RETRY_TIMES=3, TIKTOK_RETRY_BACKOFF_BASE=30.0, TIKTOK_RETRY_BACKOFF_MAX=60.0)
    req = request()
    retry = await mw.process_response(req, api(req, 503, "http_503"))
    assert isinstance(retry, Request) and retry.meta[meta.NOT_BEFORE] >= NOW + 15.0
    retry = await mw.process_exception(retry, DownloadTimeoutError())
    assert isinstance(retry, Request) and retry.meta[meta.NOT_BEFORE] >= NOW + 30.0
    assert len(mw.slept) == 2


async def test_outage_hold_is_a_fresh_attempt_the_scheduler_keeps():
    """An outage hold is the same resend: the held copy waits in the scheduler for the
    breaker's pause, and carries neither the gate's count nor the ledger's reservation of
    the refused attempt (both are given back for the original)."""
    from types import SimpleNamespace

    from tiktok_scrapy.middlewares.retry import HeldForOutage

    mw = make(TIKTOK_OUTAGE_WINDOW=4, TIKTOK_OUTAGE_FAILURE_RATIO=0.5, TIKTOK_OUTAGE_PAUSE=30.0)
    crawled: list[Request] = []
    mw.crawler.engine = SimpleNamespace(crawl=crawled.append)
    for chain in ("c1", "c2", "c3", "c4"):  # failures of different chains: an outage
        req = request(**{meta.CHAIN: chain})
        await mw.process_response(req, api(req, 503, "http_503"))
    assert mw.breaker.is_open
    req = request(**{meta.COUNTED: True, meta.QUOTA_RESERVED: "main"})
    with pytest.raises(HeldForOutage):
        await mw.process_request(req)
    [held] = crawled
    assert held.meta[meta.NOT_BEFORE] == NOW + 30.0 and held.dont_filter
    assert meta.COUNTED not in held.meta and meta.QUOTA_RESERVED not in held.meta
    assert mw.stats.get_value("tiktok/outage/held") == 1
