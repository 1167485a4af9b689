"""Items and page records -> MongoDB write operations (plain Python, no Scrapy).

Every item is upserted on its natural key: ``first_seen`` only on insert, the latest values
and ``last_seen`` on every write, and ``{"query_id", "crawl_id"}`` added to ``_queries`` once.
Re-running a crawl, or resuming one that overlaps, therefore never duplicates an object.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from bson import ObjectId

from tiktok_scrapy.storage.indexes import NATURAL_KEYS, SNAPSHOT_FIELDS

# Keys maintained by the store itself: never copied from an item into $set.
RESERVED = frozenset({"_id", "_queries", "first_seen", "last_seen"})


@dataclass(frozen=True, slots=True)
class Write:
    """One write: an upsert (``filter`` + update document) or an insert (``doc``)."""

    collection: str
    kind: Literal["upsert", "insert"]
    doc: dict[str, Any]
    filter: dict[str, Any] | None = None


def parse_iso(value: Any) -> Any:
    """``"2024-11-09T22:14:13Z"`` -> aware datetime; anything else unchanged."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value


def natural_key(collection: str, item: dict[str, Any]) -> dict[str, Any]:
    return {key: item.get(key) for key in NATURAL_KEYS[collection]}


def item_writes(
    collection: str,
    item: dict[str, Any],
    *,
    crawl_id: str | None,
    query_id: str | None,
    now: datetime,
    snapshots: bool = False,
) -> list[Write]:
    """The upsert for one item, plus its snapshot when snapshots are on."""
    key = natural_key(collection, item)
    values = {k: v for k, v in item.items() if k not in RESERVED}
    if "create_datetime" in values:
        values["create_datetime"] = parse_iso(values["create_datetime"])
    values["last_seen"] = now
    update = {
        "$setOnInsert": {"first_seen": now},
        "$set": values,
        "$addToSet": {"_queries": {"query_id": query_id, "crawl_id": crawl_id}},
    }
    writes = [Write(collection, "upsert", update, key)]
    counts = SNAPSHOT_FIELDS.get(collection)
    if snapshots and counts:
        snapshot = {f: item[f] for f in counts if f in item}
        snapshot.update(at=now, query_id=query_id)
        writes.append(
            Write(
                f"{collection}_snapshots",
                "upsert",
                {"$set": snapshot},
                {**key, "crawl_id": crawl_id},
            )
        )
    return writes


def page_write(record: dict[str, Any], crawl_id: str | None) -> Write:
    """A page record, inserted as is (with a client-side _id so a retried insert is a no-op)."""
    doc = {"_id": ObjectId(), **record}
    if doc.get("crawl_id") is None:
        doc["crawl_id"] = crawl_id
    return Write("pages", "insert", doc)


def invalid_write(
    collection: str, item: dict[str, Any], reason: str, crawl_id: str | None, now: datetime
) -> Write:
    """A quarantined item: what it was, why it failed, when."""
    doc = {
        "_id": ObjectId(),
        "collection": collection,
        "reason": reason,
        "crawl_id": crawl_id,
        "at": now,
        "item": dict(item),
    }
    return Write("invalid_items", "insert", doc)


def unavailable_write(finding: dict[str, Any], collections: dict[str, str]) -> Write:
    """Mark a stored record the API no longer has (``Unavailable``): ``unavailable_since``
    on its document in the collection of its category."""
    return Write(
        collections[finding["category"]],
        "upsert",
        {"$set": {"unavailable_since": parse_iso(finding["unavailable_since"])}},
        {"id": finding["id"]},
    )


def crawl_start_write(
    crawl_id: str, spider: str | None, config: Any, query_id: str | None, now: datetime
) -> Write:
    update = {
        "$setOnInsert": {"started_at": now},
        "$set": {"spider": spider, "config": config, "query_id": query_id},
    }
    return Write("crawls", "upsert", update, {"crawl_id": crawl_id})


def crawl_end_write(
    crawl_id: str, reason: str | None, stats: dict[str, Any], now: datetime
) -> Write:
    update = {
        "$set": {"finished_at": now, "finish_reason": reason, "stats": mongo_safe_stats(stats)}
    }
    return Write("crawls", "upsert", update, {"crawl_id": crawl_id})


def mongo_safe_stats(stats: dict[str, Any]) -> dict[str, Any]:
    """Scrapy stats with keys MongoDB accepts (no dots, no leading $) and BSON-able values."""
    safe: dict[str, Any] = {}
    for key, value in stats.items():
        name = str(key).replace(".", "_").lstrip("$")
        if not isinstance(value, int | float | str | bool | datetime | type(None)):
            value = str(value)
        safe[name] = value
    return safe


def utcnow() -> datetime:
    return datetime.now(UTC)
