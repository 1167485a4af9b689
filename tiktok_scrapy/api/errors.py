"""Classify a Research API response into what the crawler should do about it.

The API reports errors in an envelope (``{"error": {"code", "message", "log_id"}}``) with
an HTTP status; some failures are transient despite a 400, some 500s are proxies' HTML
pages, and user-level 400s ("cannot find the user", "is private") are outcomes, not bugs.
One function decides, so the retry middleware, the spiders and the sandbox tests agree.

A Scrapy response is classified once: ``classification(response)`` decides the first time
it is asked and remembers the answer for that response object, so the token, retry and
quota middlewares and the spider all read the same ``Classified`` without parsing again.
"""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tiktok_scrapy.api.endpoints import AnswerKind, endpoint_for_url

if TYPE_CHECKING:
    from scrapy.http import Response


class Outcome(StrEnum):
    OK = "ok"
    RETRY = "retry"  # transient: back off and resend (500, 502-504, HTML, transient 400s)
    SEARCH_ID_INVALID = "search_id_invalid"  # retry, then restart the chain without it
    REFRESH_TOKEN = "refresh_token"  # 401 access_token_invalid: new token, resend once
    QUOTA = "quota"  # 429: the quota family is spent for today
    USER_LEVEL = "user_level"  # unknown/private user, info not returned: record, move on
    FATAL = "fatal"  # our bug or a missing approval: stop loudly


USER_LEVEL_PATTERNS = re.compile(
    r"cannot find the user|can ?not find the user|cannot be found|user.{0,20}not (?:exist|found)"
    r"|cannot return this user|is private|private account|privacy|not return|"
    r"user has been (?:banned|deleted)|account .{0,20}(?:private|not available)"
    r"|(?:playlist|video).{0,40}(?:does not exist|not found|cannot be found)",
    re.IGNORECASE,
)
TRANSIENT_400_PATTERNS = re.compile(r"invalid count or cursor", re.IGNORECASE)
SEARCH_ID_PATTERN = re.compile(r"search.?id.{0,80}(?:invalid|expired)", re.IGNORECASE)
RETRY_STATUSES = frozenset({500, 502, 503, 504, 408, 522, 524})


@dataclass(frozen=True, slots=True)
class Classified:
    outcome: Outcome
    code: str  # error.code, or a synthetic one ("http_504", "non_json")
    message: str
    log_id: str | None
    payload: dict[str, Any] | None  # the parsed envelope, None when not JSON


def parse_envelope(body: bytes | str) -> dict[str, Any] | None:
    """The JSON envelope, or None for HTML/empty/non-JSON bodies."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def classify(status: int, body: bytes | str | dict[str, Any] | None) -> Classified:
    """Decide what to do with a data-endpoint response."""
    payload = body if isinstance(body, dict) else parse_envelope(body or b"")
    if payload is None:
        if status in RETRY_STATUSES or status >= 500 or status == 200:
            return Classified(
                Outcome.RETRY,
                f"http_{status}" if status != 200 else "non_json",
                "body is not JSON",
                None,
                None,
            )
        if status == 429:
            return Classified(Outcome.QUOTA, "http_429", "", None, None)
        if status == 401:
            return Classified(Outcome.REFRESH_TOKEN, "http_401", "", None, None)
        return Classified(Outcome.FATAL, f"http_{status}", "body is not JSON", None, None)

    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    code = str(error.get("code") or ("ok" if status == 200 else f"http_{status}"))
    message = str(error.get("message") or "")
    log_id = error.get("log_id")

    def result(outcome: Outcome) -> Classified:
        return Classified(outcome, code, message, log_id, payload)

    if code == "ok" and status == 200:
        return result(Outcome.OK)
    if code in {"rate_limit_exceeded", "daily_quota_limit_exceeded"} or status == 429:
        return result(Outcome.QUOTA)
    if code == "access_token_invalid" or (status == 401 and code != "scope_not_authorized"):
        return result(Outcome.REFRESH_TOKEN)
    if code == "scope_not_authorized" or code == "scope_permission_missed":
        return result(Outcome.FATAL)
    if status in RETRY_STATUSES or status >= 500 or code == "internal_error":
        return result(Outcome.RETRY)
    if SEARCH_ID_PATTERN.search(message):
        return result(Outcome.SEARCH_ID_INVALID)
    if TRANSIENT_400_PATTERNS.search(message):
        return result(Outcome.RETRY)
    if USER_LEVEL_PATTERNS.search(message) or status == 403:
        return result(Outcome.USER_LEVEL)
    return result(Outcome.FATAL)


# A text file of ids: digits and newlines (commas, brackets, quotes tolerated: a JSON list).
ID_TEXT = re.compile(rb'[0-9\s,\[\]"]*')


def classify_text(status: int, body: bytes | str | None) -> Classified:
    """Decide on a response of an endpoint that answers a text file (compliance download).

    A 200 whose body is nothing but ids is OK (an empty file too: no id is still valid);
    errors still come as JSON envelopes; anything else (HTML, a cut-off envelope) is retried.
    """
    raw = body.encode() if isinstance(body, str) else (body or b"")
    if status == 200 and ID_TEXT.fullmatch(raw):
        return Classified(Outcome.OK, "ok", "", None, None)
    return classify(status, raw)


def response_payload(response: Response) -> dict[str, Any] | None:
    """The JSON envelope of a response, or None (HTML, binary, empty, not an object).

    Uses ``TextResponse.json()``, which caches the decoded document for the spider.
    """
    decode = getattr(response, "json", None)
    if decode is None:
        return None
    try:
        payload = decode()
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return payload if isinstance(payload, dict) else None


def classify_response(response: Response) -> Classified:
    """``classify`` applied to a Scrapy response (``classify_text`` for an endpoint that
    answers a text file). Computes every time: call ``classification`` instead."""
    # In downloader middlewares a response has no .request (nor .meta) yet: go by its URL.
    endpoint = endpoint_for_url(response.url)
    if endpoint is not None and endpoint.answer_kind is AnswerKind.TEXT:
        return classify_text(response.status, response.body)
    payload = response_payload(response)
    return classify(response.status, payload if payload is not None else response.body)


# Keyed by the response object itself, not kept in ``request.meta``: a downloader middleware's
# response has no ``.meta`` yet, the classification belongs to this answer and not to the
# request (whose meta a resend copies), and a weak key lets it go with the response.
_CLASSIFIED: weakref.WeakKeyDictionary[Response, Classified] = weakref.WeakKeyDictionary()


def classification(response: Response) -> Classified:
    """What to do about ``response``: classified on the first call, remembered after.

    The one entry point for the middlewares (token, retry, quota) and the spiders, so each
    response is classified once however many of them ask. A new response object (a resend's
    answer, or one a middleware rebuilt with ``response.replace()``) is classified afresh.
    """
    known = _CLASSIFIED.get(response)
    if known is None:
        known = _CLASSIFIED[response] = classify_response(response)
    return known
