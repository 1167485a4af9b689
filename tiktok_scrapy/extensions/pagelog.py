"""PageLog: page records as JSON Lines in the output folder (``pages.jsonl``).

Every API response, items aside, is a page record (endpoint, request body, status, error,
search_id, cursor, has_more, item count, latency): "save every response key besides the
items". With MongoDB on, the MongoDB pipeline stores them in ``pages`` instead.
Settings: ``TIKTOK_PAGE_RECORDS`` (default True), ``TIKTOK_OUTPUT_DIR``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from tiktok_scrapy.chains import core_of
from tiktok_scrapy.signals import page_recorded
from tiktok_scrapy.storage.backend import MONGODB, backend


class PageLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageLog:
        settings = crawler.settings
        if not settings.getbool("TIKTOK_PAGE_RECORDS") or backend(settings) == MONGODB:
            raise NotConfigured
        if (core := core_of(crawler)) is None or core.config is None:  # no crawl config
            raise NotConfigured
        ext = cls(Path(settings["TIKTOK_OUTPUT_DIR"]) / "pages.jsonl")
        crawler.signals.connect(ext.write, signal=page_recorded)
        crawler.signals.connect(ext.close, signal=signals.spider_closed)
        return ext

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab", buffering=0)
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        self._file.write(line.encode("utf-8"))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
