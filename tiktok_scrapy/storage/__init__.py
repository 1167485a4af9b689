"""MongoDB storage and reading data back, kept free of Scrapy where possible.

- ``documents``: items and page records -> idempotent write operations (natural keys,
  provenance merge, snapshots).
- ``indexes``: the collections and their indexes.
- ``mongo``: the client, a batched writer running off the event loop, retries.
- ``export``: collection -> CSV / JSON Lines / Parquet (``scrapy export``).
- ``backend``: which backend a crawl stores into (``TIKTOK_STORAGE_BACKEND``), decided once.
"""

from tiktok_scrapy.storage.backend import backend, mongodb_uri

__all__ = ["backend", "mongodb_uri"]
