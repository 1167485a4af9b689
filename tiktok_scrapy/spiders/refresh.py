"""refresh: re-fetch stored videos by id and list the ones that are gone.

``scrapy crawl refresh -a config=examples/refresh.yaml``. TikTok's research terms ask for
stored data to be refreshed regularly (every 15 days) and for what is no longer available
to be deleted. The ids come from MongoDB (``videos`` not seen for ``older_than_days``)
when ``MONGODB_URI`` is set, else from a videos JSONL or output folder (``from_output``,
age from ``_crawl.crawled_at``). They are asked back with the video query,
``video_id IN [...]``: at most 100 ids per chain and, since a query spans at most 30
days, grouped by their creation day (the upper 32 bits of an id are its create_time).
Videos returned are yielded again (fresh counts); ids a finished chain did not return
are unavailable: ``unavailable.jsonl`` (``{"id", "unavailable_since"}``), and with MongoDB
``unavailable_since`` set on the stored video. Stats ``tiktok/refresh/*``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy.exceptions import CloseSpider
from scrapy.http import Response

from tiktok_scrapy.api.endpoints import MAX_WINDOW_DAYS
from tiktok_scrapy.api.windows import Window
from tiktok_scrapy.checkpoints import ChainState
from tiktok_scrapy.config import RefreshConfig
from tiktok_scrapy.items import ApiItem, Video
from tiktok_scrapy.spiders.base import Chain, ResearchApiSpider
from tiktok_scrapy.storage.mongo import mongodb_uri

logger = logging.getLogger(__name__)

IDS_PER_REQUEST = 100  # one page holds them all (max_count 100), deleted ones included


class UnavailableVideo(dict):
    """``{"id", "unavailable_since"}`` of a video the API no longer returns (not an ApiItem:
    it is a finding about a stored video, not an API object)."""

    collection = "unavailable"


def day_of_id(video_id: int) -> date:
    """The UTC day a video was created: its id's upper 32 bits are the create_time."""
    return datetime.fromtimestamp(video_id >> 32, UTC).date()


def batches(
    ids: list[int], size: int = IDS_PER_REQUEST, max_days: int = MAX_WINDOW_DAYS
) -> list[tuple[Window, list[int]]]:
    """Ids sorted by creation day, cut into batches of <= ``size`` within <= ``max_days``."""
    out: list[tuple[Window, list[int]]] = []
    batch: list[int] = []
    for video_id in sorted(set(ids), key=lambda i: (day_of_id(i), i)):
        day = day_of_id(video_id)
        if batch and (len(batch) >= size or (day - day_of_id(batch[0])).days >= max_days):
            out.append((Window(day_of_id(batch[0]), day_of_id(batch[-1])), batch))
            batch = []
        batch.append(video_id)
    if batch:
        out.append((Window(day_of_id(batch[0]), day_of_id(batch[-1])), batch))
    return out


def _crawled_at(row: dict) -> datetime | None:
    text = (row.get("_crawl") or {}).get("crawled_at") or row.get("last_seen")
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


class RefreshSpider(ResearchApiSpider):
    name = "refresh"
    endpoint_name = "videos"
    item_class = Video
    item_classes = (Video, UnavailableVideo)
    config: RefreshConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unavailable = 0
        self.checked = 0

    def parse_page(self, response: Response) -> Iterator[Any]:
        """As every spider's, but without ``scrapy check`` contracts: a refresh's inputs are
        a previous crawl's stored videos, which a cassette cannot carry."""
        return super().parse_page(response)

    @property
    def cutoff(self) -> datetime:
        """Videos last seen before this are due for a refresh."""
        return datetime.now(UTC) - timedelta(days=self.config.older_than_days)

    # --- inputs ----------------------------------------------------------------------
    def stored_ids(self) -> list[int]:
        """Ids of stored videos last seen before the cutoff (MongoDB, else from_output)."""
        uri = mongodb_uri(self.settings)
        if uri:
            return self._ids_from_mongodb(uri)
        if not self.config.from_output:
            logger.error(
                "refresh: nothing to refresh from — set MONGODB_URI, or give "
                "from_output: <a videos crawl's output folder or videos.jsonl>"
            )
            raise CloseSpider("no_input")
        path = self.config.resolve(self.config.from_output)
        files = [path] if path.is_file() else sorted(path.rglob("videos.jsonl"))
        if not files:
            logger.error("refresh: no videos.jsonl at %s — check from_output", path)
            raise CloseSpider("no_input")
        ids: list[int] = []
        for file in files:
            ids += [
                row["id"]
                for row in _rows(file)
                if isinstance(row.get("id"), int) and self._old(_crawled_at(row))
            ]
        return ids

    def _old(self, seen: datetime | None) -> bool:
        return seen is None or seen.astimezone(UTC) <= self.cutoff

    def _ids_from_mongodb(self, uri: str) -> list[int]:
        from tiktok_scrapy.storage.mongo import make_client

        client = make_client(self.settings, uri)
        try:
            videos = client[self.settings.get("MONGODB_DATABASE")]["videos"]
            query = {"last_seen": {"$lte": self.cutoff}, "unavailable_since": {"$exists": False}}
            return [int(doc["id"]) for doc in videos.find(query, {"id": 1}) if "id" in doc]
        finally:
            client.close()

    # --- chains and items ------------------------------------------------------------
    def plan(self) -> Iterator[Chain]:
        ids = self.stored_ids()
        logger.info(
            "refresh: %d stored videos last seen before %s.",
            len(ids),
            self.cutoff.isoformat(timespec="seconds"),
        )
        for number, (window, batch) in enumerate(batches(ids, self.config.max_count)):
            start, end = window.api_dates()
            yield Chain(
                id=f"refresh:{start}-{end}:{number}",
                endpoint=self.endpoint,
                body={
                    "query": {
                        "and": [
                            {
                                "field_name": "video_id",
                                "operation": "IN",
                                "field_values": [str(i) for i in batch],
                            }
                        ]
                    },
                    "start_date": start,
                    "end_date": end,
                    "max_count": self.config.max_count,
                },
                input=str(window),
                window=window,
                fields=tuple(self.config.fields),
            )

    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        videos = [Video(r) for r in records if isinstance(r, dict) and "id" in r]
        seen = [*state.extra.get("seen", []), *(v["id"] for v in videos)]
        state.extra = {**state.extra, "seen": seen}
        if not done:
            return videos
        asked = [int(v) for v in chain.body["query"]["and"][0]["field_values"]]
        gone = sorted(set(asked) - set(seen))
        since = datetime.now(UTC).isoformat(timespec="seconds")
        self.checked += len(asked)
        self.unavailable += len(gone)
        self.crawler.stats.inc_value("tiktok/refresh/checked", len(asked))
        self.crawler.stats.inc_value("tiktok/refresh/unavailable", len(gone))
        self._mark_in_mongodb(gone, since)
        return [*videos, *(UnavailableVideo({"id": i, "unavailable_since": since}) for i in gone)]  # type: ignore[list-item]

    def _mark_in_mongodb(self, ids: list[int], since: str) -> None:
        from tiktok_scrapy.storage.documents import Write
        from tiktok_scrapy.storage.mongo import active_store

        store = active_store(self.crawler)
        if store is None or not ids:
            return
        when = datetime.fromisoformat(since)
        store.submit(
            [
                Write("videos", "upsert", {"$set": {"unavailable_since": when}}, {"id": i})
                for i in ids
            ]
        )

    def _spider_closed(self, reason: str) -> None:
        super()._spider_closed(reason)
        logger.info(
            "refresh: %d videos checked, %d no longer available%s.",
            self.checked,
            self.unavailable,
            ""
            if self.unavailable == 0
            else " (listed in unavailable.jsonl, or unavailable_since in MongoDB)",
        )


def _rows(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                if isinstance(row, dict):
                    yield row
