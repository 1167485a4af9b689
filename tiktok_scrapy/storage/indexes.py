"""Collections and their indexes: natural keys (unique) and fields people query often."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel

# collection -> natural key fields; an item is upserted on these.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "videos": ("id",),
    "comments": ("id",),
    "users": ("username",),
    "follow_edges": ("source", "target"),
    "user_videos": ("account", "relation", "id"),
    "playlists": ("playlist_id",),
    "shops": ("shop_id",),
    "products": ("product_id",),
    "product_reviews": ("product_id", "review_key"),
    "ads": ("ad_id",),
    "ad_details": ("ad_id",),
    "advertisers": ("business_id",),
    "commercial_content": ("id",),
}

# Engagement counts kept per crawl in <collection>_snapshots (MONGODB_SNAPSHOTS).
SNAPSHOT_FIELDS: dict[str, tuple[str, ...]] = {
    "videos": ("like_count", "comment_count", "share_count", "view_count", "favorites_count"),
    "user_videos": ("like_count", "comment_count", "share_count", "view_count", "favorites_count"),
    "comments": ("like_count", "reply_count"),
    "users": ("follower_count", "following_count", "likes_count", "video_count"),
    "playlists": ("playlist_item_total",),
    "shops": ("shop_rating", "shop_review_count", "item_sold_count", "shop_performance_value"),
    "products": ("product_sold_count", "product_review_count", "product_rating"),
    "product_reviews": ("review_like_count",),
}


def _index(*fields: str, unique: bool = False) -> IndexModel:
    name = "_".join(fields) + ("_unique" if unique else "")
    return IndexModel([(f, ASCENDING) for f in fields], unique=unique, name=name)


def _natural(collection: str) -> IndexModel:
    return _index(*NATURAL_KEYS[collection], unique=True)


INDEXES: dict[str, list[IndexModel]] = {
    "videos": [
        _natural("videos"),
        _index("username"),
        _index("create_time"),
        _index("hashtag_names"),
        _index("region_code"),
        _index("_queries.query_id"),
    ],
    "comments": [_natural("comments"), _index("video_id")],
    "users": [_natural("users")],
    "follow_edges": [_natural("follow_edges"), _index("target")],
    "user_videos": [_natural("user_videos"), _index("id")],
    "playlists": [_natural("playlists")],
    "shops": [_natural("shops"), _index("shop_name")],
    "products": [_natural("products"), _index("shop_id")],
    "product_reviews": [_natural("product_reviews"), _index("create_time")],
    "ads": [_natural("ads"), _index("business_id")],
    "ad_details": [_natural("ad_details")],
    "advertisers": [_natural("advertisers"), _index("country_code")],
    "commercial_content": [_natural("commercial_content"), _index("create_date")],
    "pages": [_index("crawl_id", "chain", "page"), _index("endpoint", "outcome")],
    "crawls": [_index("crawl_id", unique=True)],
    "invalid_items": [_index("crawl_id"), _index("collection")],
}


def snapshot_indexes() -> dict[str, list[IndexModel]]:
    """One snapshot per object and crawl: re-processing an item in a crawl adds none."""
    return {
        f"{name}_snapshots": [_index(*NATURAL_KEYS[name], "crawl_id", unique=True)]
        for name in SNAPSHOT_FIELDS
    }


def ensure_indexes(db: Any, snapshots: bool) -> None:
    """Create every index (idempotent; MongoDB skips existing identical ones)."""
    wanted = dict(INDEXES)
    if snapshots:
        wanted.update(snapshot_indexes())
    for collection, models in wanted.items():
        db[collection].create_indexes(models)
