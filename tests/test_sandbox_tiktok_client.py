"""TikTok's own reference client (``tiktok_research_api``) works against the sandbox.

Its requests are valid by definition, so the sandbox must accept exactly what it sends
(spaces in ``fields``, empty ``or``/``not`` lists, ids as integers) and page the way it
expects.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import tiktok_research_api.api as tiktok_api
from tiktok_research_api import (
    Criteria,
    Query,
    QueryUserFollowersRequest,
    QueryUserInfoRequest,
    QueryUserLikedVideosRequest,
    QueryUserRepostedVideosRequest,
    QueryVideoCommentsRequest,
    QueryVideoRequest,
    TikTokResearchAPI,
)

from tiktok_scrapy.sandbox import SandboxThread


@pytest.fixture
def client(sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch) -> TikTokResearchAPI:
    """TikTok's client pointed at the sandbox (its ``__init__`` hardcodes the real URL)."""

    def no_sleep(seconds: float) -> None:  # it sleeps 1 s and retries on any error
        raise AssertionError(f"TikTok's client hit an error and wanted to sleep {seconds} s")

    monkeypatch.setattr(tiktok_api.time, "sleep", no_sleep)

    class SandboxClient(TikTokResearchAPI):
        @property
        def url(self) -> str:
            return sandbox.url

        @url.setter
        def url(self, value: Any) -> None:
            pass

    return SandboxClient("tiktok-client", "sandbox-secret", qps=10_000)


def test_token_and_video_query_pages(client: TikTokResearchAPI, sandbox: SandboxThread) -> None:
    assert client.client_token.startswith("clt.")
    criteria = Criteria("IN", "region_code", ["US", "GB", "DE"])
    request = QueryVideoRequest(Query(and_criteria=[criteria]), "20240101", "20240110", 20)
    videos, search_id, cursor, has_more, *_ = client.query_videos(request, fetch_all_pages=True)
    query = {"and": [criteria.to_dict()]}
    truth = sandbox.dataset.truth_videos(query, date(2024, 1, 1), date(2024, 1, 10))
    assert [v["id"] for v in videos] == [v["id"] for v in truth]
    assert search_id and has_more is False and cursor >= len(truth)
    assert "region_code" in videos[0]  # from its default fields, which contain spaces


def test_comments_pages_to_the_cap(client: TikTokResearchAPI, sandbox: SandboxThread) -> None:
    video_id = sandbox.dataset.many_comments_video_ids[0]
    request = QueryVideoCommentsRequest(video_id, max_count=100)
    comments, cursor, has_more = client.query_video_comments(request, fetch_all_pages=True)
    truth = sandbox.dataset.comments(video_id)[:1000]
    assert [c["id"] for c in comments] == [c["id"] for c in truth]
    assert (cursor, has_more) == (1000, False)


def test_followers_and_user_endpoints(client: TikTokResearchAPI, sandbox: SandboxThread) -> None:
    ds = sandbox.dataset
    closed = ds.private_users | ds.likes_private_users | ds.hidden_users
    username = next(u for u in ds.usernames if u not in closed and len(ds.followers(u)) > 120)
    followers, _, has_more = client.query_user_followers(
        QueryUserFollowersRequest(username, max_count=50), fetch_all_pages=True
    )
    assert followers == [record for _, record in ds.followers(username)] and not has_more
    info = client.query_user_info(QueryUserInfoRequest(username))
    assert info is not None and info["follower_count"] == len(followers)
    liked, _, _ = client.query_user_liked_videos(
        QueryUserLikedVideosRequest(username, max_count=7), fetch_all_pages=True
    )
    assert [v["id"] for v in liked] == [v["id"] for _, v in ds.liked_videos(username)]
    reposted, _, _ = client.query_user_reposted_videos(
        QueryUserRepostedVideosRequest(username, max_count=5), fetch_all_pages=True
    )
    assert [v["id"] for v in reposted] == [v["id"] for v in ds.reposted_videos(username)]
