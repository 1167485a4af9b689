"""Purge: delete stored records the API no longer has (the research terms' deletion duty).

Run by the refresh spider with ``purge: true`` once every check of the job is done, with
the ids it found unavailable:

- **JSON Lines outputs** (the ``from_output`` file, or every ``videos.jsonl``,
  ``user_videos.jsonl``, ``comments.jsonl`` and ``invalid_items.jsonl`` under the
  ``from_output`` folder): each file is rewritten without the gone records (and a gone
  video's comments) into a temporary file beside it, fsynced, and swapped in with
  ``os.replace`` — a crash leaves the old file or the new one, never half of one. With
  ``keep_originals: true`` the original stays as ``<name>.<UTC time>.orig``.
- **MongoDB**: the gone videos and comments, a gone video's comments, their snapshots,
  the ``user_videos`` links and quarantined copies; gone video ids leave playlists.

Each purge appends one audit line to ``TIKTOK_PURGE_AUDIT`` (default
``<TIKTOK_OUTPUT_DIR>/purge_audit.jsonl``; with MongoDB also the ``purge_audit``
collection): when, which job, how many checked and how many deleted where — counts only,
never the deleted content or ids.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Output files purge cleans in a folder, and the kind of record each row is.
PURGED_FILES: dict[str, str] = {
    "videos.jsonl": "video",
    "user_videos.jsonl": "video",
    "comments.jsonl": "comment",
    "invalid_items.jsonl": "quarantined",
}
QUARANTINED_KINDS = {"videos": "video", "user_videos": "video", "comments": "comment"}
CHUNK = 1000  # ids per MongoDB $in


Gone = dict[str, set[int]]  # category -> ids found unavailable


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def refers_to_gone(row: dict[str, Any], kind: str, gone: Gone) -> bool:
    """Whether a stored row is, or hangs off, an unavailable record."""
    videos, comments = gone.get("video", set()), gone.get("comment", set())
    if kind == "quarantined":
        item = row.get("item") if isinstance(row.get("item"), dict) else {}
        inner = QUARANTINED_KINDS.get(str(row.get("collection")))
        return inner is not None and refers_to_gone(item, inner, gone)
    if kind == "video":
        return _as_int(row.get("id")) in videos
    return _as_int(row.get("id")) in comments or _as_int(row.get("video_id")) in videos


# --- JSON Lines ------------------------------------------------------------------------------
def rewrite_without(
    path: Path, drop: Callable[[dict[str, Any]], bool], keep_original: bool = False
) -> int:
    """Rewrite ``path`` without the rows ``drop`` picks, atomically; rows removed.

    Lines that are not JSON objects are kept as they are: purge deletes only what it knows
    to be gone. Nothing is written when nothing is to be removed.
    """
    tmp = path.with_name(f".{path.name}.purge-{os.getpid()}.tmp")
    removed = 0
    try:
        with path.open("rb") as source, tmp.open("wb") as target:
            for line in source:
                try:
                    row = json.loads(line) if line.strip() else None
                except ValueError:
                    row = None
                if isinstance(row, dict) and drop(row):
                    removed += 1
                    continue
                target.write(line)
            target.flush()
            os.fsync(target.fileno())
        if not removed:
            tmp.unlink()
            return 0
        shutil.copymode(path, tmp)
        if keep_original:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            backup = path.with_name(f"{path.name}.{stamp}.orig")
            try:
                os.link(path, backup)  # the same bytes under a second name: nothing copied
            except OSError:
                shutil.copy2(path, backup)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return removed


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def files_to_purge(
    sources: dict[str, Iterable[str | Path]], from_output: Path | None
) -> dict[Path, str]:
    """The JSON Lines files to clean and the kind of their rows: every known output file
    under a ``from_output`` folder, else the JSON Lines files that were checked."""
    if from_output is not None and from_output.is_dir():
        return {
            file: kind
            for name, kind in PURGED_FILES.items()
            for file in sorted(from_output.rglob(name))
        }
    found: dict[Path, str] = {}
    for category, files in sources.items():
        for file in map(Path, files):
            if file.suffix.lower() in {".jsonl", ".jl", ".ndjson", ".json"} and file.is_file():
                found[file] = category
    return found


def purge_files(files: dict[Path, str], gone: Gone, keep_originals: bool = False) -> dict[str, int]:
    """Clean each file; rows removed per file (files with none removed left out)."""
    removed: dict[str, int] = {}
    for path, kind in files.items():
        count = rewrite_without(
            path, lambda row, k=kind: refers_to_gone(row, k, gone), keep_originals
        )
        if count:
            removed[str(path)] = count
            logger.info("purge: %d records removed from %s.", count, path)
    return removed


# --- MongoDB ---------------------------------------------------------------------------------
def _chunks(ids: list[int]) -> Iterable[list[Any]]:
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        yield part + [str(i) for i in part]  # TIKTOK_IDS_AS_STRINGS stores ids as text


def purge_mongodb(db: Any, gone: Gone) -> dict[str, int]:
    """Delete the gone records and what hangs off them; documents removed per collection."""
    videos = sorted(gone.get("video", ()))
    comments = set(gone.get("comment", ()))
    counts: dict[str, int] = {}

    def delete(collection: str, key: str, ids: list[int], extra: dict | None = None) -> None:
        for part in _chunks(ids):
            result = db[collection].delete_many({key: {"$in": part}, **(extra or {})})
            if result.deleted_count:
                counts[collection] = counts.get(collection, 0) + result.deleted_count

    for part in _chunks(videos):  # a gone video's comments go with it
        for doc in db["comments"].find({"video_id": {"$in": part}}, {"id": 1}):
            if (comment_id := _as_int(doc.get("id"))) is not None:
                comments.add(comment_id)
    comment_ids = sorted(comments)
    delete("videos", "id", videos)
    delete("videos_snapshots", "id", videos)
    delete("user_videos", "id", videos)
    delete("user_videos_snapshots", "id", videos)
    delete("comments", "id", comment_ids)
    delete("comments_snapshots", "id", comment_ids)
    delete("invalid_items", "item.id", videos, {"collection": {"$in": ["videos", "user_videos"]}})
    delete("invalid_items", "item.id", comment_ids, {"collection": "comments"})
    for part in _chunks(videos):
        result = db["playlists"].update_many(
            {"playlist_video_ids": {"$in": part}},
            {"$pull": {"playlist_video_ids": {"$in": part}}},
        )
        if result.modified_count:
            counts["playlists"] = counts.get("playlists", 0) + result.modified_count
    return counts


# --- audit and the run -----------------------------------------------------------------------
def append_audit(path: Path, entry: dict[str, Any]) -> None:
    """One JSON line, flushed and fsynced: the record that the duty was done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as audit:
        audit.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        audit.flush()
        os.fsync(audit.fileno())


def run_purge(
    config: Any,
    settings: Any,
    sources: dict[str, list],
    crawl_id: str,
    checked: dict[str, int],
    gone: Gone,
) -> dict[str, Any]:
    """Purge what ``gone`` lists from the refresh's source (files or MongoDB); audit it.

    ``sources`` are the files the refresh read its ids from, per category."""
    from tiktok_scrapy.storage.backend import mongodb_uri
    from tiktok_scrapy.storage.mongo import make_client

    from_output = config.resolve(config.from_output) if config.from_output else None
    deleted: dict[str, int] = {}
    source: str
    uri = mongodb_uri(settings)
    if from_output is not None:
        source = str(from_output)
        files = files_to_purge(sources, from_output)
        deleted.update(purge_files(files, gone, config.keep_originals))
    if uri:
        source = "mongodb" if from_output is None else f"{source} and mongodb"
        client = make_client(settings, uri)
        try:
            db = client[settings.get("MONGODB_DATABASE")]
            deleted.update({f"mongodb:{k}": v for k, v in purge_mongodb(db, gone).items()})
        finally:
            client.close()
    entry = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "crawl_id": crawl_id,
        "job": settings.get("JOBDIR"),
        "method": config.method,
        "source": source,
        "older_than_days": config.older_than_days,
        "checked": checked,
        "unavailable": {category: len(ids) for category, ids in gone.items()},
        "deleted": deleted,
        "deleted_total": sum(deleted.values()),
        "kept_originals": config.keep_originals,
    }
    audit = settings.get("TIKTOK_PURGE_AUDIT") or str(
        Path(settings.get("TIKTOK_OUTPUT_DIR")) / "purge_audit.jsonl"
    )
    append_audit(Path(audit), entry)
    if uri:
        client = make_client(settings, uri)
        try:
            client[settings.get("MONGODB_DATABASE")]["purge_audit"].insert_one(dict(entry))
        finally:
            client.close()
    logger.info(
        "refresh: purge done — %d records deleted (%s); audit line in %s.",
        entry["deleted_total"],
        ", ".join(f"{k}: {v}" for k, v in deleted.items()) or "nothing to delete",
        audit,
    )
    return entry
