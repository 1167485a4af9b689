"""Cassettes: record a crawl's HTTP exchanges as readable JSON, replay them with no network.

Betamax-style record/replay plugged into Scrapy's own ``HttpCacheMiddleware`` (order 900,
next to the downloader, so it sees every raw response, retries included):

- ``CASSETTE_MODE=record``: every request/response pair is written to
  ``CASSETTE_DIR/CASSETTE_NAME/NNNN-<endpoint>.json`` (method, URL path, canonical body,
  status, headers, body) plus ``cassette.json`` (spider, config). The client key and
  secret, tokens and ``Authorization`` never reach the files.
- ``CASSETTE_MODE=replay``: responses come from the cassette, matched by method + URL path
  and query + canonical body (JSON with sorted keys; the origin and ``Authorization`` are
  not part of the key), in recorded order per key — so a retried request gets the 500 and
  then the 200, and pages that depend on earlier cursors/search_ids follow the recording.
  A request that was not recorded is never sent: one error line names it and the crawl
  closes with reason ``cassette_miss``. The token request replays the recorded (scrubbed)
  token response, or a placeholder token when the cassette holds none.

``CassetteAddon`` turns ``CASSETTE_MODE`` into the HTTPCACHE settings. In replay it also
keeps the crawl off every real resource: the quota ledger is off (the quota middleware
still runs in memory, so a recorded 429 replays as recorded), retries do not back off,
the rate cap is lifted and placeholder credentials are used when none are set. Under
``scrapy check`` cassettes replay by default (see ``tiktok_scrapy.contracts``).

Settings: CASSETTE_MODE, CASSETTE_NAME, CASSETTE_DIR. Request meta: ``cassette`` (a
cassette name for this request, used by the ``@cassette`` contract).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections import defaultdict, deque
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response
from scrapy.http.response.text import TextResponse
from scrapy.settings import BaseSettings

from tiktok_scrapy.api.endpoints import TOKEN_PATH, endpoint_for_url
from tiktok_scrapy.closing import close_spider_soon
from tiktok_scrapy.settings_check import check_value
from tiktok_scrapy.settings_spec import SPEC

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

RECORD, REPLAY, OFF = "record", "replay", "off"
META_KEY = "cassette"
INDEX_FILE = "cassette.json"
TOKEN_PLACEHOLDER = "<token>"
SECRET_PLACEHOLDER = "<client_secret>"
KEY_PLACEHOLDER = "<client_key>"
REPLAY_CREDENTIAL = "cassette-replay"
# Anything that looks like a token or a bearer header, whoever sent it.
TOKEN_PATTERN = re.compile(r"clt\.[A-Za-z0-9._~+/=-]+")
BEARER_PATTERN = re.compile(r"Bearer\s+[^\s\"',]+", re.IGNORECASE)
SECRET_FORM_KEYS = {"client_secret": SECRET_PLACEHOLDER, "client_key": KEY_PLACEHOLDER}
# Response headers that carry nothing a replay needs.
DROPPED_HEADERS = {b"set-cookie", b"authorization", b"content-length", b"transfer-encoding"}


def cassette_mode(settings: BaseSettings) -> str:
    """CASSETTE_MODE, checked; ``scrapy check`` replays by default (never the network)."""
    mode = str(settings.get("CASSETTE_MODE") or OFF).strip().lower()
    check_value(SPEC["CASSETTE_MODE"], mode)  # SettingsError (a ValueError), one line
    if mode == OFF and os.environ.get("SCRAPY_CHECK"):
        return REPLAY
    return mode


# --- matching and scrubbing ---------------------------------------------------------------


def url_key(url: str) -> str:
    """Path and query of a URL: a cassette replays against any TIKTOK_API_URL."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def is_token_url(url: str) -> bool:
    return urlsplit(url).path.endswith(TOKEN_PATH)


def decode_body(body: bytes, content_type: str = "") -> Any:
    """A request body as data: JSON parsed, a form as a dict with secrets replaced."""
    text = body.decode("utf-8", "replace")
    if not text:
        return None
    if "x-www-form-urlencoded" in content_type:
        form = dict(parse_qsl(text, keep_blank_values=True))
        return {k: SECRET_FORM_KEYS.get(k, v) for k, v in form.items()}
    try:
        return json.loads(text)
    except ValueError:
        return text


def match_key(method: str, url: str, body: Any) -> str:
    """What a request is matched on: method, path + query, canonical body.

    The token request matches on method and path alone: its body holds the credentials,
    which differ between the recording and any replay.
    """
    if is_token_url(url):
        body = None
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{method.upper()} {url_key(url)} {canonical}"


def request_key(request: Request) -> str:
    content_type = (request.headers.get(b"Content-Type") or b"").decode("latin-1")
    return match_key(request.method, request.url, decode_body(request.body, content_type))


class Scrubber:
    """Replaces the client secret/key and every token seen with placeholders."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = {value: label for value, label in secrets.items() if value}

    def learn_token(self, token: str) -> None:
        if token:
            self.secrets[token] = TOKEN_PLACEHOLDER

    def text(self, text: str) -> str:
        for value, label in sorted(self.secrets.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(value, label)
        text = TOKEN_PATTERN.sub(TOKEN_PLACEHOLDER, text)
        return BEARER_PATTERN.sub(f"Bearer {TOKEN_PLACEHOLDER}", text)

    def data(self, value: Any) -> Any:
        """A JSON-ready value with every string scrubbed."""
        return json.loads(self.text(json.dumps(value, ensure_ascii=False)))


# --- the cassette on disk -----------------------------------------------------------------


def response_body_entry(body: bytes) -> dict[str, Any]:
    """``{"json": …}`` for a JSON body (readable), else ``{"text": …}`` (HTML, cut JSON)."""
    text = body.decode("utf-8", "replace")
    try:
        return {"json": json.loads(text)}
    except ValueError:
        return {"text": text}


def entry_body(entry: dict[str, Any]) -> bytes:
    if "json" in entry:
        return json.dumps(entry["json"], ensure_ascii=False).encode("utf-8")
    return str(entry.get("text", "")).encode("utf-8")


def load_interactions(folder: Path) -> list[dict[str, Any]]:
    """A cassette's interactions in recorded order."""
    return [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("[0-9]*.json"))
    ]


def read_index(folder: Path) -> dict[str, Any]:
    path = folder / INDEX_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


class Cassette:
    """One cassette being replayed: recorded responses queued per match key."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        self.queues: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for interaction in load_interactions(folder):
            request = interaction["request"]
            key = match_key(request["method"], request["url"], request.get("body"))
            self.queues[key].append(interaction)

    def next_for(self, key: str) -> dict[str, Any] | None:
        queue = self.queues.get(key)
        return queue.popleft() if queue else None


# --- the HTTPCACHE storage ----------------------------------------------------------------


class CassetteStorage:
    """``HTTPCACHE_STORAGE`` that records to / replays from cassettes."""

    def __init__(self, settings: BaseSettings) -> None:
        self.mode = cassette_mode(settings)
        if self.mode == OFF:
            raise NotConfigured  # CASSETTE_MODE is off
        self.name: str | None = settings.get("CASSETTE_NAME") or None
        self.root = Path(settings.get("CASSETTE_DIR") or "fixtures/cassettes")
        # The key is replaced in the token form only (a short key would mangle other text).
        secret = (
            settings.get("TIKTOK_CLIENT_SECRET") or os.environ.get("TIKTOK_CLIENT_SECRET") or ""
        )
        self.scrubber = Scrubber({str(secret): SECRET_PLACEHOLDER})
        self.crawler: Crawler | None = None
        self.cassettes: dict[str, Cassette] = {}
        self.recorded = 0
        self.missed = False

    # Scrapy's storage interface.
    def open_spider(self, spider: Spider) -> None:
        self.crawler = spider.crawler
        if self.mode == RECORD:
            if not self.name:
                logger.error(
                    "CASSETTE_MODE=record needs a cassette name: add "
                    "-s CASSETTE_NAME=<name> (files go to %s/<name>/).",
                    self.root,
                )
                close_spider_soon(spider.crawler, "cassette_error")
                return
            folder = self.root / self.name
            shutil.rmtree(folder, ignore_errors=True)  # a recording replaces the cassette
            folder.mkdir(parents=True)
            self._write_index(spider)
            logger.info("Recording cassette %s in %s.", self.name, folder)
        else:
            logger.info(
                "Replaying cassette %s from %s: no network.",
                self.name or "(named per request)",
                self.root,
            )

    def close_spider(self, spider: Spider) -> None:
        if self.mode == RECORD and self.name:
            self._write_index(spider)
            logger.info("Recorded %d interactions in cassette %s.", self.recorded, self.name)

    def retrieve_response(self, spider: Spider, request: Request) -> Response | None:
        if self.mode == RECORD:
            return None  # always ask the API
        name = request.meta.get(META_KEY) or self.name
        key = request_key(request)
        cassette = self._cassette(name) if name else None
        interaction = cassette.next_for(key) if cassette else None
        if interaction is not None:
            return self._response(request, interaction["response"])
        if is_token_url(request.url):
            return self._placeholder_token(request)
        self._miss(name, request, key)
        return None  # HTTPCACHE_IGNORE_MISSING (set in replay) drops it: never sent

    def store_response(self, spider: Spider, request: Request, response: Response) -> None:
        name = request.meta.get(META_KEY) or self.name
        if self.mode != RECORD or not name:
            return
        content_type = (request.headers.get(b"Content-Type") or b"").decode("latin-1")
        body = response_body_entry(response.body)
        if is_token_url(request.url) and isinstance(body.get("json"), dict):
            token = body["json"].get("access_token")
            if isinstance(token, str):
                self.scrubber.learn_token(token)
                body["json"]["access_token"] = TOKEN_PLACEHOLDER
        request_body = decode_body(request.body, content_type)
        interaction = {
            "request": {
                "method": request.method,
                "url": url_key(request.url),
                "content_type": content_type or None,
                "body": request_body,
            },
            "response": {
                "status": response.status,
                "headers": _headers(response.headers),
                **body,
            },
        }
        self.recorded += 1
        endpoint = endpoint_for_url(request.url)
        label = "token" if is_token_url(request.url) else (endpoint.name if endpoint else "other")
        path = self.root / name / f"{self.recorded:04d}-{label}.json"
        text = json.dumps(self.scrubber.data(interaction), ensure_ascii=False, indent=1)
        path.write_text(text + "\n", encoding="utf-8")

    # Helpers.
    def _cassette(self, name: str) -> Cassette | None:
        if name not in self.cassettes:
            folder = self.root / name
            if not folder.is_dir():
                return None
            self.cassettes[name] = Cassette(name, folder)
        return self.cassettes[name]

    def _response(self, request: Request, recorded: dict[str, Any]) -> Response:
        headers = Headers(recorded.get("headers") or {})
        content_type = (headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        cls = TextResponse if ("json" in content_type or "text" in content_type) else Response
        return cls(
            url=request.url,
            status=int(recorded["status"]),
            headers=headers,
            body=entry_body(recorded),
            request=request,
        )

    def _placeholder_token(self, request: Request) -> Response:
        body = {"access_token": TOKEN_PLACEHOLDER, "expires_in": 7200, "token_type": "Bearer"}
        return TextResponse(
            url=request.url,
            status=200,
            request=request,
            headers={"Content-Type": "application/json"},
            body=json.dumps(body).encode(),
        )

    def _miss(self, name: str | None, request: Request, key: str) -> None:
        if self.crawler is not None:
            self.crawler.stats.inc_value("cassette/miss")
        where = f"cassette {name!r}" if name else "no cassette (set CASSETTE_NAME)"
        if name and self._cassette(name) is None:
            where = f"cassette {name!r}, which does not exist in {self.root}"
        if not self.missed:
            logger.error(
                "Replay: %s has no recorded response for %s — the crawl differs from the "
                "recording (config, settings or code changed); record it again with "
                "-s CASSETTE_MODE=record. Stopping, nothing was sent.",
                where,
                key,
            )
        self.missed = True
        if self.crawler is not None:
            close_spider_soon(self.crawler, "cassette_miss")

    def _write_index(self, spider: Spider) -> None:
        assert self.name
        config = getattr(spider, "config", None)
        index = {
            "name": self.name,
            "spider": spider.name,
            "config": config.to_jsonable() if config is not None else None,
            "interactions": self.recorded,
        }
        text = json.dumps(self.scrubber.data(index), ensure_ascii=False, indent=1, default=str)
        (self.root / self.name / INDEX_FILE).write_text(text + "\n", encoding="utf-8")


def _headers(headers: Headers) -> dict[str, str]:
    return {
        key.decode("latin-1"): b", ".join(values).decode("latin-1")
        for key, values in headers.items()
        if key.lower() not in DROPPED_HEADERS
    }


# --- the add-on ---------------------------------------------------------------------------


def _default(settings: BaseSettings, name: str, value: Any) -> None:
    """Set ``name`` unless the user chose it (settings.py, command line, spider or job
    settings): the project's defaults are at "addon" priority too (default_settings.py)."""
    settings.set(name, value, priority="addon")


class CassetteAddon:
    """Derives the HTTPCACHE settings (and replay's safe settings) from CASSETTE_MODE."""

    def update_settings(self, settings: BaseSettings) -> None:
        mode = cassette_mode(settings)
        if mode == OFF:
            return
        _default(settings, "HTTPCACHE_ENABLED", True)
        _default(settings, "HTTPCACHE_STORAGE", f"{__name__}.CassetteStorage")
        _default(settings, "HTTPCACHE_POLICY", "scrapy.extensions.httpcache.DummyPolicy")
        _default(settings, "HTTPCACHE_IGNORE_HTTP_CODES", [])
        _default(settings, "HTTPCACHE_EXPIRATION_SECS", 0)
        # Replay must never fall through to the network; recording always goes there.
        _default(settings, "HTTPCACHE_IGNORE_MISSING", mode == REPLAY)
        if mode != REPLAY:
            return
        for name in ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"):
            if not (settings.get(name) or os.environ.get(name)):
                _default(settings, name, REPLAY_CREDENTIAL)
        _default(settings, "TIKTOK_QUOTA_ENABLED", False)  # nothing was spent
        _default(settings, "TIKTOK_MAX_REQUESTS_PER_SECOND", 1_000_000.0)
        _default(settings, "TIKTOK_RETRY_BACKOFF_BASE", 0.0)
        _default(settings, "TIKTOK_RETRY_BACKOFF_MAX", 0.0)
