"""ValidationPipeline: every item checked against the codebook and normalised.

An invalid item is never silently lost: it goes to the quarantine (``invalid_items.jsonl``
in TIKTOK_OUTPUT_DIR, or the ``invalid_items`` collection when MongoDB storage is on) with
the reason, is counted in ``tiktok/validation/invalid/<collection>``, then dropped. Keys the
codebook does not know are kept and counted in ``tiktok/validation/unknown_keys/<collection>``.
Normalisation (see ``tiktok_scrapy.schemas.normalise``): NUL bytes stripped (originals under
``_original``), ``create_datetime`` added, ids as 64-bit ints (strings with
TIKTOK_IDS_AS_STRINGS).

Settings: TIKTOK_VALIDATION_ENABLED, TIKTOK_IDS_AS_STRINGS, TIKTOK_OUTPUT_DIR.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Self

from scrapy.exceptions import DropItem, NotConfigured

from tiktok_scrapy.chains import core_of
from tiktok_scrapy.items import ApiItem
from tiktok_scrapy.schemas import Codebook
from tiktok_scrapy.storage.documents import invalid_write
from tiktok_scrapy.storage.mongo import active_store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

QUARANTINE_FILE = "invalid_items.jsonl"


class InvalidItem(DropItem):
    """Dropped for failing the codebook; ``reason`` says which field and why."""

    def __init__(self, collection: str, reason: str) -> None:
        super().__init__(f"invalid {collection} item (quarantined): {reason}")
        self.collection = collection
        self.reason = reason


class ValidationPipeline:
    def __init__(self, crawler: Crawler, codebook: Codebook, output_dir: str | None) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.codebook = codebook
        self.output_dir = Path(output_dir) if output_dir else Path(".")
        self._quarantine: IO[str] | None = None
        self._reported_keys: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("TIKTOK_VALIDATION_ENABLED", True):
            raise NotConfigured("TIKTOK_VALIDATION_ENABLED is off")
        codebook = Codebook(ids_as_strings=settings.getbool("TIKTOK_IDS_AS_STRINGS"))
        return cls(crawler, codebook, settings.get("TIKTOK_OUTPUT_DIR"))

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ApiItem):
            return item  # not an API object (another component's item): not ours to judge
        collection = item.collection
        checked = self.codebook.check(collection, item)
        if checked.value is None:
            reason = checked.reason or "invalid"
            self.stats.inc_value(f"tiktok/validation/invalid/{collection}")
            await self._quarantine_item(collection, item, reason)
            raise InvalidItem(collection, reason)
        if checked.unknown_keys:
            self._count_unknown(collection, checked.unknown_keys)
        if "_original" in checked.value and "_original" not in item:
            self.stats.inc_value(f"tiktok/validation/normalised/{collection}")
        return type(item)(checked.value)

    def _count_unknown(self, collection: str, keys: tuple[str, ...]) -> None:
        self.stats.inc_value(f"tiktok/validation/unknown_keys/{collection}", len(keys))
        for key in keys:
            if (collection, key) not in self._reported_keys:
                self._reported_keys.add((collection, key))
                logger.info(
                    "%s: key %r is not in the codebook; kept (counted in "
                    "tiktok/validation/unknown_keys/%s)",
                    collection,
                    key,
                    collection,
                )

    async def _quarantine_item(self, collection: str, item: dict[str, Any], reason: str) -> None:
        """Store the invalid item durably before it is dropped (the drop advances resume)."""
        core = core_of(self.crawler)
        crawl_id = core.crawl_id if core else None
        now = datetime.now(UTC)
        store = active_store(self.crawler)
        if store is not None:
            await store.write([invalid_write(collection, item, reason, crawl_id, now)])
            return
        record = {
            "collection": collection,
            "reason": reason,
            "crawl_id": crawl_id,
            "at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "item": item,
        }
        out = self._open_quarantine()
        out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        out.flush()

    def _open_quarantine(self) -> IO[str]:
        if self._quarantine is None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            path = self.output_dir / QUARANTINE_FILE
            self._quarantine = path.open("a", encoding="utf-8")
            logger.warning("invalid items are quarantined in %s", path)
        return self._quarantine

    def close_spider(self) -> None:
        if self._quarantine is not None:
            self._quarantine.close()
            self._quarantine = None
