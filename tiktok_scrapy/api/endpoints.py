"""The Research API's endpoints in one table.

Every spider, the sandbox and the docs read the facts from here: path, the key under
``data`` that holds the records, which body key carries the input, whether ``fields`` is
sent, how the cursor works and which daily quota family pays. A new endpoint is a row.
No Scrapy imports: this is plain knowledge of the API (see ../shared/research-api.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Pagination(StrEnum):
    """How an endpoint pages."""

    NONE = "none"  # one response holds everything (user info, pinned videos)
    INDEX = "index"  # cursor = start index; advances by max_count (comments, reposted, playlist)
    INDEX_SEARCH = "index_search"  # INDEX plus a search_id to send back (video query)
    TIME = "time"  # cursor = Unix time; records on or before it (followers, following, liked)
    TASK = "task"  # a step of an asynchronous task (batch compliance): no records, no pages


class BodyKind(StrEnum):
    """How a request's body is sent."""

    JSON = "json"  # application/json (every data endpoint)
    MULTIPART = "multipart"  # multipart/form-data with a file part (compliance task create)


class AnswerKind(StrEnum):
    """What a successful response's body is."""

    JSON = "json"  # the {"data", "error"} envelope
    TEXT = "text"  # a text file (compliance task download); errors still come as envelopes


class QuotaFamily(StrEnum):
    """Daily quota families: they are counted and exhausted separately."""

    MAIN = "main"  # video query, user info, comments, liked/pinned/reposted, playlists
    FOLLOW = "follow"  # followers + following
    # The batch compliance endpoints' cost is undocumented: counted in MAIN until known.


VIDEO_FIELDS: tuple[str, ...] = (
    "id",
    "create_time",
    "username",
    "region_code",
    "video_description",
    "music_id",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
    "favorites_count",
    "effect_ids",
    "hashtag_names",
    "hashtag_info_list",
    "sticker_info_list",
    "effect_info_list",
    "video_mention_list",
    "video_label",
    "video_tag",
    "playlist_id",
    "voice_to_text",
    "is_stem_verified",
    "video_duration",
)

USER_FIELDS: tuple[str, ...] = (
    "display_name",
    "bio_description",
    "bio_url",
    "avatar_url",
    "is_verified",
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
)

COMMENT_FIELDS: tuple[str, ...] = (
    "id",
    "video_id",
    "text",
    "like_count",
    "reply_count",
    "parent_comment_id",
    "create_time",
)

# Query language (video query only).
QUERY_FIELDS: tuple[str, ...] = (
    "create_date",
    "username",
    "region_code",
    "video_id",
    "hashtag_name",
    "keyword",
    "music_id",
    "effect_id",
    "video_length",
    "view_count",
    "comment_count",
)
QUERY_OPERATIONS: tuple[str, ...] = ("EQ", "IN", "GT", "GTE", "LT", "LTE")
# Fields that are compared as numbers/dates with GT/GTE/LT/LTE.
QUERY_ORDERED_FIELDS: frozenset[str] = frozenset({"create_date", "view_count", "comment_count"})
VIDEO_LENGTHS: tuple[str, ...] = ("SHORT", "MID", "LONG", "EXTRA_LONG")

# Keys of ``data`` that carry ids: integers above 2**53, never floats.
ID_KEYS: frozenset[str] = frozenset(
    {"id", "video_id", "music_id", "parent_comment_id", "playlist_id", "effect_ids"}
)

MAX_WINDOW_DAYS = 30  # start_date..end_date at most 30 days apart
MAX_COUNT = 100  # max_count upper bound on every paged endpoint
COMMENT_CAP = 1000  # comments: cursor + max_count <= 1000
DATA_LAG_HOURS = 48  # videos become queryable ~48 h after posting

# Batch compliance: ids per task file, the categories a file may hold, the task statuses.
COMPLIANCE_MAX_IDS = 10_000
COMPLIANCE_CATEGORIES: tuple[str, ...] = ("video", "comment")
TASK_PROCESSING, TASK_COMPLETED, TASK_FAILED = "Processing", "Completed", "Failed"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One Research API endpoint."""

    name: str  # our name; also the spider name that crawls it
    path: str  # under the base URL, with trailing slash
    input_key: str  # body key that names the input (query, username, video_id, ...)
    data_keys: tuple[str, ...]  # keys under ``data`` holding the records, first found wins
    pagination: Pagination
    family: QuotaFamily = QuotaFamily.MAIN
    fields: tuple[str, ...] = ()  # empty: the endpoint takes no ``fields`` parameter
    default_max_count: int = 100
    cap: int | None = None  # hard cap on cursor + max_count (comments)
    body_kind: BodyKind = BodyKind.JSON
    answer_kind: AnswerKind = AnswerKind.JSON

    def url(self, base_url: str, fields: tuple[str, ...] | None = None) -> str:
        """Full URL, with ``?fields=`` when the endpoint takes fields."""
        url = base_url.rstrip("/") + self.path
        if self.fields:
            url += "?fields=" + ",".join(fields or self.fields)
        return url

    def records(self, data: dict) -> list:
        """The records in a response's ``data`` (user info: the object itself; task steps:
        none)."""
        if self.pagination is Pagination.TASK:
            return []
        if not self.data_keys:
            return [data] if data else []
        for key in self.data_keys:
            if key in data:
                return data[key] or []
        return []

    @property
    def paged(self) -> bool:
        return self.pagination not in (Pagination.NONE, Pagination.TASK)


TOKEN_PATH = "/v2/oauth/token/"

ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint(
            "videos",
            "/v2/research/video/query/",
            "query",
            ("videos",),
            Pagination.INDEX_SEARCH,
            fields=VIDEO_FIELDS,
            default_max_count=100,
        ),
        Endpoint(
            "users",
            "/v2/research/user/info/",
            "username",
            (),
            Pagination.NONE,
            fields=USER_FIELDS,
        ),
        Endpoint(
            "comments",
            "/v2/research/video/comment/list/",
            "video_id",
            ("comments",),
            Pagination.INDEX,
            fields=COMMENT_FIELDS,
            cap=COMMENT_CAP,
        ),
        Endpoint(
            "followers",
            "/v2/research/user/followers/",
            "username",
            ("user_followers",),
            Pagination.TIME,
            family=QuotaFamily.FOLLOW,
        ),
        Endpoint(
            "following",
            "/v2/research/user/following/",
            "username",
            ("user_following",),
            Pagination.TIME,
            family=QuotaFamily.FOLLOW,
        ),
        Endpoint(
            "liked_videos",
            "/v2/research/user/liked_videos/",
            "username",
            ("user_liked_videos",),
            Pagination.TIME,
            fields=VIDEO_FIELDS,
        ),
        Endpoint(
            "pinned_videos",
            "/v2/research/user/pinned_videos/",
            "username",
            ("pinned_videos_list",),
            Pagination.NONE,
            fields=VIDEO_FIELDS,
        ),
        Endpoint(
            # The docs' table says user_reposted_videos; their example and clients say
            # reposted_videos. Accept both.
            "reposted_videos",
            "/v2/research/user/reposted_videos/",
            "username",
            ("reposted_videos", "user_reposted_videos"),
            Pagination.INDEX,
            fields=VIDEO_FIELDS,
        ),
        Endpoint(
            "playlists",
            "/v2/research/playlist/info/",
            "playlist_id",
            ("playlist_video_ids",),
            Pagination.INDEX,
        ),
        # Batch compliance (since 2025-05): a task checks up to 10,000 video or comment ids;
        # its status is polled until Completed, then the ids still valid are downloaded.
        Endpoint(
            "validation_task_create",
            "/v2/research/validation_task/create/",
            "file_data",  # form parts: file_data (one id a line) and category
            ("task_id",),  # can exceed 2**63: kept as the int (or str) the API sent
            Pagination.TASK,
            body_kind=BodyKind.MULTIPART,
        ),
        Endpoint(
            "validation_task_status",
            "/v2/research/validation_task_status/get/",
            "task_id",
            ("task_status",),  # Processing | Completed | Failed
            Pagination.TASK,
        ),
        Endpoint(
            "validation_task_download",
            "/v2/research/validation_task/download/",
            "task_id",
            (),
            Pagination.TASK,
            answer_kind=AnswerKind.TEXT,  # the ids still valid, one a line
        ),
    )
}

ENDPOINTS_BY_PATH: dict[str, Endpoint] = {e.path: e for e in ENDPOINTS.values()}


def endpoint_for_url(url: str) -> Endpoint | None:
    """The endpoint a request URL points at, or None (token URL, anything else)."""
    path = url.split("?", 1)[0]
    for endpoint_path, endpoint in ENDPOINTS_BY_PATH.items():
        if path.endswith(endpoint_path):
            return endpoint
    return None
