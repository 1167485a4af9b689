"""Read a collection back into CSV, JSON Lines or Parquet (``scrapy export``).

IDs stay exact: JSON Lines writes them as integers (Python's json never goes through
float), CSV as text digits, Parquet as int64. Dates become ISO-8601 strings in CSV/JSONL;
lists and objects become JSON text in CSV cells.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bson import ObjectId, json_util

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
        writer = _parquet_writer()  # fail before querying when pyarrow is missing
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    query = query or {}
    if fmt == "jsonl":
        return _write_jsonl(find(collection, query, fields, limit), path)
    if fmt == "csv":
        columns = fields or _columns(find(collection, query, None, limit))
        return _write_csv(find(collection, query, fields, limit), path, columns)
    return writer(list(find(collection, query, fields, limit)), path)


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


def _columns(docs: Iterable[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for doc in docs:
        for key in doc:
            seen.setdefault(key, None)
    return list(seen)


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


def _write_csv(docs: Iterable[dict[str, Any]], path: str, columns: list[str]) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for doc in docs:
            writer.writerow([csv_cell(_get(doc, c)) for c in columns])
            count += 1
    return count


def _get(doc: dict[str, Any], path: str) -> Any:
    """``doc["a"]["b"]`` for ``"a.b"`` (what a dotted --fields projection returns)."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _parquet_writer() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("Parquet output needs pyarrow: pip install pyarrow") from None

    def write(docs: list[dict[str, Any]], path: str) -> int:
        rows = [json.loads(json.dumps(d, default=_json_default)) for d in docs]
        pq.write_table(pa.Table.from_pylist(rows), path)
        return len(rows)

    return write
