"""Crawl every Shop and ad-library spider into MongoDB in one process; print what is stored.

``python tests/helpers/mongo_commerce.py <sandbox-url> <workdir> <database> <configs-json>``.
``configs-json`` maps spider name to its config (``products`` is crawled twice). Uses the
shared mongomock client of ``mongo_crawl_twice`` unless MONGODB_URI is set. Prints a JSON
summary on the last line: per collection, documents, distinct natural keys, and whether
every document carries its provenance.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from mongo_crawl_twice import SHARED
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.utils.project import get_project_settings
from scrapy.utils.reactor import install_reactor

from tiktok_scrapy.storage.indexes import NATURAL_KEYS


async def main(url: str, workdir: Path, database: str, configs: dict) -> dict:
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
            "MONGODB_CLIENT_CLASS": "pymongo.MongoClient"
            if uri
            else "mongo_crawl_twice.shared_client",
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
    for spider, config in configs.items():
        for _ in range(2 if spider == "products" else 1):
            await runner.crawl(spider, config=json.dumps(config))
    client = SHARED if not uri else __import__("pymongo").MongoClient(uri)
    db = client[database]
    summary: dict = {"crawls": sorted(c["finish_reason"] for c in db["crawls"].find())}
    for spider in configs:
        collection = spider  # each of these spiders stores into the collection of its name
        docs = list(db[collection].find({}, {"_id": 0}))
        keys = {tuple(str(d.get(k)) for k in NATURAL_KEYS[collection]) for d in docs}
        summary[collection] = {
            "documents": len(docs),
            "distinct": len(keys),
            "provenance": all(
                d.get("_crawl", {}).get("crawl_id") and d.get("_queries") for d in docs
            ),
            "queries": sorted({len(d["_queries"]) for d in docs}),
            "keys": sorted(keys),
            "indexes": sorted(db[collection].index_information()),
        }
    summary["product_snapshots"] = db["products_snapshots"].count_documents({})
    if uri:
        client.drop_database(database)
    return summary


if __name__ == "__main__":
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import defer, reactor

    url, workdir, database = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    configs = json.loads(sys.argv[4])
    outcome: dict = {}

    def run() -> defer.Deferred:
        d = defer.Deferred.fromFuture(asyncio.ensure_future(main(url, workdir, database, configs)))
        d.addCallback(outcome.update)
        d.addBoth(lambda result: (reactor.stop(), result)[1])
        return d

    reactor.callWhenRunning(run)
    reactor.run()
    print(json.dumps(outcome))
