"""MongoDBPipeline against a real MongoDB server (pymongo), driven directly with items.

Runs only when MONGODB_URI is set, e.g. ``MONGODB_URI=mongodb://localhost:27017 make test``;
each run uses a fresh database, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from crawling import SAMPLES
from scrapy import Spider
from scrapy.utils.test import get_crawler

from tiktok_scrapy.chains import ChainCore
from tiktok_scrapy.items import Video
from tiktok_scrapy.pipelines.mongodb import MongoDBPipeline
from tiktok_scrapy.pipelines.validate import ValidationPipeline

URI = os.environ.get("MONGODB_URI")
pytestmark = [
    pytest.mark.mongodb,
    pytest.mark.skipif(
        not URI,
        reason="needs a real MongoDB: set MONGODB_URI, e.g. "
        "MONGODB_URI=mongodb://localhost:27017 make test",
    ),
]


@pytest.fixture
def database() -> Iterator[str]:
    import pymongo

    name = f"tiktok_scrapy_test_{uuid.uuid4().hex[:8]}"
    yield name
    client = pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000)
    client.drop_database(name)
    client.close()


async def crawl_once(database: str, crawl_id: str, tmp_path: Path) -> MongoDBPipeline:
    settings = {
        "MONGODB_URI": URI,
        "MONGODB_DATABASE": database,
        "MONGODB_SNAPSHOTS": True,
        "MONGODB_BATCH_SIZE": 10,
        "TIKTOK_OUTPUT_DIR": str(tmp_path),
    }
    crawler = get_crawler(Spider, settings_dict=settings)
    crawler.spider = Spider(name="videos")
    ChainCore(crawler, None, spider_name="videos").crawl_id = crawl_id
    validate = ValidationPipeline.from_crawler(crawler)
    store = MongoDBPipeline.from_crawler(crawler)
    await store.open_spider()
    await store.spider_opened()
    pages = [
        json.loads((SAMPLES / name).read_text("utf-8"))["data"]["videos"]
        for name in ("video_query_short_page.json", "video_query_nul_bytes.json")
    ]
    items = [
        Video(v, _crawl={"crawl_id": crawl_id, "query_id": "q1"}) for page in pages for v in page
    ]

    async def one(item: Video) -> None:
        await store.process_item(await validate.process_item(item))

    await asyncio.gather(*(one(i) for i in items))  # 28 items, batches of 10, then a timer
    await store.close_spider()
    await store.spider_closed("finished")
    return store


async def test_two_crawls_one_document_per_video(database: str, tmp_path: Path) -> None:
    import pymongo

    await crawl_once(database, "c1", tmp_path)
    await crawl_once(database, "c2", tmp_path)
    client = pymongo.MongoClient(URI, tz_aware=True)
    db = client[database]
    try:
        assert db["videos"].count_documents({}) == 28
        doc = db["videos"].find_one({"id": 7435406205763226897})
        assert doc["username"] == "مستخدم4" and "\x00" in doc["_original"]["username"]
        assert doc["create_datetime"].replace(tzinfo=None) == datetime(2024, 11, 9, 22, 14, 13)
        assert [q["crawl_id"] for q in doc["_queries"]] == ["c1", "c2"]
        assert db["videos_snapshots"].count_documents({"id": 7435406205763226897}) == 2
        assert db["videos"].index_information()["id_unique"]["unique"]
        assert {c["crawl_id"]: c["finish_reason"] for c in db["crawls"].find()} == {
            "c1": "finished",
            "c2": "finished",
        }
    finally:
        client.close()
