"""The sandbox's HTTP handlers: the Research API's token and data endpoints, plus admin.

Every data endpoint goes through one pipeline (auth, quota, faults, body checks, serving)
and reads its path, data key, fields and quota family from ``api.endpoints.ENDPOINTS``, so
the sandbox speaks exactly the protocol the crawler is built to. Responses are serialised
once with ``json.dumps`` (ids above 2**53 stay integers) and carry a ``Date`` header from
the sandbox clock.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import formatdate
from typing import Any

from aiohttp import web

from tiktok_scrapy.api.endpoints import (
    COMMENT_CAP,
    ENDPOINTS,
    MAX_WINDOW_DAYS,
    TOKEN_PATH,
    Endpoint,
)
from tiktok_scrapy.api.query import QueryError, validate_query
from tiktok_scrapy.sandbox import adlib, faults, shop
from tiktok_scrapy.sandbox.dataset import Dataset, UserError
from tiktok_scrapy.sandbox.options import OptionsError, SandboxOptions, parse_datetime
from tiktok_scrapy.sandbox.state import SandboxState, search_key
from tiktok_scrapy.text import is_ascii_digits

logger = logging.getLogger(__name__)
STATE = web.AppKey("state", SandboxState)
DATASET = web.AppKey("dataset", Dataset)
DEFAULT_MAX_COUNT = 20  # the API's default when max_count is not sent
FOLLOW_KEYS = ("display_name", "username")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error envelope to answer with (default: 400 invalid_params)."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid_params") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


# --- serialisation -----------------------------------------------------------------------
def dump(payload: Any) -> bytes:
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # lone surrogates: fall back to \u escapes
        return json.dumps(payload, separators=(",", ":")).encode()


def json_response(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def envelope(state: SandboxState, data: dict, code: str = "ok", message: str = "") -> bytes:
    return dump(
        {"data": data, "error": {"code": code, "message": message, "log_id": state.log_id()}}
    )


def error_response(state: SandboxState, status: int, code: str, message: str) -> web.Response:
    return json_response(status, envelope(state, {}, code, message))


# --- request bodies ----------------------------------------------------------------------
BODY_KEYS: dict[str, frozenset[str]] = {
    "videos": frozenset(
        {"query", "start_date", "end_date", "max_count", "cursor", "search_id", "is_random"}
    ),
    "users": frozenset({"username"}),
    "comments": frozenset({"video_id", "comment_id", "max_count", "cursor"}),
    "followers": frozenset({"username", "max_count", "cursor"}),
    "following": frozenset({"username", "max_count", "cursor"}),
    "liked_videos": frozenset({"username", "max_count", "cursor"}),
    "pinned_videos": frozenset({"username"}),
    "reposted_videos": frozenset({"username", "max_count", "cursor"}),
    "playlists": frozenset({"playlist_id", "max_count", "cursor"}),
}


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise ApiError("The request body is empty: send a JSON object.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError("The request body must be a JSON object.")
    return body


def parse_fields(endpoint: Endpoint, raw: str | None) -> tuple[str, ...]:
    """The requested fields, in order; required on endpoints that have fields."""
    if not endpoint.fields:
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in (raw or "").split(",") if n.strip()))
    if not names:
        raise ApiError(f"Missing fields: add ?fields=... with some of {','.join(endpoint.fields)}")
    unknown = [n for n in names if n not in endpoint.fields]
    if unknown:
        raise ApiError(f"Invalid fields: {','.join(unknown)}")
    return names


@dataclass(slots=True)
class Call:
    """One validated data request: what the serving functions need."""

    state: SandboxState
    dataset: Dataset
    endpoint: Endpoint
    body: dict[str, Any]
    fields: tuple[str, ...]

    def int_arg(self, name: str, default: int | None, minimum: int = 0) -> int | None:
        value = self.body.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(f"Invalid {name}: expected an integer, got {value!r}.")
        if value < minimum:
            raise ApiError(f"Invalid {name}: must be at least {minimum}.")
        return value

    def max_count(self) -> int:
        """The page size: ``max_count``, or the endpoint's own key and limit (the table's)."""
        key, limit = self.endpoint.count_param or "max_count", self.endpoint.max_count
        value = self.int_arg(key, min(DEFAULT_MAX_COUNT, limit), minimum=1)
        assert value is not None
        if value > limit:
            raise ApiError(f"Invalid {key}: must be between 1 and {limit}.")
        return value

    def cursor(self) -> int:
        value = self.int_arg("cursor", 0)
        assert value is not None
        return value

    def str_arg(self, name: str) -> str:
        value = self.body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ApiError(f"Missing or invalid {name}: expected a non-empty string.")
        return value

    def id_arg(self, name: str, required: bool = True) -> int | None:
        value = self.body.get(name)
        if value is None and not required:
            return None
        if isinstance(value, str) and is_ascii_digits(value) and len(value) <= 20:
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ApiError(f"Missing or invalid {name}: expected an integer id.")
        return value

    def project(self, obj: dict) -> dict:
        """The requested fields the object has (empty ones are absent, as in the API)."""
        return {k: obj[k] for k in self.fields if k in obj}

    def index_page(
        self,
        key: str,
        items: list,
        end: int | None = None,
        transform: Callable[[Any], Any] | None = None,
    ) -> dict[str, Any]:
        """A page of an index-cursor list; deleted items keep their slot but are not served."""
        cursor, max_count = self.cursor(), self.max_count()
        if faults.stall(self.state):
            return {key: [], "cursor": cursor, "has_more": True}
        end = len(items) if end is None else end
        chunk = items[cursor : min(cursor + max_count, end)]
        page = [
            transform(x) if transform else x
            for x in chunk
            if not (isinstance(x, dict) and x.get("_deleted"))
        ]
        capped = self.endpoint.cap is not None and end >= self.endpoint.cap
        has_more = (
            (cursor + max_count < end)
            if capped
            else faults.index_has_more(self.state, cursor, max_count, end)
        )
        next_cursor = cursor + max_count if has_more else max(cursor, min(cursor + max_count, end))
        return {key: page, "cursor": next_cursor, "has_more": has_more}

    def time_page(
        self, key: str, entries: list[tuple[int, Any]], transform: Callable[[Any], Any]
    ) -> dict[str, Any]:
        """A page of a newest-first (time, record) list: records at or before the cursor."""
        cursor = self.int_arg("cursor", None)
        if cursor is None:
            cursor = int(self.state.clock.now())
        elif cursor > 10**11:  # milliseconds, as in the docs' liked_videos example
            cursor //= 1000
        max_count = self.max_count()
        if faults.stall(self.state):
            return {key: [], "cursor": cursor, "has_more": True}
        start = bisect_left(entries, -cursor, key=lambda e: -e[0])
        chunk = entries[start : start + max_count]
        if chunk:
            more = start + len(chunk) < len(entries)
            has_more = more or self.state.options.trailing_empty_pages > 0
            return {
                key: [transform(r) for _, r in chunk],
                "cursor": chunk[-1][0] - 1,
                "has_more": has_more,
            }
        oldest = entries[-1][0] if entries else None
        has_more = faults.time_has_more(self.state, cursor, oldest)
        return {key: [], "cursor": cursor - 1 if has_more else cursor, "has_more": has_more}


# --- the endpoints -----------------------------------------------------------------------
def _day(call: Call, name: str) -> date:
    value = call.body.get(name)
    if value is None:
        raise ApiError(f"Missing {name}: give a YYYYMMDD date.")
    try:
        if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
            raise ValueError
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise ApiError(f"Invalid {name} {value!r}: expected a YYYYMMDD date string.") from None


def serve_videos(call: Call) -> dict[str, Any]:
    if "query" not in call.body:
        raise ApiError("Missing query: give an object with and/or/not conditions.")
    try:
        query = validate_query(call.body["query"])
    except QueryError as exc:
        raise ApiError(f"Invalid query: {exc}") from None
    start, end = _day(call, "start_date"), _day(call, "end_date")
    if end < start:
        raise ApiError("Invalid date range: end_date is before start_date.")
    if (end - start).days > MAX_WINDOW_DAYS:
        raise ApiError(
            f"Invalid date range: end_date must be at most {MAX_WINDOW_DAYS} days after start_date."
        )
    max_count = call.max_count()
    call.cursor()  # checked before the (costly) search, even when is_random ignores it
    is_random = call.body.get("is_random", False)
    if not isinstance(is_random, bool):
        raise ApiError(f"Invalid is_random: expected true or false, got {is_random!r}.")
    if is_random:
        truth = [v for v in call.dataset.search(query, start, end) if not v.get("_deleted")]
        picked = call.state.rng.sample(truth, min(max_count, len(truth)))
        return {
            "videos": [call.project(v) for v in picked],
            "cursor": len(picked),
            "has_more": False,
        }

    if faults.outage(call.state, start, end):
        raise ApiError(faults.INTERNAL_ERROR_MESSAGE, 500, "internal_error")
    search_id = call.body.get("search_id")
    request = search_key(query, start, end)
    if search_id in (None, ""):
        videos = call.dataset.search(query, start, end)
        if faults.heavy_search(call.state, len(videos)):
            raise ApiError(faults.INTERNAL_ERROR_MESSAGE, 500, "internal_error")
        search_id = call.state.new_search(videos, request) if videos else None
    else:
        if isinstance(search_id, bool) or not isinstance(search_id, str | int):
            raise ApiError(f"Invalid search_id: expected a string, got {search_id!r}.")
        search_id = str(search_id)
        found = call.state.search(search_id)
        if found is None or found.request != request or faults.search_id_fails(call.state, found):
            raise ApiError(faults.search_id_message(search_id))
        videos = found.videos
    if faults.heavy_search(call.state, len(videos)):
        raise ApiError(faults.INTERNAL_ERROR_MESSAGE, 500, "internal_error")
    data = call.index_page("videos", videos, transform=call.project)
    if search_id:
        data["search_id"] = search_id
    return data


def serve_user(call: Call) -> dict[str, Any]:
    return call.project(call.dataset.user(call.str_arg("username")))


def serve_comments(call: Call) -> dict[str, Any]:
    comment_id = call.id_arg("comment_id", required=False)
    video_id = call.id_arg("video_id", required=comment_id is None)
    cursor, max_count = call.cursor(), call.max_count()
    if cursor + max_count > COMMENT_CAP:
        raise ApiError(
            f"Invalid cursor: only the top {COMMENT_CAP} comments are served "
            f"(cursor + max_count must not exceed {COMMENT_CAP})."
        )
    if comment_id is not None:
        items = call.dataset.replies(comment_id)
    else:
        assert video_id is not None
        items = call.dataset.comments(video_id)
    return call.index_page("comments", items, min(len(items), COMMENT_CAP), call.project)


def _follow_edge(record: dict) -> dict:
    return {k: record[k] for k in FOLLOW_KEYS if k in record}


def serve_followers(call: Call) -> dict[str, Any]:
    entries = call.dataset.followers(call.str_arg("username"))
    return call.time_page("user_followers", entries, _follow_edge)


def serve_following(call: Call) -> dict[str, Any]:
    entries = call.dataset.following(call.str_arg("username"))
    return call.time_page("user_following", entries, _follow_edge)


def serve_liked(call: Call) -> dict[str, Any]:
    entries = call.dataset.liked_videos(call.str_arg("username"))
    entries = [e for e in entries if not e[1].get("_deleted")]  # deleted since (admin)
    return call.time_page("user_liked_videos", entries, call.project)


def serve_pinned(call: Call) -> dict[str, Any]:
    videos = call.dataset.pinned_videos(call.str_arg("username"))
    return {"pinned_videos_list": [call.project(v) for v in videos if not v.get("_deleted")]}


def serve_reposted(call: Call) -> dict[str, Any]:
    videos = call.dataset.reposted_videos(call.str_arg("username"))
    return call.index_page("reposted_videos", videos, transform=call.project)


def serve_playlist(call: Call) -> dict[str, Any]:
    playlist_id = call.id_arg("playlist_id")
    playlist = call.dataset.playlist(playlist_id) if playlist_id is not None else None
    if playlist is None:
        raise ApiError(f"Invalid playlist_id: playlist {playlist_id} does not exist.")
    video_ids = playlist["playlist_video_ids"]
    data = call.index_page("playlist_video_ids", video_ids)
    return {
        "playlist_id": playlist["playlist_id"],
        "playlist_name": playlist.get("playlist_name", ""),
        "playlist_item_total": len(video_ids),
        "playlist_last_updated": playlist.get("playlist_last_updated"),
        **data,
    }


SERVERS: dict[str, Callable[[Call], dict[str, Any]]] = {
    "videos": serve_videos,
    "users": serve_user,
    "comments": serve_comments,
    "followers": serve_followers,
    "following": serve_following,
    "liked_videos": serve_liked,
    "pinned_videos": serve_pinned,
    "reposted_videos": serve_reposted,
    "playlists": serve_playlist,
}
# TikTok Shop and the Commercial Content API live in modules of their own.
BODY_KEYS.update(shop.BODY_KEYS)
BODY_KEYS.update(adlib.BODY_KEYS)
SERVERS.update(shop.SERVERS)
SERVERS.update(adlib.SERVERS)


def scope_refusal(state: SandboxState, endpoint: Endpoint, client: str) -> web.Response | None:
    """``scope_not_authorized`` if the client lacks the endpoint's approval (denied_access)."""
    if endpoint.access not in state.denied_access(client):
        return None
    return error_response(
        state,
        state.options.scope_denied_status,
        "scope_not_authorized",
        f"The client is not authorized for this endpoint: it needs the {endpoint.access.value} "
        f"approval (scope {endpoint.scope})",
    )


def gate(state: SandboxState, endpoint: Endpoint, client: str | None) -> web.Response | None:
    """What every data endpoint answers before looking at the request: a missing token,
    a missing approval, a spent quota (the request is charged here), a server fault."""
    if client is None:
        return error_response(
            state,
            401,
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
        )
    if (refused := scope_refusal(state, endpoint, client)) is not None:
        return refused
    if not state.spend(client, endpoint.family):
        return error_response(
            state,
            429,
            "rate_limit_exceeded",
            f"Daily {endpoint.family} quota spent; it resets at 00:00 UTC.",
        )
    fault = faults.server_fault(state)
    if fault == 500:
        return error_response(state, 500, "internal_error", faults.INTERNAL_ERROR_MESSAGE)
    if fault == 504:
        return web.Response(status=504, body=faults.HTML_504, content_type="text/html")
    return None


def answer(
    state: SandboxState,
    dataset: Dataset,
    endpoint: Endpoint,
    client: str | None,
    raw: bytes,
    fields: str | None,
) -> web.Response:
    """Auth, quota, faults, validation and serving, in the order the real API seems to use."""
    if (refused := gate(state, endpoint, client)) is not None:
        return refused
    try:
        body = parse_body(raw)
        unknown = sorted(set(body) - BODY_KEYS[endpoint.name])
        if unknown:
            raise ApiError(f"Unknown field(s) in the request body: {', '.join(unknown)}.")
        if endpoint.fields_in_body and not fields and isinstance(body.get("fields"), str):
            fields = body["fields"]  # the Shop pages' examples send fields in the body
        requested = parse_fields(endpoint, fields)
        if endpoint.paged and faults.transient_400(state):
            raise ApiError(faults.TRANSIENT_400_MESSAGE)
        call = Call(state, dataset, endpoint, body, requested)
        if endpoint.paged:  # bad paging arguments fail before any dataset lookup
            call.cursor(), call.max_count()
        data = SERVERS[endpoint.name](call)
    except ApiError as exc:
        return error_response(state, exc.status, exc.code, exc.message)
    except UserError as exc:
        return error_response(state, exc.status, "invalid_params", exc.message)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError):
        # A body our checks let through and the serving code choked on: the API answers
        # such bodies with invalid_params, never a 500. Logged, as it is a sandbox bug.
        logger.exception("Sandbox: unexpected error serving %s", endpoint.name)
        return error_response(
            state, 400, "invalid_params", "The request body has an invalid value."
        )
    return json_response(200, faults.non_json(state, envelope(state, data)))


def data_handler(endpoint: Endpoint) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        state, dataset = request.app[STATE], request.app[DATASET]
        state.in_flight += 1
        try:
            raw = await request.read()
            client = state.client_for(request.headers.get("Authorization"))
            await faults.delay(state)
            response = answer(state, dataset, endpoint, client, raw, request.query.get("fields"))
            state.record(
                endpoint.name, response.status, _loggable(raw), request.query_string, client
            )
        finally:
            state.in_flight -= 1
        return response

    return handle


def _loggable(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


# --- token ---------------------------------------------------------------------------------
def token_error(state: SandboxState, status: int, error: str, description: str) -> web.Response:
    payload = {"error": error, "error_description": description, "log_id": state.log_id()}
    return json_response(status, dump(payload))


async def token(request: web.Request) -> web.StreamResponse:
    """Client-credentials token; any client_key with the configured secret is accepted."""
    state = request.app[STATE]
    await faults.delay(state)
    if state.chance(state.options.token_error_rate):
        return token_error(state, 500, "server_error", "Injected token endpoint failure.")
    form = await request.post()
    values = {k: str(form.get(k, "")) for k in ("client_key", "client_secret", "grant_type")}
    missing = [k for k, v in values.items() if not v]
    if missing:
        return token_error(
            state, 400, "invalid_request", f"Missing form field(s): {', '.join(missing)}."
        )
    if values["grant_type"] != "client_credentials":
        return token_error(
            state, 400, "unsupported_grant_type", "grant_type must be client_credentials."
        )
    if values["client_secret"] != state.options.client_secret:
        return token_error(state, 401, "invalid_client", "Client key or secret is invalid.")
    access_token = state.issue_token(values["client_key"])
    payload = {
        "access_token": access_token,
        "expires_in": state.options.token_ttl,
        "token_type": "Bearer",
    }
    return json_response(200, dump(payload))


# --- admin ---------------------------------------------------------------------------------
def admin_json(payload: Any, status: int = 200) -> web.Response:
    return json_response(status, dump(payload))


async def admin_stats(request: web.Request) -> web.StreamResponse:
    return admin_json(request.app[STATE].stats())


async def admin_requests(request: web.Request) -> web.StreamResponse:
    log = list(request.app[STATE].log)
    name = request.query.get("endpoint")
    return admin_json([r for r in log if r["endpoint"] == name] if name else log)


async def admin_reset(request: web.Request) -> web.StreamResponse:
    request.app[STATE].reset()
    return admin_json({"reset": True})


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise OptionsError("Send a JSON object.")
    return body


async def admin_options(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if request.method == "POST":
        try:
            state.set_options(**await _json_object(request))
        except OptionsError as exc:
            return admin_json({"error": str(exc)}, 400)
    return admin_json(state.options.to_dict())


def move_clock(state: SandboxState, body: dict[str, Any]) -> None:
    """Apply ``{"advance_seconds": N}``, ``{"advance_days": N}`` or ``{"set": "ISO"}``."""
    known = {"advance_seconds", "advance_days", "set"}
    if not body or set(body) - known:
        raise OptionsError(
            'Clock: send {"advance_seconds": N}, {"advance_days": N} '
            'or {"set": "2024-05-01T23:59:58Z"}.'
        )
    try:
        if "set" in body:
            state.clock.set(parse_datetime(body["set"]))
        state.clock.advance(float(body.get("advance_seconds", 0)))
        state.clock.advance(float(body.get("advance_days", 0)) * 86400)
    except (TypeError, ValueError) as exc:
        raise OptionsError(f"Clock: bad value ({exc}).") from None


async def admin_clock(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if request.method == "POST":
        try:
            move_clock(state, await _json_object(request))
        except OptionsError as exc:
            return admin_json({"error": str(exc)}, 400)
    now = state.clock.datetime()
    return admin_json(
        {
            "now": now.isoformat().replace("+00:00", "Z"),
            "day": state.clock.day(),
            "unix": now.timestamp(),
        }
    )


# --- the application -----------------------------------------------------------------------
@web.middleware
async def sandbox_date(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Date header from the sandbox clock: the crawler's quota ledger reads the API's day."""
    date_header = formatdate(request.app[STATE].clock.now(), usegmt=True)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["Date"] = date_header
        raise
    response.headers["Date"] = date_header
    return response


def create_app(
    options: SandboxOptions | None = None,
    *,
    dataset: Dataset | None = None,
    state: SandboxState | None = None,
) -> web.Application:
    """The sandbox as an aiohttp application (the dataset is generated unless given)."""
    options = options or (state.options if state else SandboxOptions())
    state = state or SandboxState(options)
    if dataset is None:
        dataset = Dataset.generate(
            seed=options.seed, scale=options.scale, start=options.start, end=options.end
        )
    app = web.Application(middlewares=[sandbox_date])
    app[STATE] = state
    app[DATASET] = dataset
    app.router.add_post(TOKEN_PATH, token)
    for endpoint in ENDPOINTS.values():
        if endpoint.name in SERVERS:
            app.router.add_post(endpoint.path, data_handler(endpoint))
    from tiktok_scrapy.sandbox.compliance import add_routes  # it builds on this module

    add_routes(app)  # the batch compliance tasks and /admin/delete
    app.router.add_get("/admin/stats", admin_stats)
    app.router.add_get("/admin/requests", admin_requests)
    app.router.add_post("/admin/reset", admin_reset)
    app.router.add_route("*", "/admin/options", admin_options)
    app.router.add_route("*", "/admin/clock", admin_clock)
    return app
