"""ValidationPipeline: normalised items pass, invalid ones are quarantined then dropped."""

from __future__ import annotations

import json
from pathlib import Path

import mongomock
import pytest
from crawling import SAMPLES
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.test import get_crawler

from tiktok_scrapy.chains import ChainCore
from tiktok_scrapy.items import Comment, User, Video
from tiktok_scrapy.pipelines.validate import InvalidItem, ValidationPipeline
from tiktok_scrapy.storage.mongo import MongoStore, register, unregister

CRAWL = {"crawl_id": "c1", "chain": "videos:0", "page": 0, "crawled_at": "2024-11-18T16:08:58Z"}


def make(tmp_path: Path, **settings):
    crawler = get_crawler(settings_dict={"TIKTOK_OUTPUT_DIR": str(tmp_path / "out"), **settings})
    ChainCore(crawler, None, spider_name="videos").crawl_id = "c1"
    return crawler, ValidationPipeline.from_crawler(crawler)


async def test_nul_sample_is_normalised_and_keeps_its_class(tmp_path: Path) -> None:
    crawler, pipeline = make(tmp_path)
    raw = json.loads((SAMPLES / "video_query_nul_bytes.json").read_text("utf-8"))
    item = Video(raw["data"]["videos"][0], _crawl=CRAWL)
    out = await pipeline.process_item(item)
    assert type(out) is Video
    assert out["username"] == "مستخدم4"
    assert out["_original"]["username"].count("\x00") == 6
    assert out["create_datetime"] == "2024-11-09T22:14:13Z"
    assert out["id"] == 7435406205763226897 and out["_crawl"] == CRAWL
    assert crawler.stats.get_value("tiktok/validation/normalised/videos") == 1
    assert not (tmp_path / "out").exists()  # nothing quarantined, no file


async def test_invalid_item_is_quarantined_counted_and_dropped(tmp_path: Path) -> None:
    crawler, pipeline = make(tmp_path)
    bad = Comment(id=7.386111312293610e18, video_id=1, _crawl=CRAWL)
    with pytest.raises(InvalidItem) as excinfo:
        await pipeline.process_item(bad)
    assert isinstance(excinfo.value, DropItem)
    assert "id: Input should be a valid integer" in str(excinfo.value)
    assert crawler.stats.get_value("tiktok/validation/invalid/comments") == 1
    pipeline.close_spider()
    lines = (tmp_path / "out" / "invalid_items.jsonl").read_text("utf-8").splitlines()
    record = json.loads(lines[0])
    assert record["collection"] == "comments" and record["crawl_id"] == "c1"
    assert record["reason"].startswith("id:")
    assert record["item"]["_crawl"] == CRAWL


async def test_unknown_keys_are_counted_and_kept(tmp_path: Path) -> None:
    crawler, pipeline = make(tmp_path)
    out = await pipeline.process_item(User(username="a", brand_new=1, other=2))
    assert out["brand_new"] == 1
    await pipeline.process_item(User(username="b", brand_new=3))
    assert crawler.stats.get_value("tiktok/validation/unknown_keys/users") == 3


async def test_ids_as_strings_setting(tmp_path: Path) -> None:
    _, pipeline = make(tmp_path, TIKTOK_IDS_AS_STRINGS=True)
    out = await pipeline.process_item(Video(id=7320768196569599275, music_id=1))
    assert out["id"] == "7320768196569599275" and out["music_id"] == "1"


async def test_non_api_items_pass_untouched(tmp_path: Path) -> None:
    _, pipeline = make(tmp_path)
    item = {"anything": 1.5}
    assert await pipeline.process_item(item) is item


def test_disabled(tmp_path: Path) -> None:
    crawler = get_crawler(settings_dict={"TIKTOK_VALIDATION_ENABLED": False})
    with pytest.raises(NotConfigured):
        ValidationPipeline.from_crawler(crawler)


async def test_quarantine_goes_to_mongodb_when_storage_is_on(tmp_path: Path) -> None:
    crawler, pipeline = make(tmp_path)
    server = mongomock.MongoClient()
    store = MongoStore(lambda: server, "db", batch_size=1)
    await store.open()
    register(crawler, store)
    try:
        with pytest.raises(InvalidItem):
            await pipeline.process_item(Video(like_count=1, _crawl=CRAWL))
    finally:
        unregister(crawler)
        await store.close()
    docs = list(server["db"]["invalid_items"].find())
    assert [(d["collection"], d["reason"]) for d in docs] == [
        ("videos", "missing required key(s): id")
    ]
    assert docs[0]["item"]["like_count"] == 1
    assert not (tmp_path / "out").exists()
