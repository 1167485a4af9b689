"""TokenMiddleware: one shared fetch, renewal before expiry and on 401, clean failures."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.http import JsonRequest, Request, TextResponse
from scrapy.utils.test import get_crawler
from settings_fixture import settings_dict

from tiktok_scrapy.chains import meta
from tiktok_scrapy.middlewares.token import TokenMiddleware, read_credentials

KEY, SECRET = "sbx-client-key-1234", "s3cr3t-value-that-must-not-leak"
API = "http://127.0.0.1:9"


def settings(**overrides: Any) -> dict[str, Any]:
    values = settings_dict(
        "TIKTOK_",
        "MONGODB_",
        TIKTOK_API_URL=API,
        TIKTOK_CLIENT_KEY=KEY,
        TIKTOK_CLIENT_SECRET=SECRET,
    )
    values.update(overrides)
    return values


def json_response(request: Request, status: int, payload: Any) -> TextResponse:
    return TextResponse(
        request.url,
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        request=request,
    )


def token_ok(token: str, expires_in: int = 7200) -> Callable[[Request], TextResponse]:
    return lambda r: json_response(
        r, 200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}
    )


class FakeEngine:
    """download_async answers from a list of callables (or exceptions); records closes."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.sent: list[Request] = []
        self.closed: list[str] = []

    async def download_async(self, request: Request) -> TextResponse:
        self.sent.append(request)
        await asyncio.sleep(0)  # let concurrent callers pile up
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer(request)

    async def close_spider_async(self, *, reason: str = "cancelled") -> None:
        self.closed.append(reason)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(answers: list[Any], **overrides: Any) -> tuple[TokenMiddleware, FakeEngine, Clock]:
    crawler = get_crawler(settings_dict=settings(**overrides))
    engine = FakeEngine(answers)
    crawler.engine = engine
    mw = TokenMiddleware.from_crawler(crawler)
    clock = Clock()
    mw.clock = clock
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    mw.sleep = sleep
    mw.slept = slept  # type: ignore[attr-defined]
    return mw, engine, clock


def data_request(**meta_: Any) -> JsonRequest:
    return JsonRequest(
        f"{API}/v2/research/video/query/?fields=id",
        data={"query": {}},
        meta={meta.ENDPOINT: "videos", meta.CHAIN: "c1", meta.PAGE: 0, **meta_},
        dont_filter=True,
    )


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_concurrent_requests_share_one_token_fetch():
    mw, engine, _ = make([token_ok("clt.one")])
    requests = [data_request() for _ in range(25)]
    await asyncio.gather(*(mw.process_request(r) for r in requests))
    assert len(engine.sent) == 1
    sent = engine.sent[0]
    assert sent.method == "POST" and sent.url == f"{API}/v2/oauth/token/"
    assert sent.meta[meta.TOKEN_REQUEST] and sent.meta["dont_retry"] and sent.dont_filter
    assert b"grant_type=client_credentials" in sent.body
    assert {r.headers[b"Authorization"] for r in requests} == {b"Bearer clt.one"}
    assert mw.stats.get_value("tiktok/token/fetched") == 1


async def test_token_request_itself_is_left_alone():
    mw, engine, _ = make([token_ok("clt.one")])
    request = Request(f"{API}/v2/oauth/token/", meta={meta.TOKEN_REQUEST: True})
    assert await mw.process_request(request) is None
    assert engine.sent == [] and b"Authorization" not in request.headers


async def test_token_renewed_before_expiry_not_after():
    mw, engine, clock = make([token_ok("clt.one"), token_ok("clt.two")])
    await mw.process_request(data_request())
    clock.now += 7200 - 300 - 1  # just inside the margin: still the old token
    request = data_request()
    await mw.process_request(request)
    assert request.headers[b"Authorization"] == b"Bearer clt.one" and len(engine.sent) == 1
    clock.now += 2  # less than TIKTOK_TOKEN_REFRESH_MARGIN left
    request = data_request()
    await mw.process_request(request)
    assert request.headers[b"Authorization"] == b"Bearer clt.two" and len(engine.sent) == 2
    assert mw.stats.get_value("tiktok/token/refreshed") == 1


async def test_short_lived_token_renewed_at_half_life():
    mw, engine, clock = make([token_ok("clt.one", expires_in=60), token_ok("clt.two")])
    await mw.process_request(data_request())
    clock.now += 29
    await mw.process_request(data_request())
    assert len(engine.sent) == 1
    clock.now += 2
    await mw.process_request(data_request())
    assert len(engine.sent) == 2


def unauthorized(request: Request) -> TextResponse:
    return json_response(
        request,
        401,
        {
            "data": {},
            "error": {"code": "access_token_invalid", "message": "expired", "log_id": "2024"},
        },
    )


async def test_401_renews_token_and_resends_once():
    mw, _, _ = make([token_ok("clt.one"), token_ok("clt.two")])
    request = data_request()
    await mw.process_request(request)
    retry = await mw.process_response(request, unauthorized(request))
    assert isinstance(retry, Request) and retry is not request
    assert retry.meta[meta.AUTH_RETRIED] and retry.dont_filter
    assert b"Authorization" not in retry.headers  # never queued with a token
    await mw.process_request(retry)
    assert retry.headers[b"Authorization"] == b"Bearer clt.two"
    second = unauthorized(retry)
    assert await mw.process_response(retry, second) is second
    assert mw.stats.get_value("tiktok/token/401") == 2


async def test_401_with_an_older_token_keeps_the_current_one():
    mw, engine, clock = make([token_ok("clt.one"), token_ok("clt.two")])
    old = data_request()
    await mw.process_request(old)
    clock.now += 7200  # expired: the next request renews
    await mw.process_request(data_request())
    assert len(engine.sent) == 2
    await mw.process_response(old, unauthorized(old))
    await mw.process_request(data_request())
    assert len(engine.sent) == 2


async def test_ok_response_passes_and_loses_its_authorization_header():
    mw, _, _ = make([token_ok("clt.one")])
    request = data_request()
    await mw.process_request(request)
    response = json_response(request, 200, {"data": {}, "error": {"code": "ok"}})
    assert await mw.process_response(request, response) is response
    assert b"Authorization" not in request.headers


async def test_invalid_client_closes_with_invalid_credentials(caplog):
    error = {
        "error": "invalid_client",
        "error_description": "Client key is wrong",
        "log_id": "20240101",
    }
    mw, engine, _ = make([lambda r: json_response(r, 401, error)])
    with caplog.at_level(logging.ERROR), pytest.raises(IgnoreRequest):
        await mw.process_request(data_request())
    with pytest.raises(IgnoreRequest):
        await mw.process_request(data_request())
    await settle()
    assert engine.closed == ["invalid_credentials"]
    assert len(engine.sent) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "TIKTOK_CLIENT_SECRET" in errors[0].getMessage()


async def test_transient_token_errors_are_retried_with_backoff():
    flaky = [
        lambda r: json_response(r, 500, {"error": "server_error"}),
        ConnectionRefusedError("refused"),
        lambda r: json_response(r, 503, {"error": "temporarily_unavailable"}),
        token_ok("clt.one"),
    ]
    mw, engine, _ = make(flaky)
    request = data_request()
    await mw.process_request(request)
    assert request.headers[b"Authorization"] == b"Bearer clt.one"
    assert len(engine.sent) == 4 and engine.closed == []
    assert len(mw.slept) == 3
    assert all(0.5 * 2**i <= s <= 1.5 * 2**i for i, s in enumerate(mw.slept))


async def test_token_endpoint_down_is_bounded_then_closes(caplog):
    mw, engine, _ = make([ConnectionRefusedError("refused")], TIKTOK_TOKEN_RETRY_TIMES=3)
    with caplog.at_level(logging.ERROR), pytest.raises(IgnoreRequest):
        await mw.process_request(data_request())
    await settle()
    assert len(engine.sent) == 3 and engine.closed == ["token_unavailable"]
    assert "after 3 attempts" in caplog.text


async def test_missing_credentials_close_the_crawl_and_send_nothing(caplog, monkeypatch):
    monkeypatch.delenv("TIKTOK_CLIENT_KEY", raising=False)
    monkeypatch.delenv("TIKTOK_CLIENT_SECRET", raising=False)
    mw, engine, _ = make([token_ok("x")], TIKTOK_CLIENT_KEY=None, TIKTOK_CLIENT_SECRET=None)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):  # the start requests: each refused, one line in all
            with pytest.raises(IgnoreRequest):
                await mw.process_request(data_request())
    await settle()
    assert engine.closed == ["missing_credentials"]
    assert len(caplog.records) == 1
    assert "TIKTOK_SANDBOX=true" in caplog.text and "TIKTOK_CLIENT_KEY" in caplog.text
    assert caplog.records[0].exc_info is None
    assert engine.sent == []  # not even a token request


def test_credentials_fall_back_to_environment(monkeypatch):
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", "env-key")
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", "env-secret")
    crawler = get_crawler(settings_dict={"TIKTOK_CLIENT_KEY": None})
    assert read_credentials(crawler.settings) == ("env-key", "env-secret")
    crawler = get_crawler(settings_dict={"TIKTOK_CLIENT_KEY": "set-key"})
    assert read_credentials(crawler.settings) == ("set-key", "env-secret")


async def test_secret_and_token_never_logged_or_in_stats(caplog):
    token = "clt.the-bearer-token-value"
    leaky = {"error": "invalid_client", "error_description": f"bad secret {SECRET}"}
    mw, _, _ = make(
        [
            lambda r: json_response(r, 500, {"error": "server_error", "error_description": SECRET}),
            token_ok(token),
            token_ok(token),
        ]
    )
    with caplog.at_level(logging.DEBUG):
        request = data_request()
        await mw.process_request(request)
        retry = await mw.process_response(request, unauthorized(request))
        await mw.process_request(retry)
        await mw.process_response(retry, unauthorized(retry))
        mw2, _, _ = make([lambda r: json_response(r, 400, leaky)])
        with pytest.raises(IgnoreRequest):
            await mw2.process_request(data_request())
        await settle()
    assert caplog.records, "expected some log output to check"
    assert SECRET not in caplog.text and token not in caplog.text
    stats = json.dumps(mw.stats.get_stats(), default=str)
    assert SECRET not in stats and token not in stats


def text_response(status: int, body: str) -> Callable[[Request], TextResponse]:
    return lambda r: TextResponse(r.url, status=status, body=body.encode(), request=r)


LEAKS = f"client_key={KEY}&client_secret={SECRET}"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            lambda r: json_response(
                r, 401, {"error": "invalid_client", "error_description": f"bad {LEAKS}"}
            ),
            "invalid_credentials",
        ),
        (ConnectionRefusedError(f"refused while sending {LEAKS}"), "token_unavailable"),
        (text_response(200, f"<html>{LEAKS}</html>"), "token_unavailable"),
        (text_response(502, f"<html>bad gateway {LEAKS}</html>"), "token_unavailable"),
        (
            lambda r: json_response(
                r, 500, {"error": "server_error", "error_description": LEAKS, "log_id": KEY}
            ),
            "token_unavailable",
        ),
        (
            lambda r: json_response(r, 404, {"error": {"code": "nope", "message": LEAKS}}),
            "invalid_credentials",
        ),
    ],
    ids=["invalid_client", "network_error", "non_json", "html_5xx", "json_5xx", "enveloped"],
)
async def test_no_token_error_path_reveals_key_or_secret(caplog, answer, reason):
    mw, engine, _ = make([answer])
    with caplog.at_level(logging.DEBUG), pytest.raises(IgnoreRequest) as raised:
        await mw.process_request(data_request())
    await settle()
    assert engine.closed == [reason]
    assert caplog.records, "expected some log output to check"
    shown = caplog.text + str(raised.value) + json.dumps(mw.stats.get_stats(), default=str)
    assert KEY not in shown and SECRET not in shown


async def test_401_resend_refused_by_the_gate_does_not_undo_the_first_count():
    """The resend is a fresh attempt: the gate's "counted" mark of the first one stays
    behind, so refusing the resend (budget reached) cannot uncount the request that was
    sent (which would let one request past ``max_requests``)."""
    from types import SimpleNamespace

    from tiktok_scrapy.chains import ChainCore, ChainState
    from tiktok_scrapy.middlewares.gate import ChainGateMiddleware

    mw, _, _ = make([token_ok("clt.one"), token_ok("clt.two")])
    config = SimpleNamespace(max_requests=1)
    core = ChainCore(mw.crawler, config, spider_name="videos")  # type: ignore[arg-type]
    core.expect("c1", ChainState("c1"))  # the page data_request() asks for
    gate = ChainGateMiddleware(mw.crawler, core)
    request = data_request()
    await gate.process_request(request)
    await mw.process_request(request)
    retry = await mw.process_response(request, unauthorized(request))
    assert isinstance(retry, Request) and meta.COUNTED not in retry.meta
    with pytest.raises(IgnoreRequest) as refused:
        await gate.process_request(retry)  # the budget (1 request) is spent
    gate.process_exception(retry, refused.value)
    assert core.requests_sent == 1
    assert mw.stats.get_value("tiktok/requests_sent") == 1


async def test_401_resend_of_an_outage_probe_stays_the_probe():
    mw, _, _ = make([token_ok("clt.one"), token_ok("clt.two")])
    request = data_request(**{meta.OUTAGE_PROBE: True})
    await mw.process_request(request)
    retry = await mw.process_response(request, unauthorized(request))
    assert retry.meta[meta.OUTAGE_PROBE] and retry.meta[meta.AUTH_RETRIED]
