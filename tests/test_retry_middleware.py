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

from tiktok_scrapy import meta
from tiktok_scrapy.middlewares.retry import ApiRetryMiddleware, backoff_delay

URL = "http://127.0.0.1:9/v2/research/video/query/?fields=id"


def settings(**overrides: Any) -> dict[str, Any]:
    return settings_dict("TIKTOK_", **overrides)


def make(**overrides: Any) -> ApiRetryMiddleware:
    mw = ApiRetryMiddleware.from_crawler(get_crawler(settings_dict=settings(**overrides)))
    mw.slept = []  # type: ignore[attr-defined]
    hold = mw._hold

    def record(request: Request, delay: float) -> None:  # the backoff the scheduler keeps
        mw.slept.append(delay)  # type: ignore[attr-defined]
        hold(request, delay)

    mw._hold = record  # type: ignore[method-assign]
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
