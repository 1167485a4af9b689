"""Items/s through the item pipelines, against a plain ``json.loads`` + ``bulk_write``.

    python -m benchmarks.pipeline_throughput [--pages 100] [--concurrency 16]

Stages (pages of 100 videos built from the real sample page, unique ids):
- ``baseline``: json.loads each page + one ``bulk_write`` of InsertOne per page — the least
  any storage can do; the ratio column compares each stage with the baseline on the same
  backend.
- ``validation``: json.loads + ValidationPipeline (codebook + normalisation), no storage.
- ``validation+mongomock``: + MongoDBPipeline (upserts, provenance, batching, worker thread)
  into mongomock.
- ``...+mongodb``: the same against a real server, when MONGODB_URI is set (a scratch
  database, dropped afterwards).
Pages are processed ``--concurrency`` at a time, 100 items each, as Scrapy does with
CONCURRENT_REQUESTS and CONCURRENT_ITEMS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import mongomock
from pymongo import InsertOne
from scrapy import Spider
from scrapy.utils.test import get_crawler

from tiktok_scrapy.items import Video
from tiktok_scrapy.pipelines.mongodb import MongoDBPipeline
from tiktok_scrapy.pipelines.validate import ValidationPipeline
from tiktok_scrapy.storage.documents import Write
from tiktok_scrapy.storage.mongo import to_pymongo

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "fixtures" / "api-samples" / "video_query_short_page.json"
if not SAMPLE.exists():
    SAMPLE = Path("/work/shared/api-samples/video_query_short_page.json")


def make_pages(count: int) -> list[bytes]:
    """``count`` JSON pages of 100 videos each, ids unique, as the API would send them."""
    videos = json.loads(SAMPLE.read_text("utf-8"))["data"]["videos"]
    pages = []
    next_id = 7320768196569599275
    for page in range(count):
        batch = []
        for i in range(100):
            video = dict(videos[i % len(videos)], id=next_id)
            next_id -= 1
            batch.append(video)
        envelope = {
            "data": {
                "videos": batch,
                "cursor": (page + 1) * 100,
                "has_more": True,
                "search_id": "7354367454467855403",
            },
            "error": {"code": "ok", "message": "", "log_id": "x"},
        }
        pages.append(json.dumps(envelope).encode())
    return pages


def baseline(pages: list[bytes], db: Any, upsert: bool = False) -> float:
    """json.loads each page + one bulk_write per page (inserts, or plain upserts by id)."""
    start = time.perf_counter()
    for body in pages:
        videos = json.loads(body)["data"]["videos"]
        ops = (
            [to_pymongo(Write("b", "upsert", {"$set": v}, {"id": v["id"]})) for v in videos]
            if upsert
            else [InsertOne(v) for v in videos]
        )
        db["baseline"].bulk_write(ops, ordered=False)
    return time.perf_counter() - start


async def through_pipelines(
    pages: list[bytes], concurrency: int, settings: dict[str, Any] | None
) -> float:
    crawler = get_crawler(
        Spider, settings_dict={"TIKTOK_OUTPUT_DIR": "/tmp/bench-out", **(settings or {})}
    )
    crawler.spider = Spider(name="videos")
    crawler.stats.set_value("tiktok/crawl_id", "bench")
    validate = ValidationPipeline.from_crawler(crawler)
    store = MongoDBPipeline.from_crawler(crawler) if settings else None
    if store:
        await store.open_spider()

    async def item(video: dict[str, Any], page: int) -> None:
        out = await validate.process_item(Video(video, _crawl={"crawl_id": "bench", "page": page}))
        if store:
            await store.process_item(out)

    async def page(index: int, body: bytes) -> None:
        await asyncio.gather(*(item(v, index) for v in json.loads(body)["data"]["videos"]))

    start = time.perf_counter()
    for first in range(0, len(pages), concurrency):
        await asyncio.gather(
            *(page(first + i, body) for i, body in enumerate(pages[first : first + concurrency]))
        )
    if store:
        await store.close_spider()
    elapsed = time.perf_counter() - start
    if store:
        await store.spider_closed("finished")
    return elapsed


def fresh_index(db: Any) -> None:
    db["baseline"].create_index("id", unique=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100, help="pages (x100 videos)")
    parser.add_argument(
        "--mock-pages",
        type=int,
        default=20,
        help="pages for the mongomock stages (mongomock upserts scan the "
        "whole collection, so they slow down as it grows)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    pages, mock_pages = make_pages(args.pages), make_pages(args.mock_pages)
    rows: list[tuple[str, int, float, float]] = []  # stage, items, seconds, baseline s

    def run(
        stage: str, page_list: list[bytes], settings: dict[str, Any] | None, base: float
    ) -> None:
        seconds = asyncio.run(through_pipelines(page_list, args.concurrency, settings))
        rows.append((stage, len(page_list) * 100, seconds, base))

    base = baseline(pages, mongomock.MongoClient()["bench"])
    rows.append(("json+bulk_write inserts (mongomock)", len(pages) * 100, base, base))
    run("validation only", pages, None, base)

    db = mongomock.MongoClient()["bench"]
    fresh_index(db)
    mock_base = baseline(mock_pages, db, upsert=True)
    rows.append(
        ("json+bulk_write upserts (mongomock)", len(mock_pages) * 100, mock_base, mock_base)
    )
    server = mongomock.MongoClient()
    run(
        "validation+MongoDBPipeline (mongomock)",
        mock_pages,
        {"MONGODB_URI": "mongodb://bench", "MONGODB_CLIENT_CLASS": lambda uri, **_: server},
        mock_base,
    )

    uri = os.environ.get("MONGODB_URI")
    if uri:
        import pymongo

        name = f"tiktok_bench_{uuid.uuid4().hex[:8]}"
        client = pymongo.MongoClient(uri)
        try:
            real_base = baseline(pages, client[name])
            rows.append(
                ("json+bulk_write inserts (mongodb)", len(pages) * 100, real_base, real_base)
            )
            run(
                "validation+MongoDBPipeline (mongodb)",
                pages,
                {"MONGODB_URI": uri, "MONGODB_DATABASE": name},
                real_base,
            )
        finally:
            client.drop_database(name)
            client.close()

    print(
        f"pages of 100 videos, {args.concurrency} pages at a time; ratio = this stage's "
        "items/s / its baseline's (row above)"
    )
    print(f"{'stage':<42} {'items':>6} {'seconds':>8} {'items/s':>10} {'ratio':>7}")
    for stage, items, seconds, base_seconds in rows:
        print(
            f"{stage:<42} {items:>6} {seconds:>8.3f} {items / seconds:>10,.0f} "
            f"{base_seconds / seconds:>6.2f}x"
        )
    if not uri:
        print("(set MONGODB_URI to add a real MongoDB server)")


if __name__ == "__main__":
    main()
