"""The sandbox speaks the Research API as research-api.md describes it, over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from crawling import SAMPLES

from tiktok_scrapy.api.endpoints import ENDPOINTS, TOKEN_PATH, USER_FIELDS, VIDEO_FIELDS
from tiktok_scrapy.api.errors import Outcome, classify
from tiktok_scrapy.sandbox import OptionsError, SandboxOptions, SandboxThread

START, END = date(2024, 1, 1), date(2024, 1, 10)
WINDOW = {"start_date": "20240101", "end_date": "20240110"}
REGION_QUERY = {
    "and": [{"field_name": "region_code", "operation": "IN", "field_values": ["US", "GB", "DE"]}]
}
ALL_QUERY = {
    "and": [{"field_name": "create_date", "operation": "GTE", "field_values": ["20240101"]}]
}


@dataclass
class Reply:
    status: int
    raw: bytes
    headers: Message

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def data(self) -> dict:
        return self.json["data"]

    @property
    def error(self) -> dict:
        return self.json["error"]


def http(
    url: str, data: bytes | None = None, headers: dict | None = None, method: str = "POST"
) -> Reply:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.read(), response.headers)
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.read(), exc.headers)


def token_reply(url: str, **form: str) -> Reply:
    return http(
        url + TOKEN_PATH,
        urllib.parse.urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


class Api:
    """A minimal Research API client for tests."""

    def __init__(self, sandbox: SandboxThread, client_key: str = "test-client") -> None:
        self.url = sandbox.url
        reply = token_reply(
            self.url,
            client_key=client_key,
            client_secret="sandbox-secret",
            grant_type="client_credentials",
        )
        assert reply.status == 200, reply.raw
        self.token = reply.json["access_token"]

    def call(
        self, name: str, body: Any, fields: str | None = None, token: str | None = "default"
    ) -> Reply:
        endpoint = ENDPOINTS[name]
        url = self.url + endpoint.path
        if endpoint.fields:
            url += "?fields=" + (fields if fields is not None else ",".join(endpoint.fields))
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {self.token if token == 'default' else token}"
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return http(url, raw, headers)

    def admin(self, path: str, body: Any = None) -> Reply:
        if body is None:
            return http(self.url + path, method="GET")
        return http(
            self.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )


def crawl_index(
    api: Api, name: str, body: dict, key: str, max_count: int, fields: str | None = None
) -> tuple[list, list[Reply]]:
    """Every item of an index-paged chain, following cursor (and search_id)."""
    items: list = []
    replies: list[Reply] = []
    request = {**body, "max_count": max_count}
    while True:
        reply = api.call(name, request, fields)
        assert reply.status == 200, reply.raw
        replies.append(reply)
        items += reply.data[key]
        if not reply.data["has_more"]:
            return items, replies
        assert reply.data["cursor"] == request.get("cursor", 0) + max_count
        request["cursor"] = reply.data["cursor"]
        if "search_id" in reply.data:
            request["search_id"] = reply.data["search_id"]
        assert len(replies) < 500


@pytest.fixture(scope="module")
def api(sandbox: SandboxThread) -> Api:
    return Api(sandbox)


def public_user(sandbox: SandboxThread, minimum: int = 0) -> str:
    ds = sandbox.dataset
    closed = ds.private_users | ds.hidden_users | ds.likes_private_users
    return next(
        u
        for u in ds.usernames
        if u not in closed and "\x00" not in u and len(ds.followers(u)) >= minimum
    )


# --- token and auth ---------------------------------------------------------------------
def test_token_success_shape(sandbox: SandboxThread) -> None:
    reply = token_reply(
        sandbox.url,
        client_key="any",
        client_secret="sandbox-secret",
        grant_type="client_credentials",
    )
    assert reply.status == 200
    assert set(reply.json) == {"access_token", "expires_in", "token_type"}
    assert reply.json["access_token"].startswith("clt.")
    assert reply.json["expires_in"] == 7200 and reply.json["token_type"] == "Bearer"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"client_key": "k", "client_secret": "wrong", "grant_type": "client_credentials"},
            401,
            "invalid_client",
        ),
        (
            {"client_key": "k", "client_secret": "sandbox-secret", "grant_type": "password"},
            400,
            "unsupported_grant_type",
        ),
        ({"client_key": "k", "grant_type": "client_credentials"}, 400, "invalid_request"),
    ],
)
def test_token_errors(sandbox: SandboxThread, form: dict, status: int, error: str) -> None:
    reply = token_reply(sandbox.url, **form)
    assert reply.status == status
    assert reply.json["error"] == error
    assert reply.json["error_description"] and len(reply.json["log_id"]) == 34


def test_data_endpoints_need_a_live_token(make_sandbox: Any) -> None:
    sandbox = make_sandbox(token_ttl=60)
    api = Api(sandbox)
    body = {"username": public_user(sandbox)}
    assert api.call("users", body).status == 200
    for token in (None, "clt.unknown"):
        reply = api.call("users", body, token=token)
        assert (reply.status, reply.error["code"]) == (401, "access_token_invalid")
        assert reply.data == {}
    sandbox.advance_clock(61)
    assert api.call("users", body).error["code"] == "access_token_invalid"
    assert classify(401, api.call("users", body).raw).outcome is Outcome.REFRESH_TOKEN


# --- shapes -----------------------------------------------------------------------------
def _types(obj: dict) -> dict[str, str]:
    return {k: type(v).__name__ for k, v in obj.items()}


@pytest.mark.parametrize("sample", ["video_query_short_page", "video_query_nul_bytes"])
def test_video_query_matches_real_samples(api: Api, sample: str) -> None:
    real = json.loads((SAMPLES / f"{sample}.json").read_text())
    reply = api.call("videos", {"query": REGION_QUERY, **WINDOW, "max_count": 50})
    assert reply.status == 200
    assert set(reply.json) == set(real) and set(reply.error) == set(real["error"])
    assert _types(reply.data) == _types(real["data"])
    assert reply.error["code"] == "ok" and reply.error["message"] == ""
    assert len(reply.error["log_id"]) == len(real["error"]["log_id"])
    real_video, video = real["data"]["videos"][0], reply.data["videos"][0]
    assert all(set(v) <= set(VIDEO_FIELDS) for v in reply.data["videos"])  # no "_" keys
    shared = set(real_video) & set(video)
    assert len(shared) >= 10
    assert {k: _types(video)[k] for k in shared} == {k: _types(real_video)[k] for k in shared}


def test_comments_match_real_sample(api: Api, sandbox: SandboxThread) -> None:
    real = json.loads((SAMPLES / "comment_list.json").read_text())
    video_id = sandbox.dataset.many_comments_video_ids[0]
    reply = api.call("comments", {"video_id": video_id, "max_count": 10})
    assert _types(reply.data) == _types(real["data"])
    assert _types(reply.data["comments"][0]) == _types(real["data"]["comments"][0]) | {
        "reply_count": "int"
    }
    assert all(c["parent_comment_id"] == video_id for c in reply.data["comments"])


def test_user_info_shape_and_fields_filter(api: Api, sandbox: SandboxThread) -> None:
    username = public_user(sandbox)
    full = api.call("users", {"username": username})
    assert set(full.data) <= set(USER_FIELDS) and "follower_count" in full.data
    assert "username" not in full.data  # never echoed: the crawler keeps the requested one
    part = api.call("users", {"username": username}, fields="display_name,%20likes_count")
    assert set(part.data) == {"display_name", "likes_count"}


def test_other_endpoint_shapes(api: Api, sandbox: SandboxThread) -> None:
    ds = sandbox.dataset
    username = public_user(sandbox, minimum=5)
    follow = api.call("followers", {"username": username, "max_count": 5}).data
    assert set(follow) == {"user_followers", "cursor", "has_more"}
    assert set(follow["user_followers"][0]) == {"display_name", "username"}
    following = api.call("following", {"username": username}).data
    assert set(following) == {"user_following", "cursor", "has_more"}
    liked = api.call("liked_videos", {"username": username}).data
    assert set(liked) == {"user_liked_videos", "cursor", "has_more"}
    pinned = api.call("pinned_videos", {"username": username}).data
    assert set(pinned) == {"pinned_videos_list"}
    reposted = api.call("reposted_videos", {"username": username}).data
    assert set(reposted) == {"reposted_videos", "cursor", "has_more"}
    playlist = api.call("playlists", {"playlist_id": ds.playlist_ids[0], "max_count": 5}).data
    assert set(playlist) == {
        "playlist_id",
        "playlist_name",
        "playlist_video_ids",
        "playlist_item_total",
        "playlist_last_updated",
        "cursor",
        "has_more",
    }
    assert (
        playlist["playlist_video_ids"] == ds.playlist(ds.playlist_ids[0])["playlist_video_ids"][:5]
    )


def test_ids_above_2_53_are_served_as_exact_integers(api: Api) -> None:
    reply = api.call("videos", {"query": REGION_QUERY, **WINDOW, "max_count": 5}, fields="id")
    ids = [v["id"] for v in reply.data["videos"]]
    assert all(isinstance(i, int) and i > 2**53 for i in ids)
    assert all(str(i).encode() in reply.raw for i in ids)


def test_field_types_follow_the_codebook(api: Api) -> None:
    videos, _ = crawl_index(api, "videos", {"query": ALL_QUERY, **WINDOW}, "videos", 100)
    assert sum("effect_ids" in v for v in videos) > 10
    for v in videos:
        assert all(isinstance(e, str) and e.isdigit() for e in v.get("effect_ids", ()))
        assert all(isinstance(h, str) for h in v.get("hashtag_names", ()))
        assert all(type(v[k]) is int for k in ("id", "music_id", "create_time", "view_count"))
        assert type(v.get("playlist_id", 0)) is int
        assert type(v["is_stem_verified"]) is bool


# --- validation ---------------------------------------------------------------------------
def _video(**changes: Any) -> dict:
    body = {"query": REGION_QUERY, **WINDOW, "max_count": 20}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("name", "body", "fields", "needle"),
    [
        ("videos", _video(), "", "fields"),
        ("videos", _video(), "id,nope", "nope"),
        ("videos", _video(query=None), None, "query"),
        ("videos", _video(query={"and": []}), None, "empty"),
        (
            "videos",
            _video(
                query={
                    "and": [{"field_name": "colour", "operation": "EQ", "field_values": ["red"]}]
                }
            ),
            None,
            "colour",
        ),
        (
            "videos",
            _video(
                query={
                    "and": [
                        {"field_name": "region_code", "operation": "LIKE", "field_values": ["US"]}
                    ]
                }
            ),
            None,
            "LIKE",
        ),
        (
            "videos",
            _video(
                query={
                    "and": [
                        {
                            "field_name": "region_code",
                            "operation": "EQ",
                            "field_values": ["US", "GB"],
                        }
                    ]
                }
            ),
            None,
            "one value",
        ),
        ("videos", _video(start_date=None), None, "start_date"),
        ("videos", _video(end_date="2024-01-10"), None, "end_date"),
        ("videos", _video(end_date="20231231"), None, "before"),
        ("videos", _video(start_date="20240101", end_date="20240201"), None, "30 days"),
        ("videos", _video(max_count=101), None, "max_count"),
        ("videos", _video(max_count=0), None, "max_count"),
        ("videos", _video(cursor="20"), None, "cursor"),
        ("videos", _video(cursor=True), None, "cursor"),
        ("videos", _video(search_id="123"), None, "Search Id 123 is invalid or expired"),
        ("videos", _video(page=2), None, "page"),
        ("users", {}, None, "username"),
        ("comments", {"max_count": 10}, None, "video_id"),
        (
            "comments",
            {"video_id": 7319564390508300771, "cursor": 990, "max_count": 20},
            None,
            "1000",
        ),
        ("followers", {"username": "x", "cursor": 1.5}, None, "cursor"),
        ("playlists", {"playlist_id": 12345}, None, "12345"),
        ("users", b"not json", None, "JSON"),
    ],
)
def test_invalid_requests_get_invalid_params(
    api: Api, name: str, body: Any, fields: str | None, needle: str
) -> None:
    reply = api.call(name, body, fields)
    assert reply.status == 400, reply.raw
    assert reply.error["code"] == "invalid_params"
    assert needle.lower() in reply.error["message"].lower()
    assert reply.data == {}


def test_thirty_days_apart_is_accepted(api: Api) -> None:
    reply = api.call("videos", _video(start_date="20240101", end_date="20240131"))
    assert reply.status == 200


@pytest.mark.parametrize(
    ("kind", "endpoint"),
    [
        ("unknown", "users"),
        ("hidden", "users"),
        ("private", "followers"),
        ("likes_private", "liked_videos"),
    ],
)
def test_user_level_errors(api: Api, sandbox: SandboxThread, kind: str, endpoint: str) -> None:
    ds = sandbox.dataset
    username = {
        "unknown": "no_such_user_x",
        "hidden": min(ds.hidden_users),
        "private": min(ds.private_users),
        "likes_private": min(ds.likes_private_users),
    }[kind]
    reply = api.call(endpoint, {"username": username})
    assert reply.status in (400, 403) and reply.error["code"] == "invalid_params"
    assert classify(reply.status, reply.raw).outcome is Outcome.USER_LEVEL


# --- pagination ---------------------------------------------------------------------------
def test_video_pages_reach_every_video_once_with_short_pages(
    api: Api, sandbox: SandboxThread
) -> None:
    snapshot = sandbox.dataset.search(ALL_QUERY, START, END)
    assert any(v.get("_deleted") for v in snapshot)
    videos, replies = crawl_index(
        api, "videos", {"query": ALL_QUERY, **WINDOW}, "videos", 30, fields="id,create_time"
    )
    ids = [v["id"] for v in videos]
    truth = [v["id"] for v in sandbox.dataset.truth_videos(ALL_QUERY, START, END)]
    assert ids == truth and len(set(ids)) == len(ids)
    assert any(len(r.data["videos"]) < 30 and r.data["has_more"] for r in replies)
    assert len({r.data["search_id"] for r in replies}) == 1
    assert len(replies) == -(-len(snapshot) // 30)


def test_empty_result_has_no_search_id(api: Api) -> None:
    query = {
        "and": [{"field_name": "username", "operation": "EQ", "field_values": ["nobody_at_all"]}]
    }
    reply = api.call("videos", _video(query=query))
    assert reply.data["videos"] == [] and reply.data["has_more"] is False
    assert "search_id" not in reply.data


def test_is_random_returns_matching_videos_without_paging(api: Api, sandbox: SandboxThread) -> None:
    reply = api.call("videos", _video(is_random=True, max_count=15), fields="id")
    truth = {v["id"] for v in sandbox.dataset.truth_videos(REGION_QUERY, START, END)}
    ids = [v["id"] for v in reply.data["videos"]]
    assert len(ids) == 15 and set(ids) <= truth and reply.data["has_more"] is False


def test_comments_stop_at_the_top_1000(api: Api, sandbox: SandboxThread) -> None:
    video_id = sandbox.dataset.many_comments_video_ids[0]
    comments, replies = crawl_index(api, "comments", {"video_id": video_id}, "comments", 100)
    truth = sandbox.dataset.comments(video_id)
    assert len(truth) > 1000
    assert [c["id"] for c in comments] == [c["id"] for c in truth[:1000]]
    assert replies[-1].data["cursor"] == 1000 and len(replies) == 10


def test_replies_by_comment_id(api: Api, sandbox: SandboxThread) -> None:
    video_id = sandbox.dataset.many_comments_video_ids[0]
    parent = next(c for c in sandbox.dataset.comments(video_id) if c["reply_count"])
    replies, _ = crawl_index(
        api, "comments", {"video_id": video_id, "comment_id": parent["id"]}, "comments", 100
    )
    assert [c["id"] for c in replies] == [c["id"] for c in sandbox.dataset.replies(parent["id"])]
    assert all(c["parent_comment_id"] == parent["id"] for c in replies)


def test_followers_time_cursor(api: Api, sandbox: SandboxThread) -> None:
    username = public_user(sandbox, minimum=150)
    truth = sandbox.dataset.followers(username)
    collected, body = [], {"username": username, "max_count": 100}
    while True:
        data = api.call("followers", body).data
        page = data["user_followers"]
        times = [t for t, r in truth if r in page]
        assert all(t <= body.get("cursor", 2**40) for t in times)
        if page:
            assert data["cursor"] == min(times) - 1
        collected += page
        if not data["has_more"]:
            break
        body["cursor"] = data["cursor"]
    assert collected == [r for _, r in truth]


def test_liked_videos_and_reposted_paging(api: Api, sandbox: SandboxThread) -> None:
    ds = sandbox.dataset
    username = next(
        u
        for u in ds.usernames
        if u not in ds.private_users | ds.likes_private_users | ds.hidden_users
        and len(ds.liked_videos(u)) > 12
        and len(ds.reposted_videos(u)) > 7
    )
    liked, body = [], {"username": username, "max_count": 5}
    while True:
        data = api.call("liked_videos", body, fields="id").data
        liked += [v["id"] for v in data["user_liked_videos"]]
        if not data["has_more"]:
            break
        body["cursor"] = data["cursor"]
    assert liked == [v["id"] for _, v in ds.liked_videos(username)]
    reposted, _ = crawl_index(
        api, "reposted_videos", {"username": username}, "reposted_videos", 3, fields="id"
    )
    assert [v["id"] for v in reposted] == [v["id"] for v in ds.reposted_videos(username)]


# --- quotas and clock ---------------------------------------------------------------------
def test_quota_exhaustion_day_change_and_free_tokens(make_sandbox: Any) -> None:
    sandbox = make_sandbox(quota_main=3, quota_follow=2, clock="2024-05-01T23:59:00Z")
    api = Api(sandbox)
    Api(sandbox)  # tokens cost nothing
    username = public_user(sandbox)
    assert [api.call("users", {"username": username}).status for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    reply = api.call("pinned_videos", {"username": username})
    assert reply.error["code"] == "rate_limit_exceeded"
    assert classify(reply.status, reply.raw).outcome is Outcome.QUOTA
    assert api.call("followers", {"username": username}).status == 200  # other family
    stats = sandbox.stats()
    assert stats["quota"] == {"main": 3, "follow": 1} and stats["day"] == "2024-05-01"
    assert stats["tokens_issued"] == 2
    sandbox.advance_clock(120)
    assert api.call("users", {"username": username}).status == 200
    assert sandbox.stats()["quota"]["main"] == 1


def test_quota_is_per_client_key(make_sandbox: Any) -> None:
    sandbox = make_sandbox(quota_main=1)
    first, second = Api(sandbox, "lab-a"), Api(sandbox, "lab-b")
    body = {"username": public_user(sandbox)}
    assert [first.call("users", body).status, second.call("users", body).status] == [200, 200]
    assert first.call("users", body).status == 429


def test_server_errors_cost_quota(make_sandbox: Any) -> None:
    sandbox = make_sandbox(quota_main=2, error_rate=1.0)
    api = Api(sandbox)
    replies = [api.call("videos", _video()) for _ in range(3)]
    assert [r.status for r in replies] == [500, 500, 429]
    assert replies[0].error["code"] == "internal_error"
    assert classify(500, replies[0].raw).outcome is Outcome.RETRY


def test_date_header_follows_the_sandbox_clock(make_sandbox: Any) -> None:
    sandbox = make_sandbox(clock="2024-05-01T23:59:58Z")
    api = Api(sandbox)
    reply = api.call("users", {"username": public_user(sandbox)})
    first = parsedate_to_datetime(reply.headers["Date"])
    assert first.date() == date(2024, 5, 1)
    assert reply.error["log_id"].startswith("20240501")
    moved = api.admin("/admin/clock", {"advance_days": 1})
    assert moved.json["day"] == "2024-05-02"
    later = parsedate_to_datetime(api.call("users", {"username": "x"}).headers["Date"])
    assert later.date() == date(2024, 5, 2)
    api.admin("/admin/clock", {"set": "2025-01-01T00:00:00Z"})
    assert parsedate_to_datetime(api.admin("/admin/stats").headers["Date"]).year == 2025


# --- faults -------------------------------------------------------------------------------
def test_faults_spare_the_token_endpoint(make_sandbox: Any) -> None:
    sandbox = make_sandbox(error_rate=1.0, html_504_rate=1.0, non_json_rate=1.0, latency_ms=1)
    Api(sandbox)  # would fail on any fault
    broken = make_sandbox(token_error_rate=1.0)
    reply = token_reply(
        broken.url, client_key="k", client_secret="sandbox-secret", grant_type="client_credentials"
    )
    assert reply.status == 500 and reply.json["error"] == "server_error"


def test_html_504_and_non_json(make_sandbox: Any) -> None:
    api = Api(make_sandbox(html_504_rate=1.0))
    reply = api.call("videos", _video())
    assert reply.status == 504 and reply.raw.lstrip().startswith(b"<html>")
    assert classify(504, reply.raw).outcome is Outcome.RETRY
    api = Api(make_sandbox(non_json_rate=1.0))
    reply = api.call("videos", _video())
    assert reply.status == 200
    with pytest.raises(ValueError):
        json.loads(reply.raw)
    assert classify(200, reply.raw).outcome is Outcome.RETRY


def test_transient_400_only_on_paged_endpoints(make_sandbox: Any) -> None:
    sandbox = make_sandbox(transient_400_rate=1.0)
    api = Api(sandbox)
    reply = api.call("comments", {"video_id": sandbox.dataset.many_comments_video_ids[0]})
    assert reply.status == 400 and reply.error["message"] == "Invalid count or cursor"
    assert classify(400, reply.raw).outcome is Outcome.RETRY
    assert api.call("users", {"username": public_user(sandbox)}).status == 200


def test_search_id_invalid_then_retry_works(make_sandbox: Any) -> None:
    sandbox = make_sandbox(search_id_invalid_rate=1.0)
    api = Api(sandbox)
    first = api.call("videos", _video())
    assert first.data["has_more"]
    body = _video(cursor=first.data["cursor"], search_id=first.data["search_id"])
    failed = api.call("videos", body)
    assert failed.status == 400
    assert classify(400, failed.raw).outcome is Outcome.SEARCH_ID_INVALID
    assert api.call("videos", body).status == 200


def test_search_id_ttl_expires(make_sandbox: Any) -> None:
    sandbox = make_sandbox(search_id_ttl=30)
    api = Api(sandbox)
    first = api.call("videos", _video())
    body = _video(cursor=20, search_id=first.data["search_id"])
    assert api.call("videos", body).status == 200
    sandbox.advance_clock(31)
    reply = api.call("videos", body)
    assert reply.status == 400 and "invalid or expired" in reply.error["message"]
    assert first.data["search_id"] not in sandbox.state.searches


def test_a_restarted_sandbox_rejects_the_search_ids_of_an_earlier_run(make_sandbox: Any) -> None:
    before, after = Api(make_sandbox(seed=3)), Api(make_sandbox(seed=3))  # same data
    first, again = before.call("videos", _video()), after.call("videos", _video())
    assert first.data["videos"] == again.data["videos"]
    assert first.data["search_id"] != again.data["search_id"]
    stale = after.call("videos", _video(cursor=20, search_id=first.data["search_id"]))
    assert stale.status == 400 and stale.error["code"] == "invalid_params"
    assert stale.error["message"] == f"Search Id {first.data['search_id']} is invalid or expired"
    assert classify(400, stale.raw).outcome is Outcome.SEARCH_ID_INVALID


@pytest.mark.parametrize(
    "changes",
    [
        {"start_date": "20240102"},
        {"end_date": "20240111"},
        {"query": ALL_QUERY},
    ],
)
def test_a_search_id_answers_only_its_own_query_and_dates(make_sandbox: Any, changes: dict) -> None:
    api = Api(make_sandbox())
    search_id = api.call("videos", _video()).data["search_id"]
    same = _video(cursor=20, search_id=search_id)
    condition = REGION_QUERY["and"][0]
    for same_query in (
        {"and": [{**condition, "operation": "in"}]},  # normalised
        {"and": [{**condition, "field_values": condition["field_values"][::-1]}]},  # a set
    ):
        assert api.call("videos", {**same, "query": same_query}).status == 200
    other = api.call("videos", {**same, **changes})
    assert other.status == 400
    assert classify(400, other.raw).outcome is Outcome.SEARCH_ID_INVALID
    assert api.call("videos", same).status == 200  # the search_id itself still works


def test_stall_cursor(make_sandbox: Any) -> None:
    api = Api(make_sandbox(stall_cursor_rate=1.0))
    reply = api.call("videos", _video(cursor=40))
    assert reply.data["videos"] == [] and reply.data["has_more"] is True
    assert reply.data["cursor"] == 40


@pytest.mark.parametrize("trailing", [1, 3])
def test_trailing_empty_pages_lose_nothing(make_sandbox: Any, trailing: int) -> None:
    sandbox = make_sandbox(trailing_empty_pages=trailing)
    api = Api(sandbox)
    videos, replies = crawl_index(
        api, "videos", {"query": REGION_QUERY, **WINDOW}, "videos", 40, fields="id"
    )
    truth = [v["id"] for v in sandbox.dataset.truth_videos(REGION_QUERY, START, END)]
    assert [v["id"] for v in videos] == truth
    tail = [r.data for r in replies if not r.data["videos"]]
    assert len(tail) == trailing and replies[-1].data["has_more"] is False
    assert replies[-1].data["videos"] == []
    username = public_user(sandbox, minimum=10)
    body, empty = {"username": username, "max_count": 100}, 0
    while True:
        data = api.call("followers", body).data
        empty += not data["user_followers"]
        if not data["has_more"]:
            break
        body["cursor"] = data["cursor"]
    assert empty == trailing


def test_latency(make_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer waits latency_ms plus up to latency_jitter_ms: the sandbox's own sleep is
    recorded (not timed), so a busy machine cannot fail it."""
    from types import SimpleNamespace

    from tiktok_scrapy.sandbox import faults

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(faults, "asyncio", SimpleNamespace(sleep=sleep))
    api = Api(make_sandbox(latency_ms=80, latency_jitter_ms=20))
    api.call("users", {"username": "x"})
    api.call("users", {"username": "y"})
    # The token request, then each call, waits: 80 ms plus a jitter drawn per request.
    assert len(slept) == 3 and all(0.08 <= s <= 0.1 for s in slept), slept
    assert len(set(slept)) == 3


def test_runtime_options_and_admin_views(make_sandbox: Any) -> None:
    sandbox = make_sandbox(error_rate=1.0)
    api = Api(sandbox)
    assert api.call("users", {"username": "x"}).status == 500
    assert api.admin("/admin/options", {"error_rate": 0}).json["error_rate"] == 0
    assert api.call("users", {"username": public_user(sandbox)}).status == 200
    bad = api.admin("/admin/options", {"eror_rate": 0.1})
    assert bad.status == 400 and "eror_rate" in bad.json["error"]
    assert api.admin("/admin/options", {"seed": 3}).status == 400
    stats = api.admin("/admin/stats").json
    assert set(stats) >= {"requests", "status", "quota", "day", "tokens_issued"}
    assert stats["requests"] == {"users": 2} and stats["status"] == {"500": 1, "200": 1}
    log = api.admin("/admin/requests").json
    assert [r["status"] for r in log] == [500, 200]
    assert log[0]["body"] == {"username": "x"} and log[0]["client_key"] == "test-client"
    assert log[0]["query_string"].startswith("fields=")
    assert set(log[0]) == {"endpoint", "status", "body", "query_string", "client_key", "at"}
    assert sandbox.requests("users") == log
    api.admin("/admin/reset", {})
    assert sandbox.stats()["quota"]["main"] == 0 and sandbox.requests() == []
    sandbox.set_options(error_rate=1.0)
    assert api.call("users", {"username": "x"}).status == 500


def test_request_log_is_bounded(make_sandbox: Any) -> None:
    sandbox = make_sandbox(request_log_max=2)
    api = Api(sandbox)
    for name in ("alpha", "beta", "gamma"):
        api.call("users", {"username": name})
    assert [r["body"]["username"] for r in sandbox.requests()] == ["beta", "gamma"]


# --- options and CLI ----------------------------------------------------------------------
def test_options_from_dict() -> None:
    options = SandboxOptions.from_dict(
        {
            "seed": "3",
            "start": "20240201",
            "end": "2024-02-10",
            "clock": "2024-05-01T23:59:58Z",
            "error_rate": 0.5,
        }
    )
    assert options.seed == 3 and options.start == date(2024, 2, 1)
    assert options.clock == datetime.fromisoformat("2024-05-01T23:59:58+00:00")
    assert SandboxOptions.from_dict({}) == SandboxOptions()
    for bad, needle in [
        ({"error_rte": 0.1}, "error_rte"),
        ({"error_rate": 2}, "0..1"),
        ({"seed": "x"}, "seed"),
        ({"start": "20240301", "end": "20240201"}, "before"),
    ]:
        with pytest.raises(OptionsError, match=needle) as info:
            SandboxOptions.from_dict(bad)
        assert "\n" not in str(info.value)


def test_cli_prints_url_first_and_serves() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tiktok_scrapy.sandbox",
            "--port",
            "0",
            "--seed",
            "2",
            "--latency-ms",
            "1",
            "--error-rate",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line
        url = line[line.index("http://") :].split()[0]
        reply = token_reply(
            url, client_key="k", client_secret="sandbox-secret", grant_type="client_credentials"
        )
        assert reply.status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    bad = subprocess.run(
        [sys.executable, "-m", "tiktok_scrapy.sandbox", "--error-rate", "7"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "error_rate" in bad.stderr
