"""Spiders whose chains are one per input (a username, a video id, a playlist id).

Each is a few lines: which endpoint, which item, how a record becomes that item. The
inputs come from the config (a list, a file, or an earlier crawl's output), de-duplicated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from tiktok_scrapy.checkpoints import ChainState
from tiktok_scrapy.items import ApiItem, Comment, FollowEdge, Playlist, User, UserVideoLink
from tiktok_scrapy.spiders.base import Chain, ResearchApiSpider


class InputSpider(ResearchApiSpider):
    """One chain per input; the body is ``{input_key: input}`` plus ``max_count`` if paged."""

    def plan(self) -> Iterator[Chain]:
        fields = getattr(self.config, "fields", None)
        for value in self.config.inputs():
            key, value = value if isinstance(value, tuple) else (self.endpoint.input_key, value)
            body: dict[str, Any] = {key: value}
            if self.endpoint.paged:
                body["max_count"] = self.config.max_count
            yield Chain(
                id=f"{self.name}:{key}={value}",
                endpoint=self.endpoint,
                body=body,
                input=value,
                fields=tuple(fields) if fields and self.endpoint.fields else None,
            )


class UsersSpider(InputSpider):
    """users: user info for each username (the requested username is kept on the item)."""

    name = "users"
    endpoint_name = "users"
    item_class = User

    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        return [User({**record, "username": chain.input}) for record in records]


class CommentsSpider(InputSpider):
    """comments: the top 1,000 comments of each video (or the replies to a comment)."""

    name = "comments"
    endpoint_name = "comments"
    item_class = Comment


class _FollowSpider(InputSpider):
    """One follow edge per listed account, as one directed graph: source follows target."""

    item_class = FollowEdge
    listed_is_source: ClassVar[bool]

    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        items: list[ApiItem] = []
        for account in records:
            listed = account.get("username")
            source, target = (listed, chain.input) if self.listed_is_source else (
                chain.input, listed)
            items.append(
                FollowEdge(
                    {**account, "source": source, "target": target,
                     "display_name": account.get("display_name")}
                )
            )
        for item in items:
            item.pop("username", None)
        return items


class FollowersSpider(_FollowSpider):
    name = "followers"
    endpoint_name = "followers"
    listed_is_source = True


class FollowingSpider(_FollowSpider):
    name = "following"
    endpoint_name = "following"
    listed_is_source = False


class _UserVideosSpider(InputSpider):
    """A user's liked/pinned/reposted videos: the video plus ``account`` and ``relation``."""

    item_class = UserVideoLink
    relation: ClassVar[str]

    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        return [
            UserVideoLink({**video, "account": chain.input, "relation": self.relation})
            for video in records
        ]


class LikedVideosSpider(_UserVideosSpider):
    name = "liked_videos"
    endpoint_name = "liked_videos"
    relation = "liked"


class PinnedVideosSpider(_UserVideosSpider):
    name = "pinned_videos"
    endpoint_name = "pinned_videos"
    relation = "pinned"


class RepostedVideosSpider(_UserVideosSpider):
    name = "reposted_videos"
    endpoint_name = "reposted_videos"
    relation = "reposted"


class PlaylistsSpider(InputSpider):
    """playlists: one item per playlist, its video ids gathered across pages."""

    name = "playlists"
    endpoint_name = "playlists"
    item_class = Playlist

    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        video_ids = [*state.extra.get("video_ids", []), *records]
        state.extra = {**state.extra, "video_ids": video_ids}
        for key in ("playlist_name", "playlist_item_total", "playlist_last_updated"):
            if key in data:
                state.extra[key] = data[key]
        if not done:
            return []
        playlist = {k: v for k, v in state.extra.items() if k != "video_ids"}
        return [
            Playlist(
                {"playlist_id": data.get("playlist_id", chain.input), **playlist,
                 "playlist_video_ids": video_ids}
            )
        ]
