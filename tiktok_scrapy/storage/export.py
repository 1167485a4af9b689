"""Read a collection back into CSV, JSON Lines or Parquet (``scrapy export``).

IDs stay exact: JSON Lines writes them as integers (Python's json never goes through
float), CSV as text digits, Parquet as string columns. CSV and Parquet are flat tables
(``tiktok_scrapy.storage.tables``: nested objects as dotted columns, lists of values joined
with ``|``); dates become ISO-8601 strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bson import ObjectId, json_util

from tiktok_scrapy.storage import tables

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


class ExportError(Exception):
    """A problem the user can fix; the message is one line saying how."""


def format_for(path: str) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ExportError(f"cannot tell the format of {path!r}: name it .csv, .jsonl or .parquet")
    return fmt


def parse_query(text: str | None) -> dict[str, Any]:
    """A MongoDB filter from JSON (extended JSON like {"$date": ...} allowed)."""
    if not text:
        return {}
    try:
        query = json_util.loads(text)
    except ValueError as exc:
        raise ExportError(
            f'--query is not valid JSON ({exc}): e.g. \'{{"region_code": "US"}}\''
        ) from None
    if not isinstance(query, dict):
        raise ExportError('--query must be a JSON object, e.g. \'{"region_code": "US"}\'')
    return query


def find(
    collection: Any, query: dict[str, Any], fields: list[str] | None, limit: int | None
) -> Iterator[dict[str, Any]]:
    projection: dict[str, int] = {f: 1 for f in fields} if fields else {}
    if not fields or "_id" not in fields:
        projection["_id"] = 0
    cursor = collection.find(query, projection)
    if limit:
        cursor = cursor.limit(limit)
    return iter(cursor)


def export(
    collection: Any,
    path: str,
    *,
    query: dict[str, Any] | None = None,
    fields: list[str] | None = None,
    limit: int | None = None,
) -> int:
    """Write the matching documents to ``path``; the number written."""
    fmt = format_for(path)
    if fmt == "parquet":
        _parquet_writer()  # fail before querying when pyarrow is missing
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    query = query or {}
    if fmt == "jsonl":
        return _write_jsonl(find(collection, query, fields, limit), path)
    table = tables.survey(collection.name, find(collection, query, fields, limit))
    return tables.write_table(
        table, lambda: find(collection, query, fields, limit), Path(path), fmt
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, ObjectId):
        return str(value)
    return str(value)


def _write_jsonl(docs: Iterable[dict[str, Any]], path: str) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps(doc, ensure_ascii=False, default=_json_default) + "\n")
            count += 1
    return count


def csv_cell(value: Any) -> str:
    """One CSV cell: ints as their exact digits, nested values as JSON text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _parquet_writer() -> Any:
    try:
        return tables.pyarrow_modules()
    except tables.TableError as error:
        raise ExportError(str(error)) from None
