"""Local feed storage whose lines reach the OS before the checkpoint that relies on them.

Scrapy's FileFeedStorage writes through Python's buffer, flushed at close: a ``kill -9``
would lose the last few kilobytes of items whose chains were already checkpointed, and a
buffer flushed mid-line leaves a broken JSON line. Here whole ``write`` calls (one exported
line each, for JSON Lines) are collected and handed to the OS together: before each
checkpoint commit (the storage registers the file's ``flush`` with the crawl's chain core)
or once ``FLUSH_BYTES`` have piled up. One ``write`` syscall a page instead of one an item.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from scrapy.crawler import Crawler
from scrapy.extensions.feedexport import FileFeedStorage

from tiktok_scrapy.chains import core_of

FLUSH_BYTES = 1 << 20


class LineBatchFile:
    """A binary file that writes whole ``write`` calls, batched, with one OS call a flush."""

    def __init__(self, path: Path, mode: str) -> None:
        self._raw = path.open(mode, buffering=0)
        self._parts: list[bytes] = []
        self._size = 0
        self.on_close: Callable[[], None] | None = None

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._parts and not self._raw.closed:
            self._raw.write(b"".join(self._parts))
            self._parts.clear()
            self._size = 0

    def close(self) -> None:
        self.flush()
        self._raw.close()
        if self.on_close is not None:
            self.on_close()
            self.on_close = None

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def __getattr__(self, name: str) -> Any:  # name, mode, fileno, … of the real file
        return getattr(self._raw, name)


class PageFlushedFileFeedStorage(FileFeedStorage):
    """``file://`` feeds (and plain paths) written as ``LineBatchFile``s."""

    def __init__(
        self,
        uri: str,
        *,
        feed_options: dict[str, Any] | None = None,
        crawler: Crawler | None = None,
    ) -> None:
        super().__init__(uri, feed_options=feed_options)
        self.crawler = crawler

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> PageFlushedFileFeedStorage:
        return cls(uri, feed_options=feed_options, crawler=crawler)

    def open(self, spider: Any) -> IO[Any]:
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        file = LineBatchFile(path, self.write_mode)
        core = core_of(self.crawler)
        if core is not None:  # a crawl without chains has no commits to precede
            file.on_close = core.before_commit(file.flush)
        return file  # type: ignore[return-value]
