"""The Research API's endpoints in one table.

Every spider, the sandbox and the docs read the facts from here: path, the key under
``data`` that holds the records, which body key carries the input, whether ``fields`` is
sent, how the cursor works and which daily quota family pays. A new endpoint is a row.
No Scrapy imports: this is plain knowledge of the API (see ../shared/research-api.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Pagination(StrEnum):
    """How an endpoint pages."""

    NONE = "none"  # one response holds everything (user info, pinned videos)
    INDEX = "index"  # cursor = start index; advances by max_count (comments, reposted, playlist)
    INDEX_SEARCH = "index_search"  # INDEX plus a search_id to send back (video query)
    TIME = "time"  # cursor = Unix time; records on or before it (followers, following, liked)
    PAGE = "page"  # page number from 1 in ``page_start``, size in ``page_size`` (TikTok Shop)
    SEARCH = "search"  # no cursor: send back the returned search_id while has_more (ad library)
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

    # video query, user info, comments, liked/pinned/reposted, playlists, TikTok Shop; the
    # batch compliance endpoints' cost is undocumented: counted in MAIN until known.
    MAIN = "main"
    FOLLOW = "follow"  # followers + following
    ADLIB = "adlib"  # the Commercial Content API: a separate product, its limit undocumented


class Access(StrEnum):
    """Which approval a client needs for an endpoint (TikTok grants them separately)."""

    RESEARCH = "Research API"
    SHOP = "TikTok Shop"
    ADLIB = "Commercial Content API"


# OAuth scopes as the endpoints' spec pages name them. The TikTok Shop pages name the
# Research API's scope; Shop data still needs its own approval (``Access.SHOP``).
SCOPE_RESEARCH = "research.data.basic"
SCOPE_ADLIB = "research.adlib.basic"


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

SHOP_FIELDS: tuple[str, ...] = (
    "shop_name",
    "shop_rating",
    "shop_review_count",
    "item_sold_count",
    "shop_id",
    "shop_performance_value",
)

PRODUCT_FIELDS: tuple[str, ...] = (
    "product_id",
    "product_name",
    "product_description",
    "product_price",
    "product_rating",
    "product_sold_count",
    "product_review_count",
    "product_rating_1_count",
    "product_rating_2_count",
    "product_rating_3_count",
    "product_rating_4_count",
    "product_rating_5_count",
    "shop_name",
)

# The table lists five; the page's own example also asks for display_name.
REVIEW_FIELDS: tuple[str, ...] = (
    "product_name",
    "review_text",
    "review_like_count",
    "create_time",
    "review_rating",
    "display_name",
)

AD_FIELDS: tuple[str, ...] = (
    "ad.id",
    "ad.first_shown_date",
    "ad.last_shown_date",
    "ad.status",
    "ad.status_statement",
    "ad.videos",
    "ad.image_urls",
    "ad.reach",
    "advertiser.business_id",
    "advertiser.business_name",
    "advertiser.paid_for_by",
)

AD_DETAIL_FIELDS: tuple[str, ...] = (
    *AD_FIELDS,
    "ad.title",
    "ad.external_url",
    "ad.download_url",
    "ad.call_to_action",
    "ad.advertising_objective",
    "advertiser.follower_count",
    "advertiser.avatar_url",
    "advertiser.profile_url",
    "ad_group.targeting_info",
)

ADVERTISER_FIELDS: tuple[str, ...] = ("business_id", "business_name", "country_code")

COMMERCIAL_CONTENT_FIELDS: tuple[str, ...] = (
    "id",
    "create_timestamp",
    "create_date",
    "label",
    "brand_names",
    "creator",
    "videos",
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
# Their limits in seconds (codebook: <15 s, 15-60 s, 1-5 min, >5 min).
VIDEO_LENGTH_LIMITS: tuple[float, ...] = (15, 60, 300)


def video_length_of(duration: object) -> str | None:
    """The ``video_length`` bucket of a ``video_duration``; None when unknown or exactly on
    a limit (the docs do not say which side a limit belongs to)."""
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        return None
    if duration in VIDEO_LENGTH_LIMITS:
        return None
    return VIDEO_LENGTHS[sum(duration > limit for limit in VIDEO_LENGTH_LIMITS)]


MAX_WINDOW_DAYS = 30  # start_date..end_date at most 30 days apart
MAX_COUNT = 100  # max_count upper bound on every paged endpoint
COMMENT_CAP = 1000  # comments: cursor + max_count <= 1000
DATA_LAG_HOURS = 48  # videos become queryable ~48 h after posting
# The ad library's countries: the EU, the rest of the EEA, then the UK and Switzerland,
# which the ad query takes and the commercial-content query (creators) does not.
EEA_COUNTRIES: tuple[str, ...] = (
    *("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"),
    *("IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"),
    *("NO", "IS", "LI"),
)
AD_COUNTRIES: tuple[str, ...] = (*EEA_COUNTRIES, "GB", "CH")
SHOP_PAGE_SIZE = 10  # TikTok Shop: page_size (and shop info's limit) at most 10
ADLIB_MAX_COUNT = 50  # Commercial Content API: max_count at most 50 (default 10)
ADLIB_FIRST_DAY = "20221001"  # ad library date ranges start after 2022-10-01

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
    access: Access = Access.RESEARCH  # the approval a client needs
    scope: str = SCOPE_RESEARCH  # the OAuth scope its spec page names
    # Body key of the page size, and its limit. None: ``max_count`` when paged, else none.
    count_key: str | None = None
    max_count: int = MAX_COUNT
    # Spec pages that put ``fields`` in the query string's table and in the body of their
    # examples: it is sent in both places.
    fields_in_body: bool = False
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

    @property
    def requirement(self) -> str:
        """What a client needs for this endpoint, for people: scope and approval."""
        if self.access is Access.SHOP:
            return f"scope {self.scope} with {self.access.value} access"
        return f"scope {self.scope}"

    @property
    def count_param(self) -> str | None:
        """The body key that sets the page size (None: the endpoint takes none)."""
        return self.count_key or ("max_count" if self.paged else None)

    @property
    def cursor_key(self) -> str | None:
        """The body key that carries the position (None: search_id alone, or nothing)."""
        if self.pagination is Pagination.PAGE:
            return "page_start"
        if self.pagination in (Pagination.SEARCH, Pagination.NONE):
            return None
        return "cursor"

    @property
    def first_cursor(self) -> int | None:
        """The position of a chain's first page (None: send none)."""
        return {Pagination.PAGE: 1, Pagination.SEARCH: 0}.get(self.pagination)

    @property
    def sends_search_id(self) -> bool:
        return self.pagination in (Pagination.INDEX_SEARCH, Pagination.SEARCH)

    def has_more(self, data: dict, records: list, page_size: int | None) -> bool:
        """Whether another page follows. ``has_more`` may come as a string ("true", in the
        ad library's examples); page-number endpoints document none, so a full page means
        there may be more."""
        if not self.paged:
            return False
        flag = data.get("has_more")
        if isinstance(flag, str):
            return flag.strip().lower() in ("true", "1")
        if flag is None and self.pagination is Pagination.PAGE:
            return bool(page_size) and len(records) >= (page_size or 0)
        return bool(flag)

    def next_cursor(self, data: dict, sent: Any) -> Any:
        """The position the next page asks for (None: the API gave no way on).

        Page-number and search_id endpoints count pages themselves (the search_id, not
        the count, tells the API where to go on); the others take the returned cursor.
        """
        if self.pagination is Pagination.PAGE:
            return (sent or 1) + 1
        if self.pagination is Pagination.SEARCH:
            return (sent or 0) + 1 if data.get("search_id") else None
        return data.get("cursor")


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
        # --- TikTok Shop (EU shops): Research API scope, Shop approval, main quota ---
        Endpoint(
            "shops",
            "/v2/research/tts/shop/",
            "shop_name",
            ("shop_data",),
            Pagination.NONE,
            fields=SHOP_FIELDS,
            access=Access.SHOP,
            count_key="limit",
            max_count=SHOP_PAGE_SIZE,
            default_max_count=SHOP_PAGE_SIZE,
            fields_in_body=True,
        ),
        Endpoint(
            "products",
            "/v2/research/tts/product/",
            "shop_id",
            ("product_data",),
            Pagination.PAGE,
            fields=PRODUCT_FIELDS,
            access=Access.SHOP,
            count_key="page_size",
            max_count=SHOP_PAGE_SIZE,
            default_max_count=SHOP_PAGE_SIZE,
            fields_in_body=True,
        ),
        Endpoint(
            "product_reviews",
            "/v2/research/tts/review/",
            "product_id",
            ("review_data",),
            Pagination.PAGE,
            fields=REVIEW_FIELDS,
            access=Access.SHOP,
            count_key="page_size",
            max_count=SHOP_PAGE_SIZE,
            default_max_count=SHOP_PAGE_SIZE,
            fields_in_body=True,
        ),
        # --- Commercial Content API (the ad library): its own approval and scope ---
        Endpoint(
            "ads",
            "/v2/research/adlib/ad/query/",
            "filters",
            ("ads",),
            Pagination.SEARCH,
            family=QuotaFamily.ADLIB,
            fields=AD_FIELDS,
            access=Access.ADLIB,
            scope=SCOPE_ADLIB,
            max_count=ADLIB_MAX_COUNT,
            default_max_count=ADLIB_MAX_COUNT,
        ),
        Endpoint(
            "ad_details",
            "/v2/research/adlib/ad/detail/",
            "ad_id",
            (),
            Pagination.NONE,
            family=QuotaFamily.ADLIB,
            fields=AD_DETAIL_FIELDS,
            access=Access.ADLIB,
            scope=SCOPE_ADLIB,
        ),
        Endpoint(
            # Its page documents max_count but neither search_id nor has_more: when the
            # API sends them, the chain pages like the ad query.
            "advertisers",
            "/v2/research/adlib/advertiser/query/",
            "search_term",
            ("advertisers",),
            Pagination.SEARCH,
            family=QuotaFamily.ADLIB,
            fields=ADVERTISER_FIELDS,
            access=Access.ADLIB,
            scope=SCOPE_ADLIB,
            max_count=ADLIB_MAX_COUNT,
            default_max_count=ADLIB_MAX_COUNT,
        ),
        Endpoint(
            "commercial_content",
            "/v2/research/adlib/commercial_content/query/",
            "filters",
            ("commercial_contents",),
            Pagination.SEARCH,
            family=QuotaFamily.ADLIB,
            fields=COMMERCIAL_CONTENT_FIELDS,
            access=Access.ADLIB,
            scope=SCOPE_ADLIB,
            max_count=ADLIB_MAX_COUNT,
            default_max_count=ADLIB_MAX_COUNT,
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


def markdown_table() -> str:
    """The table as Markdown, for docs/endpoints.md (``tools/endpoint_docs.py`` writes it)."""
    rows = [
        "| spider | path | records under `data` | pagination | page size | quota "
        "| approval (scope) |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in ENDPOINTS.values():
        keys = " or ".join(f"`{k}`" for k in e.data_keys) or "the object itself"
        size = f"`{e.count_param}` ≤ {e.max_count}" if e.count_param else "—"
        rows.append(
            f"| `{e.name}` | `{e.path}` | {keys} | {e.pagination.value} | {size} "
            f"| {e.family.value} | {e.access.value} (`{e.scope}`) |"
        )
    return "\n".join(rows) + "\n"
