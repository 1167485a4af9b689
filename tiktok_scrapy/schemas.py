"""The Research API codebook as pydantic models, and the normalisation every item gets.

One ``TypedDict`` per stored object (video, user, comment, follow edge, liked/pinned/reposted
link, playlist, page record), from ../shared/research-api.md. TypedDicts validate straight
into plain dicts through a ``TypeAdapter`` built once: no model instance per item, which keeps
validation at hundreds of thousands of videos/s on one core. Every model allows extra keys
(the API adds fields over time): they are kept, and ``Codebook`` reports them so the
pipeline can count them.

Only natural keys are required: ``fields=`` lets a crawl ask for any subset. IDs are 64-bit
integers: a float is rejected (it has already lost digits), a string of digits becomes an int.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from typing_extensions import TypedDict

_DigitString = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,20}$"), AfterValidator(int)]
Id = Annotated[StrictInt, Field(ge=0, lt=2**64)] | _DigitString
"""A 64-bit id: an int, or a string of digits (turned into an int); never a float."""
EffectId = Annotated[str | StrictInt, AfterValidator(str)]
"""An effect id: a string of digits in the codebook and in real clients' databases (an int,
as older recordings have, becomes that string)."""
Count = int | None
Text = str | None

_EXTRA = ConfigDict(extra="allow")


class Provenance(TypedDict, total=False):
    """``_crawl``: where an item came from (keys that do not apply are absent)."""

    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    crawl_id: str | None
    chain: str | None
    endpoint: str | None
    query_id: str | None
    window: Any
    search_id: str | int | None
    cursor: int | str | None
    page: int | None
    log_id: str | None
    crawled_at: str | None


class _Ours(TypedDict, total=False):
    """Keys this project adds to every object."""

    _crawl: Provenance
    _original: dict[str, Any]  # values before normalisation, when it changed them
    create_datetime: Any  # create_time as UTC datetime (ISO string in feeds)


class VideoFields(_Ours, total=False):
    """Video object (codebook). ``favourites_count`` is a documented alternative spelling."""

    create_time: Count
    username: Text
    region_code: Text
    video_description: Text
    music_id: Id | None
    like_count: Count
    comment_count: Count
    share_count: Count
    view_count: Count
    favorites_count: Count
    favourites_count: Count
    effect_ids: list[EffectId] | None
    hashtag_names: list[str] | None
    hashtag_info_list: list[dict[str, Any]] | None
    sticker_info_list: list[dict[str, Any]] | None
    effect_info_list: list[dict[str, Any]] | None
    video_mention_list: list[Any] | None
    video_label: dict[str, Any] | str | None
    video_tag: dict[str, Any] | list[Any] | str | None
    playlist_id: Id | None
    voice_to_text: Text
    is_stem_verified: bool | None
    video_duration: int | float | None


class VideoSchema(VideoFields):
    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    id: Id


class UserVideoSchema(VideoFields):
    """A video in an account's liked/pinned/reposted list."""

    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    id: Id
    account: str
    relation: Literal["liked", "pinned", "reposted"]


class UserSchema(_Ours, total=False):
    """User info plus the ``username`` that was requested."""

    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    username: Annotated[str, StringConstraints(min_length=1)]
    display_name: Text
    bio_description: Text
    bio_url: Text
    avatar_url: Text
    is_verified: bool | None
    follower_count: Count
    following_count: Count
    likes_count: Count
    video_count: Count
    level: int  # network crawls: the account's distance from the seeds (0 = a seed)


class CommentSchema(_Ours, total=False):
    """A comment; ``parent_comment_id == video_id`` for top-level comments."""

    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    id: Id
    video_id: Id
    text: Text  # may be empty; PII masked with *
    like_count: Count
    reply_count: Count
    parent_comment_id: Id | None
    create_time: Count


class FollowEdgeSchema(_Ours, total=False):
    """``source`` follows ``target``; ``display_name`` is the listed account's."""

    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    source: Annotated[str, StringConstraints(min_length=1)]
    target: Annotated[str, StringConstraints(min_length=1)]
    display_name: Text


class PlaylistSchema(_Ours, total=False):
    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    playlist_id: Id
    playlist_name: Text
    playlist_video_ids: list[Id] | None
    playlist_item_total: Count
    playlist_last_updated: int | str | None


# --- TikTok Shop (spec pages "research-api-specs-query-tiktok-shop-*") -------------------
# Ratings come as strings ("4.8", or "FIVE" for a review); counts as int64. Prices are a
# list of strings ("20.79GBP").


class ShopSchema(_Ours, total=False):
    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    shop_id: Id
    shop_name: Text
    shop_rating: str | int | float | None
    shop_review_count: Count
    item_sold_count: Count
    shop_performance_value: int | float | None
    requested_name: Text


class ProductSchema(_Ours, total=False):
    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    product_id: Id
    shop_id: Id | None
    product_name: Text
    product_description: Text
    product_price: list[str | int | float] | str | None
    product_rating: str | int | float | None
    product_sold_count: Count
    product_review_count: Count
    product_rating_1_count: Count
    product_rating_2_count: Count
    product_rating_3_count: Count
    product_rating_4_count: Count
    product_rating_5_count: Count
    shop_name: Text


class ProductReviewSchema(_Ours, total=False):
    """``create_time`` is documented in seconds; the page's example is in milliseconds."""

    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    product_id: Id
    review_key: Annotated[str, StringConstraints(min_length=1)]
    product_name: Text
    review_text: Text
    review_like_count: Count
    create_time: Count
    review_rating: str | int | None
    display_name: Text


# --- Commercial Content API (pages "commercial-content-api-*") --------------------------
# Nested objects are kept as sent. Dates (YYYYMMDD) come as strings or integers; ids of
# commercial content are strings in the example and i64 in the table.


class AdSchema(_Ours, total=False):
    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    ad_id: Id
    business_id: Id | None
    ad: dict[str, Any]
    advertiser: dict[str, Any] | None


class AdDetailSchema(AdSchema, total=False):
    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    ad_group: dict[str, Any] | None


class AdvertiserSchema(_Ours, total=False):
    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    business_id: Id
    business_name: Text
    country_code: Text
    search_term: Text


class CommercialContentSchema(_Ours, total=False):
    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    id: Id | str
    create_date: str | int | None
    create_timestamp: Count
    label: Text
    brand_names: list[str] | None
    creator: dict[str, Any] | None
    videos: list[dict[str, Any]] | None
    video: dict[str, Any] | None


class PageRecordSchema(TypedDict, total=False):
    """One API response (not an item): see ``tiktok_scrapy.signals.page_recorded``."""

    __pydantic_config__ = _EXTRA  # type: ignore[misc]
    crawl_id: str | None
    chain: str | None
    endpoint: str | None
    query_id: str | None
    window: Any
    page: int | None
    request_body: dict[str, Any] | None
    status: int | None
    error: dict[str, Any] | None
    search_id: str | int | None
    cursor: int | str | None
    has_more: bool | None
    items: int | None
    latency: float | None
    outcome: str | None
    input: Any
    at: str | None


# Required natural keys per collection (TypedDicts with total=False make all keys optional;
# required ones are checked here, before the adapter, so the reason names them plainly).
REQUIRED: dict[str, tuple[str, ...]] = {
    "videos": ("id",),
    "user_videos": ("id", "account", "relation"),
    "users": ("username",),
    "comments": ("id", "video_id"),
    "follow_edges": ("source", "target"),
    "playlists": ("playlist_id",),
    "shops": ("shop_id",),
    "products": ("product_id",),
    "product_reviews": ("product_id", "review_key"),
    "ads": ("ad_id",),
    "ad_details": ("ad_id",),
    "advertisers": ("business_id",),
    "commercial_content": ("id",),
    "pages": (),
}
SCHEMAS: dict[str, type] = {
    "videos": VideoSchema,
    "user_videos": UserVideoSchema,
    "users": UserSchema,
    "comments": CommentSchema,
    "follow_edges": FollowEdgeSchema,
    "playlists": PlaylistSchema,
    "shops": ShopSchema,
    "products": ProductSchema,
    "product_reviews": ProductReviewSchema,
    "ads": AdSchema,
    "ad_details": AdDetailSchema,
    "advertisers": AdvertiserSchema,
    "commercial_content": CommercialContentSchema,
    "pages": PageRecordSchema,
}
# Keys whose values are ids: stored as 64-bit ints (or strings with TIKTOK_IDS_AS_STRINGS).
ID_FIELDS: frozenset[str] = frozenset(
    {"id", "video_id", "music_id", "parent_comment_id", "playlist_id", "playlist_video_ids"}
    | {"shop_id", "product_id", "ad_id", "business_id"}
)


def _known_keys(schema: type) -> frozenset[str]:
    keys: set[str] = set()
    for klass in schema.__mro__:
        keys.update(getattr(klass, "__annotations__", {}))
    return frozenset(k for k in keys if not k.startswith("__"))


@dataclass(slots=True)
class Checked:
    """Outcome of validating one object: the normalised dict, or the reason it is invalid."""

    value: dict[str, Any] | None
    reason: str | None = None
    unknown_keys: tuple[str, ...] = field(default=())


def format_errors(exc: ValidationError) -> str:
    """One short line: ``id: Input should be a valid integer (got 7.3e+18)``; one per field."""
    seen: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        # Union branches add their own names to loc; the field path is what people need.
        path = ".".join(str(p) for p in loc if isinstance(p, int) or not _is_branch(str(p)))
        if path not in seen:
            seen[path] = f"{path}: {error['msg']} (got {error.get('input')!r:.60})"
    return "; ".join(seen.values())


def _is_branch(part: str) -> bool:
    return part.startswith(("constrained-", "function-")) or part in {
        "int",
        "str",
        "float",
        "bool",
        "list[...]",
        "dict[str,any]",
        "list[any]",
    }


class Codebook:
    """Validators built once per process; ``check`` validates and normalises one object."""

    def __init__(self, ids_as_strings: bool = False) -> None:
        self.ids_as_strings = ids_as_strings
        self.adapters: dict[str, TypeAdapter[Any]] = {
            name: TypeAdapter(schema) for name, schema in SCHEMAS.items()
        }
        self.known: dict[str, frozenset[str]] = {
            name: _known_keys(schema) for name, schema in SCHEMAS.items()
        }

    def check(self, collection: str, obj: dict[str, Any]) -> Checked:
        """Validate ``obj`` against its collection's schema, then normalise a copy."""
        adapter = self.adapters.get(collection)
        if adapter is None:
            return Checked(None, f"no codebook schema for collection {collection!r}")
        missing = [key for key in REQUIRED[collection] if obj.get(key) in (None, "")]
        if missing:
            return Checked(None, "missing required key(s): " + ", ".join(missing))
        try:
            value = adapter.validate_python(obj)
        except ValidationError as exc:
            return Checked(None, format_errors(exc))
        unknown = tuple(sorted(value.keys() - self.known[collection]))
        normalise(value, ids_as_strings=self.ids_as_strings)
        return Checked(value, None, unknown)


# --- Normalisation ------------------------------------------------------------------------


def strip_nul(value: Any) -> Any:
    """``value`` with NUL bytes removed from every string inside it (same object if none)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        cleaned = [strip_nul(v) for v in value]
        return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
    if isinstance(value, dict):
        cleaned_d = {k: strip_nul(v) for k, v in value.items()}
        same = all(cleaned_d[k] is v for k, v in value.items())
        return value if same else cleaned_d
    return value


def has_nul(value: Any) -> bool:
    """Whether ``strip_nul`` could change ``value``: an allocation-free pre-check.

    Almost no item holds a NUL byte, and building cleaned copies of every nested list and
    dict to find that out was the costliest part of normalising (docs/benchmarks.md). The
    flat values of an API object (str, int, bool, None) are checked inline: one call per
    object and nested container, not one per value.
    """
    kind = type(value)
    if kind is str:
        return "\x00" in value
    if kind is dict:
        values: Any = value.values()
    elif kind is list:
        values = value
    else:
        return isinstance(value, str | list | dict)  # a subclass: let strip_nul decide
    for inner in values:
        inner_kind = type(inner)
        if inner_kind is str:
            if "\x00" in inner:
                return True
        elif inner_kind in _FLAT:
            continue
        elif has_nul(inner):
            return True
    return False


_FLAT = frozenset({int, float, bool, type(None)})
MILLISECONDS_FROM = 10**11  # an epoch above this is in milliseconds (year 5138 in seconds)


def utc_iso(epoch: int | float) -> str:
    """``1731190453`` -> ``"2024-11-09T22:14:13Z"``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def normalise(obj: dict[str, Any], *, ids_as_strings: bool = False) -> dict[str, Any]:
    """In place: strip NULs (originals under ``_original``), add ``create_datetime``, ids.

    Right-to-left and other Unicode text is left exactly as sent.
    """
    if has_nul(obj):  # rare: find the fields, keep their originals
        original: dict[str, Any] = {}
        for key, value in obj.items():
            if key in ("_crawl", "_original") or not has_nul(value):
                continue
            cleaned = strip_nul(value)
            if cleaned is not value:
                original[key] = value
                obj[key] = cleaned
        if original:
            obj.setdefault("_original", {}).update(original)
    create_time = obj.get("create_time")
    if isinstance(create_time, int | float) and not isinstance(create_time, bool):
        if create_time > MILLISECONDS_FROM:  # a review's example is in milliseconds
            create_time = create_time / 1000
        # An out-of-range epoch keeps create_time and gets no datetime.
        with contextlib.suppress(OverflowError, OSError, ValueError):
            obj["create_datetime"] = utc_iso(create_time)
    if ids_as_strings:
        for key in ID_FIELDS.intersection(obj):
            value = obj[key]
            if isinstance(value, list):
                obj[key] = [str(v) for v in value]
            elif value is not None:
                obj[key] = str(value)
    return obj
