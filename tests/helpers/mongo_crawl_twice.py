"""Crawl the same videos query twice into MongoDB in one process, then print what is stored.

``python tests/helpers/mongo_crawl_twice.py <sandbox-url> <workdir> <database>``. Two real
crawls (the whole Scrapy stack, pipelines included) run one after the other on one
reactor. With MONGODB_URI in the environment they write to that server; otherwise to one
shared in-memory mongomock client, so the same path is tested on every machine. Prints a
JSON summary on the last line.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import mongomock
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.utils.project import get_project_settings
from scrapy.utils.reactor import install_reactor

SHARED = mongomock.MongoClient()


def shared_client(*args: object, **kwargs: object) -> mongomock.MongoClient:
    """MONGODB_CLIENT_CLASS for runs without a server: every 'connection' is one store."""
    return SHARED


CONFIG = {
    "name": "floods",
    "hashtags": ["flood"],
    "start_date": "2024-01-03",
    "end_date": "2024-01-05",
    "max_count": 7,
}


async def main(url: str, workdir: Path, database: str) -> dict:
    uri = os.environ.get("MONGODB_URI")
    settings = get_project_settings()
    settings.setdict(
        {
            "TIKTOK_API_URL": url,
            "TIKTOK_CLIENT_KEY": "mongo-test",
            "TIKTOK_CLIENT_SECRET": "sandbox-secret",
            "TIKTOK_QUOTA_LEDGER": str(workdir / "quota.sqlite"),
            "TIKTOK_OUTPUT_DIR": str(workdir / "out" / "{job}"),
            "MONGODB_URI": uri or "mongodb://mongomock.invalid:27017",
            "MONGODB_CLIENT_CLASS": "pymongo.MongoClient" if uri else f"{__name__}.shared_client",
            "MONGODB_DATABASE": database,
            "MONGODB_SNAPSHOTS": True,
            "TIKTOK_MAX_REQUESTS_PER_SECOND": 0,
            # The last batch waits this long for company before it is written (2 s).
            "MONGODB_FLUSH_SECONDS": 0.05,
            "LOG_LEVEL": "WARNING",
        },
        priority="cmdline",
    )
    runner = AsyncCrawlerRunner(settings)
    for _ in range(2):
        await runner.crawl("videos", config=json.dumps(CONFIG))
    client = SHARED if not uri else __import__("pymongo").MongoClient(uri)
    db = client[database]
    videos = list(db["videos"].find({}, {"_id": 0, "id": 1, "_queries": 1}))
    summary = {
        "videos": len(videos),
        "distinct_ids": len({v["id"] for v in videos}),
        "queries_per_video": sorted({len(v.get("_queries", [])) for v in videos}),
        "snapshots": db["videos_snapshots"].count_documents({}),
        "crawls": [
            c.get("finish_reason") or c.get("reason") for c in db["crawls"].find({}, {"_id": 0})
        ],
        "pages": db["pages"].count_documents({}),
        "jsonl_files": sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*.jsonl")),
        "ids": sorted(v["id"] for v in videos),
    }
    if uri:
        client.drop_database(database)
    return summary


if __name__ == "__main__":
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import defer, reactor

    url, workdir, database = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    outcome: dict = {}

    def run() -> defer.Deferred:
        d = defer.Deferred.fromFuture(asyncio.ensure_future(main(url, workdir, database)))
        d.addCallback(outcome.update)
        d.addBoth(lambda result: (reactor.stop(), result)[1])
        return d

    reactor.callWhenRunning(run)
    reactor.run()
    print(json.dumps(outcome))
