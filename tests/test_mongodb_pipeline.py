"""MongoDBPipeline against mongomock: upserts, indexes, provenance, snapshots, durability."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import mongomock
import pytest
from crawling import SAMPLES
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError
from scrapy import Spider
from scrapy.exceptions import CloseSpider, NotConfigured
from scrapy.utils.test import get_crawler

from tiktok_scrapy import signals as tiktok_signals
from tiktok_scrapy.chains import ChainCore
from tiktok_scrapy.items import FollowEdge, Unavailable, User, Video
from tiktok_scrapy.pipelines.mongodb import MongoDBPipeline
from tiktok_scrapy.pipelines.validate import ValidationPipeline
from tiktok_scrapy.storage.mongo import MongoUnavailable, active_store, redact_uri

URI = "mongodb://alice:s3cret@db.example:27017"


def sample_videos() -> list[dict]:
    return json.loads((SAMPLES / "video_query_short_page.json").read_text("utf-8"))["data"][
        "videos"
    ]


class Config:
    def query_id(self) -> str:
        return "q-cats"

    def to_jsonable(self) -> dict:
        return {"query": {"and": []}}


async def open_pipeline(server: Any, crawl_id: str = "c1", **settings: Any) -> MongoDBPipeline:
    crawler = get_crawler(
        Spider,
        settings_dict={
            "MONGODB_URI": URI,
            "MONGODB_CLIENT_CLASS": lambda uri, **kw: server,
            "MONGODB_BATCH_SIZE": 1,
            "MONGODB_FLUSH_SECONDS": 3600,  # no timer flushes unless a test says so
            "MONGODB_RETRY_BACKOFF": 0,
            **settings,
        },
    )
    crawler.spider = Spider(name="videos")
    ChainCore(crawler, Config(), spider_name="videos").crawl_id = crawl_id  # type: ignore[arg-type]
    pipeline = MongoDBPipeline.from_crawler(crawler)
    await pipeline.open_spider()
    await pipeline.spider_opened()
    return pipeline


async def finish(pipeline: MongoDBPipeline, reason: str = "finished") -> None:
    await pipeline.close_spider()
    await pipeline.spider_closed(reason)


async def crawl(pipeline: MongoDBPipeline, items: list[dict]) -> None:
    """Items in flight together, as CONCURRENT_ITEMS has them; then the close flush."""
    tasks = [asyncio.ensure_future(pipeline.process_item(item)) for item in items]
    await asyncio.sleep(0)  # every task queues its writes
    await pipeline.store.drain()
    await asyncio.gather(*tasks)


def videos(crawl_id: str, **extra: Any) -> list[Video]:
    return [
        Video(v, _crawl={"crawl_id": crawl_id, "query_id": "q-cats"}, **extra)
        for v in sample_videos()
    ]


@pytest.fixture
def server() -> mongomock.MongoClient:
    return mongomock.MongoClient()


def test_off_without_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONGODB_URI", raising=False)
    with pytest.raises(NotConfigured):
        MongoDBPipeline.from_crawler(get_crawler(settings_dict={}))


def test_uri_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGODB_URI", URI)
    pipeline = MongoDBPipeline.from_crawler(get_crawler(settings_dict={}))
    assert pipeline.store.safe_uri == "mongodb://alice:***@db.example:27017"


def test_redact_uri() -> None:
    assert redact_uri("mongodb+srv://u:p%40ss@h/x?a=b") == "mongodb+srv://u:***@h/x?a=b"
    assert redact_uri("mongodb://h:27017/db") == "mongodb://h:27017/db"


async def test_indexes(server: mongomock.MongoClient) -> None:
    pipeline = await open_pipeline(server, MONGODB_SNAPSHOTS=True)
    await finish(pipeline)
    db = server["tiktok_research"]
    info = db["videos"].index_information()
    assert info["id_unique"]["unique"] and list(info["id_unique"]["key"]) == [("id", 1)]
    assert {"username", "create_time", "hashtag_names", "region_code"} <= set(info)
    assert db["comments"].index_information()["id_unique"]["unique"]
    assert "video_id" in db["comments"].index_information()
    assert db["users"].index_information()["username_unique"]["unique"]
    assert list(db["follow_edges"].index_information()["source_target_unique"]["key"]) == [
        ("source", 1),
        ("target", 1),
    ]
    assert "account_relation_id_unique" in db["user_videos"].index_information()
    assert "playlist_id_unique" in db["playlists"].index_information()
    assert "crawl_id_chain_page" in db["pages"].index_information()
    assert db["videos_snapshots"].index_information()["id_crawl_id_unique"]["unique"]


async def test_same_items_twice_one_document_two_queries_two_snapshots(
    server: mongomock.MongoClient,
) -> None:
    for crawl_id in ("c1", "c2"):
        pipeline = await open_pipeline(
            server, crawl_id, MONGODB_SNAPSHOTS=True, MONGODB_BATCH_SIZE=1000
        )
        await crawl(pipeline, videos(crawl_id))
        assert pipeline.store.batches_written == 2  # crawls document, then one batch
        await finish(pipeline)
    db = server["tiktok_research"]
    assert db["videos"].count_documents({}) == 27
    doc = db["videos"].find_one({"id": 7320768196569599275})
    assert doc["_queries"] == [
        {"query_id": "q-cats", "crawl_id": "c1"},
        {"query_id": "q-cats", "crawl_id": "c2"},
    ]
    assert doc["first_seen"] < doc["last_seen"]
    assert doc["_crawl"]["crawl_id"] == "c2"
    snaps = list(db["videos_snapshots"].find({"id": 7320768196569599275}).sort("crawl_id"))
    assert [(s["crawl_id"], s["like_count"]) for s in snaps] == [("c1", 6), ("c2", 6)]
    assert db["crawls"].count_documents({}) == 2


async def test_upsert_sets_latest_values_and_keeps_first_seen(
    server: mongomock.MongoClient,
) -> None:
    pipeline = await open_pipeline(server, "c1")
    await pipeline.process_item(User(username="a", follower_count=1))
    await pipeline.process_item(User(username="a", follower_count=5))  # same crawl, again
    await finish(pipeline)
    docs = list(server["tiktok_research"]["users"].find())
    assert len(docs) == 1 and docs[0]["follower_count"] == 5
    assert docs[0]["_queries"] == [{"query_id": "q-cats", "crawl_id": "c1"}]
    assert isinstance(docs[0]["first_seen"], datetime)


async def test_follow_edges_unique_on_source_target(server: mongomock.MongoClient) -> None:
    pipeline = await open_pipeline(server)
    await crawl(
        pipeline,
        [
            FollowEdge(source="a", target="b", display_name="B"),
            FollowEdge(source="a", target="b", display_name="B2"),
            FollowEdge(source="c", target="b"),
        ],
    )
    await finish(pipeline)
    edges = server["tiktok_research"]["follow_edges"]
    assert edges.count_documents({}) == 2
    assert edges.find_one({"source": "a"})["display_name"] == "B2"


async def test_validated_item_stores_real_datetime_and_exact_ids(
    server: mongomock.MongoClient,
    tmp_path: Path,
) -> None:
    crawler = get_crawler(settings_dict={"TIKTOK_OUTPUT_DIR": str(tmp_path)})
    validate = ValidationPipeline.from_crawler(crawler)
    raw = json.loads((SAMPLES / "video_query_nul_bytes.json").read_text("utf-8"))
    item = await validate.process_item(Video(raw["data"]["videos"][0]))
    pipeline = await open_pipeline(server)
    await pipeline.process_item(item)
    await finish(pipeline)
    doc = server["tiktok_research"]["videos"].find_one()
    assert doc["id"] == 7435406205763226897 and doc["music_id"] == 7375579229523643153
    assert doc["create_datetime"].isoformat().startswith("2024-11-09T22:14:13")
    assert doc["username"] == "مستخدم4" and "\x00" in doc["_original"]["username"]
    assert item["create_datetime"] == "2024-11-09T22:14:13Z"  # the feed item is unchanged


async def test_page_records_and_crawl_document(server: mongomock.MongoClient) -> None:
    pipeline = await open_pipeline(server, "c9")
    record = {
        "chain": "videos:0",
        "endpoint": "videos",
        "page": 0,
        "status": 200,
        "error": {"code": "ok", "message": "", "log_id": "x"},
        "items": 27,
        "has_more": True,
        "cursor": 100,
        "search_id": "735",
    }
    pipeline.crawler.signals.send_catch_log(tiktok_signals.page_recorded, record=record)
    assert active_store(pipeline.crawler) is pipeline.store
    await pipeline.close_spider()
    pipeline.crawler.stats.set_value("odd.key", object())
    await pipeline.spider_closed("finished")
    db = server["tiktok_research"]
    page = db["pages"].find_one()
    assert page["crawl_id"] == "c9" and page["cursor"] == 100 and page["items"] == 27
    doc = db["crawls"].find_one({"crawl_id": "c9"})
    assert doc["spider"] == "videos" and doc["config"] == {"query": {"and": []}}
    assert doc["query_id"] == "q-cats" and doc["finish_reason"] == "finished"
    assert doc["started_at"] <= doc["finished_at"]
    assert "odd_key" in doc["stats"]  # a stats key MongoDB refuses, renamed
    assert active_store(pipeline.crawler) is None


async def test_an_idle_store_writes_at_once_and_batches_what_comes_meanwhile(
    server: mongomock.MongoClient,
) -> None:
    """No item waits for a batch to fill (or for MONGODB_FLUSH_SECONDS, an hour here) while
    nothing is being written; what queues during a write goes out as one batch after it."""
    pipeline = await open_pipeline(server, MONGODB_BATCH_SIZE=100)
    await pipeline.store.drain()
    written = pipeline.store.batches_written
    items = videos("c1")[:4]
    await asyncio.wait_for(pipeline.process_item(items[0]), timeout=5)
    assert server["tiktok_research"]["videos"].count_documents({}) == 1
    assert pipeline.store.batches_written == written + 1
    await asyncio.wait_for(asyncio.gather(*(pipeline.process_item(i) for i in items[1:])), 5)
    assert server["tiktok_research"]["videos"].count_documents({}) == 4
    assert pipeline.store.batches_written == written + 2  # the three together
    await finish(pipeline)


async def test_time_bound_flushes_a_partial_batch(server: mongomock.MongoClient) -> None:
    pipeline = await open_pipeline(server, MONGODB_BATCH_SIZE=100, MONGODB_FLUSH_SECONDS=0.05)
    await asyncio.wait_for(pipeline.process_item(videos("c1")[0]), timeout=5)
    assert server["tiktok_research"]["videos"].count_documents({}) == 1
    await finish(pipeline)


async def test_close_flushes_pending_pages(server: mongomock.MongoClient) -> None:
    pipeline = await open_pipeline(server, MONGODB_BATCH_SIZE=100)
    pipeline.page_recorded({"chain": "c", "page": 1})
    assert server["tiktok_research"]["pages"].count_documents({}) == 0
    await pipeline.close_spider()
    assert server["tiktok_research"]["pages"].count_documents({}) == 1
    await pipeline.spider_closed("finished")


async def test_unreachable_at_start_closes_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(uri: str, **kwargs: Any) -> Any:
        client = mock.Mock()
        client.admin.command.side_effect = ServerSelectionTimeoutError(
            "db.example:27017: [Errno 111] Connection refused"
        )
        return client

    crawler = get_crawler(settings_dict={"MONGODB_URI": URI, "MONGODB_CLIENT_CLASS": refuse})
    pipeline = MongoDBPipeline.from_crawler(crawler)
    with caplog.at_level(logging.ERROR), pytest.raises(CloseSpider) as excinfo:
        await pipeline.open_spider()
    assert excinfo.value.reason == "mongodb_unavailable"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    message = errors[0].getMessage()
    assert "Connection refused" in message and "MONGODB_URI" in message
    assert "s3cret" not in caplog.text and "alice:***@db.example" in message


async def test_server_down_mid_crawl_stops_crawl_and_fails_items(
    server: mongomock.MongoClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = await open_pipeline(server, MONGODB_BATCH_SIZE=1, MONGODB_RETRY_TIMES=2)
    pipeline.crawler.engine = mock.Mock()
    pipeline.crawler.engine.close_spider_async = mock.AsyncMock()
    calls = {"n": 0}

    def down(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        raise AutoReconnect("connection closed")

    with (
        mock.patch.object(mongomock.collection.Collection, "bulk_write", down),
        pytest.raises(MongoUnavailable),
    ):
        await pipeline.process_item(videos("c1")[0])
    assert calls["n"] == 3  # first try + 2 retries
    with pytest.raises(MongoUnavailable):  # later items fail fast, without new retries
        await pipeline.process_item(videos("c1")[1])
    assert calls["n"] == 3
    await asyncio.sleep(0)
    pipeline.crawler.engine.close_spider_async.assert_awaited_once_with(
        reason="mongodb_unavailable"
    )
    assert server["tiktok_research"]["videos"].count_documents({}) == 0
    assert "s3cret" not in caplog.text
    await finish(pipeline, "mongodb_unavailable")


async def test_an_unavailable_finding_marks_the_stored_record(
    server: mongomock.MongoClient,
) -> None:
    pipeline = await open_pipeline(server)
    stored = videos("c1")
    await crawl(pipeline, stored)
    gone = stored[0]["id"]
    finding = Unavailable(
        {"id": gone, "category": "video", "unavailable_since": "2024-12-01T10:00:00+00:00"}
    )
    await crawl(pipeline, [finding])
    await finish(pipeline)
    db = server["tiktok_research"]
    marked = db["videos"].find_one({"id": gone})
    assert marked["unavailable_since"].isoformat().startswith("2024-12-01T10:00:00")
    assert db["videos"].count_documents({"unavailable_since": {"$exists": True}}) == 1
