"""Reading crawl inputs (usernames, video ids, playlist ids) from files and earlier outputs.

A researcher's list is a text file (one per line), a CSV with a header, or the JSON Lines a
previous crawl wrote; ``from_output`` may name that crawl's output folder. Ids are parsed
with the stdlib ``json``/``int`` so 64-bit ids stay exact. Errors are ``InputError`` with
file and line; the config layer adds which key they came from.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tiktok_scrapy.text import excerpt, is_ascii_digits

# Which files of a crawl's output folder carry each kind of input, best first, and the
# column to take from each.
OUTPUT_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "username": (
        ("videos.jsonl", "username"),
        ("users.jsonl", "username"),
        ("user_videos.jsonl", "username"),
        ("follow_edges.jsonl", "source"),
    ),
    "video_id": (("videos.jsonl", "id"), ("user_videos.jsonl", "id")),
    "playlist_id": (("videos.jsonl", "playlist_id"), ("playlists.jsonl", "playlist_id")),
}
JSONL_SUFFIXES = frozenset({".jsonl", ".jl", ".ndjson", ".json"})


class InputError(ValueError):
    """An input file that cannot be read as asked; the message names file and line."""


def dedupe(values: Iterable[Any]) -> list[Any]:
    """Values in first-seen order, each once."""
    return list(dict.fromkeys(values))


def read_values(path: Path, column: str, keep: Callable[[dict], bool] | None = None) -> list:
    """Values of one input file: a plain list, a CSV's ``column``, or a JSONL's ``column``.

    ``keep`` filters JSONL/CSV rows (e.g. only videos with comments).
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return list(_jsonl_column(path, column, keep))
    if suffix == ".csv":
        return list(_csv_column(path, column, keep))
    return list(_lines(path))


def read_output(
    path: Path, kind: str, column: str | None = None, keep: Callable[[dict], bool] | None = None
) -> list:
    """Inputs of ``kind`` ("username", "video_id", "playlist_id") from a crawl's output.

    ``path`` is a JSONL/CSV file or a folder; in a folder the first file name of
    ``OUTPUT_SOURCES[kind]`` found (searched recursively, so ``data/videos`` covers all its
    jobs) is read. ``column`` replaces the default column of a file.
    """
    if path.is_file():
        default = next((col for name, col in OUTPUT_SOURCES[kind] if name == path.name), kind)
        return read_values(path, column or default, keep)
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    for name, default in OUTPUT_SOURCES[kind]:
        files = sorted(path.rglob(name))
        if files:
            values: list = []
            for file in files:
                values.extend(read_values(file, column or default, keep))
            return values
    names = ", ".join(name for name, _ in OUTPUT_SOURCES[kind])
    raise InputError(
        f"{path}: no {names} in this folder — point from_output at a crawl's output folder or file"
    )


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8-sig") as handle:
        for line in handle:
            text = line.strip()
            if text and not text.startswith("#"):
                yield text


def _jsonl_column(path: Path, column: str, keep: Callable[[dict], bool] | None) -> Iterator:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path}:{number}: not a JSON line ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{number}: expected a JSON object per line")
            # Validation strips NUL bytes and keeps the API's original under _original: the
            # original is what the API knows the account by.
            value = (row.get("_original") or {}).get(column, row.get(column))
            if value in (None, "") or (keep and not keep(row)):
                continue
            yield value


def _csv_column(path: Path, column: str, keep: Callable[[dict], bool] | None) -> Iterator:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if column not in (reader.fieldnames or ()):
            found = ", ".join(reader.fieldnames or ()) or "none"
            raise InputError(
                f'{path}: no column "{column}" (columns: {found}) — set `column` '
                f"to the one holding the values"
            )
        for row in reader:
            value = (row.get(column) or "").strip()
            if value and (keep is None or keep(row)):
                yield value


def to_ids(values: Iterable[Any], source: str) -> list[int]:
    """Values as exact integers; strings must be digits, floats are refused (lossy)."""
    ids: list[int] = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            ids.append(value)
        elif isinstance(value, str) and is_ascii_digits(value.strip()):
            ids.append(int(value.strip()))
        else:
            raise InputError(
                f"{source}: {excerpt(value, 40)!r} is not a numeric id (digits 0-9 only)"
                if isinstance(value, str)
                else f"{source}: {excerpt(value, 40)} is not a numeric id"
            )
    return ids


def has_comments(row: dict) -> bool:
    """Keep a video unless it is known to have no comments (missing count: keep)."""
    count = row.get("comment_count")
    try:
        return count in (None, "") or int(count) > 0
    except (TypeError, ValueError):
        return True
