"""Batch compliance, the plain-Python part: which stored ids to check, task files, results.

The refresh spider (``spiders/refresh.py``) checks stored videos and comments with the
Research API's batch compliance tasks: a task file of up to 10,000 ids of one category is
uploaded (``multipart/form-data``), the task's status is polled until ``Completed``, and the
ids still valid are downloaded as a text file; every other id of the file is unavailable.

Here: reading what was stored (a videos or comments output, an id list with a category)
and refusing anything else in one line, cutting ids into task files, building the
multipart body, reading the downloaded file, and the polite poll delays. No Scrapy.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tiktok_scrapy.api.endpoints import COMPLIANCE_CATEGORIES, COMPLIANCE_MAX_IDS
from tiktok_scrapy.inputs import JSONL_SUFFIXES, InputError

# Collections (and the output files named after them) per compliance category.
COLLECTIONS: dict[str, str] = {"video": "videos", "comment": "comments"}
# Output files whose rows are records of a category, and the column holding their id.
OUTPUT_FILES: dict[str, str] = {
    "videos.jsonl": "video",
    "user_videos.jsonl": "video",
    "comments.jsonl": "comment",
}
VIDEO_ENDPOINTS = frozenset({"videos", "liked_videos", "pinned_videos", "reposted_videos"})
VIDEO_KEYS = ("create_time", "username", "video_description", "region_code", "view_count")
DIGITS = re.compile(rb"\d+")


@dataclass
class Stored:
    """Ids stored per category, with when each was last crawled (None: unknown)."""

    ids: dict[str, dict[int, datetime | None]] = field(default_factory=dict)
    files: dict[str, list[Path]] = field(default_factory=dict)  # where they were read

    def add(self, category: str, item_id: int, seen: datetime | None, path: Path) -> None:
        ids = self.ids.setdefault(category, {})
        if item_id not in ids or (seen and (ids[item_id] is None or seen > ids[item_id])):
            ids[item_id] = seen
        files = self.files.setdefault(category, [])
        if path not in files:
            files.append(path)


def row_kind(row: dict[str, Any]) -> str | None:
    """``video``/``comment`` for a stored record, or what else it is (None: cannot tell).

    Provenance decides when it is there (``_crawl.endpoint``); else the record's shape.
    """
    endpoint = (row.get("_crawl") or {}).get("endpoint")
    if endpoint in VIDEO_ENDPOINTS:
        return "video"
    if endpoint == "comments":
        return "comment"
    if endpoint:
        return str(endpoint)
    if "parent_comment_id" in row or ("video_id" in row and "text" in row):
        return "comment"
    if "id" in row and any(key in row for key in VIDEO_KEYS):
        return "video"
    if "username" in row or "source" in row or "playlist_id" in row:
        return "users" if "username" in row else "follow_edges" if "source" in row else "playlists"
    return None


def crawled_at(row: dict[str, Any]) -> datetime | None:
    text = (row.get("_crawl") or {}).get("crawled_at") or row.get("last_seen")
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def read_stored(path: Path, category: str | None = None) -> Stored:
    """The ids stored at ``path``: a videos/comments JSON Lines output, a crawl's output
    folder, or a plain id list (``.txt``/``.csv``, which needs ``category``).

    Anything else (a users output, a mix of kinds, an id list without a category) is an
    InputError of one line: checking the wrong kind of id would list everything as gone.
    """
    stored = Stored()
    if path.is_dir():
        files = [
            (file, kind)
            for name, kind in OUTPUT_FILES.items()
            if category in (None, kind)
            for file in sorted(path.rglob(name))
        ]
        if not files:
            wanted = ", ".join(n for n, k in OUTPUT_FILES.items() if category in (None, k))
            raise InputError(
                f"{path}: no {wanted} in this folder — give a videos or comments crawl's "
                "output (folder or file), or an id list with category"
            )
        for file, kind in files:
            _read_jsonl(file, kind, stored)
        return stored
    if not path.is_file():
        raise InputError(f"{path}: no such file or folder")
    if path.suffix.lower() in JSONL_SUFFIXES:
        _read_jsonl(path, category or OUTPUT_FILES.get(path.name), stored, named=category)
        return stored
    if category is None:
        raise InputError(
            f"{path}: an id list does not say what its ids are — add category: video or "
            "category: comment"
        )
    for item_id in _listed_ids(path):
        stored.add(category, item_id, None, path)
    return stored


def _read_jsonl(path: Path, expected: str | None, stored: Stored, named: str | None = None) -> None:
    kind_seen: str | None = None
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path}:{number}: not a JSON line ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{number}: expected a JSON object per line")
            kind = row_kind(row) or expected
            if kind not in COMPLIANCE_CATEGORIES:
                raise InputError(
                    f"{path}:{number}: a {kind or 'record of unknown kind'}, not a video or "
                    "comment — refresh checks stored videos and comments only; give a videos "
                    "or comments output"
                )
            if (expected and kind != expected) or (kind_seen and kind != kind_seen):
                other = expected if expected and kind != expected else kind_seen
                said = f" (category: {named})" if named else ""
                raise InputError(
                    f"{path}:{number}: a {kind} among {other}s{said} — a file must hold one "
                    "kind; give videos and comments outputs separately"
                )
            kind_seen = kind
            item_id = row.get("id")
            if isinstance(item_id, str) and item_id.isdigit():
                item_id = int(item_id)
            if isinstance(item_id, bool) or not isinstance(item_id, int):
                raise InputError(f"{path}:{number}: no numeric id in this {kind}")
            stored.add(kind, item_id, crawled_at(row), path)


def _listed_ids(path: Path) -> Iterator[int]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(handle)
            column = next(
                (c for c in ("id", "video_id", "comment_id") if c in (reader.fieldnames or ())),
                None,
            )
            if column is None:
                raise InputError(f"{path}: no id column (id, video_id or comment_id)")
            values: Iterator[str] = ((row.get(column) or "").strip() for row in reader)
        else:
            values = (line.strip() for line in handle if not line.lstrip().startswith("#"))
        for number, value in enumerate(values, 1):
            if not value:
                continue
            if not value.isdigit():
                raise InputError(f"{path}:{number}: {value[:40]!r} is not a numeric id")
            yield int(value)


# --- task files ----------------------------------------------------------------------------
def task_batches(ids: list[int], size: int = COMPLIANCE_MAX_IDS) -> list[list[int]]:
    """Sorted, distinct ids cut into task files of at most ``size`` (<= 10,000)."""
    size = max(1, min(size, COMPLIANCE_MAX_IDS))
    ordered = sorted(set(ids))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def multipart_body(category: str, ids: list[int], name: str = "ids.txt") -> tuple[bytes, str]:
    """A create call's body and Content-Type: ``file_data`` (one id a line), ``category``.

    The boundary derives from the content, so a resent request is byte for byte the same.
    """
    content = "".join(f"{i}\n" for i in ids).encode()
    boundary = "tiktok-scrapy-" + hashlib.sha256(content + category.encode()).hexdigest()[:24]
    parts = [
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file_data"; filename="{name}"\r\n'
        "Content-Type: text/plain\r\n\r\n".encode()
        + content
        + b"\r\n",
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="category"\r\n\r\n'
        f"{category}\r\n".encode(),
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def valid_ids(body: bytes) -> set[int]:
    """The ids of a downloaded result file (one a line; any separator tolerated)."""
    return {int(m) for m in DIGITS.findall(body)}


def poll_delay(polls: int, interval: float, maximum: float) -> float:
    """Seconds before status poll number ``polls + 1``: doubling from ``interval`` to
    ``maximum`` (a task of 10,000 ids takes a while; asking every second wastes quota)."""
    if interval <= 0:
        return 0.0
    return min(maximum, interval * 2 ** min(polls, 30))
