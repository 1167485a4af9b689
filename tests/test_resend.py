"""resend(): one copy-and-resend for the middlewares, after Scrapy's get_retry_request()."""

from __future__ import annotations

from scrapy.http import JsonRequest

from tiktok_scrapy.chains import meta
from tiktok_scrapy.middlewares.resend import PER_ATTEMPT_META, resend


def sent_request() -> JsonRequest:
    """A request as it comes back from the downloader: every middleware left its mark."""
    request = JsonRequest(
        "http://127.0.0.1:9/v2/research/video/query/",
        data={"query": {}, "cursor": 100, "search_id": "s1"},
        meta={
            meta.CHAIN: "c1",
            meta.PAGE: 3,
            meta.RETRY_TIMES: 1,
            meta.AUTH_RETRIED: True,
            meta.COUNTED: True,
            meta.QUOTA_RESERVED: "main",
            meta.OUTCOME: "retry",
            meta.OUTAGE_PROBE: True,
            meta.NOT_BEFORE: 5.0,
        },
        priority=7,
        dont_filter=False,
    )
    request.headers[b"Authorization"] = b"Bearer clt.secret"
    return request


def test_a_resend_is_a_fresh_attempt_of_the_same_request():
    request = sent_request()
    again = resend(request, reason="http_500")
    assert again is not request and again.dont_filter and again.priority == 7
    assert again.url == request.url and again.body == request.body
    assert again.callback == request.callback and again.errback == request.errback
    for key in PER_ATTEMPT_META:
        assert key not in again.meta, key
    assert b"Authorization" not in again.headers
    # What describes the request, not the attempt, stays.
    assert again.meta[meta.CHAIN] == "c1" and again.meta[meta.PAGE] == 3
    assert again.meta[meta.RETRY_TIMES] == 1 and again.meta[meta.AUTH_RETRIED]
    # The original is left as it was (its own middlewares still read it).
    assert request.meta[meta.COUNTED] and request.meta[meta.QUOTA_RESERVED] == "main"
    assert request.headers[b"Authorization"] == b"Bearer clt.secret"


def test_a_delay_is_a_hold_for_the_scheduler_not_a_sleep():
    again = resend(sent_request(), reason="x", delay=12.5, clock=lambda: 1000.0)
    assert again.meta[meta.NOT_BEFORE] == 1012.5
    assert meta.NOT_BEFORE not in resend(sent_request(), reason="x").meta
    assert meta.NOT_BEFORE not in resend(sent_request(), reason="x", delay=-1).meta


def test_meta_updates_and_priority():
    again = resend(
        sent_request(),
        reason="internal_error",
        priority_adjust=-1,
        meta_updates={meta.RETRY_TIMES: 2},
        keep=(meta.OUTAGE_PROBE,),
    )
    assert again.meta[meta.RETRY_TIMES] == 2 and again.priority == 6
    assert again.meta[meta.OUTAGE_PROBE] and meta.COUNTED not in again.meta
