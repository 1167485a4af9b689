"""Reading crawl inputs (usernames, video ids, playlist ids) from files and earlier outputs.

A researcher's list is a text file (one per line), a CSV with a header, or the JSON Lines a
previous crawl wrote; ``from_output`` may name that crawl's output folder. Ids are parsed
with the stdlib ``json``/``int`` so 64-bit ids stay exact. Errors are ``InputError`` with
file and line; the config layer adds which key they came from.

Text lists and CSVs are what people type, paste and export, so their values are checked:
UTF-8 (a leading byte-order mark is dropped; UTF-16 with a BOM, as Excel's "Unicode text"
writes it, is read too), a ``#`` at the start of a line or after a space starts a comment
(``alice  # met at the conference`` is ``alice``), and a value with an invisible
character (zero-width space, a byte-order mark mid-file ...), a space inside a name, or
anything but the digits 0-9 in an id is refused with file:line. JSON Lines are earlier
outputs, the API's own values, and are taken as they are.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from tiktok_scrapy.text import excerpt, invisible_at, invisible_message, is_ascii_digits

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
    "shop_id": (("shops.jsonl", "shop_id"), ("products.jsonl", "shop_id")),
    "product_id": (("products.jsonl", "product_id"), ("product_reviews.jsonl", "product_id")),
    "ad_id": (("ads.jsonl", "ad_id"), ("ad_details.jsonl", "ad_id")),
    "business_id": (("advertisers.jsonl", "business_id"), ("ads.jsonl", "business_id")),
}
JSONL_SUFFIXES = frozenset({".jsonl", ".jl", ".ndjson", ".json"})
# What the values of a list are: names (usernames) or ids; None: not checked.
KINDS: dict[str, str] = {"username": "name", "video_id": "id", "playlist_id": "id"}
MAX_ID = 2**64  # ids are 64-bit
COMMENT = re.compile(r"(^|\s)#.*$")


class InputError(ValueError):
    """An input file that cannot be read as asked; the message names file and line."""


def dedupe(values: Iterable[Any]) -> list[Any]:
    """Values in first-seen order, each once."""
    return list(dict.fromkeys(values))


def read_values(
    path: Path,
    column: str,
    keep: Callable[[dict], bool] | None = None,
    kind: str | None = None,
) -> list:
    """Values of one input file: a plain list, a CSV's ``column``, or a JSONL's ``column``.

    ``keep`` filters JSONL/CSV rows (e.g. only videos with comments); ``kind`` ("name" or
    "id") checks each value of a text list or CSV.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return list(_jsonl_column(path, column, keep))
    if suffix == ".csv":
        return list(_csv_column(path, column, keep, kind))
    return list(_lines(path, kind))


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
        return read_values(path, column or default, keep, KINDS.get(kind))
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


def read_text(path: Path) -> str:
    """A list's text: UTF-8 without a leading BOM, or UTF-16 with one; else InputError."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(f"{path}: not valid UTF-16 text — save it as UTF-8") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{path}:{line}: byte 0x{data[exc.start]:02X} is not UTF-8 — save the file as UTF-8"
        ) from None


def check_value(value: str, where: str, kind: str | None) -> str:
    """A typed value, or InputError naming ``where`` (file:line) and the fix."""
    index = invisible_at(value)
    if index is not None:
        if value[index] == "\ufeff":
            raise InputError(
                f"{where}: a byte-order mark (U+FEFF) inside the file, as when files are "
                f"pasted together — delete it"
            )
        raise InputError(f"{where} column {index + 1}: {invisible_message(value, index)}")
    if kind == "id" and not is_id(value):
        raise InputError(f'{where}: "{excerpt(value, 40)}" is not a numeric id (digits 0-9 only)')
    if kind == "name":
        bad = next((c for c in value if c.isspace() or c in ",#"), None)
        if bad is not None:
            what = "a space" if bad.isspace() else f'a "{bad}"'
            raise InputError(
                f'{where}: "{excerpt(value, 40)}" holds {what} — usernames have none; '
                f"write one per line (a # after a space starts a comment)"
            )
    return value


def _lines(path: Path, kind: str | None = None) -> Iterator[str]:
    # split("\n"), not splitlines(): that also splits on U+2028 and friends, hiding them.
    for number, line in enumerate(read_text(path).split("\n"), 1):
        text = COMMENT.sub("", line).strip()
        if text:
            yield check_value(text, f"{path}:{number}", kind)


def _jsonl_column(path: Path, column: str, keep: Callable[[dict], bool] | None) -> Iterator:
    """Streamed: earlier outputs can be large."""
    number = 0
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except (ValueError, RecursionError) as exc:
                    reason = getattr(exc, "msg", "nested too deeply")
                    raise InputError(f"{path}:{number}: not a JSON line ({reason})") from None
                if not isinstance(row, dict):
                    raise InputError(f"{path}:{number}: expected a JSON object per line")
                # Validation strips NUL bytes and keeps the API's original under _original:
                # the original is what the API knows the account by.
                original = row.get("_original")
                value = (original if isinstance(original, dict) else {}).get(
                    column, row.get(column)
                )
                if value in (None, "") or (keep and not keep(row)):
                    continue
                yield value
    except UnicodeDecodeError:
        raise InputError(
            f"{path}:{number + 1}: not UTF-8 text — JSON Lines files are UTF-8"
        ) from None


def _csv_column(
    path: Path, column: str, keep: Callable[[dict], bool] | None, kind: str | None = None
) -> Iterator:
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    try:
        fieldnames = reader.fieldnames or ()
        if column not in fieldnames:
            found = excerpt(", ".join(fieldnames) or "none")
            raise InputError(
                f'{path}: no column "{excerpt(column, 40)}" (columns: {found}) — set `column` '
                f"to the one holding the values"
            )
        for row in reader:
            value = (row.get(column) or "").strip()
            if value and (keep is None or keep(row)):
                yield check_value(value, f"{path}:{reader.line_num}", kind)
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: not a CSV row ({exc})") from None


def to_ids(values: Iterable[Any], source: str) -> list[int]:
    """Values as exact integers; strings must be digits, floats are refused (lossy)."""
    ids: list[int] = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_ID:
            ids.append(value)
        elif isinstance(value, str) and is_id(value.strip()):
            ids.append(int(value.strip()))
        else:
            raise InputError(
                f"{source}: {excerpt(value, 40)!r} is not a numeric id (digits 0-9 only)"
                if isinstance(value, str)
                else f"{source}: {excerpt(value, 40)} is not a numeric id"
            )
    return ids


def is_id(text: str) -> bool:
    """The digits 0-9 of a 64-bit id (at most 20 digits, below 2**64)."""
    return is_ascii_digits(text) and len(text) <= 20 and int(text) < MAX_ID


def has_comments(row: dict) -> bool:
    """Keep a video unless it is known to have no comments (missing count: keep)."""
    count = row.get("comment_count")
    try:
        return count in (None, "") or int(count) > 0
    except (TypeError, ValueError, OverflowError):  # "abc", 10**5000 digits, Infinity
        return True
