"""Item types the spiders yield.

Each is a ``dict`` subclass: it keeps every key the API sent (new keys included) with no
declared-field ceremony, ``itemadapter`` and the feed exporters handle it as a dict, and
the class tells feeds (``item_classes``) and MongoDB (``collection``) where it goes.
The codebook models that validate them live in ``tiktok_scrapy.schemas``.

Provenance sits under one key, ``_crawl``: ``{"chain", "endpoint", "query_id", "window",
"search_id", "cursor", "page", "log_id", "crawled_at"}`` (keys that do not apply absent).
"""

from __future__ import annotations

from typing import Any, ClassVar


class ApiItem(dict):
    """Base of every item: a dict with the collection/feed name it belongs to."""

    collection: ClassVar[str] = "items"


class Video(ApiItem):
    """A video object as the API sent it, plus ``_crawl``."""

    collection = "videos"


class User(ApiItem):
    """A user-info object plus the requested ``username``."""

    collection = "users"


class Comment(ApiItem):
    """A comment object as sent."""

    collection = "comments"


class FollowEdge(ApiItem):
    """``{"source": follower, "target": followed, "display_name": listed account's}``."""

    collection = "follow_edges"


class UserVideoLink(ApiItem):
    """A video object plus ``account`` (whose list) and ``relation`` (liked/pinned/reposted)."""

    collection = "user_videos"


class Playlist(ApiItem):
    """One playlist with every video id gathered across its pages."""

    collection = "playlists"


class Shop(ApiItem):
    """A TikTok Shop (EU) as sent, plus ``requested_name``: the name it was found by."""

    collection = "shops"


class Product(ApiItem):
    """A shop's product as sent, plus the ``shop_id`` it was listed under."""

    collection = "products"


class ProductReview(ApiItem):
    """A product review as sent, plus ``product_id`` and ``review_key``.

    Reviews carry no id: ``review_key`` is a digest of what identifies one (product, time,
    text, rating, reviewer), so a re-crawl updates a stored review instead of adding it.
    """

    collection = "product_reviews"


class Ad(ApiItem):
    """An ad-library result ``{"ad": {...}, "advertiser": {...}}`` plus top-level ``ad_id``
    and ``business_id`` (for storage keys and for ``ad_details`` to read)."""

    collection = "ads"


class AdDetail(ApiItem):
    """An ad's details ``{"ad", "ad_group", "advertiser"}`` plus the requested ``ad_id``."""

    collection = "ad_details"


class Advertiser(ApiItem):
    """An advertiser as sent, plus the ``search_term`` that found it."""

    collection = "advertisers"


class CommercialContent(ApiItem):
    """A commercial content record (paid partnership, promotion) as sent."""

    collection = "commercial_content"


def follow_edge(owner: str, listed: dict[str, Any], listed_is_source: bool) -> FollowEdge | None:
    """The edge for one account listed in ``owner``'s followers (the listed account follows
    the owner) or following (the owner follows it): one directed graph, source follows
    target. None when the listed account has no username."""
    username = listed.get("username")
    if not username:
        return None
    source, target = (username, owner) if listed_is_source else (owner, username)
    others = {k: v for k, v in listed.items() if k not in ("username", "display_name")}
    return FollowEdge(
        {**others, "source": source, "target": target, "display_name": listed.get("display_name")}
    )


class Unavailable(dict):
    """``{"id", "category", "unavailable_since"}`` of a stored video or comment the API no
    longer has (refresh). Not an ApiItem: a finding about stored data, not an API object —
    a feed of its own (``unavailable.jsonl``), and with MongoDB the stored record is marked
    ``unavailable_since`` by the pipeline."""

    collection = "unavailable"
