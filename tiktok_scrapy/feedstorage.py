"""Local feed storage whose lines reach the OS before the checkpoint that relies on them.

Scrapy's FileFeedStorage writes through Python's buffer, flushed at close: a ``kill -9``
would lose the last few kilobytes of items whose chains were already checkpointed, and a
buffer flushed mid-line leaves a broken JSON line. Here whole ``write`` calls (one exported
line each, for JSON Lines) are collected and handed to the OS together, by
``flush_feeds()`` — which the spider calls before it commits a page's checkpoint — or once
``FLUSH_BYTES`` have piled up. One ``write`` syscall a page instead of one an item.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import IO, Any

from scrapy.extensions.feedexport import FileFeedStorage

FLUSH_BYTES = 1 << 20

_open_files: weakref.WeakSet[LineBatchFile] = weakref.WeakSet()


class LineBatchFile:
    """A binary file that writes whole ``write`` calls, batched, with one OS call a flush."""

    def __init__(self, path: Path, mode: str) -> None:
        self._raw = path.open(mode, buffering=0)
        self._parts: list[bytes] = []
        self._size = 0
        _open_files.add(self)

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._size += len(data)
        if self._size >= FLUSH_BYTES:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._parts:
            self._raw.write(b"".join(self._parts))
            self._parts.clear()
            self._size = 0

    def close(self) -> None:
        self.flush()
        self._raw.close()
        _open_files.discard(self)

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def __getattr__(self, name: str) -> Any:  # name, mode, fileno, … of the real file
        return getattr(self._raw, name)


def flush_feeds() -> None:
    """Hand every open feed file's pending lines to the OS (before a checkpoint commit)."""
    for file in list(_open_files):
        file.flush()


class PageFlushedFileFeedStorage(FileFeedStorage):
    def open(self, spider: Any) -> IO[Any]:
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return LineBatchFile(path, self.write_mode)  # type: ignore[return-value]
