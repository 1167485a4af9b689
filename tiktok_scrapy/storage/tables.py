"""Flat tables for pandas, R and Stata: one CSV or Parquet file per item type.

Rows come from a crawl's JSON Lines files (or a MongoDB cursor) and are made flat:
- nested objects become dotted columns (``_crawl.crawl_id``, ``_crawl.window``);
- lists of plain values are joined with ``|`` (``hashtag_names``: ``flood|storm``); lists
  of objects (``hashtag_info_list``) stay JSON text in one cell;
- ids (``id``, ``*_id``, ``*_ids``) are text: exact digits in CSV, string columns in
  Parquet (they exceed 2^53, where doubles start to round; some exceed int64);
- a row per natural key (``indexes.NATURAL_KEYS``: a video's ``id``, a user's ``username``…):
  the last line wins, as resumed and repeated crawls append newer copies.

Two passes over each file keep memory to one entry per key: the first finds each key's
last line and the columns and their types, the second writes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tiktok_scrapy.storage.indexes import NATURAL_KEYS

LIST_SEPARATOR = "|"
TABLE_FORMATS = ("csv", "parquet")
# Not item types: page records and quarantined items are not tables of the data.
NOT_ITEMS = {"pages", "invalid_items"}
INT64_MAX = 2**63 - 1


class TableError(Exception):
    """A problem the user can fix; the message is one line saying how."""


def is_id_column(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last == "id" or last.endswith(("_id", "_ids"))


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One flat row: nested objects as dotted keys, lists joined or as JSON text."""
    row: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            if any(isinstance(v, dict | list | tuple) for v in value):
                row[name] = json.dumps(value, ensure_ascii=False, default=_scalar_text)
            else:
                row[name] = LIST_SEPARATOR.join(_scalar_text(v) for v in value if v is not None)
        elif isinstance(value, datetime):
            row[name] = value.isoformat()
        elif key == "_id" and not isinstance(value, int | str | float | bool | None):
            row[name] = str(value)  # MongoDB's ObjectId
        else:
            row[name] = value
    return row


@dataclass
class Columns:
    """Column names in first-seen order and the kinds of value each holds."""

    kinds: dict[str, set[str]] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        for name, value in row.items():
            kinds = self.kinds.setdefault(name, set())
            if value is not None:
                kinds.add(_kind(value))

    def ordered(self, key: tuple[str, ...]) -> list[str]:
        names = list(self.kinds)
        first = [k for k in key if k in self.kinds]
        crawl = [n for n in names if n.startswith("_crawl.")]
        middle = [n for n in names if n not in first and n not in crawl]
        return first + middle + crawl

    def arrow_type(self, name: str) -> str:
        """``string``, ``int64``, ``float64`` or ``bool`` for a column."""
        kinds = self.kinds.get(name, set())
        if is_id_column(name) or not kinds or "str" in kinds or "bigint" in kinds:
            return "string"
        if kinds == {"bool"}:
            return "bool"
        if "bool" in kinds:
            return "string"
        return "int64" if kinds == {"int"} else "float64"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -INT64_MAX - 1 <= value <= INT64_MAX else "bigint"
    if isinstance(value, float):
        return "float"
    return "str"


@dataclass
class Table:
    """What pass one learnt about a source: which rows to keep and the columns."""

    name: str
    key: tuple[str, ...]
    keep: set[int]
    columns: Columns
    rows_read: int
    unreadable: int


def read_jsonl(path: Path, unreadable: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """The objects of a JSON Lines file; lines that do not parse (a crash mid-line) skipped."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                if unreadable is not None:
                    unreadable.append(1)
                continue
            if isinstance(doc, dict):
                yield doc


def survey(name: str, docs: Iterable[dict[str, Any]]) -> Table:
    """Pass one: the last row of each natural key, and the columns (of every row)."""
    key = NATURAL_KEYS.get(name, ())
    last: dict[Any, int] = {}
    columns = Columns()
    count = 0
    for count, doc in enumerate(docs, 1):
        columns.add(flatten(doc))
        ident = tuple(_text_key(doc.get(k)) for k in key) if key else count
        if key and all(v is None for v in ident):
            ident = ("__row__", count)  # no key: kept as a row of its own
        last[ident] = count
    keep = set(last.values())
    return Table(name, key, keep, columns, count, 0)


def _text_key(value: Any) -> Any:
    # "7320…" and 7320… are the same id (TIKTOK_IDS_AS_STRINGS, or an older crawl).
    return None if value is None else str(value)


def kept_rows(table: Table, docs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for n, doc in enumerate(docs, 1):
        if n in table.keep:
            yield flatten(doc)


def write_table(
    table: Table, open_docs: Callable[[], Iterable[dict[str, Any]]], path: Path, fmt: str
) -> int:
    """Pass two: write the kept rows of ``open_docs()`` to ``path``; rows written."""
    columns = table.columns.ordered(table.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        return _write_csv(kept_rows(table, open_docs()), columns, path)
    if fmt == "parquet":
        return _write_parquet(kept_rows(table, open_docs()), table.columns, columns, path)
    raise TableError(f"unknown table format {fmt!r}: use csv or parquet")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return _scalar_text(value)


def _write_csv(rows: Iterable[dict[str, Any]], columns: list[str], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
            count += 1
    return count


def pyarrow_modules() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise TableError("Parquet output needs pyarrow: pip install pyarrow") from None
    return pa, pq


def _write_parquet(
    rows: Iterable[dict[str, Any]], kinds: Columns, columns: list[str], path: Path
) -> int:
    pa, pq = pyarrow_modules()
    types = {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
    }
    schema = pa.schema([(c, types[kinds.arrow_type(c)]) for c in columns])
    converters = {c: _converter(kinds.arrow_type(c)) for c in columns}
    count = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append({c: converters[c](row.get(c)) for c in columns})
            if len(batch) >= 10_000:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
                batch = []
        if batch or not count:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def _converter(arrow_type: str) -> Callable[[Any], Any]:
    if arrow_type == "string":
        return lambda v: None if v is None else _scalar_text(v)
    if arrow_type == "float64":
        return lambda v: None if v is None else float(v)
    return lambda v: v


# --- from a crawl's output folder ----------------------------------------------------------


def jsonl_sources(path: Path) -> dict[str, Path]:
    """Item type → JSON Lines file, for a crawl's output folder or one ``.jsonl`` file."""
    if path.is_file():
        return {path.stem: path}
    if not path.is_dir():
        raise TableError(f"{path} does not exist: give a crawl's output folder or a .jsonl file")
    sources = {p.stem: p for p in sorted(path.glob("*.jsonl")) if p.stem not in NOT_ITEMS}
    if not sources:
        raise TableError(
            f"{path} holds no item files (*.jsonl): give the crawl's output folder, e.g. "
            "data/videos/<job>"
        )
    return sources


@dataclass
class Written:
    name: str
    path: Path
    rows: int
    read: int
    unreadable: int

    def __str__(self) -> str:
        dropped = self.read - self.rows
        notes = [f"{dropped} older duplicate(s) dropped"] if dropped else []
        if self.unreadable:
            notes.append(f"{self.unreadable} unreadable line(s) skipped")
        return f"{self.rows} {self.name} -> {self.path}" + (
            f" ({'; '.join(notes)})" if notes else ""
        )


def export_jsonl(source: Path, output: Path, formats: Iterable[str]) -> list[Written]:
    """Write one table per item type found in ``source`` (a folder or a .jsonl file).

    ``output`` is a folder (files named ``<type>.<format>``) or, for one item type and one
    format, a file.
    """
    formats = list(formats)
    for fmt in formats:
        if fmt not in TABLE_FORMATS:
            raise TableError(f"unknown format {fmt!r}: use csv, parquet or csv,parquet")
    if "parquet" in formats:
        pyarrow_modules()  # fail before writing anything
    sources = jsonl_sources(source)
    single_file = output.suffix.lower() in (".csv", ".parquet")
    if single_file and (len(sources) > 1 or len(formats) > 1):
        raise TableError(
            f"{source} holds {', '.join(sources)}: give -o a folder for one file per type"
        )
    results = []
    for name, path in sources.items():
        unreadable: list[int] = []
        table = survey(name, read_jsonl(path, unreadable))
        for fmt in formats:
            target = output if single_file else output / f"{name}.{fmt}"
            rows = write_table(table, lambda p=path: read_jsonl(p), target, fmt)
            results.append(Written(name, target, rows, table.rows_read, len(unreadable)))
    return results
