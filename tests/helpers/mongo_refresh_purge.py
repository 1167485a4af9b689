"""Crawl videos and comments into MongoDB, delete some on the sandbox, refresh with purge.

``python tests/helpers/mongo_refresh_purge.py <sandbox-url> <workdir> <database>``. All in
one process on one reactor, into one shared in-memory mongomock client (or the server
in MONGODB_URI). The deletions go through the sandbox's ``/admin/delete``. Prints a JSON
summary on the last line: what was stored, what was deleted, what is left.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.request
from pathlib import Path

import mongomock
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.utils.project import get_project_settings
from scrapy.utils.reactor import install_reactor

SHARED = mongomock.MongoClient()


def shared_client(*args: object, **kwargs: object) -> mongomock.MongoClient:
    return SHARED


VIDEOS = {"hashtags": ["flood"], "start_date": "2024-01-03", "end_date": "2024-01-04"}


def ids(db, collection: str, query: dict | None = None) -> list[int]:
    return sorted(d["id"] for d in db[collection].find(query or {}, {"id": 1}))


async def main(url: str, workdir: Path, database: str) -> dict:
    uri = os.environ.get("MONGODB_URI")
    settings = get_project_settings()
    settings.setdict(
        {
            "TIKTOK_API_URL": url,
            "TIKTOK_CLIENT_KEY": "mongo-test",
            "TIKTOK_CLIENT_SECRET": "sandbox-secret",
            "TIKTOK_QUOTA_LEDGER": str(workdir / "quota.sqlite"),
            "TIKTOK_OUTPUT_DIR": str(workdir / "out" / "{spider}"),
            "MONGODB_URI": uri or "mongodb://mongomock.invalid:27017",
            "MONGODB_CLIENT_CLASS": "pymongo.MongoClient" if uri else f"{__name__}.shared_client",
            "MONGODB_DATABASE": database,
            "MONGODB_SNAPSHOTS": True,
            "MONGODB_FLUSH_SECONDS": 0.01,
            "TIKTOK_MAX_REQUESTS_PER_SECOND": 0,
            "TIKTOK_COMPLIANCE_POLL_INTERVAL": 0.01,
            "LOG_LEVEL": "WARNING",
        },
        priority="cmdline",
    )
    runner = AsyncCrawlerRunner(settings)
    client = SHARED if not uri else __import__("pymongo").MongoClient(uri)
    db = client[database]
    await runner.crawl("videos", config=json.dumps(VIDEOS))
    videos = ids(db, "videos")
    with_comments = sorted(
        d["id"] for d in db["videos"].find({"comment_count": {"$gt": 0, "$lt": 40}}, {"id": 1})
    )[:4]
    await runner.crawl("comments", config=json.dumps({"video_ids": with_comments}))
    comments = ids(db, "comments")
    deleted_videos = [with_comments[0], *[v for v in videos if v not in with_comments][:2]]
    deleted_comments = ids(db, "comments", {"video_id": with_comments[1]})[:2]
    body = json.dumps({"videos": deleted_videos, "comments": deleted_comments}).encode()
    request = urllib.request.Request(
        url + "/admin/delete", data=body, headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=30).read()
    of_deleted_video = ids(db, "comments", {"video_id": with_comments[0]})

    await runner.crawl("refresh", config=json.dumps({"older_than_days": 0, "purge": True}))
    summary = {
        "videos": videos,
        "comments": comments,
        "comments_of_deleted_video": of_deleted_video,
        "deleted_videos": deleted_videos,
        "deleted_comments": deleted_comments,
        "videos_left": ids(db, "videos"),
        "comments_left": ids(db, "comments"),
        "video_snapshots_left": sorted({d["id"] for d in db["videos_snapshots"].find()}),
        "comment_snapshots_left": sorted({d["id"] for d in db["comments_snapshots"].find()}),
        "audit": [{k: v for k, v in d.items() if k != "_id"} for d in db["purge_audit"].find()],
        "audit_file": (workdir / "out" / "refresh" / "purge_audit.jsonl").read_text(),
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
    print(json.dumps(outcome, default=str))
