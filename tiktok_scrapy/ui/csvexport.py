"""A flat CSV from a JSON Lines file: ids as text, lists joined with ``;``, dicts by ``.``.

For files that are not item tables (the page records, ``pages.jsonl``); item files are
exported by ``scrapy export``'s own tables (``storage.tables``), one row per record.

Two passes over the file: the first collects every column (in the order first seen), the
second writes the rows, so memory stays bounded by the columns, not the records. Numbers
are parsed by ``json`` exactly (64-bit ids never go through floating point) and written as
their digits.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, str]:
    row: dict[str, str] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(flatten(value, name + "."))
        else:
            row[name] = cell(value)
    return row


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(
            json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else cell(v)
            for v in value
        )
    return str(value)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill: the rest of the file is still good
            if isinstance(record, dict):
                yield record


def columns(path: Path) -> list[str]:
    seen: dict[str, None] = {}
    for record in _records(path):
        for name in flatten(record):
            seen.setdefault(name, None)
    # The record's own keys first, then the provenance (``_crawl.*``) the crawl added.
    return sorted(seen, key=lambda name: name.startswith("_"))


def csv_chunks(path: Path, rows_per_chunk: int = 500) -> Iterator[str]:
    """The CSV text of ``path`` in chunks (for a streamed response)."""
    names = columns(path)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for count, record in enumerate(_records(path), 1):
        writer.writerow(flatten(record))
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
