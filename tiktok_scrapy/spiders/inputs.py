"""Spiders whose chains are one per input (a username, a video id, a playlist id).

Each is a few lines: which endpoint, which item, how a record becomes that item. The
inputs come from the config (a list, a file, or an earlier crawl's output), de-duplicated.
User-level errors (unknown user, private list, information not returned) end only their
own chain, as a recorded outcome (see ``ResearchApiSpider.parse_page``).

Time-cursor lists (followers, following, liked videos) return records "on or before the
cursor", so an API that hands back the oldest record's time as the next cursor repeats the
records sharing that second on the next page. Each chain remembers the last few keys of
its previous page (``ChainState.extra``, a few hundred bytes) and drops those repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from scrapy.http import Response

from tiktok_scrapy.api.endpoints import Pagination
from tiktok_scrapy.chains import Chain, ChainState
from tiktok_scrapy.items import (
    ApiItem,
    Comment,
    FollowEdge,
    Playlist,
    User,
    UserVideoLink,
    follow_edge,
)
from tiktok_scrapy.spiders.base import ResearchApiSpider

BOUNDARY_KEY = "boundary"
# Keys of a page's last records kept to spot repeats on the next page: only records that
# share the cursor's second repeat, and far fewer than this ever do.
BOUNDARY_MEMORY = 20


class InputSpider(ResearchApiSpider):
    """One chain per input; the body is ``{input_key: input}`` plus ``max_count`` if paged."""

    def plan(self) -> Iterator[Chain]:
        fields = getattr(self.config, "fields", None)
        for value in self.config.inputs():
            key, value = value if isinstance(value, tuple) else (self.endpoint.input_key, value)
            body: dict[str, Any] = {key: value}
            if self.endpoint.count_param:  # max_count, or the endpoint's own name for it
                body[self.endpoint.count_param] = self.config.max_count
            yield Chain(
                id=f"{self.name}:{key}={value}",
                endpoint=self.endpoint,
                body=body,
                input=value,
                fields=tuple(fields) if fields and self.endpoint.fields else None,
            )

    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        fresh = self.unrepeated(records, state)
        return [item for record in fresh if (item := self.make_item(chain, record)) is not None]

    def make_item(self, chain: Chain, record: dict) -> ApiItem | None:
        """The item for one record (None: skip it)."""
        return self.item_class(record)

    def record_key(self, record: dict) -> Any:
        """What identifies a record within one chain's list (for boundary repeats)."""
        return record.get("id")

    def unrepeated(self, records: list, state: ChainState) -> list[dict]:
        """The page's records minus those a time cursor repeated from the previous page."""
        records = [r for r in records if isinstance(r, dict)]
        if self.endpoint.pagination is not Pagination.TIME or not records:
            return records
        seen = set(state.extra.get(BOUNDARY_KEY, ()))
        fresh: list[dict] = []
        keys: list[Any] = []
        for record in records:
            key = self.record_key(record)
            if key is not None:
                keys.append(key)
                if key in seen:
                    continue
                seen.add(key)
            fresh.append(record)
        if repeats := len(records) - len(fresh):
            self.crawler.stats.inc_value("tiktok/items/boundary_repeats", repeats)
        state.extra = {**state.extra, BOUNDARY_KEY: keys[-BOUNDARY_MEMORY:]}
        return fresh


class UsersSpider(InputSpider):
    """users: user info for each username (the requested username is kept on the item)."""

    name = "users"
    endpoint_name = "users"
    item_class = User

    def make_item(self, chain: Chain, record: dict) -> ApiItem | None:
        # The API may or may not echo ``username``; the requested one is the key we know.
        return User({**record, "username": chain.input})


class CommentsSpider(InputSpider):
    """comments: the top 1,000 comments of each video (or the replies to a comment)."""

    name = "comments"
    endpoint_name = "comments"
    item_class = Comment


class _FollowSpider(InputSpider):
    """One follow edge per listed account, as one directed graph: source follows target."""

    item_class = FollowEdge
    listed_is_source: ClassVar[bool]

    def record_key(self, record: dict) -> Any:
        return record.get("username")

    def make_item(self, chain: Chain, record: dict) -> ApiItem | None:
        edge = follow_edge(chain.input, record, self.listed_is_source)
        if edge is None:
            self.crawler.stats.inc_value("tiktok/items/follow_without_username")
        return edge


class FollowersSpider(_FollowSpider):
    """followers: who follows each account (``source`` = the listed follower)."""

    name = "followers"
    endpoint_name = "followers"
    listed_is_source = True


class FollowingSpider(_FollowSpider):
    """following: whom each account follows (``target`` = the listed account)."""

    name = "following"
    endpoint_name = "following"
    listed_is_source = False


class _UserVideosSpider(InputSpider):
    """A user's liked/pinned/reposted videos: the video plus ``account`` and ``relation``."""

    item_class = UserVideoLink
    relation: ClassVar[str]

    def make_item(self, chain: Chain, record: dict) -> ApiItem | None:
        return UserVideoLink({**record, "account": chain.input, "relation": self.relation})


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
    playlist_keys: ClassVar[tuple[str, ...]] = (
        "playlist_name",
        "playlist_item_total",
        "playlist_last_updated",
    )

    def parse_page(self, response: Response) -> Iterator[Any]:
        """A playlist's one item comes with its last page.

        @cassette
        @returns items 0 1
        """
        return super().parse_page(response)

    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        # The ids wait in the chain state (checkpointed with it) until the last page.
        video_ids = [*state.extra.get("video_ids", []), *records]
        state.extra = {**state.extra, "video_ids": video_ids}
        state.extra.update({k: data[k] for k in self.playlist_keys if k in data})
        if not done:
            return []
        playlist = {k: v for k, v in state.extra.items() if k != "video_ids"}
        return [
            Playlist(
                {
                    "playlist_id": data.get("playlist_id", chain.input),
                    **playlist,
                    "playlist_video_ids": list(dict.fromkeys(video_ids)),
                }
            )
        ]
