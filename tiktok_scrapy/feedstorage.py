"""Local feed storage that hands every exported line to the OS at once.

Scrapy's FileFeedStorage writes through Python's buffer, flushed at close: a ``kill -9``
would lose the last few kilobytes of items whose chains were already checkpointed. An
unbuffered file makes each line durable against a process kill as soon as it is exported
(one ``write`` call per item, which costs microseconds).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from scrapy.extensions.feedexport import FileFeedStorage


class UnbufferedFileFeedStorage(FileFeedStorage):
    def open(self, spider: Any) -> IO[Any]:
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open(self.write_mode, buffering=0)
